// EmdSolver: exact earth mover's distance with its transport plan, for the
// tiny dense problems of the EM cocktail space (two recipes, usually under 20
// ingredients a side).
//
// Why hand-written: per pair, a general min-cost-flow library builds a graph
// and allocates; this transportation simplex keeps every buffer between
// calls, starts from a least-cost basis and prices a dense cost block, and is
// several times faster per pair (figures in docs/cocktail-space.md). The unit
// tests check it against LEMON's NetworkSimplex and against its own dual
// certificate on thousands of random instances.
//
// Not thread-safe: use one solver per thread. Results are a pure function
// of the inputs (no randomness, no dependence on earlier calls).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace cocktail::analytics {

// `mass` moved from supply position `from` to demand position `to`.
struct TransportFlow {
  std::uint32_t from = 0;
  std::uint32_t to = 0;
  double mass = 0.0;
};

class EmdSolver {
 public:
  // Largest support a side (cells are named by 16-bit row and column).
  static constexpr std::size_t kMaxSupport = 65535;
  // Flows at or below this are left out of plan() (they are rounding noise).
  static constexpr double kPlanFlowThreshold = 1e-10;

  // Minimises Σ cost[i·nb + j]·x_ij subject to Σ_j x_ij = supply[i],
  // Σ_i x_ij = demand'[j], x ≥ 0, where nb = demand.size() and demand' is
  // demand rescaled to the supply total (the two totals agree up to
  // rounding, as for two fraction vectors). Masses must be nonnegative and
  // finite, costs finite. Returns the optimal cost.
  double solve(std::span<const double> supply, std::span<const double> demand, std::span<const double> cost);

  // The optimal plan of the last solve(): flows above kPlanFlowThreshold,
  // ascending (from, to). Built on first use (distance-only callers skip it).
  std::span<const TransportFlow> plan() const;

  // Dual potentials u (supply side) and v (demand side) of the last solve():
  // u_i + v_j ≤ cost_ij for every cell, with equality on the plan, and
  // Σ supply·u + Σ demand'·v equal to the returned cost — the certificate
  // of optimality.
  std::span<const double> supply_potentials() const { return u_; }
  std::span<const double> demand_potentials() const { return v_; }
  // demand' of the last solve().
  std::span<const double> scaled_demand() const { return demand_; }

  // Simplex pivots of the last solve (for benchmarks).
  std::size_t last_pivots() const { return pivots_; }

 private:
  void initial_basis(std::span<const double> supply);
  void rebuild_tree();
  bool pivot(bool bland);

  std::size_t na_ = 0;
  std::size_t nb_ = 0;
  const double* cost_ = nullptr;
  double cost_scale_ = 1.0;
  std::size_t pivots_ = 0;

  std::vector<double> demand_;
  // Basis: na + nb − 1 cells forming a spanning tree of the bipartite graph.
  std::vector<std::uint32_t> cell_row_;
  std::vector<std::uint32_t> cell_col_;
  std::vector<double> cell_flow_;
  std::vector<bool> retired_row_;  // per start allocation: it retired its row (else its column)
  // The tree rooted at supply node 0; nodes are rows 0..na−1, then columns.
  std::vector<std::uint32_t> adj_offsets_;
  std::vector<std::uint32_t> adj_slot_;
  std::vector<std::uint32_t> parent_slot_;
  std::vector<std::uint32_t> parent_node_;
  std::vector<std::uint32_t> depth_;
  std::vector<std::uint32_t> queue_;
  std::vector<double> u_;
  std::vector<double> v_;
  // Scratch.
  std::vector<std::uint64_t> packed_;
  std::vector<std::pair<std::uint64_t, std::uint32_t>> keys_;
  std::vector<std::uint32_t> order_;
  std::vector<std::uint32_t> path_x_;  // cycle cells on the entering row's side
  std::vector<std::uint32_t> path_y_;  // cycle cells on the entering column's side
  bool last_theta_zero_ = false;
  std::vector<double> remaining_supply_;
  std::vector<double> remaining_demand_;
  mutable std::vector<TransportFlow> plan_;
  mutable bool plan_ready_ = false;
};

}  // namespace cocktail::analytics

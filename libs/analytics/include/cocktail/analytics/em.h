// The EM-learned ground costs of cocktail-space-em (docs/cocktail-space.md):
// E-step = exact EMD for every candidate pair under the current ingredient
// costs; expected matches T from each recipe's nearest recipes' plans;
// M-step = log-odds costs from T (like BLOSUM); repeat until the costs settle.
//
// Inputs are owned by the caller and read-only; run_em() uses
// EmOptions::threads workers and returns the same result for any count
// (every pair is solved on its own, reductions run in a fixed order).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "cocktail/analytics/candidates.h"
#include "cocktail/analytics/emd.h"
#include "cocktail/analytics/volumes.h"

namespace cocktail::analytics {

// One flow of a pair's plan in ingredient-set indices, oriented from the
// lower-indexed recipe's ingredient to the other's.
struct SetFlow {
  std::uint32_t from = 0;
  std::uint32_t to = 0;
  double mass = 0.0;
};

// EMD between two recipes (rows of `masses`, columns are set indices) under
// an m×m float32 cost matrix. Holds an EmdSolver and its buffers: one per
// thread. The pair is always solved from the lower row to the higher, so
// (r, s) and (s, r) give the same distance and plan.
class PairTransport {
 public:
  PairTransport(const SparseRows& masses, std::span<const float> cost, std::size_t m);

  double distance(std::uint32_t r, std::uint32_t s);
  // Also fills `plan` (flows above EmdSolver::kPlanFlowThreshold, ascending
  // (from, to)), oriented from min(r, s) to max(r, s).
  double solve(std::uint32_t r, std::uint32_t s, std::vector<SetFlow>& plan);

 private:
  const SparseRows& masses_;
  std::span<const float> cost_;
  std::size_t m_;
  EmdSolver solver_;
  std::vector<double> block_;
};

// The flows of a plan that count as matches: those of at least 0.05 × the
// largest flow, at most the 3 largest (ties keep plan order), largest first.
struct StrongFlows {
  std::array<SetFlow, 3> flows{};
  std::uint8_t count = 0;
};
StrongFlows strongest_flows(std::span<const SetFlow> plan);

// A sparse m×m matrix, entries ascending (row, col), no duplicates.
struct SparseMatrix {
  std::size_t m = 0;
  std::vector<std::uint32_t> row;
  std::vector<std::uint32_t> col;
  std::vector<double> value;
};

// Expected matches: for each recipe r, weights w = exp(−(d − min d))
// over its listed neighbours (nearest.k of them, +∞ contributing nothing),
// normalised to sum 1; each neighbour's strongest_flows (plans[r·k + slot],
// oriented from the lower-indexed recipe) add w × mass to T[from][to].
// Returns (T + Tᵀ) / 2.
SparseMatrix expected_matches(std::size_t m, const NeighborLists& nearest,
                              std::span<const StrongFlows> plans);

// M-step, log-odds with α = 1: E = (row + α·m)(col + α·m)ᵀ / (ΣT + α·m²);
// S = (T + α) / (E + 1e-12); C' = −ln(S + 1e-12); C' −= min C'; zero the
// diagonal; divide by the median off-diagonal value when positive. Each
// entry is computed in double and stored as float32. O(m²).
std::vector<float> log_odds_costs(const SparseMatrix& matches, unsigned threads = 1);

// ‖next − current‖_F / (‖current‖_F + 1e-12).
double relative_change(std::span<const float> next, std::span<const float> current);

struct EmOptions {
  std::size_t max_iterations = 5;
  std::size_t candidate_cap = 256;
  std::size_t match_neighbors = 10;  // recipes per row that feed T
  double tolerance = 1e-3;
  unsigned threads = 1;
};

// A warm start (docs/cocktail-space.md, "Incremental runs"): the previous
// run's last E-step, in that run's row numbering, and how this run's rows
// map onto it. The first E-step then runs under the previous costs; an
// unchanged row keeps its previous candidate list (when every partner is
// still there), a new or changed row takes its L1 candidates as in a cold
// start; and the distance of every pair of unchanged rows computed then is
// reused (the same masses under the same costs: the same number). The
// stopping rule and the iterations after the first are a cold start's. With
// nothing changed, the first M-step repeats the previous run's last one, so
// a converged run is reproduced exactly.
struct EmWarmStart {
  std::vector<float> cost;       // m×m, the costs of the previous last E-step (same set, same order)
  NeighborLists candidates;      // the previous last E-step's candidate lists
  PairList pairs;                // its pairs, ascending...
  std::vector<float> distances;  // ...and their distances
  // Per row of this run: its row in the previous run (-1: new) and whether
  // its masses are the same as then.
  std::vector<std::int64_t> previous_row;
  std::vector<bool> unchanged;
};

struct EmResult {
  std::size_t candidate_k = 0;
  // Costs used by the last E-step (m×m, float32) and its distances: the
  // candidate pairs, their EMD (float32), and the same as a per-recipe graph.
  std::vector<float> cost;
  PairList pairs;
  std::vector<float> distances;
  SparseDistanceGraph graph;
  std::size_t iterations = 0;
  bool converged = false;
  std::vector<double> relative_changes;                      // one per M-step
  std::vector<std::pair<std::string, double>> durations_ms;  // "candidates", "em_iter_<t>"
  std::size_t pairs_solved = 0;                              // over all iterations
  NeighborLists candidates;      // the last E-step's candidate lists (pairs is their union)
  bool warm = false;             // started from an EmWarmStart
  std::size_t pairs_reused = 0;  // distances taken from it
};

// `masses`: one row per recipe (ordered by recipe id), columns are set
// indices < m, rows summing to 1. `initial_cost`: m×m tree distances.
// With `warm`, the first E-step starts from it (see EmWarmStart) and
// `initial_cost` is not used.
EmResult run_em(const SparseRows& masses, std::size_t m, std::vector<float> initial_cost,
                const EmOptions& options, const EmWarmStart* warm = nullptr);

}  // namespace cocktail::analytics

#include "cocktail/analytics/emd.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

namespace cocktail::analytics {
namespace {
constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();
}  // namespace

double EmdSolver::solve(std::span<const double> supply, std::span<const double> demand,
                        std::span<const double> cost) {
  na_ = supply.size();
  nb_ = demand.size();
  if (cost.size() != na_ * nb_) throw std::invalid_argument("EmdSolver: cost must be supply × demand");
  plan_.clear();
  pivots_ = 0;
  u_.assign(na_, 0.0);
  v_.assign(nb_, 0.0);
  supply_.assign(supply.begin(), supply.end());
  demand_.assign(demand.begin(), demand.end());
  if (na_ == 0 || nb_ == 0) return 0.0;

  double supply_total = 0.0;
  double demand_total = 0.0;
  for (const double s : supply_) {
    if (!(s >= 0.0) || !std::isfinite(s))
      throw std::invalid_argument("EmdSolver: supply must be finite, >= 0");
    supply_total += s;
  }
  for (const double d : demand_) {
    if (!(d >= 0.0) || !std::isfinite(d))
      throw std::invalid_argument("EmdSolver: demand must be finite, >= 0");
    demand_total += d;
  }
  if (demand_total > 0.0) {
    const double scale = supply_total / demand_total;
    for (double& d : demand_) d *= scale;
  } else if (supply_total > 0.0) {
    throw std::invalid_argument("EmdSolver: demand is empty but supply is not");
  }

  cost_ = cost.data();
  cost_scale_ = 0.0;
  for (const double c : cost) cost_scale_ = std::max(cost_scale_, std::abs(c));

  initial_basis();
  rebuild_tree();

  // Dantzig's rule (most negative reduced cost) while it makes progress;
  // after a run of degenerate pivots, Bland's rule, which cannot cycle.
  const std::size_t nodes = na_ + nb_;
  const std::size_t limit = 1000 + 50 * nodes * nodes;
  std::size_t degenerate_run = 0;
  bool bland = false;
  for (;;) {
    if (!pivot(bland)) break;
    if (++pivots_ > limit) throw std::runtime_error("EmdSolver: pivot limit exceeded");
    if (last_theta_zero_) {
      if (++degenerate_run > nodes) bland = true;
    } else {
      degenerate_run = 0;
    }
  }

  double total = 0.0;
  const std::size_t slots = cell_row_.size();
  for (std::size_t e = 0; e < slots; ++e) {
    total += cell_flow_[e] * cost_[cell_row_[e] * nb_ + cell_col_[e]];
    if (cell_flow_[e] > kPlanFlowThreshold) plan_.push_back({cell_row_[e], cell_col_[e], cell_flow_[e]});
  }
  std::sort(plan_.begin(), plan_.end(), [](const TransportFlow& a, const TransportFlow& b) {
    return a.from != b.from ? a.from < b.from : a.to < b.to;
  });
  return total;
}

// Least-cost start: cells by ascending (cost, index), each allocation
// retiring exactly one line (row or column) except the last, so the basis
// has na + nb − 1 cells and is a spanning tree even when degenerate.
void EmdSolver::initial_basis() {
  const std::size_t cells = na_ * nb_;
  order_.resize(cells);
  std::iota(order_.begin(), order_.end(), 0u);
  std::sort(order_.begin(), order_.end(), [this](std::uint32_t a, std::uint32_t b) {
    return cost_[a] != cost_[b] ? cost_[a] < cost_[b] : a < b;
  });
  remaining_supply_.assign(supply_.begin(), supply_.end());
  remaining_demand_.assign(demand_.begin(), demand_.end());
  basic_of_cell_.assign(cells, -1);
  cell_row_.clear();
  cell_col_.clear();
  cell_flow_.clear();
  // Retired lines are marked by setting their remaining mass to −1.
  std::size_t rows_left = na_;
  std::size_t cols_left = nb_;
  for (const std::uint32_t cell : order_) {
    const std::uint32_t i = cell / static_cast<std::uint32_t>(nb_);
    const std::uint32_t j = cell % static_cast<std::uint32_t>(nb_);
    if (remaining_supply_[i] < 0.0 || remaining_demand_[j] < 0.0) continue;
    const double x = std::min(remaining_supply_[i], remaining_demand_[j]);
    basic_of_cell_[cell] = static_cast<std::int32_t>(cell_row_.size());
    cell_row_.push_back(i);
    cell_col_.push_back(j);
    cell_flow_.push_back(x);
    remaining_supply_[i] -= x;
    remaining_demand_[j] -= x;
    if (rows_left == 1 && cols_left == 1) break;
    bool retire_row;
    if (rows_left == 1) {
      retire_row = false;
    } else if (cols_left == 1) {
      retire_row = true;
    } else {
      retire_row = remaining_supply_[i] <= remaining_demand_[j];
    }
    if (retire_row) {
      remaining_supply_[i] = -1.0;
      --rows_left;
    } else {
      remaining_demand_[j] = -1.0;
      --cols_left;
    }
  }
}

// Rebuilds parent links, depths and potentials of the basis tree from
// scratch (O(na + nb)), rooted at supply node 0 with u_0 = 0.
void EmdSolver::rebuild_tree() {
  const std::size_t nodes = na_ + nb_;
  const std::size_t slots = cell_row_.size();
  adj_offsets_.assign(nodes + 1, 0);
  for (std::size_t e = 0; e < slots; ++e) {
    ++adj_offsets_[cell_row_[e] + 1];
    ++adj_offsets_[na_ + cell_col_[e] + 1];
  }
  for (std::size_t k = 0; k < nodes; ++k) adj_offsets_[k + 1] += adj_offsets_[k];
  adj_slot_.resize(2 * slots);
  queue_.assign(adj_offsets_.begin(), adj_offsets_.end() - 1);  // fill cursors
  for (std::size_t e = 0; e < slots; ++e) {
    adj_slot_[queue_[cell_row_[e]]++] = static_cast<std::uint32_t>(e);
    adj_slot_[queue_[na_ + cell_col_[e]]++] = static_cast<std::uint32_t>(e);
  }
  parent_slot_.assign(nodes, kNone);
  parent_node_.assign(nodes, kNone);
  depth_.assign(nodes, kNone);
  queue_.clear();
  queue_.push_back(0);
  depth_[0] = 0;
  u_[0] = 0.0;
  for (std::size_t head = 0; head < queue_.size(); ++head) {
    const std::uint32_t node = queue_[head];
    for (std::uint32_t k = adj_offsets_[node]; k < adj_offsets_[node + 1]; ++k) {
      const std::uint32_t e = adj_slot_[k];
      const bool is_row = node < na_;
      const std::uint32_t other = is_row ? static_cast<std::uint32_t>(na_) + cell_col_[e] : cell_row_[e];
      if (depth_[other] != kNone) continue;
      depth_[other] = depth_[node] + 1;
      parent_node_[other] = node;
      parent_slot_[other] = e;
      const double c = cost_[cell_row_[e] * nb_ + cell_col_[e]];
      if (is_row) {
        v_[cell_col_[e]] = c - u_[cell_row_[e]];
      } else {
        u_[cell_row_[e]] = c - v_[cell_col_[e]];
      }
      queue_.push_back(other);
    }
  }
  if (queue_.size() != nodes) throw std::logic_error("EmdSolver: basis is not a spanning tree");
}

bool EmdSolver::pivot(bool bland) {
  // Pricing: a reduced cost below −eps enters. Basic cells price at zero up
  // to rounding, which eps absorbs.
  const double eps = 1e-10 * (1.0 + cost_scale_);
  std::int64_t enter = -1;
  double best = -eps;
  for (std::size_t i = 0; i < na_ && !(bland && enter >= 0); ++i) {
    const double* row = cost_ + i * nb_;
    const double ui = u_[i];
    for (std::size_t j = 0; j < nb_; ++j) {
      const double reduced = row[j] - ui - v_[j];
      if (reduced < best) {
        enter = static_cast<std::int64_t>(i * nb_ + j);
        if (bland) break;
        best = reduced;
      }
    }
  }
  last_theta_zero_ = false;
  if (enter < 0) return false;
  const auto ei = static_cast<std::uint32_t>(static_cast<std::size_t>(enter) / nb_);
  const auto ej = static_cast<std::uint32_t>(static_cast<std::size_t>(enter) % nb_);

  // The cycle closed by the entering cell: x-side path from row ei and
  // y-side path from column ej up to their common ancestor. Counting from
  // the entering cell, the first, third, … cells of either path lose θ.
  std::vector<std::uint32_t>& path = path_x_;
  path.clear();
  path_y_.clear();
  std::uint32_t x = ei;
  std::uint32_t y = static_cast<std::uint32_t>(na_) + ej;
  while (depth_[x] > depth_[y]) path.push_back(parent_slot_[x]), x = parent_node_[x];
  while (depth_[y] > depth_[x]) path_y_.push_back(parent_slot_[y]), y = parent_node_[y];
  while (x != y) {
    path.push_back(parent_slot_[x]), x = parent_node_[x];
    path_y_.push_back(parent_slot_[y]), y = parent_node_[y];
  }

  double theta = std::numeric_limits<double>::infinity();
  std::uint32_t leave = kNone;
  std::uint32_t leave_cell = kNone;
  auto consider = [&](const std::vector<std::uint32_t>& side) {
    for (std::size_t k = 0; k < side.size(); k += 2) {
      const std::uint32_t e = side[k];
      const double f = cell_flow_[e];
      const std::uint32_t cell = cell_row_[e] * static_cast<std::uint32_t>(nb_) + cell_col_[e];
      if (f < theta || (f == theta && cell < leave_cell)) {
        theta = f;
        leave = e;
        leave_cell = cell;
      }
    }
  };
  consider(path);
  consider(path_y_);
  auto shift = [&](const std::vector<std::uint32_t>& side) {
    for (std::size_t k = 0; k < side.size(); ++k) {
      if (k % 2 == 0) {
        cell_flow_[side[k]] -= theta;
      } else {
        cell_flow_[side[k]] += theta;
      }
    }
  };
  shift(path);
  shift(path_y_);
  last_theta_zero_ = theta == 0.0;

  basic_of_cell_[leave_cell] = -1;
  basic_of_cell_[static_cast<std::size_t>(enter)] = static_cast<std::int32_t>(leave);
  cell_row_[leave] = ei;
  cell_col_[leave] = ej;
  cell_flow_[leave] = theta;
  rebuild_tree();
  return true;
}

}  // namespace cocktail::analytics

#include "cocktail/analytics/emd.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace cocktail::analytics {
namespace {

constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();

// Unsigned order equal to numeric order of the float (−0 sorts as +0).
std::uint32_t float_order_bits(float x) {
  if (x == 0.0f) {
    x = 0.0f;
  }
  const auto bits = std::bit_cast<std::uint32_t>(x);
  return (bits >> 31) != 0 ? ~bits : bits | 0x80000000u;
}

std::uint64_t double_order_bits(double x) {
  if (x == 0.0) {
    x = 0.0;
  }
  const auto bits = std::bit_cast<std::uint64_t>(x);
  return (bits >> 63) != 0 ? ~bits : bits | (std::uint64_t{1} << 63);
}

template <typename T>
void insertion_sort(std::vector<T>& v) {
  for (std::size_t c = 1; c < v.size(); ++c) {
    const T key = v[c];
    std::size_t at = c;
    while (at > 0 && key < v[at - 1]) {
      v[at] = v[at - 1];
      --at;
    }
    v[at] = key;
  }
}

}  // namespace

double EmdSolver::solve(std::span<const double> supply, std::span<const double> demand,
                        std::span<const double> cost) {
  na_ = supply.size();
  nb_ = demand.size();
  if (na_ > kMaxSupport || nb_ > kMaxSupport) {
    throw std::invalid_argument("EmdSolver: at most 65,535 masses a side");
  }
  if (cost.size() != na_ * nb_) {
    throw std::invalid_argument("EmdSolver: cost must be supply × demand");
  }
  pivots_ = 0;
  plan_ready_ = false;
  cell_row_.clear();
  cell_col_.clear();
  cell_flow_.clear();
  u_.assign(na_, 0.0);
  v_.assign(nb_, 0.0);
  demand_.assign(demand.begin(), demand.end());
  if (na_ == 0 || nb_ == 0) {
    return 0.0;
  }

  double supply_total = 0.0;
  double demand_total = 0.0;
  for (const double s : supply) {
    if (!(s >= 0.0 && s <= std::numeric_limits<double>::max())) {
      throw std::invalid_argument("EmdSolver: supply must be finite, >= 0");
    }
    supply_total += s;
  }
  for (const double d : demand_) {
    if (!(d >= 0.0 && d <= std::numeric_limits<double>::max())) {
      throw std::invalid_argument("EmdSolver: demand must be finite, >= 0");
    }
    demand_total += d;
  }
  if (demand_total > 0.0) {
    const double scale = supply_total / demand_total;
    for (double& d : demand_) {
      d *= scale;
    }
  } else if (supply_total > 0.0) {
    throw std::invalid_argument("EmdSolver: demand is empty but supply is not");
  }

  cost_ = cost.data();
  cost_scale_ = 0.0;
  for (const double c : cost) {
    cost_scale_ = std::max(cost_scale_, std::abs(c));
  }

  initial_basis(supply);

  // Dantzig's rule (most negative reduced cost) while it makes progress;
  // after a run of degenerate pivots, Bland's rule, which cannot cycle.
  const std::size_t nodes = na_ + nb_;
  const std::size_t limit = 1000 + 50 * nodes * nodes;
  std::size_t degenerate_run = 0;
  bool bland = false;
  while (pivot(bland)) {
    if (++pivots_ > limit) {
      throw std::runtime_error("EmdSolver: pivot limit exceeded");
    }
    if (last_theta_zero_) {
      if (++degenerate_run > nodes) {
        bland = true;
      }
    } else {
      degenerate_run = 0;
    }
  }

  double total = 0.0;
  for (std::size_t e = 0; e < cell_row_.size(); ++e) {
    total += cell_flow_[e] * cost_[cell_row_[e] * nb_ + cell_col_[e]];
  }
  return total;
}

std::span<const TransportFlow> EmdSolver::plan() const {
  if (!plan_ready_) {
    plan_.clear();
    for (std::size_t e = 0; e < cell_row_.size(); ++e) {
      if (cell_flow_[e] > kPlanFlowThreshold) {
        plan_.push_back({cell_row_[e], cell_col_[e], cell_flow_[e]});
      }
    }
    std::sort(plan_.begin(), plan_.end(), [](const TransportFlow& a, const TransportFlow& b) {
      return a.from != b.from ? a.from < b.from : a.to < b.to;
    });
    plan_ready_ = true;
  }
  return plan_;
}

// Least-cost start: cells by ascending (cost, index), each allocation
// retiring exactly one line (row or column) except the last, so the basis
// has na + nb − 1 cells and is a spanning tree even when degenerate. A line
// retired by a cell hangs, in that tree, below the cell's other line (still
// active then, so retired later): read backwards from the last cell, the
// allocations give parents, depths and potentials directly.
void EmdSolver::initial_basis(std::span<const double> supply) {
  const std::size_t cells = na_ * nb_;
  order_.resize(cells);
  // Cells are named (i << 16) | j, which orders like the cell index i·nb + j
  // and needs no division to take apart.
  bool float_costs = true;
  for (std::size_t c = 0; c < cells && float_costs; ++c) {
    float_costs = static_cast<double>(static_cast<float>(cost_[c])) == cost_[c];
  }
  if (float_costs) {
    // One 64-bit key per cell: the float cost's order bits, then the cell.
    packed_.resize(cells);
    std::size_t c = 0;
    for (std::uint32_t i = 0; i < na_; ++i) {
      for (std::uint32_t j = 0; j < nb_; ++j, ++c) {
        packed_[c] = (std::uint64_t{float_order_bits(static_cast<float>(cost_[c]))} << 32) | (i << 16) | j;
      }
    }
    if (cells <= 64) {
      insertion_sort(packed_);
    } else {
      std::sort(packed_.begin(), packed_.end());
    }
    for (c = 0; c < cells; ++c) {
      order_[c] = static_cast<std::uint32_t>(packed_[c]);
    }
  } else {
    keys_.resize(cells);
    std::size_t c = 0;
    for (std::uint32_t i = 0; i < na_; ++i) {
      for (std::uint32_t j = 0; j < nb_; ++j, ++c) {
        keys_[c] = {double_order_bits(cost_[c]), (i << 16) | j};
      }
    }
    std::sort(keys_.begin(), keys_.end());
    for (c = 0; c < cells; ++c) {
      order_[c] = keys_[c].second;
    }
  }

  remaining_supply_.assign(supply.begin(), supply.end());
  remaining_demand_.assign(demand_.begin(), demand_.end());
  retired_row_.clear();
  // Retired lines are marked by setting their remaining mass to −1.
  std::size_t rows_left = na_;
  std::size_t cols_left = nb_;
  for (const std::uint32_t cell : order_) {
    const std::uint32_t i = cell >> 16;
    const std::uint32_t j = cell & 0xffffu;
    if (remaining_supply_[i] < 0.0 || remaining_demand_[j] < 0.0) {
      continue;
    }
    const double x = std::min(remaining_supply_[i], remaining_demand_[j]);
    cell_row_.push_back(i);
    cell_col_.push_back(j);
    cell_flow_.push_back(x);
    remaining_supply_[i] -= x;
    remaining_demand_[j] -= x;
    if (rows_left == 1 && cols_left == 1) {
      break;
    }
    bool retire_row;
    if (rows_left == 1) {
      retire_row = false;
    } else if (cols_left == 1) {
      retire_row = true;
    } else {
      retire_row = remaining_supply_[i] <= remaining_demand_[j];
    }
    retired_row_.push_back(retire_row);
    if (retire_row) {
      remaining_supply_[i] = -1.0;
      --rows_left;
    } else {
      remaining_demand_[j] = -1.0;
      --cols_left;
    }
  }
  const std::size_t nodes = na_ + nb_;
  if (cell_row_.size() != nodes - 1) {
    throw std::logic_error("EmdSolver: start basis is not a spanning tree");
  }

  parent_node_.resize(nodes);
  parent_slot_.resize(nodes);
  depth_.resize(nodes);
  const std::size_t last = nodes - 2;
  const std::uint32_t root = cell_row_[last];
  const std::uint32_t root_col = static_cast<std::uint32_t>(na_) + cell_col_[last];
  parent_node_[root] = kNone;
  parent_slot_[root] = kNone;
  depth_[root] = 0;
  u_[root] = 0.0;
  parent_node_[root_col] = root;
  parent_slot_[root_col] = static_cast<std::uint32_t>(last);
  depth_[root_col] = 1;
  v_[cell_col_[last]] = cost_[cell_row_[last] * nb_ + cell_col_[last]];
  for (std::size_t k = last; k-- > 0;) {
    const std::uint32_t i = cell_row_[k];
    const std::uint32_t j = cell_col_[k];
    const double c = cost_[i * nb_ + j];
    const std::uint32_t col = static_cast<std::uint32_t>(na_) + j;
    if (retired_row_[k]) {
      parent_node_[i] = col;
      parent_slot_[i] = static_cast<std::uint32_t>(k);
      depth_[i] = depth_[col] + 1;
      u_[i] = c - v_[j];
    } else {
      parent_node_[col] = i;
      parent_slot_[col] = static_cast<std::uint32_t>(k);
      depth_[col] = depth_[i] + 1;
      v_[j] = c - u_[i];
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
  for (std::size_t k = 0; k < nodes; ++k) {
    adj_offsets_[k + 1] += adj_offsets_[k];
  }
  adj_slot_.resize(2 * slots);
  queue_.assign(adj_offsets_.begin(), adj_offsets_.end() - 1);  // fill cursors
  for (std::size_t e = 0; e < slots; ++e) {
    adj_slot_[queue_[cell_row_[e]]++] = static_cast<std::uint32_t>(e);
    adj_slot_[queue_[na_ + cell_col_[e]]++] = static_cast<std::uint32_t>(e);
  }
  std::fill(depth_.begin(), depth_.end(), kNone);
  queue_.clear();
  queue_.push_back(0);
  parent_node_[0] = kNone;
  parent_slot_[0] = kNone;
  depth_[0] = 0;
  u_[0] = 0.0;
  for (std::size_t head = 0; head < queue_.size(); ++head) {
    const std::uint32_t node = queue_[head];
    const bool is_row = node < na_;
    for (std::uint32_t k = adj_offsets_[node]; k < adj_offsets_[node + 1]; ++k) {
      const std::uint32_t e = adj_slot_[k];
      const std::uint32_t other = is_row ? static_cast<std::uint32_t>(na_) + cell_col_[e] : cell_row_[e];
      if (depth_[other] != kNone) {
        continue;
      }
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
  if (queue_.size() != nodes) {
    throw std::logic_error("EmdSolver: basis is not a spanning tree");
  }
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
        if (bland) {
          break;
        }
        best = reduced;
      }
    }
  }
  last_theta_zero_ = false;
  if (enter < 0) {
    return false;
  }
  const auto ei = static_cast<std::uint32_t>(static_cast<std::size_t>(enter) / nb_);
  const auto ej = static_cast<std::uint32_t>(static_cast<std::size_t>(enter) % nb_);

  // The cycle closed by the entering cell: the path from row ei and the path
  // from column ej up to their common ancestor. Counting from the entering
  // cell, the first, third, … cells of either path lose θ, the others gain.
  path_x_.clear();
  path_y_.clear();
  std::uint32_t x = ei;
  std::uint32_t y = static_cast<std::uint32_t>(na_) + ej;
  while (depth_[x] > depth_[y]) {
    path_x_.push_back(parent_slot_[x]), x = parent_node_[x];
  }
  while (depth_[y] > depth_[x]) {
    path_y_.push_back(parent_slot_[y]), y = parent_node_[y];
  }
  while (x != y) {
    path_x_.push_back(parent_slot_[x]), x = parent_node_[x];
    path_y_.push_back(parent_slot_[y]), y = parent_node_[y];
  }

  // Leaving cell: the smallest flow among the losing cells, ties to the
  // lowest cell index (Bland-compatible).
  double theta = std::numeric_limits<double>::infinity();
  std::uint32_t leave = kNone;
  std::uint64_t leave_cell = std::numeric_limits<std::uint64_t>::max();
  auto consider = [&](const std::vector<std::uint32_t>& side) {
    for (std::size_t k = 0; k < side.size(); k += 2) {
      const std::uint32_t e = side[k];
      const double f = cell_flow_[e];
      const std::uint64_t cell = std::uint64_t{cell_row_[e]} * nb_ + cell_col_[e];
      if (f < theta || (f == theta && cell < leave_cell)) {
        theta = f;
        leave = e;
        leave_cell = cell;
      }
    }
  };
  consider(path_x_);
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
  shift(path_x_);
  shift(path_y_);
  last_theta_zero_ = theta == 0.0;

  cell_row_[leave] = ei;
  cell_col_[leave] = ej;
  cell_flow_[leave] = theta;
  rebuild_tree();
  return true;
}

}  // namespace cocktail::analytics

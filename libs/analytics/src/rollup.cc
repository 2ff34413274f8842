#include "cocktail/analytics/rollup.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace cocktail::analytics {

IngredientHierarchy::IngredientHierarchy(const catalog::CatalogState& state) {
  const std::size_t n = state.ingredients.size();
  parent_.assign(n, kNoParent);
  depth_.assign(n, 0);
  has_children_.assign(n, false);
  rolled_up_.resize(n);
  for (std::size_t p = 0; p < n; ++p) {
    const auto& parent_id = state.ingredients[p].parent_id;
    if (!parent_id) {
      continue;
    }
    if (const auto q = position_of_id(state.ingredients, *parent_id); q && *q != p) {
      parent_[p] = *q;
    }
  }

  // Depths by walking up to a node of known depth; a walk that meets itself
  // is a cycle, cut at the node where it closes.
  enum : std::uint8_t { kUnseen, kOnWalk, kDone };
  std::vector<std::uint8_t> mark(n, kUnseen);
  std::vector<std::size_t> walk;
  for (std::size_t start = 0; start < n; ++start) {
    walk.clear();
    std::size_t cur = start;
    while (cur != kNoParent && mark[cur] == kUnseen) {
      mark[cur] = kOnWalk;
      walk.push_back(cur);
      const std::size_t up = parent_[cur];
      if (up != kNoParent && mark[up] == kOnWalk) {
        parent_[cur] = kNoParent;
        break;
      }
      cur = up;
    }
    for (auto it = walk.rbegin(); it != walk.rend(); ++it) {
      const std::size_t up = parent_[*it];
      depth_[*it] = up == kNoParent ? 0 : depth_[up] + 1;
      mark[*it] = kDone;
    }
  }
  for (std::size_t p = 0; p < n; ++p) {
    if (parent_[p] != kNoParent) {
      has_children_[parent_[p]] = true;
    }
  }
  for (std::size_t p = 0; p < n; ++p) {
    const bool substitutable_leaf = state.ingredients[p].allow_substitution && !has_children_[p];
    rolled_up_[p] = substitutable_leaf && parent_[p] != kNoParent ? parent_[p] : p;
  }
}

std::size_t IngredientHierarchy::tree_distance(std::size_t a, std::size_t b) const {
  std::size_t steps = 0;
  while (depth_[a] > depth_[b]) {
    a = parent_[a], ++steps;
  }
  while (depth_[b] > depth_[a]) {
    b = parent_[b], ++steps;
  }
  while (a != b) {
    const std::size_t pa = parent_[a];
    const std::size_t pb = parent_[b];
    steps += 2;
    if (pa == kNoParent) {
      return steps;  // different roots meet at the implicit root
    }
    a = pa;
    b = pb;
  }
  return steps;
}

SparseRows roll_up(const SparseRows& fractions, const IngredientHierarchy& hierarchy) {
  SparseRows out;
  out.columns.reserve(fractions.columns.size());
  out.values.reserve(fractions.values.size());
  std::vector<std::pair<std::uint32_t, double>> row;
  for (std::size_t r = 0; r < fractions.rows(); ++r) {
    row.clear();
    for (std::size_t i = fractions.offsets[r]; i < fractions.offsets[r + 1]; ++i) {
      row.emplace_back(static_cast<std::uint32_t>(hierarchy.rolled_up(fractions.columns[i])),
                       fractions.values[i]);
    }
    // Stable: fractions of one target add up in the original column order.
    std::stable_sort(row.begin(), row.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
    for (std::size_t i = 0; i < row.size();) {
      const std::uint32_t column = row[i].first;
      double sum = 0.0;
      for (; i < row.size() && row[i].first == column; ++i) {
        sum += row[i].second;
      }
      out.columns.push_back(column);
      out.values.push_back(sum);
    }
    out.offsets.push_back(out.columns.size());
  }
  return out;
}

IngredientSet ingredient_set_with_ancestors(const SparseRows& rows, const IngredientHierarchy& hierarchy) {
  std::vector<bool> in_set(hierarchy.size(), false);
  for (const std::uint32_t column : rows.columns) {
    for (std::size_t p = column; p != IngredientHierarchy::kNoParent && !in_set[p]; p = hierarchy.parent(p)) {
      in_set[p] = true;
    }
  }
  IngredientSet set;
  for (std::size_t p = 0; p < in_set.size(); ++p) {
    if (in_set[p]) {
      set.members.push_back(p);
    }
  }
  return set;
}

SparseRows to_set_columns(const SparseRows& rows, const IngredientSet& set) {
  SparseRows out = rows;
  for (auto& column : out.columns) {
    const auto it = std::lower_bound(set.members.begin(), set.members.end(), std::size_t{column});
    if (it == set.members.end() || *it != column) {
      throw std::invalid_argument("to_set_columns: column outside the ingredient set");
    }
    column = static_cast<std::uint32_t>(it - set.members.begin());
  }
  return out;  // members ascend, so the renumbered columns still ascend
}

std::vector<float> tree_cost_matrix(const IngredientSet& set, const IngredientHierarchy& hierarchy) {
  const std::size_t m = set.size();
  std::vector<float> cost(m * m, 0.0f);
  if (m == 0) {
    return cost;
  }

  // Set index of each member's parent (the set is closed under ancestors).
  std::vector<std::size_t> parent(m, IngredientHierarchy::kNoParent);
  std::vector<std::vector<std::size_t>> children(m);
  std::vector<std::size_t> roots;
  for (std::size_t i = 0; i < m; ++i) {
    const std::size_t up = hierarchy.parent(set.members[i]);
    if (up == IngredientHierarchy::kNoParent) {
      roots.push_back(i);
      continue;
    }
    const auto it = std::lower_bound(set.members.begin(), set.members.end(), up);
    parent[i] = static_cast<std::size_t>(it - set.members.begin());
    children[parent[i]].push_back(i);
  }

  // Preorder: a subtree is a contiguous range of `order`, so a row is its
  // parent's row + 1 with 2 taken off over its own subtree.
  std::vector<std::size_t> order;
  std::vector<std::size_t> subtree_end(m);  // exclusive end in `order`
  order.reserve(m);
  std::vector<std::pair<std::size_t, std::size_t>> stack;  // (node, next child)
  for (const std::size_t root : roots) {
    stack.emplace_back(root, 0);
    order.push_back(root);
    while (!stack.empty()) {
      auto& [node, next] = stack.back();
      if (next < children[node].size()) {
        const std::size_t child = children[node][next++];
        order.push_back(child);
        stack.emplace_back(child, 0);
      } else {
        subtree_end[node] = order.size();
        stack.pop_back();
      }
    }
  }
  std::vector<std::size_t> start(m);
  for (std::size_t k = 0; k < m; ++k) {
    start[order[k]] = k;
  }

  // Distances from the implicit root are depth + 1.
  std::vector<float> root_row(m);
  for (std::size_t j = 0; j < m; ++j) {
    root_row[j] = static_cast<float>(hierarchy.depth(set.members[j]) + 1);
  }
  for (const std::size_t a : order) {
    const float* up = parent[a] == IngredientHierarchy::kNoParent ? root_row.data() : &cost[parent[a] * m];
    float* row = &cost[a * m];
    for (std::size_t j = 0; j < m; ++j) {
      row[j] = up[j] + 1.0f;
    }
    for (std::size_t k = start[a]; k < subtree_end[a]; ++k) {
      row[order[k]] -= 2.0f;
    }
  }
  return cost;
}

}  // namespace cocktail::analytics

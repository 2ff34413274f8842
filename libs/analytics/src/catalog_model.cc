#include "cocktail/analytics/catalog_model.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "cocktail/analytics/exact_analytics.h"
#include "cocktail/catalog/state.h"

namespace cocktail::analytics {
namespace {

using Index = CatalogModel::Index;

// A permutation that visits `rows` in the order `less` defines; the identity
// (cheaply checked) in the common case where the state is already sorted.
template <typename Row, typename Less>
std::vector<std::size_t> order_of(const std::vector<Row>& rows, Less less) {
  std::vector<std::size_t> order(rows.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  bool sorted = true;
  for (std::size_t i = 1; i < rows.size() && sorted; ++i) sorted = !less(rows[i], rows[i - 1]);
  if (!sorted) {
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return less(rows[a], rows[b]); });
  }
  return order;
}

std::uint32_t checked_offset(std::size_t n) {
  if (n > std::numeric_limits<std::uint32_t>::max())
    throw std::length_error("catalog too large for the model");
  return static_cast<std::uint32_t>(n);
}

void append(std::string& text, std::vector<std::uint32_t>& at, std::string_view s) {
  text.append(s);
  at.push_back(checked_offset(text.size()));
}

}  // namespace

CatalogModel::Lookup CatalogModel::make_lookup(const std::vector<std::int64_t>& ids) {
  Lookup lookup;
  if (ids.empty()) return lookup;
  // A direct table costs 4 bytes per id in the span; use it while the span is
  // at most 4x the count (ids from AUTOINCREMENT with some deletions).
  const std::int64_t lo = ids.front();
  const std::int64_t hi = ids.back();
  const auto span = static_cast<unsigned long long>(hi) - static_cast<unsigned long long>(lo) + 1;
  if (span <= 4 * ids.size() + 1024) {
    lookup.base = lo;
    lookup.table.assign(span, kNone);
    for (std::size_t i = 0; i < ids.size(); ++i) lookup.table[ids[i] - lo] = static_cast<Index>(i);
  }
  return lookup;
}

CatalogModel::Index CatalogModel::find(const std::vector<std::int64_t>& ids, const Lookup& lookup,
                                       std::int64_t id) {
  if (!lookup.table.empty()) {
    if (id < lookup.base) return kNone;
    const auto off = static_cast<unsigned long long>(id) - static_cast<unsigned long long>(lookup.base);
    return off < lookup.table.size() ? lookup.table[off] : kNone;
  }
  auto it = std::lower_bound(ids.begin(), ids.end(), id);
  return it != ids.end() && *it == id ? static_cast<Index>(it - ids.begin()) : kNone;
}

CatalogModel CatalogModel::build(const catalog::CatalogState& state) {
  constexpr std::size_t kMaxIndex = static_cast<std::size_t>(std::numeric_limits<Index>::max());
  if (state.ingredients.size() >= kMaxIndex || state.recipes.size() >= kMaxIndex ||
      state.units.size() >= kMaxIndex) {
    throw std::length_error("catalog too large for the model");
  }
  CatalogModel m;
  m.catalog_seq_ = state.catalog_seq;

  // ---- Units.
  for (std::size_t k : order_of(state.units, [](const auto&a, const auto&b) { return a.id < b.id; })) {
    const auto& u = state.units[k];
    if (!m.unit_ids_.empty() && m.unit_ids_.back() == u.id) continue;  // duplicate id: keep the first
    m.unit_ids_.push_back(u.id);
    append(m.unit_text_, m.unit_name_at_, u.name);
    m.unit_conversion_.push_back(u.conversion_to_ml ? *u.conversion_to_ml : std::nan(""));
  }
  m.unit_lookup_ = make_lookup(m.unit_ids_);

  // ---- Ingredients: ids, names, paths (names first, then paths, in one arena).
  const auto ing_order =
      order_of(state.ingredients, [](const auto& a, const auto& b) { return a.id < b.id; });
  std::vector<const catalog::IngredientRow*> ings;
  ings.reserve(ing_order.size());
  for (std::size_t k : ing_order) {
    const auto& row = state.ingredients[k];
    if (!ings.empty() && ings.back()->id == row.id) continue;
    ings.push_back(&row);
  }
  const auto n = static_cast<Index>(ings.size());
  m.ingredient_ids_.reserve(n);
  m.parent_ids_.reserve(n);
  m.depths_.reserve(n);
  m.allow_substitution_.reserve(n);
  for (const auto* row : ings) {
    m.ingredient_ids_.push_back(row->id);
    m.parent_ids_.push_back(row->parent_id ? *row->parent_id : kNoId);
    m.depths_.push_back(path_depth(row->path));
    m.allow_substitution_.push_back(row->allow_substitution ? 1 : 0);
    append(m.ingredient_text_, m.ingredient_name_at_, row->name);
  }
  // Paths follow names in the same arena: path offsets start where names end.
  m.ingredient_path_at_[0] = checked_offset(m.ingredient_text_.size());
  for (const auto* row : ings) append(m.ingredient_text_, m.ingredient_path_at_, row->path);
  m.ingredient_lookup_ = make_lookup(m.ingredient_ids_);

  // ---- parent_id hierarchy: parents, children (CSR, ascending index), roots.
  m.parents_.assign(n, kNone);
  std::vector<std::uint32_t> child_count(n, 0);
  for (Index i = 0; i < n; ++i) {
    if (m.parent_ids_[i] == kNoId) {
      m.roots_.push_back(i);
      continue;
    }
    Index p = m.find_ingredient(m.parent_ids_[i]);
    if (p == kNone) {
      ++m.anomalies_.ingredients_with_unknown_parent;
      continue;
    }
    m.parents_[i] = p;
    ++child_count[p];
  }
  m.child_at_.assign(static_cast<std::size_t>(n) + 1, 0);
  for (Index i = 0; i < n; ++i) m.child_at_[i + 1] = m.child_at_[i] + child_count[i];
  m.children_.resize(m.child_at_[n]);
  {
    std::vector<std::uint32_t> fill(m.child_at_.begin(), m.child_at_.end() - 1);
    for (Index i = 0; i < n; ++i) {
      if (m.parents_[i] != kNone) m.children_[fill[m.parents_[i]]++] = i;
    }
  }
  {
    // Reachability from the roots (a parent_id cycle is never reachable).
    std::vector<Index> stack(m.roots_.begin(), m.roots_.end());
    std::int64_t reached = 0;
    while (!stack.empty()) {
      Index i = stack.back();
      stack.pop_back();
      ++reached;
      for (Index c : m.children(i)) stack.push_back(c);
    }
    m.anomalies_.ingredients_unreachable = n - reached;
  }

  // ---- path-prefix hierarchy. Sorted by path, the ingredients whose path
  // starts with P form one contiguous run beginning at lower_bound(P); walking
  // that run for every ingredient yields all (descendant, ancestor) pairs in
  // O(sum of depths) after one sort. An empty path would be a prefix of every
  // path; such an ingredient (no path recorded) counts for itself only.
  {
    std::vector<Index> by_path(n);
    std::iota(by_path.begin(), by_path.end(), Index{0});
    std::sort(by_path.begin(), by_path.end(), [&](Index a, Index b) {
      auto pa = m.ingredient_path(a), pb = m.ingredient_path(b);
      return pa != pb ? pa < pb : a < b;
    });
    std::vector<std::pair<Index, Index>> pairs;  // (descendant, ancestor)
    pairs.reserve(static_cast<std::size_t>(n) * 4);
    std::vector<std::string_view> sorted_paths(n);
    for (Index k = 0; k < n; ++k) sorted_paths[k] = m.ingredient_path(by_path[k]);
    for (Index y = 0; y < n; ++y) {
      std::string_view prefix = m.ingredient_path(y);
      if (prefix.empty()) {
        ++m.anomalies_.ingredients_without_path;
        pairs.emplace_back(y, y);
        continue;
      }
      auto it = std::lower_bound(sorted_paths.begin(), sorted_paths.end(), prefix);
      for (; it != sorted_paths.end() && it->starts_with(prefix); ++it) {
        pairs.emplace_back(by_path[it - sorted_paths.begin()], y);
      }
    }
    std::vector<std::uint32_t> count(static_cast<std::size_t>(n) + 1, 0);
    for (const auto& [x, y] : pairs) ++count[x + 1];
    for (Index i = 0; i < n; ++i) count[i + 1] += count[i];
    m.ancestor_at_ = count;
    m.ancestors_.resize(pairs.size());
    for (const auto& [x, y] : pairs) m.ancestors_[count[x]++] = y;
  }

  // ---- Recipes and their rows (CSR), rows ordered by (recipe_id, row id).
  for (std::size_t k : order_of(state.recipes, [](const auto&a, const auto&b) { return a.id < b.id; })) {
    const auto& r = state.recipes[k];
    if (!m.recipe_ids_.empty() && m.recipe_ids_.back() == r.id) continue;
    m.recipe_ids_.push_back(r.id);
    append(m.recipe_text_, m.recipe_name_at_, r.name);
  }
  m.recipe_lookup_ = make_lookup(m.recipe_ids_);

  const auto& rows = state.recipe_ingredients;
  const auto row_order = order_of(rows, [](const auto& a, const auto& b) {
    return a.recipe_id != b.recipe_id ? a.recipe_id < b.recipe_id : a.id < b.id;
  });
  m.row_ingredient_.reserve(rows.size());
  m.row_id_.reserve(rows.size());
  m.row_unit_.reserve(rows.size());
  m.row_amount_.reserve(rows.size());
  m.row_at_.reserve(m.recipe_ids_.size() + 1);
  // Merge walk: recipes and rows are both ascending by recipe id.
  std::size_t k = 0;
  for (std::size_t r = 0; r < m.recipe_ids_.size(); ++r) {
    const std::int64_t rid = m.recipe_ids_[r];
    for (; k < row_order.size() && rows[row_order[k]].recipe_id < rid; ++k) {
      ++m.anomalies_.rows_with_unknown_recipe;
    }
    for (; k < row_order.size() && rows[row_order[k]].recipe_id == rid; ++k) {
      const auto& row = rows[row_order[k]];
      Index ing = m.find_ingredient(row.ingredient_id);
      if (ing == kNone) {
        ++m.anomalies_.rows_with_unknown_ingredient;
        continue;
      }
      m.row_ingredient_.push_back(ing);
      m.row_id_.push_back(row.id);
      m.row_unit_.push_back(row.unit_id ? m.find_unit(*row.unit_id) : kNone);
      m.row_amount_.push_back(row.amount ? *row.amount : std::nan(""));
    }
    m.row_at_.push_back(checked_offset(m.row_ingredient_.size()));
  }
  m.anomalies_.rows_with_unknown_recipe += static_cast<std::int64_t>(row_order.size() - k);
  return m;
}

}  // namespace cocktail::analytics

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
  for (std::size_t i = 1; i < rows.size() && sorted; ++i) {
    sorted = !less(rows[i], rows[i - 1]);
  }
  if (!sorted) {
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return less(rows[a], rows[b]); });
  }
  return order;
}

std::uint32_t checked_offset(std::size_t n) {
  if (n > std::numeric_limits<std::uint32_t>::max()) {
    throw std::length_error("catalog too large for the model");
  }
  return static_cast<std::uint32_t>(n);
}

void append(std::string& text, std::vector<std::uint32_t>& at, std::string_view s) {
  text.append(s);
  at.push_back(checked_offset(text.size()));
}

}  // namespace

CatalogModel::Lookup CatalogModel::make_lookup(const std::vector<std::int64_t>& ids) {
  Lookup lookup;
  if (ids.empty()) {
    return lookup;
  }
  // A direct table costs 4 bytes per id in the span; use it while the span is
  // at most 4x the count (ids from AUTOINCREMENT with some deletions).
  const std::int64_t lo = ids.front();
  const std::int64_t hi = ids.back();
  const auto span = static_cast<unsigned long long>(hi) - static_cast<unsigned long long>(lo) + 1;
  if (span <= 4 * ids.size() + 1024) {
    lookup.base = lo;
    lookup.table.assign(span, kNone);
    for (std::size_t i = 0; i < ids.size(); ++i) {
      lookup.table[ids[i] - lo] = static_cast<Index>(i);
    }
  }
  return lookup;
}

CatalogModel::Index CatalogModel::find(const std::vector<std::int64_t>& ids, const Lookup& lookup,
                                       std::int64_t id) {
  if (!lookup.table.empty()) {
    if (id < lookup.base) {
      return kNone;
    }
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
    if (!m.unit_ids_.empty() && m.unit_ids_.back() == u.id) {
      continue;  // duplicate id: keep the first
    }
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
    if (!ings.empty() && ings.back()->id == row.id) {
      continue;
    }
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
  for (const auto* row : ings) {
    append(m.ingredient_text_, m.ingredient_path_at_, row->path);
  }
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
  for (Index i = 0; i < n; ++i) {
    m.child_at_[i + 1] = m.child_at_[i] + child_count[i];
  }
  m.children_.resize(m.child_at_[n]);
  {
    std::vector<std::uint32_t> fill(m.child_at_.begin(), m.child_at_.end() - 1);
    for (Index i = 0; i < n; ++i) {
      if (m.parents_[i] != kNone) {
        m.children_[fill[m.parents_[i]]++] = i;
      }
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
      for (Index c : m.children(i)) {
        stack.push_back(c);
      }
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
    for (Index k = 0; k < n; ++k) {
      sorted_paths[k] = m.ingredient_path(by_path[k]);
    }
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
    for (const auto& [x, y] : pairs) {
      ++count[x + 1];
    }
    for (Index i = 0; i < n; ++i) {
      count[i + 1] += count[i];
    }
    m.ancestor_at_ = count;
    m.ancestors_.resize(pairs.size());
    for (const auto& [x, y] : pairs) {
      m.ancestors_[count[x]++] = y;
    }
  }

  // ---- Recipes and their rows (CSR), rows ordered by (recipe_id, row id).
  for (std::size_t k : order_of(state.recipes, [](const auto&a, const auto&b) { return a.id < b.id; })) {
    const auto& r = state.recipes[k];
    if (!m.recipe_ids_.empty() && m.recipe_ids_.back() == r.id) {
      continue;
    }
    m.recipe_ids_.push_back(r.id);
    append(m.recipe_text_, m.recipe_name_at_, r.name);
  }
  m.recipe_lookup_ = make_lookup(m.recipe_ids_);

  // Rows are placed by a stable counting sort on the recipe index, so any
  // input order works in O(rows): (recipe_id, id) as load_state returns
  // them, or table (id) order. Within a recipe, rows end up by row id.
  const auto& rows = state.recipe_ingredients;
  const std::size_t n_recipes = m.recipe_ids_.size();
  std::vector<Index> row_recipe(rows.size());
  std::vector<std::uint32_t> per_recipe(n_recipes + 1, 0);
  for (std::size_t k = 0; k < rows.size(); ++k) {
    Index r = m.find_recipe(rows[k].recipe_id);
    if (r == kNone) {
      ++m.anomalies_.rows_with_unknown_recipe;
    } else if (m.find_ingredient(rows[k].ingredient_id) == kNone) {
      ++m.anomalies_.rows_with_unknown_ingredient;
      r = kNone;
    } else {
      ++per_recipe[r + 1];
    }
    row_recipe[k] = r;
  }
  for (std::size_t r = 0; r < n_recipes; ++r) {
    per_recipe[r + 1] += per_recipe[r];
  }
  const std::size_t placed = per_recipe[n_recipes];
  checked_offset(placed);
  m.row_at_ = per_recipe;
  m.row_ingredient_.resize(placed);
  m.row_id_.resize(placed);
  m.row_unit_.resize(placed);
  m.row_amount_.resize(placed);
  bool by_id = true;                              // within each recipe, in row id order
  std::vector<std::uint32_t>& fill = per_recipe;  // reused as the next free slot of each recipe
  for (std::size_t k = 0; k < rows.size(); ++k) {
    const Index r = row_recipe[k];
    if (r == kNone) {
      continue;
    }
    const auto& row = rows[k];
    const std::uint32_t at = fill[r]++;
    if (at > m.row_at_[r] && m.row_id_[at - 1] > row.id) {
      by_id = false;
    }
    m.row_ingredient_[at] = m.find_ingredient(row.ingredient_id);
    m.row_id_[at] = row.id;
    m.row_unit_[at] = row.unit_id ? m.find_unit(*row.unit_id) : kNone;
    m.row_amount_[at] = row.amount ? *row.amount : std::nan("");
  }
  if (!by_id) {
    // Rare (rows not in id order within a recipe): sort each recipe's slice.
    for (std::size_t r = 0; r < n_recipes; ++r) {
      const std::uint32_t b = m.row_at_[r], e = m.row_at_[r + 1];
      std::vector<std::uint32_t> idx(e - b);
      std::iota(idx.begin(), idx.end(), b);
      std::sort(idx.begin(), idx.end(), [&](auto x, auto y) { return m.row_id_[x] < m.row_id_[y]; });
      auto permute = [&](auto& v) {
        std::vector<typename std::decay_t<decltype(v)>::value_type> tmp;
        tmp.reserve(idx.size());
        for (auto i : idx) {
          tmp.push_back(v[i]);
        }
        std::copy(tmp.begin(), tmp.end(), v.begin() + b);
      };
      permute(m.row_ingredient_);
      permute(m.row_id_);
      permute(m.row_unit_);
      permute(m.row_amount_);
    }
  }
  return m;
}

}  // namespace cocktail::analytics

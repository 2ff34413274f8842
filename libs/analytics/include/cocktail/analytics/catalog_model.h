// CatalogModel: a compact, index-based image of a CatalogState, built once
// per regeneration and shared by every analytic.
//
// Ingredients, recipes and units get dense indices (0..n-1, in ascending
// catalog id order). Strings live in one arena per kind; recipe rows are a
// CSR (compressed sparse row) list with parallel arrays for amounts, units
// and row ids. The ingredient hierarchy is held twice, on purpose:
//   - parent/children/roots follow `parent_id` (the D3 tree, drill-down by
//     parent, roll-up);
//   - ancestors_or_self follows `path` prefixes (the definition of
//     hierarchical usage: X counts for Y when X.path starts with Y.path),
//     so the counts equal the path-prefix SQL even on a catalog whose paths
//     and parent ids disagree.
//
// Immutable after build; safe to share read-only across threads. Owns all
// of its data (it does not point into the CatalogState).
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cocktail::catalog {
struct CatalogState;
}

namespace cocktail::analytics {

class CatalogModel {
 public:
  using Index = std::int32_t;
  static constexpr Index kNone = -1;

  // Rows of the state the model could not place; reported as warnings.
  struct Anomalies {
    std::int64_t rows_with_unknown_recipe = 0;      // recipe_ingredients.recipe_id not in recipes
    std::int64_t rows_with_unknown_ingredient = 0;  // recipe_ingredients.ingredient_id not in ingredients
    std::int64_t ingredients_with_unknown_parent = 0;
    std::int64_t ingredients_without_path = 0;  // empty path: counted for themselves only
    std::int64_t ingredients_unreachable = 0;   // not under any root by parent_id (orphans, cycles)
  };

  // Throws std::length_error when the catalog exceeds the index range.
  static CatalogModel build(const catalog::CatalogState& state);

  CatalogModel() = default;

  std::int64_t catalog_seq() const { return catalog_seq_; }
  const Anomalies& anomalies() const { return anomalies_; }

  // ---- Ingredients, ascending id.
  std::size_t ingredient_count() const { return ingredient_ids_.size(); }
  std::int64_t ingredient_id(Index i) const { return ingredient_ids_[i]; }
  std::string_view ingredient_name(Index i) const { return slice(ingredient_text_, ingredient_name_at_, i); }
  std::string_view ingredient_path(Index i) const { return slice(ingredient_text_, ingredient_path_at_, i); }
  // The catalog's parent_id, even when it names a missing ingredient.
  std::optional<std::int64_t> ingredient_parent_id(Index i) const {
    return parent_ids_[i] == kNoId ? std::nullopt : std::optional<std::int64_t>(parent_ids_[i]);
  }
  // The parent's index; kNone for roots and for a parent id that is missing.
  Index parent(Index i) const { return parents_[i]; }
  // Number of ids in the path minus one (roots: 0).
  int depth(Index i) const { return depths_[i]; }
  bool allow_substitution(Index i) const { return allow_substitution_[i] != 0; }
  bool has_children(Index i) const { return child_at_[i + 1] > child_at_[i]; }
  // Ascending index order.
  std::span<const Index> children(Index i) const { return range(children_, child_at_, i); }
  // Ingredients whose parent_id is NULL, ascending index order.
  std::span<const Index> roots() const { return roots_; }
  // Every ingredient whose path is a prefix of this one's path, self included.
  std::span<const Index> ancestors_or_self(Index i) const { return range(ancestors_, ancestor_at_, i); }
  Index find_ingredient(std::int64_t id) const { return find(ingredient_ids_, ingredient_lookup_, id); }

  // ---- Recipes, ascending id.
  std::size_t recipe_count() const { return recipe_ids_.size(); }
  std::int64_t recipe_id(Index r) const { return recipe_ids_[r]; }
  std::string_view recipe_name(Index r) const { return slice(recipe_text_, recipe_name_at_, r); }
  Index find_recipe(std::int64_t id) const { return find(recipe_ids_, recipe_lookup_, id); }
  // One entry per recipe_ingredients row, ordered by row id; an ingredient
  // may appear more than once. The arrays below are parallel to it.
  std::span<const Index> recipe_ingredients(Index r) const { return range(row_ingredient_, row_at_, r); }
  std::span<const std::int64_t> recipe_row_ids(Index r) const { return range(row_id_, row_at_, r); }
  std::span<const Index> recipe_units(Index r) const {
    return range(row_unit_, row_at_, r);
  }  // kNone: no unit
  // NaN where the amount is NULL.
  std::span<const double> recipe_amounts(Index r) const { return range(row_amount_, row_at_, r); }
  std::size_t recipe_row_count() const { return row_ingredient_.size(); }

  // ---- Units, ascending id.
  std::size_t unit_count() const { return unit_ids_.size(); }
  std::int64_t unit_id(Index u) const { return unit_ids_[u]; }
  std::string_view unit_name(Index u) const { return slice(unit_text_, unit_name_at_, u); }
  // NaN where conversion_to_ml is NULL (each, to top, to rinse).
  double unit_conversion_to_ml(Index u) const { return unit_conversion_[u]; }
  Index find_unit(std::int64_t id) const { return find(unit_ids_, unit_lookup_, id); }

 private:
  static constexpr std::int64_t kNoId = std::numeric_limits<std::int64_t>::min();

  // Id -> index: a direct table when ids are dense enough, else binary search
  // over the sorted ids. `table` is empty in the second case.
  struct Lookup {
    std::int64_t base = 0;
    std::vector<Index> table;
  };
  static Index find(const std::vector<std::int64_t>& ids, const Lookup& lookup, std::int64_t id);
  static Lookup make_lookup(const std::vector<std::int64_t>& ids);

  template <typename T>
  static std::span<const T> range(const std::vector<T>& v, const std::vector<std::uint32_t>& at, Index i) {
    return std::span<const T>(v.data() + at[i], at[i + 1] - at[i]);
  }
  static std::string_view slice(const std::string& text, const std::vector<std::uint32_t>& at, Index i) {
    return std::string_view(text.data() + at[i], at[i + 1] - at[i]);
  }

  std::int64_t catalog_seq_ = 0;
  Anomalies anomalies_;

  std::vector<std::int64_t> ingredient_ids_;
  Lookup ingredient_lookup_;
  std::string ingredient_text_;  // names then paths, addressed by the offsets below
  std::vector<std::uint32_t> ingredient_name_at_{0};
  std::vector<std::uint32_t> ingredient_path_at_{0};
  std::vector<std::int64_t> parent_ids_;
  std::vector<Index> parents_;
  std::vector<int> depths_;
  std::vector<std::uint8_t> allow_substitution_;
  std::vector<Index> children_;
  std::vector<std::uint32_t> child_at_{0};
  std::vector<Index> roots_;
  std::vector<Index> ancestors_;
  std::vector<std::uint32_t> ancestor_at_{0};

  std::vector<std::int64_t> recipe_ids_;
  Lookup recipe_lookup_;
  std::string recipe_text_;
  std::vector<std::uint32_t> recipe_name_at_{0};
  std::vector<std::uint32_t> row_at_{0};
  std::vector<Index> row_ingredient_;
  std::vector<std::int64_t> row_id_;
  std::vector<Index> row_unit_;
  std::vector<double> row_amount_;

  std::vector<std::int64_t> unit_ids_;
  Lookup unit_lookup_;
  std::string unit_text_;
  std::vector<std::uint32_t> unit_name_at_{0};
  std::vector<double> unit_conversion_;
};

}  // namespace cocktail::analytics

// Volume rules and per-recipe ingredient fractions: the vectors both cocktail
// spaces are built from (docs/cocktail-space.md, "Volumes").
//
// Three rules turn one recipe_ingredients row into a volume in millilitres
// (or a unitless stand-in); a recipe's volumes, summed per ingredient and
// divided by its total, are its fractions. Plain functions over a
// CatalogState; results are owned values, safe to share read-only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "cocktail/catalog/state.h"

namespace cocktail::analytics {

enum class VolumeRule {
  // amount × conversion_to_ml when both are known; else amount; else 1.0.
  // Used by the Manhattan cocktail space.
  kMatrix,
  // `to top` → 90, `to rinse` → 5, `each` → 1; else as kMatrix.
  // Used by the EM cocktail space.
  kDistance,
  // As kDistance, but `each` → −1 (listed last) and a missing amount → 0.
  // Only orders a point's ingredient names.
  kDisplay,
};

// The volume of one recipe_ingredients row. `unit` is null when the row has
// no unit (or an unknown one). Unit names compare case-insensitively.
double ingredient_volume(VolumeRule rule, const catalog::UnitRow* unit, std::optional<double> amount);

// Nonnegative sparse rows in compressed form: row r holds
// columns[offsets[r] .. offsets[r+1]) ascending, with strictly positive values.
struct SparseRows {
  std::vector<std::size_t> offsets{0};
  std::vector<std::uint32_t> columns;
  std::vector<double> values;

  std::size_t rows() const { return offsets.size() - 1; }
  std::size_t row_size(std::size_t r) const { return offsets[r + 1] - offsets[r]; }
};

// Fractions per recipe under one rule (kMatrix or kDistance).
struct RecipeFractions {
  // Positions in CatalogState::recipes of the recipes kept (positive total),
  // ascending recipe_id; row r of `fractions` belongs to recipes[recipe_rows[r]].
  std::vector<std::size_t> recipe_rows;
  // Columns are positions in CatalogState::ingredients; each row sums to 1.
  SparseRows fractions;
  // Recipes left out because their total volume is not positive (including
  // recipes without any ingredient row).
  std::size_t left_out_zero_total = 0;
};

// Volumes are computed per row, negative or non-finite volumes count as 0
// (the catalog refuses negative amounts; this only guards foreign files),
// summed per ingredient and divided by the recipe total. Rows naming an
// unknown ingredient are ignored.
RecipeFractions compute_fractions(const catalog::CatalogState& state, VolumeRule rule);

// The names of a recipe's ingredients ordered by display volume, largest
// first, ties by recipe_ingredients.id; an ingredient named twice is listed
// once, at its first place. `recipe_row` is a position in state.recipes.
// Views point into `state`.
class DisplayOrder {
 public:
  explicit DisplayOrder(const catalog::CatalogState& state);
  std::vector<std::string_view> ingredient_names(std::size_t recipe_row) const;

 private:
  const catalog::CatalogState& state_;
  // Recipe p's rows are recipe_ingredients[row_offsets_[p] .. row_offsets_[p+1]).
  std::vector<std::size_t> row_offsets_;
};

// Position of an id in a vector of rows sorted by ascending id, if present.
template <typename Row>
std::optional<std::size_t> position_of_id(const std::vector<Row>& rows, std::int64_t id) {
  std::size_t lo = 0;
  std::size_t hi = rows.size();
  while (lo < hi) {
    const std::size_t mid = lo + (hi - lo) / 2;
    if (rows[mid].id < id) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo < rows.size() && rows[lo].id == id) {
    return lo;
  }
  return std::nullopt;
}

}  // namespace cocktail::analytics

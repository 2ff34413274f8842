#include "cocktail/analytics/volumes.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

namespace cocktail::analytics {
namespace {

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// Offsets of each recipe's rows in recipe_ingredients (both sorted by recipe
// id). Rows of unknown recipes are skipped by the merge.
std::vector<std::size_t> recipe_row_offsets(const catalog::CatalogState& state) {
  std::vector<std::size_t> offsets(state.recipes.size() + 1, 0);
  std::size_t row = 0;
  const auto& ri = state.recipe_ingredients;
  for (std::size_t p = 0; p < state.recipes.size(); ++p) {
    const std::int64_t id = state.recipes[p].id;
    while (row < ri.size() && ri[row].recipe_id < id) {
      ++row;
    }
    offsets[p] = row;
    while (row < ri.size() && ri[row].recipe_id == id) {
      ++row;
    }
  }
  offsets[state.recipes.size()] = row;
  // offsets[p+1] may include rows of an unknown recipe between p and p+1;
  // ingredient_rows() below trims by recipe id.
  return offsets;
}

}  // namespace

double ingredient_volume(VolumeRule rule, const catalog::UnitRow* unit, std::optional<double> amount) {
  if (rule != VolumeRule::kMatrix && unit != nullptr) {
    if (equals_ignoring_case(unit->name, "to top")) {
      return 90.0;
    }
    if (equals_ignoring_case(unit->name, "to rinse")) {
      return 5.0;
    }
    if (equals_ignoring_case(unit->name, "each")) {
      return rule == VolumeRule::kDisplay ? -1.0 : 1.0;
    }
  }
  if (amount.has_value()) {
    if (unit != nullptr && unit->conversion_to_ml.has_value()) {
      return *amount * *unit->conversion_to_ml;
    }
    return *amount;
  }
  return rule == VolumeRule::kDisplay ? 0.0 : 1.0;
}

RecipeFractions compute_fractions(const catalog::CatalogState& state, VolumeRule rule) {
  if (rule == VolumeRule::kDisplay) {
    throw std::invalid_argument("compute_fractions: the display rule only orders names");
  }
  RecipeFractions out;
  const auto offsets = recipe_row_offsets(state);
  std::vector<std::pair<std::uint32_t, double>> entries;  // (ingredient position, volume)
  for (std::size_t p = 0; p < state.recipes.size(); ++p) {
    entries.clear();
    for (std::size_t r = offsets[p]; r < offsets[p + 1]; ++r) {
      const auto& row = state.recipe_ingredients[r];
      if (row.recipe_id != state.recipes[p].id) {
        continue;
      }
      const auto ingredient = position_of_id(state.ingredients, row.ingredient_id);
      if (!ingredient) {
        continue;
      }
      const catalog::UnitRow* unit = nullptr;
      if (row.unit_id) {
        if (const auto u = position_of_id(state.units, *row.unit_id)) {
          unit = &state.units[*u];
        }
      }
      double volume = ingredient_volume(rule, unit, row.amount);
      if (!(volume > 0.0) || !std::isfinite(volume)) {
        volume = 0.0;
      }
      entries.emplace_back(static_cast<std::uint32_t>(*ingredient), volume);
    }
    // Sum per ingredient; the stable sort keeps row order within an
    // ingredient so the sum is taken in recipe_ingredients.id order.
    std::stable_sort(entries.begin(), entries.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    double total = 0.0;
    for (const auto& e : entries) {
      total += e.second;
    }
    if (!(total > 0.0) || !std::isfinite(total)) {
      ++out.left_out_zero_total;
      continue;
    }
    out.recipe_rows.push_back(p);
    for (std::size_t i = 0; i < entries.size();) {
      const std::uint32_t column = entries[i].first;
      double sum = 0.0;
      for (; i < entries.size() && entries[i].first == column; ++i) {
        sum += entries[i].second;
      }
      if (sum > 0.0) {
        out.fractions.columns.push_back(column);
        out.fractions.values.push_back(sum / total);
      }
    }
    out.fractions.offsets.push_back(out.fractions.columns.size());
  }
  return out;
}

DisplayOrder::DisplayOrder(const catalog::CatalogState& state)
    : state_(state), row_offsets_(recipe_row_offsets(state)) {}

std::vector<std::string_view> DisplayOrder::ingredient_names(std::size_t recipe_row) const {
  struct Item {
    double volume;
    std::int64_t row_id;
    std::size_t ingredient;
  };
  std::vector<Item> items;
  const std::int64_t recipe_id = state_.recipes[recipe_row].id;
  for (std::size_t r = row_offsets_[recipe_row]; r < row_offsets_[recipe_row + 1]; ++r) {
    const auto& row = state_.recipe_ingredients[r];
    if (row.recipe_id != recipe_id) {
      continue;
    }
    const auto ingredient = position_of_id(state_.ingredients, row.ingredient_id);
    if (!ingredient) {
      continue;
    }
    const catalog::UnitRow* unit = nullptr;
    if (row.unit_id) {
      if (const auto u = position_of_id(state_.units, *row.unit_id)) {
        unit = &state_.units[*u];
      }
    }
    double volume = ingredient_volume(VolumeRule::kDisplay, unit, row.amount);
    if (!std::isfinite(volume)) {
      volume = 0.0;  // keeps the order strict-weak
    }
    items.push_back({volume, row.id, *ingredient});
  }
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    if (a.volume != b.volume) {
      return a.volume > b.volume;
    }
    return a.row_id < b.row_id;
  });
  std::vector<std::string_view> names;
  names.reserve(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    bool seen = false;
    for (std::size_t j = 0; j < i && !seen; ++j) {
      seen = items[j].ingredient == items[i].ingredient;
    }
    if (!seen) {
      names.emplace_back(state_.ingredients[items[i].ingredient].name);
    }
  }
  return names;
}

}  // namespace cocktail::analytics

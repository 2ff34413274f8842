// JSON text of the exact analytics' `data` values and their metadata extras,
// written with RapidJSON (names are escaped correctly and invalid UTF-8 is
// repaired, so any catalog text yields valid JSON). Wrap the result with
// make_envelope (envelope.h) once the generation number is known.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cocktail/analytics/catalog_model.h"
#include "cocktail/analytics/exact_analytics.h"

namespace cocktail::analytics {

inline constexpr std::string_view kIngredientUsage = "ingredient-usage";
inline constexpr std::string_view kIngredientUsageAll = "ingredient-usage-all";
inline constexpr std::string_view kRecipeComplexity = "recipe-complexity";
inline constexpr std::string_view kIngredientTree = "ingredient-tree";

using MetadataExtras = std::vector<std::pair<std::string, std::string>>;

// [{ingredient_id, ingredient_name, path, parent_id, allow_substitution,
//   direct_usage, hierarchical_usage, has_children}, ...] in the given order.
std::string usage_rows_json(std::span<const IngredientUsageRow> rows);
std::string usage_rows_json(std::span<const IngredientUsageRow* const> rows);

// The root rows (parent_id NULL) of `analytics.usage`, in usage order.
std::vector<const IngredientUsageRow*> root_rows(const ExactAnalytics& analytics);

// [{ingredient_count, recipe_count}, ...]
std::string recipe_complexity_json(std::span<const ComplexityBucket> buckets);

// The D3 tree: {"id": "root", "name": "All Ingredients", "recipe_count": 0,
// "hierarchical_recipe_count": 0, "children": [...]}, ingredient nodes
// {"id": "<id>", "name", "edge_weight": 1.0, "recipe_count",
// "hierarchical_recipe_count", "children"?} with children (present only when
// non-empty) in usage order. Written without recursion, so any depth is safe.
// `nodes`, when given, receives the number of ingredient nodes written.
std::string ingredient_tree_json(const CatalogModel& model, const ExactAnalytics& analytics,
                                 std::int64_t* nodes = nullptr);

// Per-type metadata extras (JSON value text), appended after the common fields.
MetadataExtras usage_extras(const ExactAnalytics& analytics);  // total_recipes, total_ingredients
// total_recipes, recipes_with_ingredients, mean_ingredient_count, mode_ingredient_count
MetadataExtras complexity_extras(const ExactAnalytics& analytics);
MetadataExtras tree_extras(std::int64_t nodes, const CatalogModel& model);  // total_ingredients, max_depth

}  // namespace cocktail::analytics

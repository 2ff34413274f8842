// The exact analytics: ingredient usage (direct and hierarchical), recipe
// complexity, and the counts behind the ingredient tree, computed from a
// CatalogModel in one pass over the recipe rows (see docs/analytics.md for
// the definitions and ordering rules).
//
// Pure functions over immutable inputs; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cocktail/analytics/catalog_model.h"

namespace cocktail::analytics {

// One row of ingredient-usage / ingredient-usage-all.
struct IngredientUsageRow {
  std::int64_t ingredient_id = 0;
  std::string ingredient_name;
  std::string path;
  std::optional<std::int64_t> parent_id;  // empty for roots
  bool allow_substitution = false;
  std::int64_t direct_usage = 0;        // distinct recipes with a row for this ingredient
  std::int64_t hierarchical_usage = 0;  // distinct recipes with a row for it or a descendant (path prefix)
  bool has_children = false;            // some ingredient has it as parent_id
  int depth = 0;                        // ids in path minus one; not serialised, used by drill-down

  bool operator==(const IngredientUsageRow&) const = default;
};

struct ComplexityBucket {
  std::int64_t ingredient_count = 0;  // distinct ingredients in a recipe
  std::int64_t recipe_count = 0;      // recipes with exactly that many

  bool operator==(const ComplexityBucket&) const = default;
};

struct ExactAnalytics {
  // Every ingredient, in usage order: hierarchical_usage descending, then
  // ingredient_name ascending compared like SQLite's NOCASE collation (ASCII
  // letters folded to lower case, then bytes), then ingredient_id ascending.
  std::vector<IngredientUsageRow> usage;
  // usage_rank[i] = position in `usage` of the model's ingredient index i.
  std::vector<std::int32_t> usage_rank;
  // Ascending ingredient_count; only recipes with at least one row.
  std::vector<ComplexityBucket> complexity;
  std::int64_t total_recipes = 0;
  std::int64_t total_ingredients = 0;
  std::int64_t recipes_with_ingredients = 0;
};

ExactAnalytics compute_exact_analytics(const CatalogModel& model);

// The histogram's mean ingredient count (Σ count × recipes / Σ recipes) and
// its mode (the count with the most recipes, the smaller count on a tie);
// both absent when no recipe has an ingredient. recipe-complexity's
// metadata carries them so that no reader has to recompute them.
struct ComplexitySummary {
  std::optional<double> mean;
  std::optional<std::int64_t> mode;
};
ComplexitySummary summarize_complexity(std::span<const ComplexityBucket> buckets);

// The usage order above, for rows from any source. True when a sorts first.
bool usage_order_less(const IngredientUsageRow& a, const IngredientUsageRow& b);
// Number of ids in a path such as "/1/23/45/" minus one: 0 for roots, and
// for an empty or malformed path.
int path_depth(std::string_view path);
// SQLite NOCASE: -1, 0, 1.
int compare_nocase(std::string_view a, std::string_view b);

}  // namespace cocktail::analytics

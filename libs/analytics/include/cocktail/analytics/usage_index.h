// IngredientUsageIndex: answers the ingredient-usage drill-downs
// (`parent_id`, `level`, both) from the full list of usage rows, so that a
// reader serves every view from the same snapshot as the root view.
//
// Built either from computed rows or from the `ingredient-usage-all` file
// (the envelope or its bare `data` array). Query results keep the usage order
// of the rows (hierarchical_usage desc, name, id) and point into the index.
// Immutable after construction; safe to share read-only across threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cocktail/analytics/exact_analytics.h"
#include "cocktail/core/result.h"

namespace cocktail::analytics {

class IngredientUsageIndex {
 public:
  using Rows = std::vector<const IngredientUsageRow*>;

  IngredientUsageIndex() = default;
  // Rows in any order: they are sorted into usage order. `depth` is
  // recomputed from each row's path.
  explicit IngredientUsageIndex(std::vector<IngredientUsageRow> rows);
  // Parses an ingredient-usage-all document (envelope or bare array) with
  // simdjson. A malformed document is an error naming the offending field;
  // nothing is half-built.
  static core::Result<IngredientUsageIndex> from_json(std::string_view json);

  IngredientUsageIndex(IngredientUsageIndex&&) = default;
  IngredientUsageIndex& operator=(IngredientUsageIndex&&) = default;
  IngredientUsageIndex(const IngredientUsageIndex&) = delete;
  IngredientUsageIndex& operator=(const IngredientUsageIndex&) = delete;

  const std::vector<IngredientUsageRow>& rows() const { return rows_; }
  const IngredientUsageRow* find(std::int64_t ingredient_id) const;

  // The read API's drill-down:
  //   neither      -> the roots (parent_id NULL), the stored ingredient-usage view
  //   parent only  -> the children of parent_id (rows whose parent_id equals it)
  //   level only   -> every ingredient at that depth (roots are level 0)
  //   both         -> the descendants of parent_id (path prefix, itself
  //                   excluded) at that depth
  // An unknown parent_id yields no rows (use find() to tell it apart).
  Rows query(std::optional<std::int64_t> parent_id, std::optional<int> level) const;

  Rows roots() const { return query(std::nullopt, std::nullopt); }
  Rows children_of(std::int64_t parent_id) const { return query(parent_id, std::nullopt); }
  Rows at_level(int level) const { return query(std::nullopt, level); }

 private:
  Rows select(const std::vector<std::uint32_t>& positions) const;

  std::vector<IngredientUsageRow> rows_;  // usage order
  std::unordered_map<std::int64_t, std::uint32_t> by_id_;
  std::unordered_map<std::int64_t, std::vector<std::uint32_t>> by_parent_;  // ascending positions
  std::vector<std::uint32_t> roots_;
  std::vector<std::vector<std::uint32_t>> by_level_;
};

}  // namespace cocktail::analytics

// Request bodies of the catalog API: JSON text in, catalog inputs out
// (parsed with simdjson). The shapes are documented in proto/openapi.yaml.
//
// Policy (docs/api.md, "Request bodies"):
//   - The body is one JSON value: an object for a single item; for a bulk
//     call an array of items or an object {"ingredients": [...]} /
//     {"recipes": [...]}. Anything else, or malformed JSON, is invalid.
//   - Required fields must be present; optional ones may be absent or null.
//   - Types are strict: a string is a string, an id an integer that fits in
//     64 bits, an amount a number, a flag true or false. "5" is not 5.
//   - Unknown fields are refused (so a typo such as "instruction" cannot be
//     silently dropped), except the read-only fields that GET returns (id,
//     path, avg_rating, rating_count, ingredient_name, unit_name), which are
//     accepted and ignored so that what GET returns can be PUT back.
//   - A field repeated in one object is refused.
// Content rules (lengths, ranges, existence of ids) are the Repository's.
//
// Every failure is a core::Error with code kInvalidArgument whose `field`
// names the first culprit ("ingredients[2].amount") and whose message names it
// too; `details` lists every problem found (index = item of a bulk call, -1
// otherwise), at most kMaxReportedProblems of them.
//
// Pure functions; thread-safe (each thread parses with its own parser).
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "cocktail/catalog/repository.h"
#include "cocktail/core/result.h"

namespace cocktail::catalog_service {

inline constexpr std::size_t kMaxReportedProblems = 100;

core::Result<catalog::IngredientInput> decode_ingredient(std::string_view body);
core::Result<catalog::RecipeInput> decode_recipe(std::string_view body);
core::Result<catalog::UnitInput> decode_unit(std::string_view body);

// Bulk bodies: the items in order. An empty list is invalid.
core::Result<std::vector<catalog::BulkIngredient>> decode_bulk_ingredients(std::string_view body);
core::Result<std::vector<catalog::BulkRecipe>> decode_bulk_recipes(std::string_view body);

}  // namespace cocktail::catalog_service

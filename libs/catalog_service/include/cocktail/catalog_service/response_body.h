// Response bodies of the catalog API: catalog rows out as JSON text (written
// with RapidJSON). The shapes are documented in proto/openapi.yaml:
//
//   ingredient  {"id", "name", "description", "parent_id", "path", "allow_substitution"}
//   unit        {"id", "name", "abbreviation", "conversion_to_ml"}
//   recipe      {"id", "name", "instructions", "description", "image_url", "source",
//                "source_url", "avg_rating", "rating_count",
//                "ingredients": [{"id", "ingredient_id", "ingredient_name", "unit_id",
//                                 "unit_name", "amount"}]}
//   page        {"items": [...], "next_after_id": <id or null>}
//   write       {"item": <row>, "catalog_seq": N}
//   delete      {"id": N, "deleted": true, "catalog_seq": N}
//   bulk        {"created": N, "items": [{"id", "name"}], "catalog_seq": N}
//
// Absent optional values are written as null, never left out, so that every
// response of one kind has the same keys. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cocktail/catalog/repository.h"

namespace cocktail::catalog_service {

std::string ingredient_json(const catalog::Ingredient& row);
std::string recipe_json(const catalog::Recipe& row);
std::string unit_json(const catalog::Unit& row);

std::string ingredient_page_json(const catalog::Page<catalog::Ingredient>& page);
std::string recipe_page_json(const catalog::Page<catalog::Recipe>& page);
// Units are few: one page holds them all.
std::string unit_list_json(const std::vector<catalog::Unit>& units);

std::string written_json(const catalog::Ingredient& row, std::int64_t catalog_seq);
std::string written_json(const catalog::Recipe& row, std::int64_t catalog_seq);
std::string written_json(const catalog::Unit& row, std::int64_t catalog_seq);
std::string deleted_json(std::int64_t id, std::int64_t catalog_seq);
std::string bulk_created_json(const std::vector<catalog::Ingredient>& rows, std::int64_t catalog_seq);
std::string bulk_created_json(const std::vector<catalog::Recipe>& rows, std::int64_t catalog_seq);

}  // namespace cocktail::catalog_service

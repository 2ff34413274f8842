// CatalogState: the part of the catalog the analytics engine reads, loaded in
// one read transaction together with the change_log seq it corresponds to.
// Plain data; owned by the caller; safe to share read-only across threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace cocktail::catalog {

class Database;

struct IngredientRow {
  std::int64_t id = 0;
  std::string name;
  std::optional<std::int64_t> parent_id;  // empty for roots
  std::string path;                       // "/1/23/45/", root first, own id last
  bool allow_substitution = false;
};

struct UnitRow {
  std::int64_t id = 0;
  std::string name;
  std::string abbreviation;
  std::optional<double> conversion_to_ml;  // empty for each, to top, to rinse
};

struct RecipeRow {
  std::int64_t id = 0;
  std::string name;
};

struct RecipeIngredientRow {
  std::int64_t id = 0;
  std::int64_t recipe_id = 0;
  std::int64_t ingredient_id = 0;
  std::optional<std::int64_t> unit_id;
  std::optional<double> amount;
};

struct CatalogState {
  // The highest change_log seq committed when the read transaction began:
  // the state reflects exactly the changes up to and including it.
  std::int64_t catalog_seq = 0;
  std::vector<IngredientRow> ingredients;               // ascending id
  std::vector<UnitRow> units;                           // ascending id
  std::vector<RecipeRow> recipes;                       // ascending id
  std::vector<RecipeIngredientRow> recipe_ingredients;  // ascending (recipe_id, id)
};

// Reads the whole state in a single read transaction (a consistent snapshot
// under WAL, never blocking writers). Throws on I/O errors.
CatalogState load_state(Database& db);

}  // namespace cocktail::catalog

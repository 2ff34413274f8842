// The catalog's secondary indexes (parent_id, path, recipe_ingredients'
// recipe_id, ingredient_id, unit_id), shared by the migrations and the seeder.
// Internal to libs/catalog.
#pragma once

#include "cocktail/catalog/database.h"

namespace cocktail::catalog {

// Creates each index unless an equivalent one (same table, same leading
// column, any name) exists. Idempotent.
void ensure_catalog_indexes(Database& db);
// Drops the indexes ensure_catalog_indexes() creates (by name). A bulk
// writer filling empty tables drops them and ensures them again afterwards,
// inside its transaction: building an index from sorted data once is much
// cheaper than maintaining it row by row.
void drop_catalog_indexes(Database& db);

}  // namespace cocktail::catalog

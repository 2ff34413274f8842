// Synthetic catalogs for tests: real catalogs (SQLite files, or PostgreSQL
// databases) with the catalog's tables, filled from a seed, and the seed
// documents' SQL formulation of each exact analytic (the correlated
// sub-query with path-prefix matching) run by the database itself on the
// same catalog, as the oracle the engine is checked against.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cocktail/analytics/exact_analytics.h"
#include "cocktail/catalog/database.h"
#include "cocktail/testing/temp_dir.h"  // TempDir, for the tests that include this

namespace cocktail::testing {

// Opens (creating) a catalog file for a test, or a PostgreSQL database (a
// postgresql:// location): synchronous OFF, since a test catalog needs no
// durability and fsyncs would dominate the suite.
std::unique_ptr<catalog::Database> open_test_catalog(const std::string& path);

// Brings an empty file to the catalog schema (catalog::migrate): tables,
// indexes, standard units, change_log and its triggers.
void create_catalog_schema(catalog::Database& db);
// The latest change_log seq (what a snapshot computed now would carry).
std::int64_t latest_seq(catalog::Database& db);

struct SyntheticSpec {
  std::uint64_t seed = 1;
  int ingredients = 50;
  int recipes = 80;
  int max_depth = 4;                 // deepest level (roots are level 0)
  double root_share = 0.2;           // chance that an ingredient is a root
  int max_rows = 6;                  // recipe_ingredients rows per recipe: 0..max_rows
  double duplicate_share = 0.1;      // chance that a row repeats an ingredient already in the recipe
  bool nasty_names = false;          // quotes, backslashes, control characters, non-ASCII
  int id_gap = 3;                    // ids advance by 1..id_gap (exercises sparse ids)
  std::int64_t change_log_rows = 5;  // extra change_log rows beyond the triggers' own
};

// Fills an empty catalog (schema already created) in one transaction.
void fill_synthetic(catalog::Database& db, const SyntheticSpec& spec);

// ---- The oracle: the seeds' SQL, with the ordering rule of analytics.md.
std::vector<analytics::IngredientUsageRow> oracle_usage(catalog::Database& db);
std::vector<analytics::IngredientUsageRow> oracle_usage_children(catalog::Database& db,
                                                                 std::int64_t parent_id);
std::vector<analytics::ComplexityBucket> oracle_complexity(catalog::Database& db);
std::int64_t oracle_total_recipes(catalog::Database& db);

}  // namespace cocktail::testing

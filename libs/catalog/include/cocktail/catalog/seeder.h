// Seeder: writes a deterministic, synthetic but realistic catalog into an
// empty one, for demos, tests and benchmarks of any size.
//
// The ingredient hierarchy starts from a curated taxonomy several levels deep
// under eight roots (Spirits, Liqueurs, Juices, Syrups, Bitters, Wines,
// Mixers, Garnishes) and grows with invented products under its nodes; some
// leaves allow substitution. Recipes have 1 to 10 ingredients (most often 4),
// popular generics more often than rare products, amounts in the standard
// units (oz, dash, bsp, tsp, drop, each, to top, to rinse) and some amounts
// missing. Names are unique case-insensitively.
//
// Same options, same file: the generator uses its own PRNG (xoshiro256**),
// never the standard library's distributions, whose output differs between
// implementations; ids are assigned in generation order; and the change_log
// rows the seed writes carry options.timestamp_ms rather than the wall clock.
// Everything is written in one transaction with prepared statements: the
// catalog is either fully seeded or untouched.
//
// The change_log: the seed logs exactly the rows the triggers would have
// logged (one insert per ingredient, recipe and recipe_ingredient, in that
// order) but writes them itself, with the triggers dropped and re-installed
// inside the same transaction, so that the fixed timestamp can be used and no
// other writer can ever commit without the triggers.
//
// A free function over a migrated Database the caller owns.
#pragma once

#include <cstdint>

#include "cocktail/catalog/database.h"
#include "cocktail/core/result.h"

namespace cocktail::catalog {

struct SeedOptions {
  std::int64_t recipes = 1356;
  std::int64_t ingredients = 610;  // including the eight roots
  std::uint64_t seed = 42;
  // ms since the epoch recorded in the seeded change_log rows.
  std::int64_t timestamp_ms = 1735689600000;  // 2025-01-01T00:00:00Z
};

struct SeedReport {
  std::int64_t ingredients = 0;
  std::int64_t recipes = 0;
  std::int64_t recipe_ingredients = 0;
  std::int64_t max_depth = 0;    // of the hierarchy; roots are depth 0
  std::int64_t catalog_seq = 0;  // the latest change_log seq after the seed
};

// Seeds an empty catalog (no ingredients, no recipes; the standard units must
// be present, as migrate() leaves them in a new file). Errors: kConflict when
// the catalog already holds rows, kInvalidArgument for negative counts, for
// recipes without any ingredient, or for a missing standard unit. Throws
// DatabaseError on I/O failures.
core::Result<SeedReport> seed_catalog(Database& db, const SeedOptions& options);

}  // namespace cocktail::catalog

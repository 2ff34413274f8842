// A CatalogState seeded by catalog-seed's generator (catalog::seed_catalog)
// into a real SQLite file in a temporary directory, then read back with
// load_state — the same path analytics-regen takes. The file is removed
// before returning. Same arguments, same catalog.
#pragma once

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "cocktail/catalog/schema.h"
#include "cocktail/catalog/seeder.h"
#include "cocktail/catalog/state.h"

namespace cocktail::analytics::testing {

inline catalog::CatalogState seeded_catalog(std::int64_t recipes, std::int64_t ingredients,
                                            std::uint64_t seed) {
  static std::atomic<int> counter{0};
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      ("cocktail-space-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1)));
  std::filesystem::create_directories(dir);
  catalog::CatalogState state;
  try {
    auto db = catalog::open_catalog((dir / "catalog.db").string());
    catalog::SeedOptions options;
    options.recipes = recipes;
    options.ingredients = ingredients;
    options.seed = seed;
    const auto report = catalog::seed_catalog(*db, options);
    if (!report.ok()) {
      throw std::runtime_error("seed_catalog: " + report.error().message);
    }
    state = catalog::load_state(*db);
  } catch (...) {
    std::filesystem::remove_all(dir);
    throw;
  }
  std::filesystem::remove_all(dir);
  return state;
}

}  // namespace cocktail::analytics::testing

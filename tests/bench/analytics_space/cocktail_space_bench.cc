// The whole cocktail-space computation on one catalog, with per-stage times,
// CPU time and peak resident memory.
//
//   build/bin/cocktail_space_bench --recipes 1356 --ingredients 610 [--threads 2] [--seed 42]
//       (seeds a temporary SQLite catalog with catalog-seed's generator)
//   build/bin/cocktail_space_bench --db catalog.db          (an existing catalog file)
// Prints one JSON object on stdout.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "cocktail/analytics/cocktail_space.h"
#include "cocktail/catalog/database.h"
#include "cocktail/catalog/state.h"
#include "seeded_catalog.h"

namespace {

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

long peak_rss_kib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t recipes = 1356;
  std::size_t ingredients = 610;
  std::uint64_t seed = 42;
  std::string db;
  cocktail::analytics::CocktailSpaceOptions options;
  options.threads = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const char* value = argv[i + 1];
    if (flag == "--recipes") {
      recipes = std::strtoull(value, nullptr, 10);
    } else if (flag == "--ingredients") {
      ingredients = std::strtoull(value, nullptr, 10);
    } else if (flag == "--seed") {
      seed = std::strtoull(value, nullptr, 10);
    } else if (flag == "--threads") {
      options.threads = static_cast<unsigned>(std::strtoul(value, nullptr, 10));
    } else if (flag == "--cap") {
      options.candidate_cap = std::strtoull(value, nullptr, 10);
    } else if (flag == "--db") {
      db = value;
    } else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  const auto load_start = std::chrono::steady_clock::now();
  cocktail::catalog::CatalogState state;
  if (!db.empty()) {
    cocktail::catalog::DatabaseOptions o;
    o.read_only = true;
    auto database = cocktail::catalog::Database::open(db, o);
    state = cocktail::catalog::load_state(*database);
  } else {
    state = cocktail::analytics::testing::seeded_catalog(static_cast<std::int64_t>(recipes),
                                                         static_cast<std::int64_t>(ingredients), seed);
  }
  const double load_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - load_start).count();

  const double cpu_before = cpu_seconds();
  const auto start = std::chrono::steady_clock::now();
  const auto result = cocktail::analytics::compute_cocktail_spaces(state, options);
  const double wall_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  const double cpu_ms = (cpu_seconds() - cpu_before) * 1000.0;
  std::printf(
      "{\"recipes\": %zu, \"ingredients\": %zu, \"catalog_ms\": %.1f, \"wall_ms\": %.1f, \"cpu_ms\": %.1f, "
      "\"peak_rss_mib\": %.1f, \"bytes\": {\"cocktail_space\": %zu, \"cocktail_space_em\": %zu, "
      "\"recipe_similar\": %zu, \"npy\": %zu}, \"result\": %s}\n",
      state.recipes.size(), state.ingredients.size(), load_ms, wall_ms, cpu_ms,
      static_cast<double>(peak_rss_kib()) / 1024.0, result.cocktail_space.size(),
      result.cocktail_space_em.size(), result.recipe_similar.size(), result.distance_matrix_npy.size(),
      result.summary_json().c_str());
  return 0;
}

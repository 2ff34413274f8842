// Write throughput of the catalog: one recipe (four ingredient rows) per
// transaction through Repository::create_recipe, with synchronous OFF (no
// fsync: the CPU and SQLite baseline), NORMAL and FULL in WAL mode. The
// ratios to OFF show what durability costs on this disk.
//
//   build/bin/catalog_bench [--benchmark_min_time=3]
//   COCKTAIL_BENCH_DIR=/some/disk build/bin/catalog_bench
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "cocktail/catalog/repository.h"
#include "cocktail/catalog/schema.h"
#include "cocktail/catalog/seeder.h"

namespace cocktail::catalog {
namespace {

std::string bench_dir() {
  const char* env = std::getenv("COCKTAIL_BENCH_DIR");
  std::filesystem::path dir = env && *env ? env : COCKTAIL_BENCH_DIR;
  std::filesystem::create_directories(dir);
  return dir.string();
}

void BM_CreateRecipe(benchmark::State& state) {
  const auto mode = static_cast<Synchronous>(state.range(0));
  const std::string path = bench_dir() + "/create-recipe-" + std::to_string(state.range(0)) + ".db";
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::filesystem::remove(path + suffix);
  }
  DatabaseOptions options;
  options.synchronous = mode;
  auto db = open_catalog(path, options);
  // Today's catalog size, so indexes and pages are realistic.
  if (!seed_catalog(*db, {1356, 610, 1, 0})) {
    state.SkipWithError("seed failed");
    return;
  }
  Repository repo(*db);
  RecipeInput recipe{"",
                     "Shake with ice and strain.",
                     {},
                     {},
                     "bench",
                     {},
                     {{9, 1, 2.0}, {20, 1, 0.75}, {30, 1, 0.5}, {40, 5, 2.0}}};
  std::int64_t n = 0;
  for (auto _ : state) {
    recipe.name = std::string("Bench Sour ").append(std::to_string(++n));
    auto r = repo.create_recipe(recipe);
    if (!r) {
      state.SkipWithError(r.error().message.c_str());
      break;
    }
    benchmark::DoNotOptimize(r->catalog_seq);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(mode == Synchronous::kOff ? "OFF" : mode == Synchronous::kNormal ? "NORMAL" : "FULL");
  db.reset();
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::filesystem::remove(path + suffix);
  }
}

BENCHMARK(BM_CreateRecipe)
    ->Arg(static_cast<int>(Synchronous::kOff))
    ->Arg(static_cast<int>(Synchronous::kNormal))
    ->Arg(static_cast<int>(Synchronous::kFull))
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

}  // namespace
}  // namespace cocktail::catalog

BENCHMARK_MAIN();

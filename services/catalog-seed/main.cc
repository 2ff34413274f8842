// catalog-seed: writes a deterministic synthetic catalog (see
// libs/catalog/include/cocktail/catalog/seeder.h) and prints a JSON summary.
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <iostream>

#include "cocktail/catalog/schema.h"
#include "cocktail/catalog/seeder.h"
#include "cocktail/core/log.h"
#include "cocktail/core/options.h"

namespace catalog = cocktail::catalog;

int main(int argc, char** argv) {
  cocktail::core::Options options("catalog-seed",
                                  "Writes a deterministic, synthetic catalog: same arguments, same file.");
  catalog::SeedOptions defaults;
  options
      .add_string(
          "--db", "CATALOG_DB", "",
          "catalog to seed: a SQLite file to create or a postgresql:// URI of an empty database (required)")
      .add_int("--recipes", "CATALOG_SEED_RECIPES", defaults.recipes, "number of recipes")
      .add_int("--ingredients", "CATALOG_SEED_INGREDIENTS", defaults.ingredients,
               "number of ingredients, the eight roots included")
      .add_int("--seed", "CATALOG_SEED", static_cast<std::int64_t>(defaults.seed), "PRNG seed")
      .add_int("--timestamp-ms", "CATALOG_SEED_TIMESTAMP_MS", defaults.timestamp_ms,
               "change_log timestamp of the seeded rows, ms since the epoch (fixed for reproducible files)")
      .add_bool("--replace", "CATALOG_SEED_REPLACE", false,
                "delete an existing file at --db first (otherwise a catalog with rows is refused)");
  options.parse_or_exit(argc, argv);
  const std::string path = options.get("--db");
  if (path.empty()) {
    std::cerr << "catalog-seed: --db is required (see catalog-seed --help)\n";
    return 2;
  }
  catalog::SeedOptions seed;
  seed.recipes = options.get_int("--recipes");
  seed.ingredients = options.get_int("--ingredients");
  seed.seed = static_cast<std::uint64_t>(options.get_int("--seed"));
  seed.timestamp_ms = options.get_int("--timestamp-ms");

  try {
    auto started = std::chrono::steady_clock::now();
    if (catalog::Database::is_postgres_location(path)) {
      if (options.get_bool("--replace")) {
        std::cerr
            << "catalog-seed: --replace deletes a SQLite file; seed an empty PostgreSQL database instead\n";
        return 2;
      }
    } else {
      if (options.get_bool("--replace")) {
        for (const char* suffix : {"", "-wal", "-shm"}) {
          std::filesystem::remove(path + suffix);
        }
      }
      if (auto dir = std::filesystem::path(path).parent_path(); !dir.empty()) {
        std::filesystem::create_directories(dir);
      }
    }
    auto db = catalog::open_catalog(path);
    auto report = catalog::seed_catalog(*db, seed);
    if (!report) {
      std::cerr << "catalog-seed: " << report.error().field << ": " << report.error().message
                << (report.error().field == "db" ? " (or pass --replace)" : "") << "\n";
      return 1;
    }
    const std::string db_display = db->path();  // a URI's password is not printed
    db.reset();
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

    rapidjson::StringBuffer out;
    rapidjson::Writer<rapidjson::StringBuffer> w(out);
    w.StartObject();
    w.Key("db");
    w.String(db_display.c_str());
    w.Key("seed");
    w.Uint64(seed.seed);
    w.Key("ingredients");
    w.Int64(report->ingredients);
    w.Key("recipes");
    w.Int64(report->recipes);
    w.Key("recipe_ingredients");
    w.Int64(report->recipe_ingredients);
    w.Key("max_depth");
    w.Int64(report->max_depth);
    w.Key("catalog_seq");
    w.Int64(report->catalog_seq);
    w.Key("seconds");
    w.Double(seconds);
    w.EndObject();
    std::cout << out.GetString() << "\n";
    return 0;
  } catch (const std::exception& e) {
    cocktail::core::log::error("catalog_seed.failed", {{"db", path}, {"error", e.what()}});
    std::cerr << "catalog-seed: " << e.what() << "\n";
    return 1;
  }
}

#include "cocktail/catalog/seeder.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "cocktail/catalog/change_log.h"
#include "cocktail/catalog/schema.h"
#include "cocktail/catalog/state.h"
#include "temp_catalog.h"

namespace cocktail::catalog {
namespace {

using testing::RawConnection;
using testing::read_file;
using testing::TempDir;

SeedReport seed_file(const std::string& path, const SeedOptions& options) {
  auto db = open_catalog(path);
  auto report = seed_catalog(*db, options);
  EXPECT_TRUE(report) << (report ? "" : report.error().message);
  db->exec("PRAGMA wal_checkpoint(TRUNCATE)");
  return report ? *report : SeedReport{};
}

// Every row of every table, in a stable order.
std::string dump_all(const std::string& path) {
  RawConnection raw(path);
  std::string out;
  for (const char* q :
       {"SELECT * FROM ingredients ORDER BY id", "SELECT * FROM units ORDER BY id",
        "SELECT * FROM recipes ORDER BY id", "SELECT * FROM recipe_ingredients ORDER BY id",
        "SELECT * FROM change_log ORDER BY seq", "SELECT * FROM schema_migrations ORDER BY version",
        "SELECT type, name, sql FROM sqlite_master ORDER BY name"}) {
    out += raw.dump(q) + "--\n";
  }
  return out;
}

TEST(Seeder, SameSeedGivesIdenticalFilesAndAnotherSeedDoesNot) {
  TempDir dir;
  SeedOptions options{400, 150, 7, 1735689600000};
  seed_file(dir.file("a.db"), options);
  seed_file(dir.file("b.db"), options);
  options.seed = 8;
  seed_file(dir.file("c.db"), options);
  const std::string a = dump_all(dir.file("a.db"));
  EXPECT_EQ(a, dump_all(dir.file("b.db")));
  EXPECT_NE(a, dump_all(dir.file("c.db")));
  // Byte for byte, not only row for row.
  EXPECT_TRUE(read_file(dir.file("a.db")) == read_file(dir.file("b.db"))) << "file contents differ";
}

TEST(Seeder, WritesARealisticCatalog) {
  TempDir dir;
  const auto path = dir.file("seed.db");
  auto report = seed_file(path, {2000, 400, 42, 1735689600000});
  EXPECT_EQ(report.ingredients, 400);
  EXPECT_EQ(report.recipes, 2000);
  EXPECT_GE(report.max_depth, 3);

  auto db = open_catalog(path);
  auto state = load_state(*db);
  ASSERT_EQ(state.ingredients.size(), 400u);
  ASSERT_EQ(state.recipes.size(), 2000u);
  EXPECT_EQ(static_cast<std::int64_t>(state.recipe_ingredients.size()), report.recipe_ingredients);

  // The eight roots, and paths that match the parent chain.
  std::vector<std::string> roots;
  std::map<std::int64_t, const IngredientRow*> by_id;
  std::set<std::int64_t> parents;
  for (const auto& i : state.ingredients) {
    by_id[i.id] = &i;
    if (!i.parent_id) {
      roots.push_back(i.name);
    }
    if (i.parent_id) {
      parents.insert(*i.parent_id);
    }
  }
  EXPECT_EQ(roots, (std::vector<std::string>{"Spirits", "Liqueurs", "Juices", "Syrups", "Bitters", "Wines",
                                             "Mixers", "Garnishes"}));
  int substitutable = 0;
  for (const auto& i : state.ingredients) {
    std::string expected =
        (i.parent_id ? by_id.at(*i.parent_id)->path : std::string("/")) + std::to_string(i.id) + "/";
    EXPECT_EQ(i.path, expected) << i.name;
    if (i.allow_substitution) {
      ++substitutable;
      EXPECT_EQ(parents.count(i.id), 0u) << "only leaves allow substitution: " << i.name;
    }
  }
  EXPECT_GT(substitutable, 20);

  // Names unique case-insensitively.
  std::set<std::string> names;
  auto fold = [](std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
  };
  for (const auto& r : state.recipes) {
    EXPECT_TRUE(names.insert(fold(r.name)).second) << r.name;
  }

  // 1..10 ingredients per recipe, most often 4; no root ingredient poured.
  std::map<std::int64_t, int> sizes;
  for (const auto& ri : state.recipe_ingredients) {
    ++sizes[ri.recipe_id];
    EXPECT_TRUE(by_id.at(ri.ingredient_id)->parent_id) << "a root in a recipe";
  }
  std::map<int, int> histogram;
  for (const auto& [id, n] : sizes) {
    ++histogram[n];
  }
  EXPECT_EQ(sizes.size(), 2000u);
  EXPECT_GE(histogram.begin()->first, 1);
  EXPECT_LE(histogram.rbegin()->first, 10);
  auto mode = std::max_element(histogram.begin(), histogram.end(),
                               [](const auto& a, const auto& b) { return a.second < b.second; });
  EXPECT_EQ(mode->first, 4);

  // Amounts in the standard units, special units included, some missing.
  std::map<std::int64_t, std::string> unit_names;
  for (const auto& u : state.units) {
    unit_names[u.id] = u.name;
  }
  std::map<std::string, int> by_unit;
  int missing = 0;
  for (const auto& ri : state.recipe_ingredients) {
    by_unit[ri.unit_id ? unit_names.at(*ri.unit_id) : "none"]++;
    if (!ri.amount) {
      ++missing;
    }
  }
  for (const char* u : {"Ounce", "Dash", "Each", "to top", "to rinse", "Barspoon", "Teaspoon", "Drop"}) {
    EXPECT_GT(by_unit[u], 0) << u;
  }
  EXPECT_GT(missing, 0);
  EXPECT_LT(missing, static_cast<int>(state.recipe_ingredients.size()) / 4);

  // One change_log row per seeded row, as the triggers would have written,
  // and the triggers back in place for every later writer.
  RawConnection raw(path);
  EXPECT_EQ(state.catalog_seq, 400 + 2000 + report.recipe_ingredients);
  EXPECT_EQ(
      raw.dump("SELECT entity, COUNT(*), MIN(ts), MAX(ts) FROM change_log GROUP BY entity ORDER BY entity"),
      "ingredient|400|1735689600000|1735689600000\nrecipe|2000|1735689600000|1735689600000\n"
      "recipe_ingredient|" +
          std::to_string(report.recipe_ingredients) + "|1735689600000|1735689600000\n");
  EXPECT_TRUE(change_log_triggers_installed(*db));
  raw.exec("DELETE FROM recipe_ingredients WHERE id = 1");
  EXPECT_EQ(ChangeLog(*db).latest_seq(), state.catalog_seq + 1);
}

TEST(Seeder, RefusesACatalogWithRowsAndChangesNothing) {
  TempDir dir;
  const auto path = dir.file("seed.db");
  seed_file(path, {10, 20, 1, 0});
  auto db = open_catalog(path);
  const std::string before = dump_all(path);
  auto again = seed_catalog(*db, {10, 20, 1, 0});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, core::ErrorCode::kConflict);
  EXPECT_EQ(dump_all(path), before);
}

TEST(Seeder, HandlesTinyAndInvalidSizes) {
  TempDir dir;
  auto db = open_catalog(dir.file("tiny.db"));
  EXPECT_EQ(seed_catalog(*db, {5, 0, 1, 0}).error().field, "ingredients");
  EXPECT_EQ(seed_catalog(*db, {-1, 3, 1, 0}).error().field, "recipes");
  auto tiny = seed_catalog(*db, {50, 3, 1, 0});
  ASSERT_TRUE(tiny);
  EXPECT_EQ(tiny->ingredients, 3);
  EXPECT_EQ(tiny->recipes, 50);
  EXPECT_EQ(load_state(*db).recipes.size(), 50u);
}

}  // namespace
}  // namespace cocktail::catalog

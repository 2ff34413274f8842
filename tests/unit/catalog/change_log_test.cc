#include "cocktail/catalog/change_log.h"

#include <gtest/gtest.h>

#include <chrono>

#include "catalog_backends.h"
#include "cocktail/catalog/repository.h"
#include "cocktail/catalog/schema.h"
#include "cocktail/core/time.h"
#include "temp_catalog.h"

namespace cocktail::catalog {
namespace {

std::string describe(const std::vector<Change>& changes) {
  std::string out;
  for (const auto& c : changes) {
    out += c.entity + " " + c.op + " " + std::to_string(c.row_id) + "\n";
  }
  return out;
}

class ChangeLogTest : public ::testing::TestWithParam<Backend> {
 protected:
  ChangeLogTest() : db_(open_catalog(catalog_.location())), log_(*db_), repo_(*db_) {}
  testing::TestCatalog catalog_{GetParam()};
  std::unique_ptr<Database> db_;
  ChangeLog log_;
  Repository repo_;
};

TEST_P(ChangeLogTest, TriggersRecordEveryOperationOnEveryTable) {
  auto gin = repo_.create_ingredient({"Gin", std::nullopt, std::nullopt, false});
  auto lime = repo_.create_ingredient({"Lime Juice", std::nullopt, std::nullopt, false});
  ASSERT_TRUE(gin && lime);
  ASSERT_TRUE(repo_.update_ingredient(gin->value.id, {"Dry Gin", std::nullopt, std::nullopt, true}));
  auto pinch = repo_.create_unit({"Pinch", "pinch", std::nullopt});
  ASSERT_TRUE(pinch);
  RecipeInput gimlet{
      "Gimlet", "Shake.", {}, {}, {}, {}, {{gin->value.id, 1, 2.0}, {lime->value.id, 1, 0.75}}};
  auto recipe = repo_.create_recipe(gimlet);
  ASSERT_TRUE(recipe);
  gimlet.ingredients.pop_back();
  ASSERT_TRUE(repo_.update_recipe(recipe->value.id, gimlet));
  ASSERT_TRUE(repo_.delete_recipe(recipe->value.id));
  ASSERT_TRUE(repo_.delete_ingredient(lime->value.id));

  auto changes = log_.read_after(0, 100);
  EXPECT_EQ(describe(changes),
            "ingredient insert 1\n"
            "ingredient insert 2\n"
            "ingredient update 1\n"
            "unit insert 10\n"
            "recipe insert 1\n"
            "recipe_ingredient insert 1\n"
            "recipe_ingredient insert 2\n"
            "recipe update 1\n"
            "recipe_ingredient delete 1\n"
            "recipe_ingredient delete 2\n"
            "recipe_ingredient insert 3\n"
            "recipe_ingredient delete 3\n"
            "recipe delete 1\n"
            "ingredient delete 2\n");
  for (std::size_t i = 0; i < changes.size(); ++i) {
    EXPECT_EQ(changes[i].seq, static_cast<std::int64_t>(i) + 1);
  }
  EXPECT_EQ(log_.latest_seq(), static_cast<std::int64_t>(changes.size()));
  const auto now = core::system_now_ms();
  for (const auto& c : changes) {
    EXPECT_LE(std::abs(c.ts_ms - now), 60'000) << "timestamps are ms since the epoch";
  }
}

TEST_P(ChangeLogTest, WritesFromAnotherRawConnectionAreRecorded) {
  auto raw = catalog_.raw();
  auto& other = *raw;
  other.exec("INSERT INTO ingredients(name, path) VALUES ('Rum', NULL)");
  other.exec("UPDATE units SET conversion_to_ml = 29.57 WHERE abbreviation = 'oz'");
  other.exec("INSERT INTO recipes(name) VALUES ('Neat Rum')");
  other.exec("INSERT INTO recipe_ingredients(recipe_id, ingredient_id) VALUES (1, 1)");
  other.exec("BEGIN; DELETE FROM recipe_ingredients; DELETE FROM recipes; COMMIT");
  // A rolled back transaction leaves no trace and gives its seq back.
  other.exec("BEGIN; INSERT INTO units(name) VALUES ('Splash'); ROLLBACK");
  // An update that changes an id is a delete of the old id and an insert.
  other.exec("UPDATE ingredients SET id = 7 WHERE id = 1");

  EXPECT_EQ(describe(log_.read_after(0, 100)),
            "ingredient insert 1\n"
            "unit update 1\n"
            "recipe insert 1\n"
            "recipe_ingredient insert 1\n"
            "recipe_ingredient delete 1\n"
            "recipe delete 1\n"
            "ingredient delete 1\n"
            "ingredient insert 7\n");
  EXPECT_EQ(log_.latest_seq(), 8);
}

TEST_P(ChangeLogTest, ReadAfterPagesInSeqOrder) {
  for (int i = 0; i < 25; ++i) {
    ASSERT_TRUE(repo_.create_unit({"Unit " + std::to_string(i), std::nullopt, std::nullopt}));
  }
  std::int64_t cursor = 0;
  std::vector<std::int64_t> seen;
  for (;;) {
    auto page = log_.read_after(cursor, 10);
    if (page.empty()) {
      break;
    }
    for (const auto& c : page) {
      seen.push_back(c.seq);
    }
    cursor = page.back().seq;
  }
  ASSERT_EQ(seen.size(), 25u);
  for (std::size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i], static_cast<std::int64_t>(i) + 1);
  }
  EXPECT_TRUE(log_.read_after(0, 0).empty());
}

TEST_P(ChangeLogTest, PublicationCursorIsDurableAndNeverMovesBack) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(repo_.create_unit({std::string("U").append(std::to_string(i)), std::nullopt, std::nullopt}));
  }
  EXPECT_EQ(log_.published_seq("catalog-api"), 0);
  EXPECT_FALSE(log_.min_published_seq());
  log_.mark_published("catalog-api", 4);
  log_.mark_published("catalog-api", 2);
  EXPECT_EQ(log_.published_seq("catalog-api"), 4);
  EXPECT_THROW(log_.mark_published("catalog-api", 6), std::invalid_argument);
  EXPECT_THROW(log_.mark_published("", 1), std::invalid_argument);

  // Survives the connection (and so the process).
  auto reopened = open_catalog(catalog_.location());
  ChangeLog again(*reopened);
  EXPECT_EQ(again.published_seq("catalog-api"), 4);
  // Cursor writes are not catalog changes.
  EXPECT_EQ(again.latest_seq(), 5);
}

class PruneTest : public ChangeLogTest {
 protected:
  // 100 changes, written in one transaction (one fsync) by another connection.
  void SetUp() override {
    auto raw = catalog_.raw();
    auto& other = *raw;
    std::string sql = "BEGIN;";
    for (int i = 0; i < 100; ++i) {
      sql.append("INSERT INTO units(name) VALUES ('Unit ").append(std::to_string(i)).append("');");
    }
    other.exec(sql + "COMMIT;");
    ASSERT_EQ(log_.latest_seq(), 100);
  }
  std::int64_t remaining() { return static_cast<std::int64_t>(log_.read_after(0, 1000).size()); }
  std::int64_t first() { return log_.read_after(0, 1).front().seq; }
  // Far enough in the future that every row is older than any max_age used.
  const std::int64_t later_ms_ = core::system_now_ms() + 30LL * 24 * 3600 * 1000;
  PruneOptions everything_published_{0, std::chrono::milliseconds(0), 100000};
};

TEST_P(PruneTest, NothingIsRemovedBeforeAnyPublication) {
  EXPECT_EQ(log_.prune(everything_published_, later_ms_), 0);
  EXPECT_EQ(remaining(), 100);
}

TEST_P(PruneTest, NeverRemovesARowAboveThePublishedCursor) {
  log_.mark_published("catalog-api", 40);
  EXPECT_EQ(log_.prune(everything_published_, later_ms_), 40);
  EXPECT_EQ(first(), 41);
  // A second publisher that is behind holds rows back for itself.
  log_.mark_published("catalog-api", 90);
  log_.mark_published("audit", 55);
  EXPECT_EQ(log_.prune(everything_published_, later_ms_), 15);
  EXPECT_EQ(first(), 56);
  EXPECT_EQ(log_.latest_seq(), 100);
}

TEST_P(PruneTest, KeepsTheNewestKeepCountRows) {
  log_.mark_published("catalog-api", 100);
  PruneOptions options{30, std::chrono::milliseconds(0), 100000};
  EXPECT_EQ(log_.prune(options, later_ms_), 70);
  EXPECT_EQ(remaining(), 30);
  EXPECT_EQ(first(), 71);
}

TEST_P(PruneTest, KeepsRowsYoungerThanMaxAge) {
  log_.mark_published("catalog-api", 100);
  PruneOptions options{0, std::chrono::hours(1), 100000};
  EXPECT_EQ(log_.prune(options, core::system_now_ms()), 0);
  EXPECT_EQ(remaining(), 100);
  EXPECT_EQ(log_.prune(options, later_ms_), 100);
}

TEST_P(PruneTest, RemovesAtMostMaxRowsPerCall) {
  log_.mark_published("catalog-api", 100);
  PruneOptions options{0, std::chrono::milliseconds(0), 30};
  EXPECT_EQ(log_.prune(options, later_ms_), 30);
  EXPECT_EQ(first(), 31);
  EXPECT_EQ(log_.prune(options, later_ms_), 30);
  EXPECT_EQ(log_.prune(options, later_ms_), 30);
  EXPECT_EQ(log_.prune(options, later_ms_), 10);
  EXPECT_EQ(log_.prune(options, later_ms_), 0);
}

TEST_P(PruneTest, LatestSeqSurvivesAnEmptiedTableAndSeqsAreNeverReused) {
  log_.mark_published("catalog-api", 100);
  EXPECT_EQ(log_.prune(everything_published_, later_ms_), 100);
  EXPECT_EQ(remaining(), 0);
  EXPECT_EQ(log_.latest_seq(), 100);
  auto unit = repo_.create_unit({"Splash", std::nullopt, std::nullopt});
  ASSERT_TRUE(unit);
  EXPECT_EQ(unit->catalog_seq, 101);
}

INSTANTIATE_TEST_SUITE_P(Backends, ChangeLogTest, testing::AllBackends(), testing::BackendName);
INSTANTIATE_TEST_SUITE_P(Backends, PruneTest, testing::AllBackends(), testing::BackendName);

}  // namespace
}  // namespace cocktail::catalog

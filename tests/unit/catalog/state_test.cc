#include "cocktail/catalog/state.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "catalog_backends.h"
#include "cocktail/catalog/change_log.h"
#include "cocktail/catalog/repository.h"
#include "cocktail/catalog/schema.h"
#include "cocktail/catalog/seeder.h"
#include "temp_catalog.h"

namespace cocktail::catalog {
namespace {

class LoadState : public ::testing::TestWithParam<Backend> {
 protected:
  testing::TestCatalog catalog_{GetParam()};
};

TEST_P(LoadState, ReadsEveryTableWithTheMatchingSeq) {
  auto db = open_catalog(catalog_.location());
  ASSERT_TRUE(seed_catalog(*db, {300, 120, 3, 0}));
  Repository repo(*db);
  auto extra = repo.create_recipe({"Extra", {}, {}, {}, {}, {}, {{5, 1, 1.0}, {6, {}, {}}}});
  ASSERT_TRUE(extra);

  auto state = load_state(*db);
  EXPECT_EQ(state.catalog_seq, extra->catalog_seq);
  EXPECT_EQ(state.catalog_seq, ChangeLog(*db).latest_seq());
  EXPECT_EQ(state.ingredients.size(), 120u);
  EXPECT_EQ(state.units.size(), 9u);
  EXPECT_EQ(state.recipes.size(), 301u);
  EXPECT_EQ(state.recipes.back().name, "Extra");
  EXPECT_EQ(state.recipe_ingredients.back().recipe_id, extra->value.id);
  EXPECT_FALSE(state.recipe_ingredients.back().amount);
  EXPECT_FALSE(state.units[5].conversion_to_ml);  // Each
  for (std::size_t i = 1; i < state.recipe_ingredients.size(); ++i) {
    const auto& a = state.recipe_ingredients[i - 1];
    const auto& b = state.recipe_ingredients[i];
    EXPECT_TRUE(a.recipe_id < b.recipe_id || (a.recipe_id == b.recipe_id && a.id < b.id));
  }
}

// Under a concurrent writer, each state is exactly the one its seq names:
// every committed write adds one ingredient and one change_log row.
TEST_P(LoadState, IsOneConsistentSnapshotWhileAnotherConnectionWrites) {
  const auto path = catalog_.location();
  { open_catalog(path); }
  std::atomic<bool> done{false};
  std::thread writer([&] {
    DatabaseOptions fast;
    fast.synchronous = Synchronous::kNormal;
    auto db = open_catalog(path, fast);
    Repository repo(*db);
    for (int i = 0; i < 1000; ++i) {
      EXPECT_TRUE(repo.create_ingredient(
          {std::string("I").append(std::to_string(i)), std::nullopt, std::nullopt, false}));
    }
    done = true;
  });
  auto db = open_catalog(path);
  std::set<std::int64_t> seen;
  std::int64_t last_seq = -1;
  // Bounded by the writer, which stops after 1000 commits.
  while (!done) {
    auto state = load_state(*db);
    EXPECT_EQ(static_cast<std::int64_t>(state.ingredients.size()), state.catalog_seq);
    EXPECT_GE(state.catalog_seq, last_seq);
    last_seq = state.catalog_seq;
    seen.insert(state.catalog_seq);
  }
  writer.join();
  EXPECT_EQ(load_state(*db).catalog_seq, 1000);
  EXPECT_GT(seen.size(), 2u) << "the reads did not overlap the writes";
}

INSTANTIATE_TEST_SUITE_P(Backends, LoadState, testing::AllBackends(), testing::BackendName);

}  // namespace
}  // namespace cocktail::catalog

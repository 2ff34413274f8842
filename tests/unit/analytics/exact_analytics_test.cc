#include "cocktail/analytics/exact_analytics.h"

#include <gtest/gtest.h>

#include <cmath>

#include "cocktail/analytics/catalog_model.h"
#include "cocktail/catalog/state.h"
#include "synthetic_catalog.h"

namespace cocktail::analytics {
namespace {

using testing::TempDir;

// A catalog built with SQL in a temporary file, and what the engine makes of it.
class Catalog {
 public:
  Catalog() : db_(testing::open_test_catalog(dir_.file("catalog.db"))) {
    testing::create_catalog_schema(*db_);
  }
  catalog::Database& db() { return *db_; }
  void sql(const std::string& text) { db_->exec(text); }
  // Root-to-leaf ids; path and parent_id follow.
  void ingredient(std::int64_t id, const std::string& name,
                  std::optional<std::int64_t> parent = std::nullopt) {
    std::string path = "/" + std::to_string(id) + "/";
    if (parent) {
      auto st = db_->prepare("SELECT path FROM ingredients WHERE id = ?1");
      st.bind(1, *parent);
      EXPECT_TRUE(st.step());
      path = st.column_text(0) + std::to_string(id) + "/";
    }
    auto st = db_->prepare("INSERT INTO ingredients (id, name, parent_id, path) VALUES (?1, ?2, ?3, ?4)");
    st.bind(1, id).bind(2, name).bind(3, parent).bind(4, path).run();
  }
  void recipe(std::int64_t id, const std::vector<std::int64_t>& ingredients) {
    db_->prepare("INSERT INTO recipes (id, name) VALUES (?1, ?2)")
        .bind(1, id)
        .bind(2, "r" + std::to_string(id))
        .run();
    for (auto ing : ingredients) {
      db_->prepare("INSERT INTO recipe_ingredients (recipe_id, ingredient_id, amount) VALUES (?1, ?2, 1.0)")
          .bind(1, id)
          .bind(2, ing)
          .run();
    }
  }
  ExactAnalytics compute() {
    model_ = CatalogModel::build(catalog::load_state(*db_));
    return compute_exact_analytics(model_);
  }
  const CatalogModel& model() const { return model_; }
  const IngredientUsageRow& row(const ExactAnalytics& a, std::int64_t id) {
    for (const auto& r : a.usage) {
      if (r.ingredient_id == id) {
        return r;
      }
    }
    throw std::runtime_error("no row for id " + std::to_string(id));
  }

 private:
  TempDir dir_;
  std::unique_ptr<catalog::Database> db_;
  CatalogModel model_;
};

TEST(ExactAnalytics, EmptyCatalog) {
  Catalog c;
  auto a = c.compute();
  EXPECT_TRUE(a.usage.empty());
  EXPECT_TRUE(a.complexity.empty());
  EXPECT_EQ(a.total_recipes, 0);
  EXPECT_EQ(a.total_ingredients, 0);
}

TEST(ExactAnalytics, RecipeWithoutIngredientsIsCountedInTotalsOnly) {
  Catalog c;
  c.ingredient(1, "Gin");
  c.recipe(1, {});
  c.recipe(2, {1});
  auto a = c.compute();
  EXPECT_EQ(a.total_recipes, 2);
  EXPECT_EQ(a.recipes_with_ingredients, 1);
  ASSERT_EQ(a.complexity.size(), 1u);
  EXPECT_EQ(a.complexity[0], (ComplexityBucket{1, 1}));
  EXPECT_EQ(c.row(a, 1).direct_usage, 1);
}

TEST(ExactAnalytics, IngredientInNoRecipeHasZeroUsage) {
  Catalog c;
  c.ingredient(1, "Gin");
  c.ingredient(2, "Rum");
  c.recipe(1, {1});
  auto a = c.compute();
  EXPECT_EQ(c.row(a, 2).direct_usage, 0);
  EXPECT_EQ(c.row(a, 2).hierarchical_usage, 0);
  EXPECT_EQ(a.usage.back().ingredient_id, 2);  // least used sorts last
}

TEST(ExactAnalytics, SameIngredientTwiceInOneRecipeCountsOnce) {
  Catalog c;
  c.ingredient(1, "Whiskey");
  c.ingredient(2, "Bourbon", 1);
  c.ingredient(3, "Rye", 1);
  c.recipe(1, {2, 2, 3});  // two rows of Bourbon, and a sibling under the same parent
  auto a = c.compute();
  EXPECT_EQ(c.row(a, 2).direct_usage, 1);
  EXPECT_EQ(c.row(a, 2).hierarchical_usage, 1);
  EXPECT_EQ(c.row(a, 1).direct_usage, 0);
  EXPECT_EQ(c.row(a, 1).hierarchical_usage, 1);  // one recipe, though reached twice
  ASSERT_EQ(a.complexity.size(), 1u);
  EXPECT_EQ(a.complexity[0], (ComplexityBucket{2, 1}));  // distinct ingredients
}

TEST(ExactAnalytics, DeepHierarchyAggregatesToEveryAncestor) {
  Catalog c;
  c.ingredient(1, "level0");
  for (int d = 1; d <= 10; ++d) {
    c.ingredient(d + 1, "level" + std::to_string(d), d);
  }
  c.recipe(1, {11});  // the ingredient at depth 10
  c.recipe(2, {6});   // depth 5
  auto a = c.compute();
  for (int d = 0; d <= 10; ++d) {
    const auto& r = c.row(a, d + 1);
    EXPECT_EQ(r.depth, d);
    EXPECT_EQ(r.hierarchical_usage, d <= 5 ? 2 : 1) << "depth " << d;
    EXPECT_EQ(r.has_children, d < 10);
  }
  EXPECT_EQ(c.model().ancestors_or_self(c.model().find_ingredient(11)).size(), 11u);
}

TEST(ExactAnalytics, ManyRoots) {
  Catalog c;
  std::vector<std::int64_t> all;
  for (int i = 1; i <= 300; ++i) {
    c.ingredient(i, "root" + std::to_string(i));
    all.push_back(i);
  }
  c.recipe(1, all);
  auto a = c.compute();
  EXPECT_EQ(c.model().roots().size(), 300u);
  for (const auto& r : a.usage) {
    EXPECT_FALSE(r.parent_id);
    EXPECT_EQ(r.direct_usage, 1);
    EXPECT_EQ(r.hierarchical_usage, 1);
  }
  ASSERT_EQ(a.complexity.size(), 1u);
  EXPECT_EQ(a.complexity[0], (ComplexityBucket{300, 1}));
}

TEST(ExactAnalytics, PathPrefixKeepsSiblingIdsApart) {
  // "/1/" must not match "/12/": the trailing slash is part of the prefix.
  Catalog c;
  c.ingredient(1, "One");
  c.ingredient(12, "Twelve");
  c.recipe(1, {12});
  auto a = c.compute();
  EXPECT_EQ(c.row(a, 1).hierarchical_usage, 0);
  EXPECT_EQ(c.row(a, 12).hierarchical_usage, 1);
}

TEST(ExactAnalytics, OrderIsUsageDescThenNameNocaseThenId) {
  Catalog c;
  c.ingredient(1, "beta");
  c.ingredient(2, "Alpha");
  c.ingredient(3, "alpha2");
  c.ingredient(4, "_under");  // '_' (0x5F) sorts before folded letters, after 'A' byte-wise
  c.ingredient(5, "Zed");
  c.recipe(1, {5});
  auto a = c.compute();
  std::vector<std::int64_t> ids;
  for (const auto& r : a.usage) {
    ids.push_back(r.ingredient_id);
  }
  EXPECT_EQ(ids, (std::vector<std::int64_t>{5, 4, 2, 3, 1}));
  auto oracle = testing::oracle_usage(c.db());
  ASSERT_EQ(oracle.size(), a.usage.size());
  for (std::size_t k = 0; k < oracle.size(); ++k) {
    EXPECT_EQ(oracle[k].ingredient_id, ids[k]);
  }
}

TEST(ExactAnalytics, ComplexityIsAscendingByIngredientCount) {
  Catalog c;
  for (int i = 1; i <= 5; ++i) {
    c.ingredient(i, "i" + std::to_string(i));
  }
  c.recipe(1, {1, 2, 3});
  c.recipe(2, {1});
  c.recipe(3, {4, 5, 1});
  c.recipe(4, {2});
  auto a = c.compute();
  EXPECT_EQ(a.complexity, (std::vector<ComplexityBucket>{{1, 2}, {3, 2}}));
}

TEST(ExactAnalytics, InconsistentRowsAreReportedNotCounted) {
  Catalog c;
  c.sql("PRAGMA foreign_keys=OFF");
  c.ingredient(1, "Gin");
  c.recipe(1, {1, 99});                                                               // 99 does not exist
  c.sql("INSERT INTO recipe_ingredients (recipe_id, ingredient_id) VALUES (50, 1)");  // recipe 50 does not
                                                                                      // exist
  c.sql("INSERT INTO ingredients (id, name, parent_id, path) VALUES (7, 'Orphan', 70, '/70/7/')");
  auto a = c.compute();
  const auto& an = c.model().anomalies();
  EXPECT_EQ(an.rows_with_unknown_ingredient, 1);
  EXPECT_EQ(an.rows_with_unknown_recipe, 1);
  EXPECT_EQ(an.ingredients_with_unknown_parent, 1);
  EXPECT_EQ(an.ingredients_unreachable, 1);
  EXPECT_EQ(c.row(a, 1).direct_usage, 1);
}

TEST(CatalogModel, CsrRowsKeepRowOrderUnitsAndAmounts) {
  Catalog c;
  c.ingredient(1, "Gin");
  c.ingredient(2, "Lime");
  c.sql("INSERT INTO recipes (id, name) VALUES (10, 'Gimlet')");
  c.sql(
      "INSERT INTO recipe_ingredients (id, recipe_id, ingredient_id, unit_id, amount) VALUES "
      "(5, 10, 2, 1, 0.75), (3, 10, 1, NULL, NULL)");
  c.compute();
  const auto& m = c.model();
  ASSERT_EQ(m.recipe_count(), 1u);
  auto ings = m.recipe_ingredients(0);
  ASSERT_EQ(ings.size(), 2u);
  EXPECT_EQ(m.ingredient_id(ings[0]), 1);  // row id 3 first
  EXPECT_EQ(m.recipe_row_ids(0)[0], 3);
  EXPECT_EQ(m.recipe_units(0)[0], CatalogModel::kNone);
  EXPECT_TRUE(std::isnan(m.recipe_amounts(0)[0]));
  EXPECT_EQ(m.unit_name(m.recipe_units(0)[1]), "Ounce");
  EXPECT_DOUBLE_EQ(m.recipe_amounts(0)[1], 0.75);
  EXPECT_EQ(m.recipe_name(0), "Gimlet");
  EXPECT_EQ(m.find_recipe(10), 0);
  EXPECT_EQ(m.find_recipe(11), CatalogModel::kNone);
}

}  // namespace
}  // namespace cocktail::analytics

namespace cocktail::analytics {
namespace {

TEST(CatalogModel, RowsInAnyOrderGiveTheSameModel) {
  catalog::CatalogState state;
  for (int i = 1; i <= 5; ++i) {
    state.ingredients.push_back(
        {i, "i" + std::to_string(i), std::nullopt, "/" + std::to_string(i) + "/", false});
  }
  for (std::int64_t r = 1; r <= 4; ++r) {
    state.recipes.push_back({r * 10, "r" + std::to_string(r)});
  }
  std::int64_t id = 1;
  for (std::int64_t r = 1; r <= 4; ++r) {
    for (std::int64_t k = 0; k < r; ++k) {
      state.recipe_ingredients.push_back(
          {id++, r * 10, 1 + (r + k) % 5, std::nullopt, 1.0 * static_cast<double>(k)});
    }
  }
  const CatalogModel sorted = CatalogModel::build(state);
  auto shuffled = state;
  std::reverse(shuffled.recipe_ingredients.begin(), shuffled.recipe_ingredients.end());
  std::reverse(shuffled.recipes.begin(), shuffled.recipes.end());
  const CatalogModel other = CatalogModel::build(shuffled);
  ASSERT_EQ(other.recipe_count(), sorted.recipe_count());
  for (CatalogModel::Index r = 0; r < 4; ++r) {
    EXPECT_EQ(other.recipe_id(r), sorted.recipe_id(r));
    auto a = sorted.recipe_row_ids(r), b = other.recipe_row_ids(r);
    EXPECT_TRUE(std::equal(a.begin(), a.end(), b.begin(), b.end()));
    EXPECT_TRUE(std::is_sorted(b.begin(), b.end()));
    auto ia = sorted.recipe_ingredients(r), ib = other.recipe_ingredients(r);
    EXPECT_TRUE(std::equal(ia.begin(), ia.end(), ib.begin(), ib.end()));
  }
  EXPECT_EQ(compute_exact_analytics(other).usage, compute_exact_analytics(sorted).usage);
}

}  // namespace
}  // namespace cocktail::analytics

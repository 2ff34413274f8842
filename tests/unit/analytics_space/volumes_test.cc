// Volume rules, fractions, display order, roll-up, ingredient set with
// ancestors and tree costs, each rule with its own case.
#include "cocktail/analytics/volumes.h"

#include <gtest/gtest.h>

#include <random>

#include "cocktail/analytics/rollup.h"

namespace cocktail::analytics {
namespace {

const catalog::UnitRow kOunce{1, "Ounce", "oz", 29.5735};
const catalog::UnitRow kEach{6, "Each", "each", std::nullopt};
const catalog::UnitRow kTop{8, "to top", "top", std::nullopt};
const catalog::UnitRow kRinse{9, "to rinse", "rinse", std::nullopt};
const catalog::UnitRow kShoutedTop{10, "TO TOP", "TOP", std::nullopt};

TEST(VolumeRules, MatrixVolume) {
  EXPECT_DOUBLE_EQ(ingredient_volume(VolumeRule::kMatrix, &kOunce, 2.0), 2.0 * 29.5735);
  EXPECT_DOUBLE_EQ(ingredient_volume(VolumeRule::kMatrix, &kOunce, std::nullopt), 1.0);  // missing amount
  EXPECT_DOUBLE_EQ(ingredient_volume(VolumeRule::kMatrix, &kEach, 3.0), 3.0);            // no conversion
  EXPECT_DOUBLE_EQ(ingredient_volume(VolumeRule::kMatrix, nullptr, 4.0), 4.0);           // no unit
  EXPECT_DOUBLE_EQ(ingredient_volume(VolumeRule::kMatrix, &kTop, std::nullopt), 1.0);    // no special units
  EXPECT_DOUBLE_EQ(ingredient_volume(VolumeRule::kMatrix, &kTop, 2.0), 2.0);
}

TEST(VolumeRules, DistanceVolume) {
  EXPECT_DOUBLE_EQ(ingredient_volume(VolumeRule::kDistance, &kTop, std::nullopt), 90.0);
  EXPECT_DOUBLE_EQ(ingredient_volume(VolumeRule::kDistance, &kTop, 3.0), 90.0);
  EXPECT_DOUBLE_EQ(ingredient_volume(VolumeRule::kDistance, &kShoutedTop, 3.0), 90.0);  // case-insensitive
  EXPECT_DOUBLE_EQ(ingredient_volume(VolumeRule::kDistance, &kRinse, std::nullopt), 5.0);
  EXPECT_DOUBLE_EQ(ingredient_volume(VolumeRule::kDistance, &kEach, 3.0), 1.0);
  EXPECT_DOUBLE_EQ(ingredient_volume(VolumeRule::kDistance, &kOunce, 1.5), 1.5 * 29.5735);
  EXPECT_DOUBLE_EQ(ingredient_volume(VolumeRule::kDistance, &kOunce, std::nullopt), 1.0);
  EXPECT_DOUBLE_EQ(ingredient_volume(VolumeRule::kDistance, nullptr, std::nullopt), 1.0);
}

TEST(VolumeRules, DisplayVolume) {
  EXPECT_DOUBLE_EQ(ingredient_volume(VolumeRule::kDisplay, &kTop, std::nullopt), 90.0);
  EXPECT_DOUBLE_EQ(ingredient_volume(VolumeRule::kDisplay, &kRinse, 1.0), 5.0);
  EXPECT_DOUBLE_EQ(ingredient_volume(VolumeRule::kDisplay, &kEach, 2.0), -1.0);
  EXPECT_DOUBLE_EQ(ingredient_volume(VolumeRule::kDisplay, &kOunce, std::nullopt), 0.0);
  EXPECT_DOUBLE_EQ(ingredient_volume(VolumeRule::kDisplay, &kOunce, 2.0), 2.0 * 29.5735);
}

// Ingredients: 1 Spirits, 2 Gin (under 1), 3 Gin A (under 2, substitutable
// leaf), 4 Juices, 5 Lime (under 4, substitutable leaf), 6 Soda (root,
// substitutable but a root), 7 Bitters (root), 8 Aromatic (under 7,
// substitutable but has a child), 9 Aromatic B (under 8, not substitutable).
catalog::CatalogState small_catalog() {
  catalog::CatalogState s;
  s.units = {kOunce, kEach, kTop, kRinse};
  s.ingredients = {{1, "Spirits", std::nullopt, "/1/", false},
                   {2, "Gin", 1, "/1/2/", false},
                   {3, "Gin A", 2, "/1/2/3/", true},
                   {4, "Juices", std::nullopt, "/4/", false},
                   {5, "Lime", 4, "/4/5/", true},
                   {6, "Soda", std::nullopt, "/6/", true},
                   {7, "Bitters", std::nullopt, "/7/", false},
                   {8, "Aromatic", 7, "/7/8/", true},
                   {9, "Aromatic B", 8, "/7/8/9/", false}};
  s.recipes = {{10, "Gin Rickey"}, {11, "Empty"}, {12, "Zero"}, {13, "Twice Gin"}, {14, "Garnish Only"}};
  s.recipe_ingredients = {
      {100, 10, 3, 1, 2.0},           // Gin A, 2 oz
      {101, 10, 5, 1, 1.0},           // Lime, 1 oz
      {102, 10, 6, 8, std::nullopt},  // Soda, to top
      // recipe 11 has no rows
      {103, 12, 2, 1, 0.0},           // Gin, 0 oz: zero total under both rules
      {104, 13, 3, 1, 1.0},           // Gin A, 1 oz
      {105, 13, 2, 1, 1.0},           // Gin, 1 oz: rolls up with Gin A
      {106, 13, 9, 6, 2.0},           // Aromatic B, 2 each
      {107, 14, 5, 6, std::nullopt},  // Lime, each, no amount
  };
  return s;
}

double value_at(const SparseRows& rows, std::size_t r, std::uint32_t column) {
  for (std::size_t e = rows.offsets[r]; e < rows.offsets[r + 1]; ++e) {
    if (rows.columns[e] == column) {
      return rows.values[e];
    }
  }
  return 0.0;
}

TEST(Fractions, MatrixRuleLeavesOutZeroTotals) {
  const auto s = small_catalog();
  const RecipeFractions f = compute_fractions(s, VolumeRule::kMatrix);
  // Recipe 11 (no rows) and 12 (0 oz) are left out and counted.
  EXPECT_EQ(f.left_out_zero_total, 2u);
  ASSERT_EQ(f.recipe_rows, (std::vector<std::size_t>{0, 3, 4}));
  // Rickey: 2 oz, 1 oz, Soda "to top" without amount = 1.0 under the matrix rule.
  const double total = 3.0 * 29.5735 + 1.0;
  EXPECT_DOUBLE_EQ(value_at(f.fractions, 0, 2), 2.0 * 29.5735 / total);
  EXPECT_DOUBLE_EQ(value_at(f.fractions, 0, 4), 29.5735 / total);
  EXPECT_DOUBLE_EQ(value_at(f.fractions, 0, 5), 1.0 / total);
  // Garnish only: each, missing amount → 1.0, the whole recipe.
  EXPECT_DOUBLE_EQ(value_at(f.fractions, 2, 4), 1.0);
  for (std::size_t r = 0; r < f.fractions.rows(); ++r) {
    double sum = 0.0;
    for (std::size_t e = f.fractions.offsets[r]; e < f.fractions.offsets[r + 1]; ++e) {
      sum += f.fractions.values[e];
    }
    EXPECT_NEAR(sum, 1.0, 1e-12);
  }
}

TEST(Fractions, DisplayRuleIsNotAFractionRule) {
  EXPECT_THROW(compute_fractions(small_catalog(), VolumeRule::kDisplay), std::invalid_argument);
}

TEST(Fractions, DistanceRuleSpecialUnits) {
  const auto s = small_catalog();
  const RecipeFractions f = compute_fractions(s, VolumeRule::kDistance);
  EXPECT_EQ(f.left_out_zero_total, 2u);
  const double total = 3.0 * 29.5735 + 90.0;  // to top = 90
  EXPECT_DOUBLE_EQ(value_at(f.fractions, 0, 5), 90.0 / total);
  // Twice Gin: 1 oz + 1 oz + each → 1.0.
  const double total13 = 2.0 * 29.5735 + 1.0;
  EXPECT_DOUBLE_EQ(value_at(f.fractions, 1, 8), 1.0 / total13);
}

TEST(DisplayOrderTest, LargestFirstEachLastTiesByRowId) {
  auto s = small_catalog();
  s.recipes.push_back({15, "Ties"});
  s.recipe_ingredients.push_back({110, 15, 6, 6, 1.0});           // each → −1, last
  s.recipe_ingredients.push_back({111, 15, 5, 1, std::nullopt});  // missing amount → 0
  s.recipe_ingredients.push_back({112, 15, 2, 1, 1.0});           // 1 oz
  s.recipe_ingredients.push_back({113, 15, 3, 1, 1.0});           // 1 oz, later row id
  s.recipe_ingredients.push_back({114, 15, 4, 9, std::nullopt});  // to rinse → 5 ml
  s.recipe_ingredients.push_back({115, 15, 2, 1, 0.5});           // Gin again: listed once
  const DisplayOrder order(s);
  const auto names = order.ingredient_names(5);
  EXPECT_EQ(names, (std::vector<std::string_view>{"Gin", "Gin A", "Juices", "Lime", "Soda"}));
  const auto rickey = order.ingredient_names(0);
  EXPECT_EQ(rickey, (std::vector<std::string_view>{"Soda", "Gin A", "Lime"}));  // to top = 90 ml
  EXPECT_TRUE(order.ingredient_names(1).empty());
}

TEST(Hierarchy, RollUpRules) {
  const auto s = small_catalog();
  const IngredientHierarchy h(s);
  EXPECT_EQ(h.rolled_up(2), 1u);  // Gin A → Gin (substitutable leaf under an ingredient)
  EXPECT_EQ(h.rolled_up(4), 3u);  // Lime → Juices
  EXPECT_EQ(h.rolled_up(5), 5u);  // Soda: substitutable, but a root (parent is the implicit root)
  EXPECT_EQ(h.rolled_up(7), 7u);  // Aromatic: substitutable, but has a child
  EXPECT_EQ(h.rolled_up(8), 8u);  // Aromatic B: a leaf, not substitutable
  EXPECT_EQ(h.rolled_up(1), 1u);  // Gin: not substitutable
  EXPECT_EQ(h.depth(0), 0u);
  EXPECT_EQ(h.depth(8), 2u);
}

TEST(Hierarchy, RolledUpFractionsAddUp) {
  const auto s = small_catalog();
  const IngredientHierarchy h(s);
  const RecipeFractions f = compute_fractions(s, VolumeRule::kDistance);
  const SparseRows rolled = roll_up(f.fractions, h);
  // Twice Gin: Gin A (1 oz) rolls onto Gin (1 oz): one column holding both.
  const double total13 = 2.0 * 29.5735 + 1.0;
  EXPECT_EQ(rolled.row_size(1), 2u);
  EXPECT_DOUBLE_EQ(value_at(rolled, 1, 1), 2.0 * 29.5735 / total13);
  EXPECT_DOUBLE_EQ(value_at(rolled, 1, 2), 0.0);
  // Rickey: Gin A → Gin, Lime → Juices, Soda stays.
  EXPECT_GT(value_at(rolled, 0, 1), 0.0);
  EXPECT_GT(value_at(rolled, 0, 3), 0.0);
  EXPECT_GT(value_at(rolled, 0, 5), 0.0);
  EXPECT_EQ(value_at(rolled, 0, 4), 0.0);
}

TEST(Hierarchy, IngredientSetWithAncestorsAndTreeCosts) {
  const auto s = small_catalog();
  const IngredientHierarchy h(s);
  const SparseRows rolled = roll_up(compute_fractions(s, VolumeRule::kDistance).fractions, h);
  const IngredientSet set = ingredient_set_with_ancestors(rolled, h);
  // Used after roll-up: Gin(1), Juices(3), Soda(5), Aromatic B(8); plus
  // ancestors Spirits(0), Bitters(6), Aromatic(7). Not Gin A, not Lime.
  EXPECT_EQ(set.members, (std::vector<std::size_t>{0, 1, 3, 5, 6, 7, 8}));
  const auto cost = tree_cost_matrix(set, h);
  const std::size_t m = set.size();
  auto c = [&](std::size_t a, std::size_t b) { return cost[a * m + b]; };
  EXPECT_EQ(c(0, 0), 0.0f);
  EXPECT_EQ(c(0, 1), 1.0f);  // Spirits – Gin
  EXPECT_EQ(c(0, 2), 2.0f);  // Spirits – Juices: two roots
  EXPECT_EQ(c(1, 2), 3.0f);  // Gin – Juices
  EXPECT_EQ(c(1, 6), 5.0f);  // Gin – Aromatic B: 2 up to the implicit root, 3 down
  EXPECT_EQ(c(4, 5), 1.0f);  // Bitters – Aromatic
  EXPECT_EQ(c(6, 4), 2.0f);  // Aromatic B – Bitters
  EXPECT_EQ(c(3, 2), 2.0f);  // Soda – Juices
  const SparseRows masses = to_set_columns(rolled, set);
  EXPECT_EQ(masses.columns.size(), rolled.columns.size());
}

TEST(Hierarchy, TreeCostMatrixMatchesPairwiseDistances) {
  std::mt19937_64 rng(3);
  catalog::CatalogState s;
  for (std::int64_t id = 1; id <= 200; ++id) {
    std::optional<std::int64_t> parent;
    if (id > 5 && rng() % 10 != 0) {
      parent = 1 + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(id - 1));
    }
    s.ingredients.push_back({id, std::to_string(id), parent, "", false});
  }
  const IngredientHierarchy h(s);
  IngredientSet all;
  for (std::size_t p = 0; p < 200; ++p) {
    all.members.push_back(p);
  }
  const auto cost = tree_cost_matrix(all, h);
  for (std::size_t a = 0; a < 200; ++a) {
    for (std::size_t b = 0; b < 200; ++b) {
      ASSERT_EQ(cost[a * 200 + b], static_cast<float>(h.tree_distance(a, b))) << a << " " << b;
      ASSERT_EQ(h.tree_distance(a, b), h.tree_distance(b, a));
    }
  }
}

TEST(Hierarchy, CycleInForeignFileIsCut) {
  catalog::CatalogState s;
  s.ingredients = {{1, "a", 2, "", false}, {2, "b", 1, "", false}, {3, "c", 99, "", true}};
  const IngredientHierarchy h(s);                          // must terminate
  EXPECT_EQ(h.parent(2), IngredientHierarchy::kNoParent);  // unknown parent: a root
  EXPECT_EQ(h.rolled_up(2), 2u);
  EXPECT_LE(h.tree_distance(0, 1), 2u);
}

}  // namespace
}  // namespace cocktail::analytics

// On many random catalogs, every count equals the seed's SQL formulation run
// by SQLite on the same file, in the same order.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <random>

#include "cocktail/analytics/catalog_model.h"
#include "cocktail/analytics/exact_analytics.h"
#include "cocktail/analytics/exact_json.h"
#include "cocktail/analytics/usage_index.h"
#include "cocktail/catalog/seeder.h"
#include "cocktail/catalog/state.h"
#include "synthetic_catalog.h"

namespace cocktail::analytics {
namespace {

testing::SyntheticSpec random_spec(std::uint64_t seed) {
  std::mt19937_64 rng(seed * 7919);
  testing::SyntheticSpec s;
  s.seed = seed;
  s.ingredients = static_cast<int>(rng() % 121);
  s.recipes = static_cast<int>(rng() % 201);
  s.max_depth = static_cast<int>(rng() % 11);
  s.root_share = 0.05 + static_cast<double>(rng() % 85) / 100.0;
  s.max_rows = static_cast<int>(rng() % 9);
  s.duplicate_share = static_cast<double>(rng() % 30) / 100.0;
  s.nasty_names = seed % 2 == 0;
  s.id_gap = 1 + static_cast<int>(rng() % 4);
  s.change_log_rows = static_cast<std::int64_t>(rng() % 20);
  return s;
}

void expect_rows_equal(const std::vector<IngredientUsageRow>& got,
                       const std::vector<IngredientUsageRow>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t k = 0; k < got.size(); ++k) {
    EXPECT_EQ(got[k].ingredient_id, want[k].ingredient_id) << what << " position " << k;
    EXPECT_EQ(got[k], want[k]) << what << " ingredient " << want[k].ingredient_id;
  }
}

// Walks the parsed tree, checking shape and counts against the usage rows.
void check_tree(simdjson::dom::element node, const std::map<std::int64_t, const IngredientUsageRow*>& rows,
                const std::map<std::int64_t, int>& rank, std::int64_t* seen, bool is_root = false) {
  simdjson::dom::array children;
  if (node["children"].get_array().get(children) != simdjson::SUCCESS) {
    EXPECT_FALSE(is_root) << "the root always has children (maybe empty)";
    return;
  }
  if (!is_root) {
    EXPECT_GT(children.size(), 0u) << "children present only when non-empty";
  }
  int last_rank = -1;
  for (simdjson::dom::element child : children) {
    std::string_view id_text;
    ASSERT_EQ(child["id"].get_string().get(id_text), simdjson::SUCCESS) << "ids are strings";
    const std::int64_t id = std::stoll(std::string(id_text));
    auto it = rows.find(id);
    ASSERT_NE(it, rows.end());
    EXPECT_EQ(std::string_view(child["name"]), it->second->ingredient_name);
    EXPECT_EQ(double(child["edge_weight"]), 1.0);
    EXPECT_EQ(int64_t(child["recipe_count"]), it->second->direct_usage);
    EXPECT_EQ(int64_t(child["hierarchical_recipe_count"]), it->second->hierarchical_usage);
    EXPECT_GT(rank.at(id), last_rank) << "children in usage order";
    last_rank = rank.at(id);
    ++*seen;
    check_tree(child, rows, rank, seen);
  }
}

// Everything one catalog file must satisfy: counts, order, drill-down and
// tree against the SQL oracle on the same file.
void check_against_sql(catalog::Database& db) {
  const auto state = catalog::load_state(db);
  const auto model = CatalogModel::build(state);
  const auto a = compute_exact_analytics(model);

  expect_rows_equal(a.usage, testing::oracle_usage(db), "ingredient-usage-all");
  EXPECT_EQ(a.complexity, testing::oracle_complexity(db));
  EXPECT_EQ(a.total_recipes, testing::oracle_total_recipes(db));
  EXPECT_EQ(a.total_ingredients, static_cast<std::int64_t>(state.ingredients.size()));
  EXPECT_EQ(model.catalog_seq(), testing::latest_seq(db));

  // Drill-down by parent, from the serialised file.
  auto parsed =
      IngredientUsageIndex::from_json(usage_rows_json(std::span<const IngredientUsageRow>(a.usage)));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->rows(), a.usage);
  for (const auto& r : a.usage) {
    if (!r.has_children) {
      continue;
    }
    std::vector<IngredientUsageRow> got;
    for (const auto* row : parsed->children_of(r.ingredient_id)) {
      got.push_back(*row);
    }
    expect_rows_equal(got, testing::oracle_usage_children(db, r.ingredient_id),
                      "children of " + std::to_string(r.ingredient_id));
  }

  // The tree holds every ingredient once, in usage order at each level.
  std::map<std::int64_t, const IngredientUsageRow*> rows;
  std::map<std::int64_t, int> rank;
  for (std::size_t k = 0; k < a.usage.size(); ++k) {
    rows[a.usage[k].ingredient_id] = &a.usage[k];
    rank[a.usage[k].ingredient_id] = static_cast<int>(k);
  }
  std::int64_t nodes = 0;
  const std::string tree = ingredient_tree_json(model, a, &nodes);
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  ASSERT_EQ(parser.parse(tree).get(root), simdjson::SUCCESS);
  EXPECT_EQ(std::string_view(root["id"]), "root");
  std::int64_t seen = 0;
  check_tree(root, rows, rank, &seen, /*is_root=*/true);
  EXPECT_EQ(seen, a.total_ingredients);
  EXPECT_EQ(nodes, a.total_ingredients);
}

TEST(ExactAnalyticsProperty, EqualsSeedSqlOnRandomCatalogs) {
  for (std::uint64_t seed = 1; seed <= 60; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    testing::TempDir dir;
    auto db = testing::open_test_catalog(dir.file("catalog.db"));
    testing::create_catalog_schema(*db);
    const auto spec = random_spec(seed);
    testing::fill_synthetic(*db, spec);
    check_against_sql(*db);
  }
}

// The same on catalogs written by catalog-seed (the realistic taxonomy and
// recipe shapes), with random seeds and small sizes.
TEST(ExactAnalyticsProperty, EqualsSeedSqlOnSeededCatalogs) {
  std::mt19937_64 rng(20261124);
  for (int round = 0; round < 12; ++round) {
    catalog::SeedOptions options;
    options.seed = rng();
    options.ingredients = 8 + static_cast<std::int64_t>(rng() % 240);
    options.recipes = static_cast<std::int64_t>(rng() % 400);
    SCOPED_TRACE("seed " + std::to_string(options.seed) + " ingredients " +
                 std::to_string(options.ingredients) + " recipes " + std::to_string(options.recipes));
    testing::TempDir dir;
    auto db = testing::open_test_catalog(dir.file("catalog.db"));
    testing::create_catalog_schema(*db);
    auto report = catalog::seed_catalog(*db, options);
    ASSERT_TRUE(report.ok()) << report.error().message;
    check_against_sql(*db);
  }
}

}  // namespace
}  // namespace cocktail::analytics

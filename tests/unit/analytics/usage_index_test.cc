#include "cocktail/analytics/usage_index.h"

#include <gtest/gtest.h>

#include "cocktail/analytics/envelope.h"
#include "cocktail/analytics/exact_json.h"
#include "cocktail/catalog/state.h"
#include "synthetic_catalog.h"

namespace cocktail::analytics {
namespace {

std::vector<std::int64_t> ids(const IngredientUsageIndex::Rows& rows) {
  std::vector<std::int64_t> out;
  for (const auto* r : rows) {
    out.push_back(r->ingredient_id);
  }
  return out;
}

class UsageIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = testing::open_test_catalog(dir_.file("catalog.db"));
    testing::create_catalog_schema(*db_);
    // 1 Spirits > 2 Whiskey > {3 Bourbon, 4 Rye > 7 Canadian Rye}; 5 Citrus > 6 Lime
    db_->exec(R"sql(
INSERT INTO ingredients (id, name, parent_id, path) VALUES
  (1, 'Spirits', NULL, '/1/'), (2, 'Whiskey', 1, '/1/2/'), (3, 'Bourbon', 2, '/1/2/3/'),
  (4, 'Rye', 2, '/1/2/4/'), (5, 'Citrus', NULL, '/5/'), (6, 'Lime', 5, '/5/6/'),
  (7, 'Canadian Rye', 4, '/1/2/4/7/'), (8, 'Vodka', 1, '/1/8/');
INSERT INTO recipes (id, name) VALUES (1, 'a'), (2, 'b'), (3, 'c');
INSERT INTO recipe_ingredients (recipe_id, ingredient_id) VALUES (1, 3), (2, 7), (2, 6), (3, 6), (3, 8);
)sql");
    model_ = CatalogModel::build(catalog::load_state(*db_));
    analytics_ = compute_exact_analytics(model_);
  }

  testing::TempDir dir_;
  std::unique_ptr<catalog::Database> db_;
  CatalogModel model_;
  ExactAnalytics analytics_;
};

TEST_F(UsageIndexTest, DrillDownByParentLevelAndBoth) {
  IngredientUsageIndex index(analytics_.usage);
  EXPECT_EQ(ids(index.roots()), (std::vector<std::int64_t>{1, 5}));         // 3 recipes vs 2
  EXPECT_EQ(ids(index.children_of(1)), (std::vector<std::int64_t>{2, 8}));  // 2 vs 1
  EXPECT_EQ(ids(index.children_of(2)), (std::vector<std::int64_t>{3, 4}));  // tie 1-1: by name
  EXPECT_EQ(ids(index.children_of(3)), (std::vector<std::int64_t>{}));      // a leaf
  EXPECT_EQ(ids(index.children_of(999)), (std::vector<std::int64_t>{}));    // unknown
  EXPECT_EQ(ids(index.at_level(0)), ids(index.roots()));
  EXPECT_EQ(ids(index.at_level(1)), (std::vector<std::int64_t>{6, 2, 8}));  // 2, 2, 1: Lime < Whiskey
  EXPECT_EQ(ids(index.at_level(2)), (std::vector<std::int64_t>{3, 4}));
  EXPECT_EQ(ids(index.at_level(3)), (std::vector<std::int64_t>{7}));
  EXPECT_EQ(ids(index.at_level(4)), (std::vector<std::int64_t>{}));
  EXPECT_EQ(ids(index.at_level(-1)), (std::vector<std::int64_t>{}));
  EXPECT_EQ(ids(index.query(1, 2)), (std::vector<std::int64_t>{3, 4}));  // grandchildren of Spirits
  EXPECT_EQ(ids(index.query(1, 3)), (std::vector<std::int64_t>{7}));
  EXPECT_EQ(ids(index.query(5, 2)), (std::vector<std::int64_t>{}));
  EXPECT_EQ(ids(index.query(2, 1)), (std::vector<std::int64_t>{}));  // its own level: not under itself
  EXPECT_EQ(ids(index.query(999, 1)), (std::vector<std::int64_t>{}));
  ASSERT_NE(index.find(7), nullptr);
  EXPECT_EQ(index.find(7)->depth, 3);
  EXPECT_EQ(index.find(70), nullptr);
}

TEST_F(UsageIndexTest, FromEnvelopeEqualsFromRows) {
  IngredientUsageIndex direct(analytics_.usage);
  EnvelopeMetadata meta;
  meta.analytics_type = std::string(kIngredientUsageAll);
  meta.generation = 3;
  meta.extras = usage_extras(analytics_);
  const std::string doc =
      make_envelope(usage_rows_json(std::span<const IngredientUsageRow>(analytics_.usage)), meta);
  auto parsed = IngredientUsageIndex::from_json(doc);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->rows(), direct.rows());
  for (std::int64_t p : {1, 2, 4, 5}) {
    EXPECT_EQ(ids(parsed->children_of(p)), ids(direct.children_of(p)));
  }
  for (int l : {0, 1, 2, 3}) {
    EXPECT_EQ(ids(parsed->at_level(l)), ids(direct.at_level(l)));
  }
  EXPECT_EQ(ids(parsed->query(1, 3)), ids(direct.query(1, 3)));
}

TEST_F(UsageIndexTest, ChildrenMatchTheSeedQueryWithParentFilter) {
  IngredientUsageIndex index(analytics_.usage);
  for (std::int64_t p : {1, 2, 4, 5}) {
    std::vector<IngredientUsageRow> got;
    for (const auto* r : index.children_of(p)) {
      got.push_back(*r);
    }
    EXPECT_EQ(got, testing::oracle_usage_children(*db_, p)) << "parent " << p;
  }
}

TEST(UsageIndex, RowsInAnyOrderAreSortedIntoUsageOrder) {
  std::vector<IngredientUsageRow> rows(3);
  rows[0] = {1, "b", "/1/", std::nullopt, false, 0, 1, false, 0};
  rows[1] = {2, "a", "/2/", std::nullopt, false, 0, 1, false, 0};
  rows[2] = {3, "z", "/3/", std::nullopt, false, 5, 5, false, 0};
  IngredientUsageIndex index(rows);
  EXPECT_EQ(ids(index.roots()), (std::vector<std::int64_t>{3, 2, 1}));
}

TEST(UsageIndex, MalformedDocumentsAreErrorsNamingTheField) {
  struct Case {
    std::string json;
    std::string field;
  };
  const std::string good =
      R"({"ingredient_id":1,"ingredient_name":"a","path":"/1/","parent_id":null,"allow_substitution":false,)"
      R"("direct_usage":0,"hierarchical_usage":0,"has_children":false})";
  std::vector<Case> cases = {
      {"not json", ""},
      {"42", ""},
      {R"({"data": {}})", "data"},
      {"[1]", ""},
      {R"([{"ingredient_name":"a"}])", "ingredient_id"},
      {R"([{"ingredient_id":"1"}])", "ingredient_id"},
      {R"([{"ingredient_id":1,"ingredient_name":2}])", "ingredient_name"},
      {R"([{"ingredient_id":1,"ingredient_name":"a","path":"/1/","parent_id":"x"}])", "parent_id"},
      {R"([{"ingredient_id":1,"ingredient_name":"a","path":"/1/","parent_id":null,"allow_substitution":1}])",
       "allow_substitution"},
      {"[" + good + "," + R"({"ingredient_id":2})" + "]", "ingredient_name"},
  };
  for (const auto& c : cases) {
    auto r = IngredientUsageIndex::from_json(c.json);
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_EQ(r.error().code, core::ErrorCode::kInvalidArgument);
    EXPECT_EQ(r.error().field, c.field) << c.json;
  }
  auto ok = IngredientUsageIndex::from_json("[" + good + "]");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->rows().size(), 1u);
}

}  // namespace
}  // namespace cocktail::analytics

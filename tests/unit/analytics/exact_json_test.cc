#include "cocktail/analytics/exact_json.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include "cocktail/analytics/envelope.h"
#include "cocktail/catalog/state.h"
#include "synthetic_catalog.h"

namespace cocktail::analytics {
namespace {

const std::vector<std::string> kNastyNames = {
    "plain",
    "\"double quotes\"",
    "back\\slash\\",
    "tab\tnew\nline\rreturn",
    std::string("nul\0inside", 10),
    "ctrl \x01\x02\x1F del \x7F",
    "caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x8D\xB8",
    "line sep \xE2\x80\xA8 para sep \xE2\x80\xA9",
    "</script><script>",
    "\\u0041 not an escape",
    "",
};

IngredientUsageRow row_named(std::int64_t id, std::string name) {
  IngredientUsageRow r;
  r.ingredient_id = id;
  r.ingredient_name = std::move(name);
  r.path = "/" + std::to_string(id) + "/";
  return r;
}

TEST(ExactJson, NamesRoundTripThroughSimdjson) {
  std::vector<IngredientUsageRow> rows;
  for (std::size_t k = 0; k < kNastyNames.size(); ++k) {
    rows.push_back(row_named(static_cast<std::int64_t>(k) + 1, kNastyNames[k]));
  }
  const std::string json = usage_rows_json(std::span<const IngredientUsageRow>(rows));
  simdjson::dom::parser parser;
  simdjson::dom::array parsed;
  ASSERT_EQ(parser.parse(json).get(parsed), simdjson::SUCCESS) << json;
  std::size_t k = 0;
  for (simdjson::dom::element e : parsed) {
    std::string_view name;
    ASSERT_EQ(e["ingredient_name"].get_string().get(name), simdjson::SUCCESS);
    EXPECT_EQ(std::string(name), kNastyNames[k]) << "row " << k;
    EXPECT_TRUE(e["parent_id"].is_null());
    ++k;
  }
  EXPECT_EQ(k, kNastyNames.size());
}

TEST(ExactJson, InvalidUtf8IsRepairedNotPassedThrough) {
  std::vector<IngredientUsageRow> rows = {
      row_named(1, "bad \xFF byte"),
      row_named(2, "truncated \xE6\x97"),
      row_named(3, "overlong \xC0\xAF"),
      row_named(4, "surrogate \xED\xA0\x80"),
  };
  const std::string json = usage_rows_json(std::span<const IngredientUsageRow>(rows));
  simdjson::dom::parser parser;
  simdjson::dom::array parsed;
  ASSERT_EQ(parser.parse(json).get(parsed), simdjson::SUCCESS);
  std::vector<std::string> names;
  for (simdjson::dom::element e : parsed) {
    names.emplace_back(std::string_view(e["ingredient_name"]));
  }
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(names[0], "bad " + r + " byte");
  EXPECT_EQ(names[1], "truncated " + r + r);
  EXPECT_EQ(names[2], "overlong " + r + r);
  EXPECT_EQ(names[3], "surrogate " + r + r + r);
}

TEST(ExactJson, EnvelopeCarriesMetadataAndNastyNamesFromACatalog) {
  testing::TempDir dir;
  auto db = testing::open_test_catalog(dir.file("catalog.db"));
  testing::create_catalog_schema(*db);
  for (std::size_t k = 0; k < kNastyNames.size(); ++k) {
    if (kNastyNames[k].empty()) {
      continue;
    }
    const auto id = static_cast<std::int64_t>(k) + 1;
    db->prepare("INSERT INTO ingredients (id, name, path) VALUES (?1, ?2, ?3)")
        .bind(1, id)
        .bind(2, kNastyNames[k])
        .bind(3, "/" + std::to_string(id) + "/")
        .run();
  }
  db->exec(
      "INSERT INTO recipes (id, name) VALUES (1, 'r'); INSERT INTO recipe_ingredients (recipe_id, "
      "ingredient_id) VALUES (1, 2)");
  const auto model = CatalogModel::build(catalog::load_state(*db));
  const auto a = compute_exact_analytics(model);

  EnvelopeMetadata meta;
  meta.analytics_type = std::string(kIngredientTree);
  meta.generation = 42;
  meta.catalog_seq = model.catalog_seq();
  meta.generated_at_ms = 1795000000123;
  std::int64_t nodes = 0;
  const std::string data = ingredient_tree_json(model, a, &nodes);
  meta.extras = tree_extras(nodes, model);
  const std::string doc = make_envelope(data, meta);

  simdjson::dom::parser parser;
  simdjson::dom::element root;
  ASSERT_EQ(parser.parse(doc).get(root), simdjson::SUCCESS) << doc;
  EXPECT_EQ(std::string_view(root["metadata"]["analytics_type"]), "ingredient-tree");
  EXPECT_EQ(std::string_view(root["metadata"]["storage_version"]), "v1");
  EXPECT_EQ(int64_t(root["metadata"]["generation"]), 42);
  EXPECT_EQ(int64_t(root["metadata"]["catalog_seq"]), testing::latest_seq(*db));
  EXPECT_GT(model.catalog_seq(), 0);
  EXPECT_EQ(std::string_view(root["metadata"]["generated_at"]), "2026-11-18T11:06:40.123Z");
  EXPECT_EQ(int64_t(root["metadata"]["total_ingredients"]), static_cast<int64_t>(kNastyNames.size()) - 1);
  std::set<std::string> names;
  for (simdjson::dom::element child : root["data"]["children"].get_array()) {
    names.insert(std::string(std::string_view(child["name"])));
  }
  for (const auto& n : kNastyNames) {
    if (!n.empty()) {
      EXPECT_EQ(names.count(n), 1u) << n;
    }
  }
}

TEST(ExactJson, TreeShapeIsExact) {
  testing::TempDir dir;
  auto db = testing::open_test_catalog(dir.file("catalog.db"));
  testing::create_catalog_schema(*db);
  db->exec(R"sql(
INSERT INTO ingredients (id, name, parent_id, path) VALUES
  (1, 'Whiskey', NULL, '/1/'), (2, 'Bourbon', 1, '/1/2/'), (3, 'Gin', NULL, '/3/');
INSERT INTO recipes (id, name) VALUES (1, 'a'), (2, 'b');
INSERT INTO recipe_ingredients (recipe_id, ingredient_id) VALUES (1, 2), (2, 2), (2, 3);
)sql");
  const auto model = CatalogModel::build(catalog::load_state(*db));
  const auto a = compute_exact_analytics(model);
  EXPECT_EQ(
      ingredient_tree_json(model, a),
      R"({"id":"root","name":"All Ingredients","recipe_count":0,"hierarchical_recipe_count":0,"children":[)"
      R"({"id":"1","name":"Whiskey","edge_weight":1.0,"recipe_count":0,"hierarchical_recipe_count":2,"children":[)"
      R"({"id":"2","name":"Bourbon","edge_weight":1.0,"recipe_count":2,"hierarchical_recipe_count":2}]},)"
      R"({"id":"3","name":"Gin","edge_weight":1.0,"recipe_count":1,"hierarchical_recipe_count":1}]})");
  EXPECT_EQ(recipe_complexity_json(a.complexity),
            R"([{"ingredient_count":1,"recipe_count":1},{"ingredient_count":2,"recipe_count":1}])");
  const auto roots = root_rows(a);
  EXPECT_EQ(usage_rows_json(std::span<const IngredientUsageRow* const>(roots)),
            R"([{"ingredient_id":1,"ingredient_name":"Whiskey","path":"/1/","parent_id":null,)"
            R"("allow_substitution":false,"direct_usage":0,"hierarchical_usage":2,"has_children":true},)"
            R"({"ingredient_id":3,"ingredient_name":"Gin","path":"/3/","parent_id":null,)"
            R"("allow_substitution":false,"direct_usage":1,"hierarchical_usage":1,"has_children":false}])");
}

TEST(ExactJson, ComplexityMetadataCarriesMeanAndMode) {
  // 1 recipe with 2 ingredients, 3 with 3, 3 with 5: mean 26/7, mode 3 (the
  // smaller count of the tie between 3 and 5).
  const std::vector<ComplexityBucket> buckets = {{2, 1}, {3, 3}, {5, 3}};
  const ComplexitySummary s = summarize_complexity(buckets);
  ASSERT_TRUE(s.mean && s.mode);
  EXPECT_DOUBLE_EQ(*s.mean, 26.0 / 7.0);
  EXPECT_EQ(*s.mode, 3);
  ExactAnalytics a;
  a.complexity = buckets;
  a.total_recipes = 8;
  a.recipes_with_ingredients = 7;
  const MetadataExtras extras = complexity_extras(a);
  auto value = [&](const std::string& key) {
    for (const auto& [k, v] : extras) {
      if (k == key) {
        return v;
      }
    }
    return std::string("absent");
  };
  EXPECT_EQ(value("mean_ingredient_count"), "3.7143");
  EXPECT_EQ(value("mode_ingredient_count"), "3");
  EXPECT_EQ(value("recipes_with_ingredients"), "7");
  const ComplexitySummary none = summarize_complexity({});
  EXPECT_FALSE(none.mean || none.mode);
  EXPECT_EQ(complexity_extras(ExactAnalytics{}).back().second, "null");
}

TEST(ExactJson, EmptyCatalogTreeHasAnEmptyChildrenList) {
  CatalogModel model = CatalogModel::build(catalog::CatalogState{});
  const auto a = compute_exact_analytics(model);
  EXPECT_EQ(
      ingredient_tree_json(model, a),
      R"({"id":"root","name":"All Ingredients","recipe_count":0,"hierarchical_recipe_count":0,"children":[]})");
  EXPECT_EQ(usage_rows_json(std::span<const IngredientUsageRow>(a.usage)), "[]");
  EXPECT_EQ(recipe_complexity_json(a.complexity), "[]");
}

TEST(ExactJson, VeryDeepTreeIsWrittenWithoutRecursion) {
  catalog::CatalogState state;
  std::string path = "/";
  const int depth = 1500;  // deeper than simdjson's default limit of 1024
  for (int i = 1; i <= depth; ++i) {
    path += std::to_string(i) + "/";
    state.ingredients.push_back({i, "n" + std::to_string(i),
                                 i == 1 ? std::nullopt : std::optional<std::int64_t>(i - 1), path, false});
  }
  const auto model = CatalogModel::build(state);
  const auto a = compute_exact_analytics(model);
  std::int64_t nodes = 0;
  const std::string tree = ingredient_tree_json(model, a, &nodes);
  EXPECT_EQ(nodes, depth);
  simdjson::dom::parser parser;
  ASSERT_EQ(parser.allocate(tree.size() + 64, 2 * depth + 8), simdjson::SUCCESS);
  simdjson::dom::element root;
  ASSERT_EQ(parser.parse(tree).get(root), simdjson::SUCCESS);
  std::int64_t levels = 0;
  for (simdjson::dom::element node = root;; ++levels) {
    simdjson::dom::array children;
    if (node["children"].get_array().get(children) != simdjson::SUCCESS) {
      break;
    }
    ASSERT_EQ(children.size(), 1u);
    node = children.at(0);
  }
  EXPECT_EQ(levels, depth);
}

}  // namespace
}  // namespace cocktail::analytics

// compute_cocktail_spaces end to end on in-memory catalogs: layout of every
// output, left-out recipes, thread-count invariance, and map quality on a
// generated 1,356-recipe catalog.
#include "cocktail/analytics/cocktail_space.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cmath>
#include <cstring>
#include <map>
#include <set>
#include <string>

#include "cocktail/analytics/npy.h"
#include "cocktail/analytics/volumes.h"
#include "map_quality.h"
#include "seeded_catalog.h"

namespace cocktail::analytics {
namespace {

std::vector<float> npy_values(const std::string& file, std::size_t& n) {
  const auto header = parse_npy_header(file);
  EXPECT_TRUE(header.ok());
  n = header->shape.at(0);
  std::vector<float> values(n * n);
  if (!values.empty()) {  // an empty vector's data() may be null, which memcpy must not get
    std::memcpy(values.data(), file.data() + header->data_offset, values.size() * sizeof(float));
  }
  return values;
}

std::vector<float> coordinates(const std::string& json, std::vector<std::int64_t>* ids = nullptr) {
  simdjson::dom::parser parser;
  std::vector<float> xy;
  for (simdjson::dom::element point : parser.parse(json).get_array()) {
    xy.push_back(static_cast<float>(point["x"].get_double().value()));
    xy.push_back(static_cast<float>(point["y"].get_double().value()));
    if (ids) {
      ids->push_back(point["recipe_id"].get_int64().value());
    }
  }
  return xy;
}

// Five recipes, one with a zero total under both rules and one without rows.
catalog::CatalogState small_catalog() {
  catalog::CatalogState s;
  s.units = {
      {1, "Ounce", "oz", 29.5735}, {6, "Each", "each", std::nullopt}, {8, "to top", "top", std::nullopt}};
  s.ingredients = {{1, "Spirits", std::nullopt, "/1/", false},
                   {2, "Gin \"Dry\"", 1, "/1/2/", false},
                   {3, "Rum", 1, "/1/3/", false},
                   {4, "Lime", std::nullopt, "/4/", false},
                   {5, "Soda", std::nullopt, "/5/", false},
                   {6, "Mint", std::nullopt, "/6/", false}};
  s.recipes = {{1, "Gin Rickey"}, {2, "Mojito"}, {3, "Nothing"}, {4, "Zero"}, {5, "Daiquiri"}, {6, "Gin"}};
  s.recipe_ingredients = {
      {1, 1, 2, 1, 2.0}, {2, 1, 4, 1, 0.5},  {3, 1, 5, 8, std::nullopt}, {4, 2, 3, 1, 2.0},
      {5, 2, 4, 1, 1.0}, {6, 2, 6, 6, 8.0},  {7, 2, 5, 8, std::nullopt}, {8, 4, 2, 1, 0.0},
      {9, 5, 3, 1, 2.0}, {10, 5, 4, 1, 1.0}, {11, 6, 2, 1, 2.0},
  };
  return s;
}

TEST(CocktailSpaces, OutputLayout) {
  const catalog::CatalogState state = small_catalog();
  CocktailSpaceOptions options;
  options.threads = 1;
  options.umap_epochs = 50;
  const CocktailSpaceResult result = compute_cocktail_spaces(state, options);
  EXPECT_EQ(result.counts.recipes, 6u);
  EXPECT_EQ(result.counts.manhattan_points, 4u);
  EXPECT_EQ(result.counts.em_points, 4u);
  EXPECT_EQ(result.counts.left_out_matrix_volume, 2u);
  EXPECT_EQ(result.counts.left_out_distance_volume, 2u);
  EXPECT_EQ(result.counts.candidate_k, 3u);
  EXPECT_EQ(result.counts.candidate_pairs, 6u);
  ASSERT_EQ(result.warnings.size(), 2u);

  simdjson::dom::parser parser;
  // cocktail-space: recipes by id, names ordered by display volume.
  simdjson::dom::array points = parser.parse(result.cocktail_space).get_array();
  std::vector<std::int64_t> ids;
  std::map<std::int64_t, std::vector<std::string>> names;
  for (simdjson::dom::element p : points) {
    const std::int64_t id = p["recipe_id"].get_int64();
    ids.push_back(id);
    for (simdjson::dom::element n : p["ingredients"].get_array()) {
      names[id].emplace_back(std::string_view(n.get_string()));
    }
    EXPECT_TRUE(std::isfinite(p["x"].get_double().value()));
    EXPECT_TRUE(std::isfinite(p["y"].get_double().value()));
    EXPECT_TRUE(p["recipe_name"].is_string());
  }
  EXPECT_EQ(ids, (std::vector<std::int64_t>{1, 2, 5, 6}));
  EXPECT_EQ(names[1], (std::vector<std::string>{"Soda", "Gin \"Dry\"", "Lime"}));
  EXPECT_EQ(names[2], (std::vector<std::string>{"Soda", "Rum", "Lime", "Mint"}));  // each last

  // recipe-similar: per recipe, neighbours nearest first, plans oriented.
  simdjson::dom::array similar = parser.parse(result.recipe_similar).get_array();
  std::vector<std::int64_t> similar_ids;
  for (simdjson::dom::element r : similar) {
    similar_ids.push_back(r["recipe_id"].get_int64());
    double last = -1.0;
    std::size_t count = 0;
    for (simdjson::dom::element nb : r["neighbors"].get_array()) {
      const double d = nb["distance"].get_double();
      EXPECT_GE(d, last);
      last = d;
      ++count;
      std::size_t flows = 0;
      for (simdjson::dom::element f : nb["transport_plan"].get_array()) {
        EXPECT_NE(f["from_ingredient_id"].get_int64().value(), f["to_ingredient_id"].get_int64().value());
        EXPECT_GT(f["mass"].get_double().value(), 0.0);
        EXPECT_TRUE(f["from_ingredient_name"].is_string());
        ++flows;
      }
      EXPECT_LE(flows, 3u);
      // The whole plan: largest first, masses summing to 1, containing every
      // substitution of transport_plan.
      double total = 0.0;
      double previous = 2.0;
      std::set<std::pair<std::int64_t, std::int64_t>> pairs;
      for (simdjson::dom::element f : nb["flows"].get_array()) {
        simdjson::dom::array triple = f.get_array();
        ASSERT_EQ(triple.size(), 3u);
        const double mass = triple.at(2).get_double();
        EXPECT_GT(mass, 0.0);
        EXPECT_LE(mass, previous);
        previous = mass;
        total += mass;
        pairs.emplace(triple.at(0).get_int64().value(), triple.at(1).get_int64().value());
      }
      EXPECT_NEAR(total, 1.0, 1e-5);
      for (simdjson::dom::element f : nb["transport_plan"].get_array()) {
        EXPECT_TRUE(pairs.count(
            {f["from_ingredient_id"].get_int64().value(), f["to_ingredient_id"].get_int64().value()}));
      }
    }
    EXPECT_EQ(count, 3u);  // all other EM recipes are candidates here
  }
  EXPECT_EQ(similar_ids, (std::vector<std::int64_t>{1, 2, 5, 6}));
  // Gin (6) against Gin Rickey (1): the rickey's soda and lime must come
  // from gin, oriented from Gin's ingredient to the rickey's.
  for (simdjson::dom::element r : similar) {
    if (r["recipe_id"].get_int64().value() != 6) {
      continue;
    }
    for (simdjson::dom::element nb : r["neighbors"].get_array()) {
      if (nb["neighbor_recipe_id"].get_int64().value() != 1) {
        continue;
      }
      for (simdjson::dom::element f : nb["transport_plan"].get_array()) {
        EXPECT_EQ(f["from_ingredient_id"].get_int64().value(), 2);
      }
    }
  }

  // The matrix: 4×4 float32 in recipe id order, zero diagonal, symmetric.
  ASSERT_TRUE(result.distance_matrix_written);
  std::size_t n = 0;
  const auto m = npy_values(result.distance_matrix_npy, n);
  ASSERT_EQ(n, 4u);
  for (std::size_t i = 0; i < n; ++i) {
    EXPECT_EQ(m[i * n + i], 0.0f);
    for (std::size_t j = 0; j < n; ++j) {
      EXPECT_EQ(m[i * n + j], m[j * n + i]);
    }
  }
  simdjson::dom::element ids_doc = parser.parse(result.distance_matrix_ids);
  std::vector<std::int64_t> matrix_ids;
  for (simdjson::dom::element id : ids_doc["recipe_ids"].get_array()) {
    matrix_ids.push_back(id.get_int64());
  }
  EXPECT_EQ(matrix_ids, (std::vector<std::int64_t>{1, 2, 5, 6}));
  EXPECT_EQ(std::string_view(ids_doc["dtype"].get_string()), "<f4");

  // The summary parses and names every stage.
  simdjson::dom::element summary = parser.parse(result.summary_json());
  for (const char* stage : {"fractions", "candidates", "em_iter_1", "recipe_similar", "distance_matrix",
                            "knn_em", "knn_manhattan", "umap_manhattan", "umap_em", "serialize"}) {
    EXPECT_TRUE(summary["durations_ms"][stage].is_double()) << stage;
  }
}

TEST(CocktailSpaces, DenseMatrixLimitAndEmptyCatalog) {
  CocktailSpaceOptions options;
  options.threads = 2;
  options.umap_epochs = 20;
  options.dense_matrix_limit = 3;
  const CocktailSpaceResult skipped = compute_cocktail_spaces(small_catalog(), options);
  EXPECT_FALSE(skipped.distance_matrix_written);
  EXPECT_TRUE(skipped.distance_matrix_npy.empty());
  EXPECT_NE(skipped.warnings.back().find("not written"), std::string::npos);
  EXPECT_NE(skipped.recipe_similar, "[]");

  const CocktailSpaceResult empty = compute_cocktail_spaces(catalog::CatalogState{}, options);
  EXPECT_EQ(empty.cocktail_space, "[]");
  EXPECT_EQ(empty.cocktail_space_em, "[]");
  EXPECT_EQ(empty.recipe_similar, "[]");
  EXPECT_TRUE(empty.distance_matrix_written);
  std::size_t n = 7;
  npy_values(empty.distance_matrix_npy, n);
  EXPECT_EQ(n, 0u);
}

// The learned ingredient costs: m×m float32 over the EM ingredient set in id
// order, the very costs recipe-distances-em was computed under.
TEST(CocktailSpaces, IngredientCostMatrixIsTheOneTheDistancesUse) {
  CocktailSpaceOptions options;
  options.threads = 2;
  options.umap_epochs = 20;
  simdjson::dom::parser parser;
  auto ingredient_ids = [&](const CocktailSpaceResult& r) {
    std::vector<std::int64_t> ids;
    simdjson::dom::element doc = parser.parse(r.ingredient_matrix_ids);
    EXPECT_EQ(std::string_view(doc["dtype"].get_string()), "<f4");
    for (simdjson::dom::element id : doc["ingredient_ids"].get_array()) {
      ids.push_back(id.get_int64());
    }
    EXPECT_EQ(doc["shape"].at(0).get_uint64().value(), ids.size());
    return ids;
  };

  // One iteration: no M-step ran, so the costs are the tree distances.
  options.max_em_iterations = 1;
  const CocktailSpaceResult first = compute_cocktail_spaces(small_catalog(), options);
  ASSERT_TRUE(first.ingredient_matrix_written);
  EXPECT_EQ(ingredient_ids(first), (std::vector<std::int64_t>{1, 2, 3, 4, 5, 6}));
  std::size_t m = 0;
  const std::vector<float> tree = npy_values(first.ingredient_matrix_npy, m);
  ASSERT_EQ(m, 6u);
  EXPECT_EQ(tree[0 * m + 1], 1.0f);  // Spirits - Gin: parent and child
  EXPECT_EQ(tree[1 * m + 2], 2.0f);  // Gin - Rum: siblings
  EXPECT_EQ(tree[1 * m + 3], 3.0f);  // Gin - Lime: through the implicit root
  EXPECT_EQ(tree[3 * m + 4], 2.0f);  // Lime - Soda: two roots

  // After the fit: learned costs (no longer the tree's), zero diagonal,
  // symmetric, non-negative; and the distance of Gin (pure gin, recipe 6)
  // to Gin Rickey (1) is exactly the cost of moving gin onto the rickey's
  // lime and soda under these costs.
  options.max_em_iterations = 5;
  const CocktailSpaceResult fitted = compute_cocktail_spaces(small_catalog(), options);
  ASSERT_TRUE(fitted.ingredient_matrix_written);
  EXPECT_EQ(ingredient_ids(fitted), (std::vector<std::int64_t>{1, 2, 3, 4, 5, 6}));
  const std::vector<float> cost = npy_values(fitted.ingredient_matrix_npy, m);
  ASSERT_EQ(m, 6u);
  EXPECT_NE(cost, tree);
  for (std::size_t i = 0; i < m; ++i) {
    EXPECT_EQ(cost[i * m + i], 0.0f);
    for (std::size_t j = 0; j < m; ++j) {
      EXPECT_EQ(cost[i * m + j], cost[j * m + i]);
      EXPECT_GE(cost[i * m + j], 0.0f);
    }
  }
  std::size_t n = 0;
  const std::vector<float> d = npy_values(fitted.distance_matrix_npy, n);
  ASSERT_EQ(n, 4u);  // recipes 1, 2, 5, 6
  const double gin = 2 * 29.5735, lime = 0.5 * 29.5735, soda = 90.0, total = gin + lime + soda;
  const double expected = static_cast<float>(lime / total) * static_cast<double>(cost[1 * m + 3]) +
                          static_cast<float>(soda / total) * static_cast<double>(cost[1 * m + 4]);
  EXPECT_NEAR(d[3 * n + 0], expected, 1e-5);

  // Above its limit (6 ingredients > 5): not written, and said so.
  options.ingredient_matrix_limit = 5;
  const CocktailSpaceResult skipped = compute_cocktail_spaces(small_catalog(), options);
  EXPECT_FALSE(skipped.ingredient_matrix_written);
  EXPECT_TRUE(skipped.ingredient_matrix_npy.empty());
  EXPECT_TRUE(skipped.distance_matrix_written);  // the recipe matrix has its own limit
  EXPECT_NE(skipped.warnings.back().find("ingredient-distances-em.npy not written"), std::string::npos);
}

// One recipe, two recipes, identical recipes, a single ingredient overall:
// every output still parses, coordinates are finite, distances are >= 0.
TEST(CocktailSpaces, TinyAndDegenerateCatalogs) {
  auto make = [](std::size_t recipes, bool identical) {
    catalog::CatalogState s;
    s.units = {{1, "Ounce", "oz", 29.5735}};
    s.ingredients = {{1, "Gin", std::nullopt, "/1/", false}, {2, "Lime", std::nullopt, "/2/", false}};
    std::int64_t row = 1;
    for (std::size_t r = 1; r <= recipes; ++r) {
      std::string name = std::to_string(r);
      name.insert(0, "Recipe ");
      s.recipes.push_back({static_cast<std::int64_t>(r), name});
      s.recipe_ingredients.push_back({row++, static_cast<std::int64_t>(r), 1, 1, 2.0});
      if (!identical) {
        s.recipe_ingredients.push_back({row++, static_cast<std::int64_t>(r), 2, 1, static_cast<double>(r)});
      }
    }
    return s;
  };
  CocktailSpaceOptions options;
  options.threads = 2;
  options.umap_epochs = 30;
  simdjson::dom::parser parser;
  for (const auto& [recipes, identical] :
       std::vector<std::pair<std::size_t, bool>>{{1, false}, {2, false}, {3, true}, {12, true}, {7, false}}) {
    SCOPED_TRACE(::testing::Message() << recipes << " recipes, identical " << identical);
    const CocktailSpaceResult result = compute_cocktail_spaces(make(recipes, identical), options);
    EXPECT_EQ(result.counts.em_points, recipes);
    for (const std::string* json : {&result.cocktail_space, &result.cocktail_space_em}) {
      simdjson::dom::array points = parser.parse(*json).get_array();
      EXPECT_EQ(points.size(), recipes);
      for (simdjson::dom::element p : points) {
        EXPECT_TRUE(std::isfinite(p["x"].get_double().value()));
        EXPECT_TRUE(std::isfinite(p["y"].get_double().value()));
      }
    }
    EXPECT_EQ(parser.parse(result.recipe_similar).get_array().size(), recipes);
    std::size_t n = 0;
    for (const float d : npy_values(result.distance_matrix_npy, n)) {
      EXPECT_GE(d, 0.0f);
    }
    EXPECT_EQ(n, recipes);
  }
}

TEST(CocktailSpaces, SameResultForAnyThreadCount) {
  const catalog::CatalogState state = testing::seeded_catalog(300, 200, 3);
  CocktailSpaceOptions options;
  options.umap_epochs = 100;
  options.threads = 1;
  const CocktailSpaceResult one = compute_cocktail_spaces(state, options);
  options.threads = 2;
  const CocktailSpaceResult two = compute_cocktail_spaces(state, options);
  options.threads = 3;
  const CocktailSpaceResult three = compute_cocktail_spaces(state, options);
  for (const CocktailSpaceResult* other : {&two, &three}) {
    EXPECT_EQ(one.cocktail_space, other->cocktail_space);
    EXPECT_EQ(one.cocktail_space_em, other->cocktail_space_em);
    EXPECT_EQ(one.recipe_similar, other->recipe_similar);
    EXPECT_EQ(one.distance_matrix_npy, other->distance_matrix_npy);
  }
  options.seed = 7;
  const CocktailSpaceResult reseeded = compute_cocktail_spaces(state, options);
  EXPECT_NE(one.cocktail_space, reseeded.cocktail_space);
  EXPECT_EQ(one.recipe_similar, reseeded.recipe_similar);  // the seed only moves the maps
}

TEST(CocktailSpaces, MapQualityOnGeneratedCatalog) {
  const catalog::CatalogState state = testing::seeded_catalog(1356, 610, 42);
  CocktailSpaceOptions options;
  options.threads = 2;
  const CocktailSpaceResult result = compute_cocktail_spaces(state, options);
  std::printf("%s\n", result.summary_json().c_str());

  // EM map against the published EM distance matrix.
  ASSERT_TRUE(result.distance_matrix_written);
  std::size_t n = 0;
  const std::vector<float> em = npy_values(result.distance_matrix_npy, n);
  const std::vector<float> xy_em = coordinates(result.cocktail_space_em);
  ASSERT_EQ(xy_em.size(), 2 * n);
  const auto q_em = testing::map_quality(
      n, [&](std::size_t i, std::size_t j) { return static_cast<double>(em[i * n + j]); }, xy_em, 5);

  // Manhattan map against L1 distances Σ|a − b| of matrix-volume fractions.
  const RecipeFractions f = compute_fractions(state, VolumeRule::kMatrix);
  const SparseRows& rows = f.fractions;
  const std::size_t nm = f.recipe_rows.size();
  const std::vector<float> xy_m = coordinates(result.cocktail_space);
  ASSERT_EQ(xy_m.size(), 2 * nm);
  const auto q_m = testing::map_quality(
      nm, [&](std::size_t i, std::size_t j) { return testing::sparse_l1(rows, i, j); }, xy_m, 5);
  std::printf(
      "trustworthiness@5 manhattan %.4f (ties by index %.4f, recall %.3f), em %.4f (ties by index %.4f, "
      "recall "
      "%.3f)\n",
      q_m.trustworthiness, q_m.strict_trustworthiness, q_m.knn_recall, q_em.trustworthiness,
      q_em.strict_trustworthiness, q_em.knn_recall);
  EXPECT_GE(q_m.trustworthiness, 0.93);
  EXPECT_GE(q_em.trustworthiness, 0.93);
  // Ties broken by index (printed above) penalise arbitrary choices among
  // equal distances — about half the recipes here have a tie at their 5th
  // neighbour — so that figure measures the ties more than the map.
}

// Incremental runs (docs/cocktail-space.md, "Incremental runs").
bool same_outputs(const CocktailSpaceResult& a, const CocktailSpaceResult& b) {
  return a.cocktail_space == b.cocktail_space && a.cocktail_space_em == b.cocktail_space_em &&
         a.recipe_similar == b.recipe_similar && a.distance_matrix_npy == b.distance_matrix_npy &&
         a.ingredient_matrix_npy == b.ingredient_matrix_npy;
}

TEST(CocktailSpacesIncremental, AChangeTheMapsDoNotSeeGivesTheColdResultByteForByte) {
  catalog::CatalogState state = testing::seeded_catalog(300, 200, 3);
  CocktailSpaceOptions options;
  options.umap_epochs = 100;
  options.threads = 2;
  options.incremental = true;
  CocktailSpaceMemory memory;
  const CocktailSpaceResult first = compute_cocktail_spaces(state, options, &memory);
  ASSERT_TRUE(memory.valid);
  EXPECT_EQ(first.counts.em_start, "cold");

  // The same catalog again, then an ingredient no recipe uses: nothing the
  // maps read changed.
  const CocktailSpaceResult again = compute_cocktail_spaces(state, options, &memory);
  EXPECT_EQ(again.counts.em_start, "warm");
  EXPECT_EQ(again.counts.em_iterations, 1u);
  EXPECT_EQ(again.counts.pairs_solved, 0u) << "every distance reused";
  EXPECT_EQ(again.counts.umap_em_start, "unchanged");
  EXPECT_EQ(again.counts.umap_manhattan_start, "unchanged");
  EXPECT_TRUE(same_outputs(again, first));
  catalog::IngredientRow unused{
      state.ingredients.back().id + 1, "Unused", state.ingredients.front().id,
      state.ingredients.front().path + std::to_string(state.ingredients.back().id + 1) + "/", false};
  state.ingredients.push_back(unused);
  const CocktailSpaceResult warm = compute_cocktail_spaces(state, options, &memory);
  const CocktailSpaceResult cold = compute_cocktail_spaces(state, options);
  EXPECT_TRUE(same_outputs(warm, cold));

  // A recipe renamed: the numbers stay, recipe-similar and the maps say the new name.
  state.recipes[7].name = "Renamed";
  const CocktailSpaceResult renamed = compute_cocktail_spaces(state, options, &memory);
  EXPECT_TRUE(same_outputs(renamed, compute_cocktail_spaces(state, options)));
  EXPECT_NE(renamed.recipe_similar.find("Renamed"), std::string::npos);
}

TEST(CocktailSpacesIncremental, ARealChangeStartsWarmConvergesAndKeepsTheMapsTrustworthy) {
  catalog::CatalogState state = testing::seeded_catalog(600, 300, 5);
  CocktailSpaceOptions options;
  options.threads = 2;
  options.incremental = true;
  CocktailSpaceMemory memory;
  compute_cocktail_spaces(state, options, &memory);
  // One amount changed, one recipe added (a variation of another).
  auto& row = state.recipe_ingredients[state.recipe_ingredients.size() / 2];
  row.amount = row.amount.value_or(1.0) * 1.5;
  const std::int64_t source = state.recipes[10].id;
  state.recipes.push_back({state.recipes.back().id + 1, "Variation"});
  std::int64_t next_row = state.recipe_ingredients.back().id;
  std::vector<catalog::RecipeIngredientRow> added;
  for (const auto& r : state.recipe_ingredients) {
    if (r.recipe_id != source) {
      continue;
    }
    auto copy = r;
    copy.id = ++next_row;
    copy.recipe_id = state.recipes.back().id;
    added.push_back(copy);
  }
  added.front().amount = added.front().amount.value_or(1.0) * 2.0;
  state.recipe_ingredients.insert(state.recipe_ingredients.end(), added.begin(), added.end());

  const CocktailSpaceResult warm = compute_cocktail_spaces(state, options, &memory);
  EXPECT_EQ(warm.counts.em_start, "warm");
  EXPECT_TRUE(warm.counts.em_converged) << "the stopping rule holds for the costs it used";
  EXPECT_GT(warm.counts.em_pairs_reused, 0u);
  EXPECT_GT(warm.counts.pairs_solved, 0u) << "the pairs of the changed recipes are solved";
  EXPECT_EQ(warm.counts.umap_em_start, "warm");
  EXPECT_EQ(warm.counts.umap_manhattan_start, "warm");
  std::vector<std::int64_t> ids;
  const std::vector<float> xy = coordinates(warm.cocktail_space_em, &ids);
  EXPECT_EQ(ids.back(), state.recipes.back().id) << "the new recipe is on the map";
  std::size_t n = 0;
  const std::vector<float> em = npy_values(warm.distance_matrix_npy, n);
  const auto q = testing::map_quality(
      n, [&](std::size_t i, std::size_t j) { return static_cast<double>(em[i * n + j]); }, xy, 5);
  const CocktailSpaceResult cold = compute_cocktail_spaces(state, options);
  std::size_t cold_n = 0;
  const std::vector<float> cold_em = npy_values(cold.distance_matrix_npy, cold_n);
  const auto cold_q = testing::map_quality(
      n, [&](std::size_t i, std::size_t j) { return static_cast<double>(cold_em[i * n + j]); },
      coordinates(cold.cocktail_space_em), 5);
  std::printf("EM map trustworthiness@5: warm %.4f, cold %.4f\n", q.trustworthiness, cold_q.trustworthiness);
  EXPECT_GE(q.trustworthiness, 0.93);
  EXPECT_GE(q.trustworthiness, cold_q.trustworthiness - 0.01);

  // Without the setting, a memory changes nothing.
  options.incremental = false;
  const CocktailSpaceResult off = compute_cocktail_spaces(state, options, &memory);
  EXPECT_EQ(off.counts.em_start, "cold");
  EXPECT_TRUE(same_outputs(off, cold));
}

}  // namespace
}  // namespace cocktail::analytics

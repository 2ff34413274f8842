// compute_cocktail_spaces end to end on in-memory catalogs: layout of every
// output, left-out recipes, thread-count invariance, and map quality on a
// generated 1,356-recipe catalog.
#include "cocktail/analytics/cocktail_space.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cmath>
#include <cstring>
#include <map>
#include <string>

#include "cocktail/analytics/npy.h"
#include "cocktail/analytics/volumes.h"
#include "map_quality.h"
#include "synthetic_catalog.h"

namespace cocktail::analytics {
namespace {

using testing::SyntheticCatalog;

std::vector<float> npy_values(const std::string& file, std::size_t& n) {
  const auto header = parse_npy_header(file);
  EXPECT_TRUE(header.ok());
  n = header->shape.at(0);
  std::vector<float> values(n * n);
  std::memcpy(values.data(), file.data() + header->data_offset, values.size() * sizeof(float));
  return values;
}

std::vector<float> coordinates(const std::string& json, std::vector<std::int64_t>* ids = nullptr) {
  simdjson::dom::parser parser;
  std::vector<float> xy;
  for (simdjson::dom::element point : parser.parse(json).get_array()) {
    xy.push_back(static_cast<float>(point["x"].get_double().value()));
    xy.push_back(static_cast<float>(point["y"].get_double().value()));
    if (ids) ids->push_back(point["recipe_id"].get_int64().value());
  }
  return xy;
}

TEST(CocktailSpaces, MapQualityOnGeneratedCatalog) {
  const catalog::CatalogState state = SyntheticCatalog::make(1356, 610, 1);
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

  // Manhattan map against L1 distances of matrix-volume fractions.
  const RecipeFractions f = compute_fractions(state, VolumeRule::kMatrix);
  const std::size_t nm = f.recipe_rows.size();
  std::vector<double> dense(nm * state.ingredients.size(), 0.0);
  for (std::size_t r = 0; r < nm; ++r) {
    for (std::size_t e = f.fractions.offsets[r]; e < f.fractions.offsets[r + 1]; ++e) {
      dense[r * state.ingredients.size() + f.fractions.columns[e]] = f.fractions.values[e];
    }
  }
  const std::vector<float> xy_m = coordinates(result.cocktail_space);
  ASSERT_EQ(xy_m.size(), 2 * nm);
  const std::size_t w = state.ingredients.size();
  const auto q_m = testing::map_quality(
      nm,
      [&](std::size_t i, std::size_t j) {
        double s = 0.0;
        for (std::size_t c = 0; c < w; ++c) s += std::abs(dense[i * w + c] - dense[j * w + c]);
        return s;
      },
      xy_m, 5);
  std::printf("trustworthiness@5 manhattan %.4f (recall %.3f), em %.4f (recall %.3f)\n", q_m.trustworthiness,
              q_m.knn_recall, q_em.trustworthiness, q_em.knn_recall);
  EXPECT_GE(q_m.trustworthiness, 0.93);
  EXPECT_GE(q_em.trustworthiness, 0.93);
}

}  // namespace
}  // namespace cocktail::analytics

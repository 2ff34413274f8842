#include "cocktail/analytics/cocktail_space.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <limits>
#include <thread>

#include "cocktail/analytics/candidates.h"
#include "cocktail/analytics/em.h"
#include "cocktail/analytics/npy.h"
#include "cocktail/analytics/rollup.h"
#include "cocktail/analytics/similar.h"
#include "cocktail/analytics/umap.h"
#include "cocktail/analytics/volumes.h"
#include "cocktail_space_json.h"

namespace cocktail::analytics {
namespace {

using Clock = std::chrono::steady_clock;

double elapsed_ms(Clock::time_point since) {
  return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
}

// [{recipe_id, recipe_name, x, y, ingredients: [names by display volume]}]
std::string points_json(const catalog::CatalogState& state, const DisplayOrder& display,
                        const std::vector<std::size_t>& recipe_rows, const std::vector<float>& xy) {
  std::string out;
  out.reserve(recipe_rows.size() * 160);
  detail::StringSink sink{&out};
  detail::JsonWriter w(sink);
  w.StartArray();
  for (std::size_t r = 0; r < recipe_rows.size(); ++r) {
    const auto& recipe = state.recipes[recipe_rows[r]];
    w.StartObject();
    w.Key("recipe_id");
    w.Int64(recipe.id);
    w.Key("recipe_name");
    detail::write_string(w, recipe.name);
    w.Key("x");
    detail::write_float(w, xy[2 * r]);
    w.Key("y");
    detail::write_float(w, xy[2 * r + 1]);
    w.Key("ingredients");
    w.StartArray();
    for (const std::string_view name : display.ingredient_names(recipe_rows[r])) {
      detail::write_string(w, name);
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  return out;
}

// Row r: the stand-in for +∞ everywhere, 0 on the diagonal, then the known
// distances of r's candidate pairs.
std::string distance_matrix_npy(const SparseDistanceGraph& graph, float absent) {
  const std::size_t n = graph.rows;
  std::string out = npy_float32_header(n, n);
  out.reserve(out.size() + n * n * sizeof(float));
  std::vector<float> row(n);
  for (std::size_t r = 0; r < n; ++r) {
    std::fill(row.begin(), row.end(), absent);
    row[r] = 0.0f;
    for (std::size_t e = graph.offsets[r]; e < graph.offsets[r + 1]; ++e) {
      row[graph.neighbor[e]] = graph.distance[e];
    }
    append_float32_le(out, row);
  }
  return out;
}

// {"shape": [n, n], "dtype": "<f4", "<key>": [ids]}: the row (and column)
// ids of a square .npy matrix.
std::string matrix_ids_json(std::string_view key, const std::vector<std::int64_t>& ids) {
  std::string out;
  detail::StringSink sink{&out};
  detail::JsonWriter w(sink);
  w.StartObject();
  w.Key("shape");
  w.StartArray();
  w.Uint64(ids.size());
  w.Uint64(ids.size());
  w.EndArray();
  w.Key("dtype");
  w.String("<f4");
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  w.StartArray();
  for (const std::int64_t id : ids) {
    w.Int64(id);
  }
  w.EndArray();
  w.EndObject();
  return out;
}

}  // namespace

std::string CocktailSpaceResult::summary_json() const {
  std::string out;
  detail::StringSink sink{&out};
  detail::JsonWriter w(sink);
  w.StartObject();
  w.Key("counts");
  w.StartObject();
  w.Key("recipes");
  w.Uint64(counts.recipes);
  w.Key("manhattan_points");
  w.Uint64(counts.manhattan_points);
  w.Key("em_points");
  w.Uint64(counts.em_points);
  w.Key("left_out_matrix_volume");
  w.Uint64(counts.left_out_matrix_volume);
  w.Key("left_out_distance_volume");
  w.Uint64(counts.left_out_distance_volume);
  w.Key("em_ingredients");
  w.Uint64(counts.em_ingredients);
  w.Key("candidate_k");
  w.Uint64(counts.candidate_k);
  w.Key("candidate_pairs");
  w.Uint64(counts.candidate_pairs);
  w.Key("pairs_solved");
  w.Uint64(counts.pairs_solved);
  w.Key("em_iterations");
  w.Uint64(counts.em_iterations);
  w.Key("em_converged");
  w.Bool(counts.em_converged);
  w.Key("em_relative_changes");
  w.StartArray();
  for (const double c : counts.em_relative_changes) {
    w.Double(c);
  }
  w.EndArray();
  w.Key("umap_manhattan_init");
  w.String(counts.umap_manhattan_spectral ? "spectral" : "random");
  w.Key("umap_em_init");
  w.String(counts.umap_em_spectral ? "spectral" : "random");
  w.Key("umap_manhattan_components");
  w.Uint64(counts.umap_manhattan_components);
  w.Key("umap_em_components");
  w.Uint64(counts.umap_em_components);
  w.Key("distance_matrix_written");
  w.Bool(distance_matrix_written);
  w.Key("ingredient_matrix_written");
  w.Bool(ingredient_matrix_written);
  w.EndObject();
  w.Key("settings");
  w.StartObject();
  w.Key("seed");
  w.Uint64(settings.seed);
  w.Key("candidate_cap");
  w.Uint64(settings.candidate_cap);
  w.Key("dense_matrix_limit");
  w.Uint64(settings.dense_matrix_limit);
  w.Key("ingredient_matrix_limit");
  w.Uint64(settings.ingredient_matrix_limit);
  w.Key("threads");
  w.Uint(settings.threads);
  w.Key("max_em_iterations");
  w.Uint64(settings.max_em_iterations);
  w.Key("similar_stored");
  w.Uint64(settings.similar_stored);
  w.Key("n_neighbors");
  w.Uint64(settings.n_neighbors);
  w.Key("min_dist");
  w.Double(settings.min_dist);
  w.Key("spread");
  w.Double(settings.spread);
  w.EndObject();
  w.Key("durations_ms");
  w.StartObject();
  for (const auto& [stage, ms] : durations_ms) {
    detail::write_string(w, stage);
    w.Double(std::round(ms * 1000.0) / 1000.0);
  }
  w.EndObject();
  w.Key("warnings");
  w.StartArray();
  for (const auto& warning : warnings) {
    detail::write_string(w, warning);
  }
  w.EndArray();
  w.EndObject();
  return out;
}

CocktailSpaceResult compute_cocktail_spaces(const catalog::CatalogState& state,
                                            const CocktailSpaceOptions& options) {
  CocktailSpaceResult result;
  result.settings = options;
  if (result.settings.threads == 0) {
    result.settings.threads = std::max(1u, std::thread::hardware_concurrency());
  }
  const unsigned threads = result.settings.threads;
  auto& counts = result.counts;
  counts.recipes = state.recipes.size();

  // Inputs: fractions under both rules; for EM, rolled up onto the
  // ingredient set with ancestors, kept in float32, and the tree costs.
  auto start = Clock::now();
  const RecipeFractions matrix = compute_fractions(state, VolumeRule::kMatrix);
  const RecipeFractions distance = compute_fractions(state, VolumeRule::kDistance);
  const IngredientHierarchy hierarchy(state);
  const SparseRows rolled = roll_up(distance.fractions, hierarchy);
  const IngredientSet set = ingredient_set_with_ancestors(rolled, hierarchy);
  SparseRows masses = to_set_columns(rolled, set);
  for (double& v : masses.values) {
    v = static_cast<double>(static_cast<float>(v));
  }
  const std::size_t m = set.size();
  counts.manhattan_points = matrix.recipe_rows.size();
  counts.em_points = distance.recipe_rows.size();
  counts.left_out_matrix_volume = matrix.left_out_zero_total;
  counts.left_out_distance_volume = distance.left_out_zero_total;
  counts.em_ingredients = m;
  if (matrix.left_out_zero_total > 0) {
    result.warnings.push_back(std::to_string(matrix.left_out_zero_total) +
                              " recipes with a zero matrix-volume total are left out of cocktail-space");
  }
  if (distance.left_out_zero_total > 0) {
    result.warnings.push_back(std::to_string(distance.left_out_zero_total) +
                              " recipes with a zero distance-volume total are left out of cocktail-space-em "
                              "and recipe-similar");
  }
  std::vector<float> tree = tree_cost_matrix(set, hierarchy);
  result.durations_ms.emplace_back("fractions", elapsed_ms(start));

  UmapOptions umap_options;
  umap_options.n_neighbors = result.settings.n_neighbors;
  umap_options.min_dist = result.settings.min_dist;
  umap_options.spread = result.settings.spread;
  umap_options.n_epochs = result.settings.umap_epochs;
  umap_options.seed = result.settings.seed;

  // The Manhattan map needs only the matrix fractions: with two or more
  // threads it runs on its own thread (kNN, then UMAP, both single-threaded
  // and deterministic) while the EM space is computed.
  std::vector<float> xy_manhattan;
  UmapReport report_manhattan;
  double ms_knn_manhattan = 0.0;
  double ms_manhattan = 0.0;
  auto manhattan_map = [&] {
    auto t = Clock::now();
    const std::size_t n_m = matrix.recipe_rows.size();
    const NeighborLists knn = l1_nearest(matrix.fractions, state.ingredients.size(),
                                         std::min(result.settings.n_neighbors, n_m > 0 ? n_m - 1 : 0), 1);
    ms_knn_manhattan = elapsed_ms(t);
    t = Clock::now();
    xy_manhattan = umap_embed(knn, umap_options, &report_manhattan);
    ms_manhattan = elapsed_ms(t);
  };
  std::exception_ptr manhattan_error;
  std::thread manhattan_worker;
  if (threads >= 2) {
    manhattan_worker = std::thread([&] {
      try {
        manhattan_map();
      } catch (...) {
        manhattan_error = std::current_exception();
      }
    });
  }
  // Joins the worker on every way out, exceptions included.
  struct Joiner {
    std::thread& thread;
    ~Joiner() {
      if (thread.joinable()) {
        thread.join();
      }
    }
  } joiner{manhattan_worker};

  // EM-learned costs and distances.
  EmOptions em_options;
  em_options.max_iterations = result.settings.max_em_iterations;
  em_options.candidate_cap = result.settings.candidate_cap;
  em_options.threads = threads;
  const EmResult em = run_em(masses, m, std::move(tree), em_options);
  for (const auto& stage : em.durations_ms) {
    result.durations_ms.push_back(stage);
  }
  counts.candidate_k = em.candidate_k;
  counts.candidate_pairs = em.pairs.size();
  counts.pairs_solved = em.pairs_solved;
  counts.em_iterations = em.iterations;
  counts.em_converged = em.converged;
  counts.em_relative_changes = em.relative_changes;
  // +∞ (a pair never compared) is published as twice the largest finite distance.
  float largest = 0.0f;
  for (const float d : em.distances) {
    largest = std::max(largest, d);
  }
  const float absent = 2.0f * largest;
  const std::size_t n_em = em.graph.rows;

  // recipe-similar.
  start = Clock::now();
  {
    std::vector<Label> recipe_labels(n_em);
    for (std::size_t r = 0; r < n_em; ++r) {
      const auto& recipe = state.recipes[distance.recipe_rows[r]];
      recipe_labels[r] = {recipe.id, recipe.name};
    }
    std::vector<Label> ingredient_labels(m);
    for (std::size_t i = 0; i < m; ++i) {
      const auto& ingredient = state.ingredients[set.members[i]];
      ingredient_labels[i] = {ingredient.id, ingredient.name};
    }
    result.recipe_similar = recipe_similar_json(em.graph, masses, em.cost, m, recipe_labels,
                                                ingredient_labels, result.settings.similar_stored, threads);
  }
  result.durations_ms.emplace_back("recipe_similar", elapsed_ms(start));

  // The dense matrix, when it is small enough to publish.
  if (n_em <= result.settings.dense_matrix_limit) {
    start = Clock::now();
    result.distance_matrix_npy = distance_matrix_npy(em.graph, absent);
    std::vector<std::int64_t> ids;
    ids.reserve(n_em);
    for (const std::size_t p : distance.recipe_rows) {
      ids.push_back(state.recipes[p].id);
    }
    result.distance_matrix_ids = matrix_ids_json("recipe_ids", ids);
    result.distance_matrix_written = true;
    result.durations_ms.emplace_back("distance_matrix", elapsed_ms(start));
  } else {
    result.warnings.push_back("recipe-distances-em.npy not written: " + std::to_string(n_em) +
                              " recipes exceed the dense matrix limit of " +
                              std::to_string(result.settings.dense_matrix_limit));
  }
  // The learned ingredient costs: m² floats, where m (ingredients in use and
  // their ancestors) is in the hundreds for real catalogs.
  if (m <= result.settings.ingredient_matrix_limit) {
    std::vector<std::int64_t> ids;
    ids.reserve(m);
    for (const std::size_t p : set.members) {
      ids.push_back(state.ingredients[p].id);
    }
    result.ingredient_matrix_npy = npy_float32_matrix(em.cost, m, m);
    result.ingredient_matrix_ids = matrix_ids_json("ingredient_ids", ids);
    result.ingredient_matrix_written = true;
  } else {
    result.warnings.push_back("ingredient-distances-em.npy not written: " + std::to_string(m) +
                              " ingredients exceed the ingredient matrix limit of " +
                              std::to_string(result.settings.ingredient_matrix_limit));
  }

  // The EM map on this thread, then the Manhattan map's result.
  start = Clock::now();
  const NeighborLists knn_em = nearest_in_graph(
      em.graph, std::min(result.settings.n_neighbors, n_em > 0 ? n_em - 1 : 0), absent, threads);
  result.durations_ms.emplace_back("knn_em", elapsed_ms(start));
  start = Clock::now();
  UmapReport report_em;
  const std::vector<float> xy_em = umap_embed(knn_em, umap_options, &report_em);
  result.durations_ms.emplace_back("umap_em", elapsed_ms(start));
  if (manhattan_worker.joinable()) {
    manhattan_worker.join();
    if (manhattan_error) {
      std::rethrow_exception(manhattan_error);
    }
  } else {
    manhattan_map();
  }
  result.durations_ms.emplace_back("knn_manhattan", ms_knn_manhattan);
  result.durations_ms.emplace_back("umap_manhattan", ms_manhattan);
  counts.umap_manhattan_spectral = report_manhattan.spectral_init;
  counts.umap_em_spectral = report_em.spectral_init;
  counts.umap_manhattan_components = report_manhattan.components;
  counts.umap_em_components = report_em.components;

  start = Clock::now();
  const DisplayOrder display(state);
  result.cocktail_space = points_json(state, display, matrix.recipe_rows, xy_manhattan);
  result.cocktail_space_em = points_json(state, display, distance.recipe_rows, xy_em);
  result.durations_ms.emplace_back("serialize", elapsed_ms(start));
  return result;
}

}  // namespace cocktail::analytics

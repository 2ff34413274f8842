#include "cocktail/analytics/cocktail_space.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <limits>
#include <optional>
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

// Whether a memory made with `before` may start a run with `now`: every
// setting the EM fit or a layout depends on is the same.
bool same_procedure(const CocktailSpaceOptions& before, const CocktailSpaceOptions& now) {
  return before.seed == now.seed && before.candidate_cap == now.candidate_cap &&
         before.max_em_iterations == now.max_em_iterations && before.n_neighbors == now.n_neighbors &&
         before.min_dist == now.min_dist && before.spread == now.spread &&
         before.umap_epochs == now.umap_epochs && before.umap_warm_epochs == now.umap_warm_epochs;
}

// For each of `ids` (ascending), its position in `before` (ascending), or -1.
std::vector<std::int64_t> previous_rows(const std::vector<std::int64_t>& ids,
                                        const std::vector<std::int64_t>& before) {
  std::vector<std::int64_t> out(ids.size(), -1);
  std::size_t p = 0;
  for (std::size_t r = 0; r < ids.size(); ++r) {
    while (p < before.size() && before[p] < ids[r]) {
      ++p;
    }
    if (p < before.size() && before[p] == ids[r]) {
      out[r] = static_cast<std::int64_t>(p);
    }
  }
  return out;
}

bool same_row(const SparseRows& a, std::size_t ra, const SparseRows& b, std::size_t rb) {
  const std::size_t n = a.row_size(ra);
  if (n != b.row_size(rb)) {
    return false;
  }
  return std::equal(a.columns.begin() + static_cast<std::ptrdiff_t>(a.offsets[ra]),
                    a.columns.begin() + static_cast<std::ptrdiff_t>(a.offsets[ra] + n),
                    b.columns.begin() + static_cast<std::ptrdiff_t>(b.offsets[rb])) &&
         std::equal(a.values.begin() + static_cast<std::ptrdiff_t>(a.offsets[ra]),
                    a.values.begin() + static_cast<std::ptrdiff_t>(a.offsets[ra] + n),
                    b.values.begin() + static_cast<std::ptrdiff_t>(b.offsets[rb]));
}

// One map's layout: the previous one when its input is the previous input
// (the descent is deterministic: it would make the same layout again), else
// from a warm start when there is a previous layout, else cold.
std::vector<float> layout_map(const NeighborLists& knn, const std::vector<std::int64_t>& ids,
                              const UmapOptions& options, const CocktailSpaceMemory::Map* previous,
                              UmapReport& report, std::string& start) {
  if (previous != nullptr && !previous->xy.empty()) {
    if (previous->recipe_ids == ids && previous->knn.k == knn.k && previous->knn.index == knn.index &&
        previous->knn.distance == knn.distance) {
      start = "unchanged";
      report = UmapReport{};
      report.epochs = 0;
      return previous->xy;
    }
    UmapWarmStart warm;
    warm.layout = previous->xy;
    warm.previous_row = previous_rows(ids, previous->recipe_ids);
    start = "warm";
    return umap_embed(knn, options, &report, &warm);
  }
  start = "cold";
  return umap_embed(knn, options, &report);
}

std::vector<std::int64_t> recipe_ids(const catalog::CatalogState& state,
                                     const std::vector<std::size_t>& rows) {
  std::vector<std::int64_t> ids;
  ids.reserve(rows.size());
  for (const std::size_t p : rows) {
    ids.push_back(state.recipes[p].id);
  }
  return ids;
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
  w.Key("em_start");
  w.String(counts.em_start.c_str());
  w.Key("em_pairs_reused");
  w.Uint64(counts.em_pairs_reused);
  // "spectral" or "random" for a cold start, else "warm" or "unchanged".
  w.Key("umap_manhattan_init");
  w.String(counts.umap_manhattan_start != "cold" ? counts.umap_manhattan_start.c_str()
           : counts.umap_manhattan_spectral      ? "spectral"
                                                 : "random");
  w.Key("umap_em_init");
  w.String(counts.umap_em_start != "cold" ? counts.umap_em_start.c_str()
           : counts.umap_em_spectral      ? "spectral"
                                          : "random");
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
                                            const CocktailSpaceOptions& options,
                                            CocktailSpaceMemory* memory) {
  if (memory != nullptr && !options.incremental) {
    memory = nullptr;
  }
  // What the previous run left applies only to the same procedure; whatever
  // happens below, it is replaced (or dropped when this run fails).
  CocktailSpaceMemory before;
  if (memory != nullptr) {
    if (memory->valid && same_procedure(memory->options, options)) {
      before = std::move(*memory);
    }
    *memory = CocktailSpaceMemory{};
  }
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
  umap_options.warm_epochs = result.settings.umap_warm_epochs;
  const std::vector<std::int64_t> manhattan_ids = recipe_ids(state, matrix.recipe_rows);
  const std::vector<std::int64_t> em_ids = recipe_ids(state, distance.recipe_rows);
  std::vector<std::int64_t> ingredient_ids;
  ingredient_ids.reserve(m);
  for (const std::size_t p : set.members) {
    ingredient_ids.push_back(state.ingredients[p].id);
  }

  // The Manhattan map needs only the matrix fractions: with two or more
  // threads it runs on its own thread (kNN, then UMAP, both single-threaded
  // and deterministic) while the EM space is computed.
  std::vector<float> xy_manhattan;
  NeighborLists knn_manhattan;
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
    xy_manhattan = layout_map(knn, manhattan_ids, umap_options, before.valid ? &before.manhattan : nullptr,
                              report_manhattan, counts.umap_manhattan_start);
    knn_manhattan = knn;
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
  // A warm start from the previous fit when the ingredient set is the same.
  std::optional<EmWarmStart> warm;
  if (before.valid && before.ingredient_ids == ingredient_ids) {
    warm = std::move(before.em);
    warm->previous_row = previous_rows(em_ids, before.em_recipe_ids);
    warm->unchanged.assign(em_ids.size(), false);
    for (std::size_t r = 0; r < em_ids.size(); ++r) {
      const std::int64_t p = warm->previous_row[r];
      warm->unchanged[r] = p >= 0 && same_row(masses, r, before.masses, static_cast<std::size_t>(p));
    }
  }
  EmResult em = run_em(masses, m, std::move(tree), em_options, warm ? &*warm : nullptr);
  // Rows whose masses are as in the previous run (for recipe-similar).
  std::vector<std::int64_t> previous_em_row;
  std::vector<bool> unchanged_em_row;
  if (warm) {
    previous_em_row = std::move(warm->previous_row);
    unchanged_em_row = std::move(warm->unchanged);
  }
  warm.reset();
  counts.em_start = em.warm ? "warm" : "cold";
  counts.em_pairs_reused = em.pairs_reused;
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
    // Kept for the next run while it stays small (about 0.7 KB per
    // neighbour with its whole plan; at 10⁵ recipes the file is over 1 GB:
    // then it is written in one go, never held twice).
    constexpr std::size_t kMaxKeptBytes = std::size_t{64} << 20;
    const bool keep =
        memory != nullptr &&
        n_em * std::min<std::size_t>(result.settings.similar_stored, n_em) * 700 <= kMaxKeptBytes;
    // The previous entries apply when the costs are the previous ones bit
    // for bit (a warm EM that stopped after its first E-step) and no name
    // in them changed.
    std::optional<SimilarReuse> reuse;
    if (keep && em.warm && em.iterations == 1 && !before.similar.entries.empty() &&
        before.ingredient_names.size() == m) {
      bool names_same = true;
      for (std::size_t i = 0; i < m && names_same; ++i) {
        names_same = ingredient_labels[i].name == before.ingredient_names[i];
      }
      for (std::size_t r = 0; r < n_em && names_same; ++r) {
        const std::int64_t p = previous_em_row[r];
        names_same = p < 0 || recipe_labels[r].name == before.recipe_names[static_cast<std::size_t>(p)];
      }
      if (names_same) {
        reuse.emplace();
        reuse->previous = &before.similar;
        reuse->previous_row = previous_em_row;
        reuse->unchanged = unchanged_em_row;
      }
    }
    result.recipe_similar = recipe_similar_json(em.graph, masses, em.cost, m, recipe_labels,
                                                ingredient_labels, result.settings.similar_stored, threads,
                                                reuse ? &*reuse : nullptr, keep ? &memory->similar : nullptr);
    if (memory != nullptr) {
      for (const auto& l : recipe_labels) {
        memory->recipe_names.emplace_back(l.name);
      }
      for (const auto& l : ingredient_labels) {
        memory->ingredient_names.emplace_back(l.name);
      }
    }
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
  std::vector<float> xy_em = layout_map(knn_em, em_ids, umap_options, before.valid ? &before.em_map : nullptr,
                                        report_em, counts.umap_em_start);
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

  if (memory != nullptr) {
    memory->valid = true;
    memory->options = result.settings;
    memory->ingredient_ids = std::move(ingredient_ids);
    memory->em_recipe_ids = em_ids;
    memory->masses = std::move(masses);
    memory->em.cost = std::move(em.cost);
    memory->em.candidates = std::move(em.candidates);
    memory->em.pairs = std::move(em.pairs);
    memory->em.distances = std::move(em.distances);
    memory->manhattan = {manhattan_ids, std::move(knn_manhattan), std::move(xy_manhattan)};
    memory->em_map = {em_ids, knn_em, std::move(xy_em)};
  }
  return result;
}

}  // namespace cocktail::analytics

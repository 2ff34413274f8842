// compute_cocktail_spaces: the whole cocktail-space family from one
// CatalogState — cocktail-space (Manhattan), cocktail-space-em, recipe-similar
// and the EM distance matrix (.npy) with its row ids. The procedure is in
// docs/cocktail-space.md.
//
// Returns the `data` JSON of each analytic; the caller wraps them with
// make_envelope(). Uses CocktailSpaceOptions::threads workers; the result is
// identical for any thread count and for a given seed. Reentrant; the state
// is only read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "cocktail/analytics/candidates.h"
#include "cocktail/analytics/em.h"
#include "cocktail/analytics/similar.h"
#include "cocktail/analytics/volumes.h"
#include "cocktail/catalog/state.h"

namespace cocktail::analytics {

struct CocktailSpaceOptions {
  std::uint64_t seed = 42;                 // UMAP initialisation and negative sampling
  std::size_t candidate_cap = 256;         // upper bound on EM candidates per recipe
  std::size_t dense_matrix_limit = 20000;  // above this many recipes no recipe .npy is written
  // Above this many ingredients (m, the EM ingredient set) no ingredient
  // .npy: m² float32, 64 MiB at the limit; real catalogs have hundreds.
  std::size_t ingredient_matrix_limit = 4096;
  unsigned threads = 0;  // 0: std::thread::hardware_concurrency()
  std::size_t max_em_iterations = 5;
  std::size_t similar_stored = 20;  // neighbours kept per recipe in recipe-similar
  std::size_t n_neighbors = 5;
  double min_dist = 0.05;
  double spread = 1.0;
  std::size_t umap_epochs = 0;  // 0: 500 up to 10,000 points, 200 above
  // With a CocktailSpaceMemory: start EM and both maps from the previous
  // run (docs/cocktail-space.md, "Incremental runs"). False (the default:
  // warm maps score slightly below cold ones, see there): every run cold.
  bool incremental = false;
  std::size_t umap_warm_epochs = 100;  // descent epochs of a map from a warm start
};

struct CocktailSpaceCounts {
  std::size_t recipes = 0;  // in the catalog
  std::size_t manhattan_points = 0;
  std::size_t em_points = 0;
  std::size_t left_out_matrix_volume = 0;    // zero matrix-volume total
  std::size_t left_out_distance_volume = 0;  // zero distance-volume total
  std::size_t em_ingredients = 0;            // m, the ingredient set with ancestors
  std::size_t candidate_k = 0;
  std::size_t candidate_pairs = 0;  // in the last E-step
  std::size_t pairs_solved = 0;     // EMD problems over all iterations
  std::size_t em_iterations = 0;
  bool em_converged = false;
  std::vector<double> em_relative_changes;
  bool umap_manhattan_spectral = false;  // false: random initialisation
  bool umap_em_spectral = false;
  // How each part started: "cold"; "warm" (from the previous run); for a
  // map also "unchanged" (its input was the previous run's: its layout is
  // the previous one, which the descent would make again).
  std::string em_start = "cold";
  std::size_t em_pairs_reused = 0;  // distances taken from the previous run
  std::string umap_manhattan_start = "cold";
  std::string umap_em_start = "cold";
  std::size_t umap_manhattan_components = 0;
  std::size_t umap_em_components = 0;
};

struct CocktailSpaceResult {
  std::string cocktail_space;     // data JSON: [{recipe_id, recipe_name, x, y, ingredients}]
  std::string cocktail_space_em;  // same layout
  std::string recipe_similar;     // data JSON, layout in similar.h
  // recipe-distances-em.npy: n×n float32, rows and columns in recipe_id
  // order, written only up to dense_matrix_limit recipes; the ids JSON is
  // {"shape": [n, n], "dtype": "<f4", "recipe_ids": [...]}.
  bool distance_matrix_written = false;
  std::string distance_matrix_npy;
  std::string distance_matrix_ids;
  // ingredient-distances-em.npy: the learned ingredient costs, m×m float32
  // (the costs of the last E-step, i.e. the ground costs recipe-distances-em
  // was computed under), rows and columns in ingredient_id order over the EM
  // ingredient set; the ids JSON is {"shape": [m, m], "dtype": "<f4",
  // "ingredient_ids": [...]}. Written up to ingredient_matrix_limit ingredients.
  bool ingredient_matrix_written = false;
  std::string ingredient_matrix_npy;
  std::string ingredient_matrix_ids;
  CocktailSpaceCounts counts;
  CocktailSpaceOptions settings;                             // as applied (threads resolved)
  std::vector<std::pair<std::string, double>> durations_ms;  // stage → ms, in run order
  std::vector<std::string> warnings;

  // {"counts": {...}, "settings": {...}, "durations_ms": {...}, "warnings": [...]}
  std::string summary_json() const;
};

// What one run leaves for the next (docs/cocktail-space.md, "Incremental
// runs"): the EM fit and both maps, keyed by recipe and ingredient ids.
// Owned by the caller, one per series of runs; not thread-safe.
struct CocktailSpaceMemory {
  bool valid = false;
  CocktailSpaceOptions options;              // the settings it was made with; other settings start cold
  std::vector<std::int64_t> ingredient_ids;  // the EM ingredient set, in column order
  std::vector<std::int64_t> em_recipe_ids;   // EM rows
  SparseRows masses;                         // EM rows' masses
  EmWarmStart em;                            // cost, candidates, pairs, distances (no mapping)
  struct Map {
    std::vector<std::int64_t> recipe_ids;  // rows
    NeighborLists knn;                     // the input
    std::vector<float> xy;                 // the layout
  };
  Map manhattan;
  Map em_map;
  SimilarMemory similar;                      // recipe-similar's entries (empty when too large to keep)
  std::vector<std::string> recipe_names;      // per EM row
  std::vector<std::string> ingredient_names;  // per set column
};

// With `memory` (and options.incremental), starts from it where it applies
// and leaves this run's state in it.
CocktailSpaceResult compute_cocktail_spaces(const catalog::CatalogState& state,
                                            const CocktailSpaceOptions& options = {},
                                            CocktailSpaceMemory* memory = nullptr);

}  // namespace cocktail::analytics

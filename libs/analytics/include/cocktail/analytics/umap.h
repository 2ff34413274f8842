// UMAP to two dimensions from a k-nearest-neighbour graph: the precomputed-
// distance form of umap-learn, working from the sparse graph only, so it
// scales past the size where an n×n matrix fits (docs/cocktail-space.md, "UMAP").
//
// Steps: smooth kNN distances (ρ, σ) → fuzzy memberships → fuzzy union
// P + Pᵀ − P∘Pᵀ → a, b fitted to min_dist and spread → spectral
// initialisation (Spectra, on the normalised graph Laplacian; per connected
// component when disconnected, as umap-learn; random when the solver does
// not converge) → stochastic
// gradient descent with edge sampling and negative sampling.
//
// Deterministic for a given seed: the descent runs on one thread (the
// cocktail spaces run their two maps side by side instead), with its own
// seeded generator. Pure function of its inputs; safe to call concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "cocktail/analytics/candidates.h"

namespace cocktail::analytics {

struct UmapOptions {
  std::size_t n_neighbors = 5;
  double min_dist = 0.05;
  double spread = 1.0;
  std::size_t n_epochs = 0;  // 0: 500 up to 10,000 points, 200 above
  std::size_t negative_sample_rate = 5;
  double learning_rate = 1.0;
  std::uint64_t seed = 42;
  // From a warm start (UmapWarmStart): the descent's epochs and initial
  // learning rate (umap-learn's transform of new points: 100 and a quarter).
  std::size_t warm_epochs = 100;
  double warm_learning_rate = 0.25;
};

// A warm start (docs/cocktail-space.md, "Incremental runs"): the previous
// layout and where each point of this run was in it. The points start there
// (a new point at the mean of its neighbours' previous positions, or at
// random in the layout's bounding box when none has one) instead of at the
// spectral initialisation, and the descent runs warm_epochs epochs at
// warm_learning_rate; every other step is the cold procedure's (the edges
// kept are those the cold descent's epoch count keeps).
struct UmapWarmStart {
  std::vector<float> layout;               // previous points × 2
  std::vector<std::int64_t> previous_row;  // per point: its row in `layout`, -1 when new
};

// The curve 1 / (1 + a·x^(2b)) fitted by least squares to 1 for x < min_dist
// and exp(−(x − min_dist) / spread) beyond, on 300 points of [0, 3·spread]
// (umap-learn's find_ab_params).
struct CurveParameters {
  double a = 0.0;
  double b = 0.0;
};
CurveParameters fit_curve(double spread, double min_dist);

struct UmapReport {
  // Spectral layout of the graph, or of its components when disconnected
  // (false: random initialisation throughout, or a warm start).
  bool spectral_init = false;
  bool warm_init = false;      // started from a UmapWarmStart
  std::size_t components = 0;  // connected components of the fuzzy graph
  std::size_t edges = 0;       // directed edges sampled by the descent
  std::size_t epochs = 0;
  CurveParameters curve;
  double graph_ms = 0.0;  // fuzzy graph
  double init_ms = 0.0;   // initialisation
  double sgd_ms = 0.0;    // gradient descent
};

// `knn`: each point's neighbours, nearest first, self excluded (k may be
// below n_neighbors for tiny inputs; distances finite). Returns n×2 float32
// coordinates, row-major.
std::vector<float> umap_embed(const NeighborLists& knn, const UmapOptions& options,
                              UmapReport* report = nullptr, const UmapWarmStart* warm = nullptr);

}  // namespace cocktail::analytics

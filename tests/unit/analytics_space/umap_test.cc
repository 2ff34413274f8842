// UMAP on synthetic data with known clusters: map quality, separation,
// determinism; and the curve fit.
#include "cocktail/analytics/umap.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "map_quality.h"

namespace cocktail::analytics {
namespace {

TEST(UmapCurve, FitMatchesUmapLearnDefaults) {
  // umap-learn's find_ab_params(1.0, 0.1) gives a ≈ 1.577, b ≈ 0.895.
  const CurveParameters c = fit_curve(1.0, 0.1);
  EXPECT_NEAR(c.a, 1.577, 0.01);
  EXPECT_NEAR(c.b, 0.895, 0.01);
  // Smaller min_dist: a steeper curve near 0 (larger a, smaller b).
  const CurveParameters tight = fit_curve(1.0, 0.05);
  EXPECT_GT(tight.a, c.a);
  EXPECT_LT(tight.b, c.b);
}

// Gaussian blobs in 8 dimensions, exact Euclidean kNN (ties by index).
struct Blobs {
  std::size_t n = 0;
  std::vector<double> x;  // n × 8
  std::vector<std::size_t> cluster;
  double distance(std::size_t i, std::size_t j) const {
    double s = 0.0;
    for (std::size_t d = 0; d < 8; ++d) {
      s += (x[i * 8 + d] - x[j * 8 + d]) * (x[i * 8 + d] - x[j * 8 + d]);
    }
    return std::sqrt(s);
  }
};

Blobs make_blobs(std::size_t clusters, std::size_t per_cluster, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  Blobs b;
  b.n = clusters * per_cluster;
  std::vector<double> centre(clusters * 8);
  for (auto& c : centre) {
    c = 12.0 * normal(rng);
  }
  for (std::size_t c = 0; c < clusters; ++c) {
    for (std::size_t p = 0; p < per_cluster; ++p) {
      for (std::size_t d = 0; d < 8; ++d) {
        b.x.push_back(centre[c * 8 + d] + normal(rng));
      }
      b.cluster.push_back(c);
    }
  }
  return b;
}

NeighborLists knn_of(const Blobs& b, std::size_t k) {
  NeighborLists lists{b.n, k, {}, {}};
  for (std::size_t i = 0; i < b.n; ++i) {
    std::vector<std::size_t> order;
    for (std::size_t j = 0; j < b.n; ++j) {
      if (j != i) {
        order.push_back(j);
      }
    }
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t p, std::size_t q) { return b.distance(i, p) < b.distance(i, q); });
    for (std::size_t j = 0; j < k; ++j) {
      lists.index.push_back(static_cast<std::uint32_t>(order[j]));
      lists.distance.push_back(b.distance(i, order[j]));
    }
  }
  return lists;
}

TEST(Umap, ClustersKeptApartAndTrustworthy) {
  const Blobs blobs = make_blobs(6, 100, 21);
  const NeighborLists knn = knn_of(blobs, 5);
  UmapReport report;
  const std::vector<float> xy = umap_embed(knn, UmapOptions{}, &report);
  ASSERT_EQ(xy.size(), 2 * blobs.n);
  EXPECT_EQ(report.components, 6u);  // one per blob: a disconnected graph
  EXPECT_TRUE(report.spectral_init);
  EXPECT_EQ(report.epochs, 500u);
  const auto q = testing::map_quality(
      blobs.n, [&](std::size_t i, std::size_t j) { return blobs.distance(i, j); }, xy, 5);
  std::printf("blobs: trustworthiness@5 %.4f, kNN recall %.3f\n", q.trustworthiness, q.knn_recall);
  EXPECT_GE(q.trustworthiness, 0.95);
  // Kept apart: every point's 10 nearest map neighbours are from its own blob,
  // and each blob's map radius is far below the gap to the nearest other blob.
  std::size_t foreign = 0;
  for (std::size_t i = 0; i < blobs.n; ++i) {
    std::vector<std::pair<float, std::size_t>> d;
    for (std::size_t j = 0; j < blobs.n; ++j) {
      if (j != i) {
        d.emplace_back(std::hypot(xy[2 * i] - xy[2 * j], xy[2 * i + 1] - xy[2 * j + 1]), j);
      }
    }
    std::partial_sort(d.begin(), d.begin() + 10, d.end());
    for (std::size_t k = 0; k < 10; ++k) {
      foreign += blobs.cluster[d[k].second] != blobs.cluster[i];
    }
  }
  EXPECT_EQ(foreign, 0u);
  std::vector<double> cx(6, 0.0), cy(6, 0.0), radius(6, 0.0);
  for (std::size_t i = 0; i < blobs.n; ++i) {
    cx[blobs.cluster[i]] += xy[2 * i] / 100.0, cy[blobs.cluster[i]] += xy[2 * i + 1] / 100.0;
  }
  for (std::size_t i = 0; i < blobs.n; ++i) {
    const std::size_t c = blobs.cluster[i];
    radius[c] = std::max(radius[c], std::hypot(xy[2 * i] - cx[c], xy[2 * i + 1] - cy[c]));
  }
  for (std::size_t c = 0; c < 6; ++c) {
    for (std::size_t o = c + 1; o < 6; ++o) {
      EXPECT_GT(std::hypot(cx[c] - cx[o], cy[c] - cy[o]), radius[c] + radius[o]) << c << " " << o;
    }
  }
}

TEST(Umap, ConnectedGraphUsesSpectralInitAndIsTrustworthy) {
  // One elongated cloud (a connected kNN graph) big enough for the sparse
  // eigensolver path.
  std::mt19937_64 rng(4);
  std::normal_distribution<double> normal(0.0, 1.0);
  Blobs b;
  b.n = 600;
  for (std::size_t i = 0; i < b.n; ++i) {
    const double t = 20.0 * static_cast<double>(i) / static_cast<double>(b.n);
    for (std::size_t d = 0; d < 8; ++d) {
      b.x.push_back((d == 0 ? t : 0.0) + 0.3 * normal(rng));
    }
    b.cluster.push_back(0);
  }
  UmapReport report;
  const auto xy = umap_embed(knn_of(b, 5), UmapOptions{}, &report);
  EXPECT_EQ(report.components, 1u);
  EXPECT_TRUE(report.spectral_init);
  const auto q = testing::map_quality(
      b.n, [&](std::size_t i, std::size_t j) { return b.distance(i, j); }, xy, 5);
  std::printf("curve: trustworthiness@5 %.4f, kNN recall %.3f\n", q.trustworthiness, q.knn_recall);
  EXPECT_GE(q.trustworthiness, 0.95);
}

TEST(Umap, SameSeedSameMapOtherSeedOtherMap) {
  const Blobs blobs = make_blobs(3, 40, 8);
  const NeighborLists knn = knn_of(blobs, 5);
  UmapOptions options;
  options.n_epochs = 100;
  const auto a = umap_embed(knn, options);
  const auto b = umap_embed(knn, options);
  EXPECT_EQ(a, b);
  options.seed = 43;
  EXPECT_NE(umap_embed(knn, options), a);
}

TEST(Umap, TinyAndDegenerateInputs) {
  EXPECT_TRUE(umap_embed(NeighborLists{}, UmapOptions{}).empty());
  const NeighborLists one{1, 0, {}, {}};
  EXPECT_EQ(umap_embed(one, UmapOptions{}), (std::vector<float>{0.0f, 0.0f}));
  // Two points, identical (distance 0): finite coordinates.
  const NeighborLists two{2, 1, {1, 0}, {0.0, 0.0}};
  for (const float v : umap_embed(two, UmapOptions{})) {
    EXPECT_TRUE(std::isfinite(v));
  }
  const NeighborLists bad{2, 1, {1, 0}, {-1.0, 1.0}};
  EXPECT_THROW(umap_embed(bad, UmapOptions{}), std::invalid_argument);
}

}  // namespace
}  // namespace cocktail::analytics

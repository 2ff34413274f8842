// Quality of a 2-D map against the input distances: trustworthiness
// (Venna & Kaski, as sklearn.manifold.trustworthiness) and k-NN recall.
// Input ranks are competition ranks: points at equal input distance share
// the lowest rank, so a map neighbour tied with the k-th input neighbour is
// not penalised (catalog distances tie a lot: identical proportions, disjoint
// recipes all at L1 = 2). `strict_trustworthiness` breaks ties by index
// instead, as an arbitrary argsort would. Dense O(n² log n): test sizes only.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <functional>
#include <numeric>
#include <vector>

#include "cocktail/analytics/volumes.h"

namespace cocktail::analytics::testing {

// input(i, j): the input distance; xy: n×2 map. Ranks break ties by index.
struct MapQuality {
  double trustworthiness = 0.0;
  double strict_trustworthiness = 0.0;
  double knn_recall = 0.0;
};

inline MapQuality map_quality(std::size_t n, const std::function<double(std::size_t, std::size_t)>& input,
                              const std::vector<float>& xy, std::size_t k) {
  double penalty = 0.0;
  double strict_penalty = 0.0;
  std::size_t recalled = 0;
  std::vector<std::size_t> order(n);
  std::vector<std::size_t> rank(n);
  std::vector<std::size_t> strict_rank(n);
  std::vector<double> d(n);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      d[j] = j == i ? -1.0 : input(i, j);
    }
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return d[a] < d[b]; });
    for (std::size_t r = 0; r < n; ++r) {  // self has rank 0
      strict_rank[order[r]] = r;
      rank[order[r]] = r > 0 && d[order[r]] == d[order[r - 1]] ? rank[order[r - 1]] : r;
    }
    for (std::size_t j = 0; j < n; ++j) {
      const double dx = static_cast<double>(xy[2 * i]) - xy[2 * j];
      const double dy = static_cast<double>(xy[2 * i + 1]) - xy[2 * j + 1];
      d[j] = j == i ? -1.0 : dx * dx + dy * dy;
    }
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return d[a] < d[b]; });
    for (std::size_t r = 1; r <= k; ++r) {
      const std::size_t j = order[r];
      if (rank[j] > k) {
        penalty += static_cast<double>(rank[j] - k);
      } else {
        ++recalled;
      }
      if (strict_rank[j] > k) {
        strict_penalty += static_cast<double>(strict_rank[j] - k);
      }
    }
  }
  const double nn = static_cast<double>(n);
  const double kk = static_cast<double>(k);
  MapQuality q;
  const double scale = 2.0 / (nn * kk * (2.0 * nn - 3.0 * kk - 1.0));
  q.trustworthiness = 1.0 - scale * penalty;
  q.strict_trustworthiness = 1.0 - scale * strict_penalty;
  q.knn_recall = static_cast<double>(recalled) / (nn * kk);
  return q;
}

// Σ|a − b| over the columns of rows i and j of `rows` (a Manhattan map's
// input distance).
inline double sparse_l1(const SparseRows& rows, std::size_t i, std::size_t j) {
  double s = 0.0;
  std::size_t a = rows.offsets[i], b = rows.offsets[j];
  while (a < rows.offsets[i + 1] || b < rows.offsets[j + 1]) {
    if (b == rows.offsets[j + 1] || (a < rows.offsets[i + 1] && rows.columns[a] < rows.columns[b])) {
      s += rows.values[a++];
    } else if (a == rows.offsets[i + 1] || rows.columns[b] < rows.columns[a]) {
      s += rows.values[b++];
    } else {
      s += std::abs(rows.values[a++] - rows.values[b++]);
    }
  }
  return s;
}

}  // namespace cocktail::analytics::testing

// Nearest-neighbour lists and candidate pairs against dense brute force.
#include "cocktail/analytics/candidates.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <set>

namespace cocktail::analytics {
namespace {

// Random unit-sum sparse rows over `columns`, with duplicates and
// disjoint rows so that ties happen.
SparseRows random_rows(std::mt19937_64& rng, std::size_t n, std::size_t columns) {
  SparseRows rows;
  std::vector<std::pair<std::uint32_t, double>> row;
  for (std::size_t r = 0; r < n; ++r) {
    if (r > 0 && rng() % 8 == 0) {  // an exact duplicate of an earlier row
      const std::size_t src = rng() % r;
      for (std::size_t e = rows.offsets[src]; e < rows.offsets[src + 1]; ++e) {
        rows.columns.push_back(rows.columns[e]);
        rows.values.push_back(rows.values[e]);
      }
      rows.offsets.push_back(rows.columns.size());
      continue;
    }
    const std::size_t size = 1 + rng() % 5;
    std::set<std::uint32_t> cols;
    while (cols.size() < size) {
      cols.insert(static_cast<std::uint32_t>(rng() % columns));
    }
    double total = 0.0;
    row.clear();
    for (const auto c : cols) {
      const double v = 1.0 + static_cast<double>(rng() % 4);
      row.emplace_back(c, v);
      total += v;
    }
    for (const auto& [c, v] : row) {
      rows.columns.push_back(c);
      rows.values.push_back(v / total);
    }
    rows.offsets.push_back(rows.columns.size());
  }
  return rows;
}

// The definition: 2 − 2·Σ min over shared columns (rows sum to 1).
double l1(const SparseRows& rows, std::size_t a, std::size_t b) {
  double shared = 0.0;
  for (std::size_t i = rows.offsets[a]; i < rows.offsets[a + 1]; ++i) {
    for (std::size_t j = rows.offsets[b]; j < rows.offsets[b + 1]; ++j) {
      if (rows.columns[i] == rows.columns[j]) {
        shared += std::min(rows.values[i], rows.values[j]);
      }
    }
  }
  return std::max(0.0, 2.0 - 2.0 * shared);
}

TEST(Candidates, CandidateCount) {
  EXPECT_EQ(candidate_count(0, 256), 0u);
  EXPECT_EQ(candidate_count(1, 256), 0u);
  EXPECT_EQ(candidate_count(5, 256), 4u);         // at most n − 1
  EXPECT_EQ(candidate_count(11, 256), 10u);       // at least 10
  EXPECT_EQ(candidate_count(1356, 256), 135u);    // floor(0.10 × n)
  EXPECT_EQ(candidate_count(100000, 256), 256u);  // the cap
  EXPECT_EQ(candidate_count(100000, 5), 5u);
}

TEST(Candidates, L1NearestMatchesBruteForceWithTiesByIndex) {
  std::mt19937_64 rng(11);
  const std::size_t n = 300;
  const std::size_t columns = 40;
  const SparseRows rows = random_rows(rng, n, columns);
  for (const std::size_t k : {1u, 5u, 37u, 299u}) {
    const NeighborLists one = l1_nearest(rows, columns, k, 1);
    const NeighborLists two = l1_nearest(rows, columns, k, 2);
    EXPECT_EQ(one.index, two.index);
    EXPECT_EQ(one.distance, two.distance);
    for (std::size_t a = 0; a < n; ++a) {
      std::vector<std::size_t> order;
      for (std::size_t b = 0; b < n; ++b) {
        if (b != a) {
          order.push_back(b);
        }
      }
      std::vector<double> d(n);
      for (std::size_t b = 0; b < n; ++b) {
        d[b] = l1(rows, a, b);
      }
      std::stable_sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) { return d[x] < d[y]; });
      for (std::size_t j = 0; j < k; ++j) {
        ASSERT_EQ(one.index[a * k + j], order[j]) << "row " << a << " k " << k << " slot " << j;
        ASSERT_NEAR(one.distance[a * k + j], d[order[j]], 1e-12);
      }
    }
  }
}

TEST(Candidates, PairsAreTheUnionOfLists) {
  std::mt19937_64 rng(12);
  const SparseRows rows = random_rows(rng, 120, 30);
  const NeighborLists lists = l1_nearest(rows, 30, 10, 2);
  const PairList pairs = candidate_pairs(lists, 2);
  const PairList serial = candidate_pairs(lists, 1);
  EXPECT_EQ(pairs.first, serial.first);
  EXPECT_EQ(pairs.second, serial.second);
  std::set<std::pair<std::uint32_t, std::uint32_t>> expected;
  for (std::size_t r = 0; r < lists.rows; ++r) {
    for (std::size_t j = 0; j < lists.k; ++j) {
      const std::uint32_t s = lists.index[r * lists.k + j];
      expected.insert({std::min<std::uint32_t>(static_cast<std::uint32_t>(r), s),
                       std::max<std::uint32_t>(static_cast<std::uint32_t>(r), s)});
    }
  }
  ASSERT_EQ(pairs.size(), expected.size());
  std::size_t i = 0;
  for (const auto& [a, b] : expected) {  // std::set iterates ascending
    EXPECT_EQ(pairs.first[i], a);
    EXPECT_EQ(pairs.second[i], b);
    ++i;
  }
}

TEST(Candidates, NearestInSparseGraphEqualsDenseWithAbsentPairs) {
  std::mt19937_64 rng(13);
  const std::size_t n = 60;
  PairList pairs;
  std::vector<float> distances;
  for (std::uint32_t a = 0; a < n; ++a) {
    for (std::uint32_t b = a + 1; b < n; ++b) {
      if (rng() % 5 != 0) {
        continue;
      }
      pairs.first.push_back(a);
      pairs.second.push_back(b);
      distances.push_back(static_cast<float>(rng() % 6) * 0.5f);  // many ties
    }
  }
  const SparseDistanceGraph g = sparse_distance_graph(n, pairs, distances, 2);
  const SparseDistanceGraph serial = sparse_distance_graph(n, pairs, distances, 1);
  EXPECT_EQ(g.neighbor, serial.neighbor);
  EXPECT_EQ(g.distance, serial.distance);
  for (const double absent : {std::numeric_limits<double>::infinity(), 2.5, 0.0}) {
    std::vector<double> dense(n * n, absent);
    for (std::size_t p = 0; p < pairs.size(); ++p) {
      dense[pairs.first[p] * n + pairs.second[p]] = distances[p];
      dense[pairs.second[p] * n + pairs.first[p]] = distances[p];
    }
    const std::size_t k = 12;
    const NeighborLists lists = nearest_in_graph(g, k, absent, 3);
    EXPECT_EQ(lists.index, nearest_in_graph(g, k, absent, 1).index);
    for (std::size_t a = 0; a < n; ++a) {
      std::vector<std::size_t> order;
      for (std::size_t b = 0; b < n; ++b) {
        if (b != a) {
          order.push_back(b);
        }
      }
      std::stable_sort(order.begin(), order.end(),
                       [&](std::size_t x, std::size_t y) { return dense[a * n + x] < dense[a * n + y]; });
      for (std::size_t j = 0; j < k; ++j) {
        ASSERT_EQ(lists.index[a * k + j], order[j]) << "absent " << absent << " row " << a << " slot " << j;
        ASSERT_EQ(lists.distance[a * k + j], dense[a * n + order[j]]);
      }
    }
  }
  // Each row's partners are sorted nearest first, ties by index.
  for (std::size_t r = 0; r < n; ++r) {
    for (std::size_t e = g.offsets[r] + 1; e < g.offsets[r + 1]; ++e) {
      EXPECT_TRUE(g.distance[e - 1] < g.distance[e] ||
                  (g.distance[e - 1] == g.distance[e] && g.neighbor[e - 1] < g.neighbor[e]));
    }
  }
}

}  // namespace
}  // namespace cocktail::analytics

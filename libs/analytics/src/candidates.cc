#include "cocktail/analytics/candidates.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <stdexcept>
#include <utility>

#include "cocktail_space_parallel.h"

namespace cocktail::analytics {
namespace {

struct Scored {
  double distance;
  std::uint32_t index;
  bool operator<(const Scored& o) const {
    return distance != o.distance ? distance < o.distance : index < o.index;
  }
};

// Unsigned order equal to numeric order of the float (−0 as +0; +∞ last).
std::uint32_t float_order_bits(float x) {
  if (x == 0.0f) {
    x = 0.0f;
  }
  const auto bits = std::bit_cast<std::uint32_t>(x);
  return (bits >> 31) != 0 ? ~bits : bits | 0x80000000u;
}

float float_from_order_bits(std::uint32_t key) {
  const std::uint32_t bits = (key >> 31) != 0 ? key & 0x7fffffffu : ~key;
  return std::bit_cast<float>(bits);
}

// Scratch space of one worker for l1_nearest, sized once per call.
struct L1Scratch {
  std::vector<double> shared;  // Σ min over shared columns, valid where stamp == row + 1
  std::vector<std::uint32_t> stamp;
  std::vector<std::uint32_t> touched;
  std::vector<Scored> scored;
};

}  // namespace

std::size_t candidate_count(std::size_t n, std::size_t cap) {
  if (n <= 1) {
    return 0;
  }
  std::size_t k = std::max<std::size_t>(10, n / 10);
  k = std::min(k, n - 1);
  return std::min(k, cap);
}

NeighborLists l1_nearest(const SparseRows& rows, std::size_t columns, std::size_t k, unsigned threads,
                         const std::vector<bool>* only) {
  const std::size_t n = rows.rows();
  if (k > 0 && k >= n) {
    throw std::invalid_argument("l1_nearest: k must be below the number of rows");
  }
  NeighborLists out;
  out.rows = n;
  out.k = k;
  out.index.resize(n * k);
  out.distance.resize(n * k);
  if (k == 0) {
    return out;
  }

  // Inverted index: for each column, the rows using it with their value.
  std::vector<std::size_t> post_offsets(columns + 1, 0);
  for (const std::uint32_t c : rows.columns) {
    ++post_offsets[c + 1];
  }
  for (std::size_t c = 0; c < columns; ++c) {
    post_offsets[c + 1] += post_offsets[c];
  }
  std::vector<std::uint32_t> post_row(rows.columns.size());
  std::vector<double> post_value(rows.columns.size());
  {
    std::vector<std::size_t> fill(post_offsets.begin(), post_offsets.end() - 1);
    for (std::size_t r = 0; r < n; ++r) {
      for (std::size_t i = rows.offsets[r]; i < rows.offsets[r + 1]; ++i) {
        const std::size_t at = fill[rows.columns[i]]++;
        post_row[at] = static_cast<std::uint32_t>(r);
        post_value[at] = rows.values[i];
      }
    }
  }

  const unsigned workers = std::max(1u, threads);
  std::vector<L1Scratch> scratch(workers);
  detail::parallel_chunks(n, workers, 64, [&](unsigned w, std::size_t begin, std::size_t end) {
    L1Scratch& s = scratch[w];
    if (s.stamp.size() != n) {
      s.shared.assign(n, 0.0);
      s.stamp.assign(n, 0);
    }
    for (std::size_t a = begin; a < end; ++a) {
      if (only != nullptr && !(*only)[a]) {
        continue;
      }
      const auto mark = static_cast<std::uint32_t>(a + 1);
      s.touched.clear();
      // Columns in ascending order, so Σ min is summed in the same order for
      // (a, b) and (b, a): the distance is symmetric bit for bit.
      for (std::size_t i = rows.offsets[a]; i < rows.offsets[a + 1]; ++i) {
        const std::uint32_t c = rows.columns[i];
        const double va = rows.values[i];
        for (std::size_t p = post_offsets[c]; p < post_offsets[c + 1]; ++p) {
          const std::uint32_t b = post_row[p];
          if (b == a) {
            continue;
          }
          if (s.stamp[b] != mark) {
            s.stamp[b] = mark;
            s.shared[b] = 0.0;
            s.touched.push_back(b);
          }
          s.shared[b] += std::min(va, post_value[p]);
        }
      }
      s.scored.clear();
      for (const std::uint32_t b : s.touched) {
        const double d = std::max(0.0, 2.0 - 2.0 * s.shared[b]);
        if (d < 2.0) {
          s.scored.push_back({d, b});
        }
      }
      std::size_t take = std::min(k, s.scored.size());
      if (s.scored.size() > k) {
        std::nth_element(s.scored.begin(), s.scored.begin() + static_cast<std::ptrdiff_t>(k), s.scored.end());
      }
      std::sort(s.scored.begin(), s.scored.begin() + static_cast<std::ptrdiff_t>(take));
      std::uint32_t* index = &out.index[a * k];
      double* distance = &out.distance[a * k];
      for (std::size_t j = 0; j < take; ++j) {
        index[j] = s.scored[j].index;
        distance[j] = s.scored[j].distance;
      }
      // Too few rows share a column: the rest are all exactly 2 away, taken
      // by ascending index (skipping rows already listed).
      for (std::uint32_t b = 0; take < k; ++b) {
        if (b == a) {
          continue;
        }
        if (s.stamp[b] == mark && s.shared[b] > 0.0 && 2.0 - 2.0 * s.shared[b] < 2.0) {
          continue;
        }
        index[take] = b;
        distance[take] = 2.0;
        ++take;
      }
    }
  });
  return out;
}

PairList candidate_pairs(const NeighborLists& lists, unsigned threads) {
  const std::size_t n = lists.rows;
  // Bucket by the lower index, then sort and de-duplicate each bucket.
  std::vector<std::size_t> offsets(n + 1, 0);
  for (std::size_t r = 0; r < n; ++r) {
    for (std::size_t j = 0; j < lists.k; ++j) {
      const std::uint32_t s = lists.index[r * lists.k + j];
      ++offsets[std::min<std::size_t>(r, s) + 1];
    }
  }
  for (std::size_t r = 0; r < n; ++r) {
    offsets[r + 1] += offsets[r];
  }
  std::vector<std::uint32_t> upper(offsets[n]);
  {
    std::vector<std::size_t> fill(offsets.begin(), offsets.end() - 1);
    for (std::size_t r = 0; r < n; ++r) {
      for (std::size_t j = 0; j < lists.k; ++j) {
        const std::uint32_t s = lists.index[r * lists.k + j];
        const std::size_t lo = std::min<std::size_t>(r, s);
        upper[fill[lo]++] = static_cast<std::uint32_t>(std::max<std::size_t>(r, s));
      }
    }
  }
  // Buckets are sorted and de-duplicated in place, in parallel; kept[r] is
  // bucket r's distinct count. Then one pass in bucket order compacts them.
  std::vector<std::size_t> kept(n, 0);
  detail::parallel_chunks(n, std::max(1u, threads), 256, [&](unsigned, std::size_t first, std::size_t last) {
    for (std::size_t r = first; r < last; ++r) {
      auto begin = upper.begin() + static_cast<std::ptrdiff_t>(offsets[r]);
      auto end = upper.begin() + static_cast<std::ptrdiff_t>(offsets[r + 1]);
      std::sort(begin, end);
      kept[r] = static_cast<std::size_t>(std::unique(begin, end) - begin);
    }
  });
  std::size_t total = 0;
  for (const std::size_t k : kept) {
    total += k;
  }
  PairList pairs;
  pairs.first.reserve(total);
  pairs.second.reserve(total);
  for (std::size_t r = 0; r < n; ++r) {
    for (std::size_t j = 0; j < kept[r]; ++j) {
      pairs.first.push_back(static_cast<std::uint32_t>(r));
      pairs.second.push_back(upper[offsets[r] + j]);
    }
  }
  return pairs;
}

SparseDistanceGraph sparse_distance_graph(std::size_t rows, const PairList& pairs,
                                          std::span<const float> distances, unsigned threads) {
  if (distances.size() != pairs.size()) {
    throw std::invalid_argument("sparse_distance_graph: size mismatch");
  }
  SparseDistanceGraph g;
  g.rows = rows;
  g.offsets.assign(rows + 1, 0);
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    ++g.offsets[pairs.first[i] + 1];
    ++g.offsets[pairs.second[i] + 1];
  }
  for (std::size_t r = 0; r < rows; ++r) {
    g.offsets[r + 1] += g.offsets[r];
  }
  const std::size_t total = g.offsets[rows];
  g.neighbor.resize(total);
  g.distance.resize(total);
  std::vector<std::size_t> fill(g.offsets.begin(), g.offsets.end() - 1);
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    const std::uint32_t a = pairs.first[i];
    const std::uint32_t b = pairs.second[i];
    std::size_t at = fill[a]++;
    g.neighbor[at] = b, g.distance[at] = distances[i];
    at = fill[b]++;
    g.neighbor[at] = a, g.distance[at] = distances[i];
  }
  // Each row sorted by (distance, neighbour) as one 64-bit key: the
  // distance's order bits, then the index. Rows in parallel.
  const unsigned workers = std::max(1u, threads);
  std::vector<std::vector<std::uint64_t>> keys(workers);
  detail::parallel_chunks(rows, workers, 256, [&](unsigned w, std::size_t first, std::size_t last) {
    std::vector<std::uint64_t>& key = keys[w];
    for (std::size_t r = first; r < last; ++r) {
      const std::size_t begin = g.offsets[r];
      const std::size_t len = g.offsets[r + 1] - begin;
      key.resize(len);
      for (std::size_t j = 0; j < len; ++j) {
        key[j] = (std::uint64_t{float_order_bits(g.distance[begin + j])} << 32) | g.neighbor[begin + j];
      }
      std::sort(key.begin(), key.end());
      for (std::size_t j = 0; j < len; ++j) {
        g.neighbor[begin + j] = static_cast<std::uint32_t>(key[j]);
        g.distance[begin + j] = float_from_order_bits(static_cast<std::uint32_t>(key[j] >> 32));
      }
    }
  });
  return g;
}

NeighborLists nearest_in_graph(const SparseDistanceGraph& graph, std::size_t k, double absent_distance,
                               unsigned threads) {
  const std::size_t n = graph.rows;
  if (k > 0 && k >= n) {
    throw std::invalid_argument("nearest_in_graph: k must be below the number of rows");
  }
  NeighborLists out;
  out.rows = n;
  out.k = k;
  out.index.resize(n * k);
  out.distance.resize(n * k);
  const unsigned workers = std::max(1u, threads);
  std::vector<std::vector<std::uint32_t>> stamps(workers);
  detail::parallel_chunks(n, workers, 256, [&](unsigned w, std::size_t first, std::size_t last) {
    std::vector<std::uint32_t>& stamp = stamps[w];
    if (stamp.size() != n) {
      stamp.assign(n, 0);
    }
    for (std::size_t r = first; r < last; ++r) {
      const auto mark = static_cast<std::uint32_t>(r + 1);
      const std::size_t begin = graph.offsets[r];
      const std::size_t end = graph.offsets[r + 1];
      for (std::size_t j = begin; j < end; ++j) {
        stamp[graph.neighbor[j]] = mark;
      }
      stamp[r] = mark;
      // Merge the known partners (sorted) with the absent ones (ascending index).
      std::size_t known = begin;
      std::uint32_t absent = 0;
      auto next_absent = [&]() {
        while (absent < n && stamp[absent] == mark) {
          ++absent;
        }
      };
      next_absent();
      for (std::size_t t = 0; t < k; ++t) {
        bool take_known = known < end;
        if (take_known && absent < n) {
          const double d = graph.distance[known];
          take_known = d < absent_distance || (d == absent_distance && graph.neighbor[known] < absent);
        }
        if (take_known) {
          out.index[r * k + t] = graph.neighbor[known];
          out.distance[r * k + t] = graph.distance[known];
          ++known;
        } else {
          out.index[r * k + t] = absent;
          out.distance[r * k + t] = absent_distance;
          ++absent;
          next_absent();
        }
      }
    }
  });
  return out;
}

}  // namespace cocktail::analytics

#include "cocktail/analytics/em.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <optional>
#include <stdexcept>

#include "cocktail_space_parallel.h"

namespace cocktail::analytics {
namespace {

double elapsed_ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

PairTransport::PairTransport(const SparseRows& masses, std::span<const float> cost, std::size_t m)
    : masses_(masses), cost_(cost), m_(m) {
  if (cost.size() != m * m) {
    throw std::invalid_argument("PairTransport: cost must be m × m");
  }
}

double PairTransport::distance(std::uint32_t r, std::uint32_t s) {
  if (r > s) {
    std::swap(r, s);
  }
  const std::size_t ra = masses_.offsets[r];
  const std::size_t na = masses_.offsets[r + 1] - ra;
  const std::size_t sb = masses_.offsets[s];
  const std::size_t nb = masses_.offsets[s + 1] - sb;
  block_.resize(na * nb);
  for (std::size_t i = 0; i < na; ++i) {
    const float* row = cost_.data() + static_cast<std::size_t>(masses_.columns[ra + i]) * m_;
    double* out = block_.data() + i * nb;
    for (std::size_t j = 0; j < nb; ++j) {
      out[j] = row[masses_.columns[sb + j]];
    }
  }
  // Rows are contiguous in `masses`: the solver reads them in place.
  return solver_.solve(std::span<const double>(masses_.values).subspan(ra, na),
                       std::span<const double>(masses_.values).subspan(sb, nb), block_);
}

double PairTransport::solve(std::uint32_t r, std::uint32_t s, std::vector<SetFlow>& plan) {
  const double d = distance(r, s);
  const std::uint32_t lo = std::min(r, s);
  const std::uint32_t hi = std::max(r, s);
  plan.clear();
  for (const TransportFlow& f : solver_.plan()) {
    plan.push_back(
        {masses_.columns[masses_.offsets[lo] + f.from], masses_.columns[masses_.offsets[hi] + f.to], f.mass});
  }
  return d;
}

StrongFlows strongest_flows(std::span<const SetFlow> plan) {
  StrongFlows out;
  if (plan.empty()) {
    return out;
  }
  double largest = 0.0;
  for (const SetFlow& f : plan) {
    largest = std::max(largest, f.mass);
  }
  const double floor = 0.05 * largest;
  // Insertion into a 3-slot list, largest first; equal masses keep plan order.
  for (const SetFlow& f : plan) {
    if (f.mass < floor) {
      continue;
    }
    std::size_t at = out.count;
    while (at > 0 && out.flows[at - 1].mass < f.mass) {
      --at;
    }
    if (at >= 3) {
      continue;
    }
    const std::size_t last = std::min<std::size_t>(out.count, 2);
    for (std::size_t k = last; k > at; --k) {
      out.flows[k] = out.flows[k - 1];
    }
    out.flows[at] = f;
    out.count = static_cast<std::uint8_t>(std::min<std::size_t>(out.count + 1u, 3u));
  }
  return out;
}

SparseMatrix expected_matches(std::size_t m, const NeighborLists& nearest,
                              std::span<const StrongFlows> plans) {
  if (plans.size() != nearest.rows * nearest.k) {
    throw std::invalid_argument("expected_matches: plans per slot");
  }
  struct Entry {
    std::uint64_t key;  // row · m + col
    double value;
  };
  std::vector<Entry> entries;
  std::vector<double> weight(nearest.k);
  for (std::size_t r = 0; r < nearest.rows; ++r) {
    const double* d = &nearest.distance[r * nearest.k];
    double nearest_d = std::numeric_limits<double>::infinity();
    for (std::size_t j = 0; j < nearest.k; ++j) {
      nearest_d = std::min(nearest_d, d[j]);
    }
    if (!std::isfinite(nearest_d)) {
      continue;
    }
    double total = 0.0;
    for (std::size_t j = 0; j < nearest.k; ++j) {
      weight[j] = std::isfinite(d[j]) ? std::exp(-(d[j] - nearest_d)) : 0.0;
      total += weight[j];
    }
    for (std::size_t j = 0; j < nearest.k; ++j) {
      if (weight[j] == 0.0) {
        continue;
      }
      const double w = weight[j] / total;
      const StrongFlows& strong = plans[r * nearest.k + j];
      for (std::size_t f = 0; f < strong.count; ++f) {
        const SetFlow& flow = strong.flows[f];
        entries.push_back({static_cast<std::uint64_t>(flow.from) * m + flow.to, w * flow.mass});
      }
    }
  }
  // Sum per cell in the order contributions were made (stable sort).
  std::stable_sort(entries.begin(), entries.end(),
                   [](const Entry& a, const Entry& b) { return a.key < b.key; });
  std::vector<Entry> t;
  for (std::size_t i = 0; i < entries.size();) {
    const std::uint64_t key = entries[i].key;
    double sum = 0.0;
    for (; i < entries.size() && entries[i].key == key; ++i) {
      sum += entries[i].value;
    }
    t.push_back({key, sum});
  }
  // (T + Tᵀ) / 2: each cell meets its mirror (if any) once.
  std::vector<Entry> both;
  both.reserve(2 * t.size());
  for (const Entry& e : t) {
    both.push_back(e);
    const std::uint64_t i = e.key / m;
    const std::uint64_t j = e.key % m;
    both.push_back({j * m + i, e.value});
  }
  std::stable_sort(both.begin(), both.end(), [](const Entry& a, const Entry& b) { return a.key < b.key; });
  SparseMatrix out;
  out.m = m;
  for (std::size_t i = 0; i < both.size();) {
    const std::uint64_t key = both[i].key;
    double sum = 0.0;
    for (; i < both.size() && both[i].key == key; ++i) {
      sum += both[i].value;
    }
    out.row.push_back(static_cast<std::uint32_t>(key / m));
    out.col.push_back(static_cast<std::uint32_t>(key % m));
    out.value.push_back(sum / 2.0);
  }
  return out;
}

std::vector<float> log_odds_costs(const SparseMatrix& t, unsigned threads) {
  const std::size_t m = t.m;
  constexpr double kAlpha = 1.0;
  std::vector<double> row_sum(m, 0.0);
  std::vector<double> col_sum(m, 0.0);
  double total = 0.0;
  for (std::size_t e = 0; e < t.value.size(); ++e) {
    row_sum[t.row[e]] += t.value[e];
    col_sum[t.col[e]] += t.value[e];
    total += t.value[e];
  }
  const double am = kAlpha * static_cast<double>(m);
  const double denominator = total + kAlpha * static_cast<double>(m) * static_cast<double>(m);
  std::vector<std::size_t> row_start(m + 1, 0);
  for (const std::uint32_t r : t.row) {
    ++row_start[r + 1];
  }
  for (std::size_t i = 0; i < m; ++i) {
    row_start[i + 1] += row_start[i];
  }

  auto log_odds = [&](std::size_t i, std::size_t j, double tij) {
    const double expected = (row_sum[i] + am) * (col_sum[j] + am) / denominator;
    const double s = (tij + kAlpha) / (expected + 1e-12);
    return -std::log(s + 1e-12);
  };
  // Pass 1: the minimum (rows in parallel, combined in row order).
  std::vector<double> row_min(m, std::numeric_limits<double>::infinity());
  auto for_row = [&](std::size_t i, auto&& visit) {
    std::size_t e = row_start[i];
    for (std::size_t j = 0; j < m; ++j) {
      double tij = 0.0;
      if (e < row_start[i + 1] && t.col[e] == j) {
        tij = t.value[e++];
      }
      visit(j, log_odds(i, j, tij));
    }
  };
  detail::parallel_chunks(m, threads, 16, [&](unsigned, std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) {
      double lowest = std::numeric_limits<double>::infinity();
      for_row(i, [&](std::size_t, double c) { lowest = std::min(lowest, c); });
      row_min[i] = lowest;
    }
  });
  double lowest = std::numeric_limits<double>::infinity();
  for (const double x : row_min) {
    lowest = std::min(lowest, x);
  }

  // Pass 2: the median of the shifted off-diagonal values (mean of the two
  // middle ones for an even count), selected on a float32 copy to bound
  // memory at m² floats.
  double median = 0.0;
  if (m > 1) {
    std::vector<float> off_diagonal(m * (m - 1));
    detail::parallel_chunks(m, threads, 16, [&](unsigned, std::size_t begin, std::size_t end) {
      for (std::size_t i = begin; i < end; ++i) {
        float* off = off_diagonal.data() + i * (m - 1);
        for_row(i, [&](std::size_t j, double c) {
          if (j != i) {
            *off++ = static_cast<float>(c - lowest);
          }
        });
      }
    });
    const std::size_t count = off_diagonal.size();
    const auto mid = off_diagonal.begin() + static_cast<std::ptrdiff_t>(count / 2);
    std::nth_element(off_diagonal.begin(), mid, off_diagonal.end());
    median = *mid;
    if (count % 2 == 0) {
      median = (median + static_cast<double>(*std::max_element(off_diagonal.begin(), mid))) / 2.0;
    }
  }
  const double divisor = median > 0.0 ? median : 1.0;

  // Pass 3: each entry computed once more in double and rounded once.
  std::vector<float> cost(m * m, 0.0f);
  detail::parallel_chunks(m, threads, 16, [&](unsigned, std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) {
      float* out = cost.data() + i * m;
      for_row(i, [&](std::size_t j, double c) {
        out[j] = j == i ? 0.0f : static_cast<float>((c - lowest) / divisor);
      });
    }
  });
  return cost;
}

double relative_change(std::span<const float> next, std::span<const float> current) {
  if (next.size() != current.size()) {
    throw std::invalid_argument("relative_change: size mismatch");
  }
  double diff = 0.0;
  double norm = 0.0;
  for (std::size_t i = 0; i < next.size(); ++i) {
    const double d = static_cast<double>(next[i]) - static_cast<double>(current[i]);
    diff += d * d;
    norm += static_cast<double>(current[i]) * static_cast<double>(current[i]);
  }
  return std::sqrt(diff) / (std::sqrt(norm) + 1e-12);
}

namespace {

// The first E-step's candidate lists of a warm start: an unchanged row
// keeps its previous list when every partner in it is still there; any
// other row (new, changed, or a partner gone) takes its k nearest by L1, as
// in a cold start.
NeighborLists warm_candidates(const SparseRows& masses, std::size_t m, std::size_t k, const EmWarmStart& warm,
                              unsigned threads) {
  const std::size_t n = masses.rows();
  std::vector<std::int64_t> current_row(warm.candidates.rows, -1);
  for (std::size_t r = 0; r < n; ++r) {
    if (warm.previous_row[r] >= 0) {
      current_row[static_cast<std::size_t>(warm.previous_row[r])] = static_cast<std::int64_t>(r);
    }
  }
  NeighborLists out;
  out.rows = n;
  out.k = k;
  out.index.resize(n * k);
  out.distance.resize(n * k);
  std::vector<bool> by_l1(n, true);
  bool any_l1 = false;
  for (std::size_t r = 0; r < n; ++r) {
    if (warm.unchanged[r] && warm.candidates.k == k) {
      const auto p = static_cast<std::size_t>(warm.previous_row[r]);
      bool whole = true;
      for (std::size_t j = 0; j < k && whole; ++j) {
        const std::int64_t s = current_row[warm.candidates.index[p * k + j]];
        whole = s >= 0;
        if (whole) {
          out.index[r * k + j] = static_cast<std::uint32_t>(s);
          out.distance[r * k + j] = warm.candidates.distance[p * k + j];
        }
      }
      by_l1[r] = !whole;
    }
    any_l1 = any_l1 || by_l1[r];
  }
  if (any_l1) {
    const NeighborLists l1 = l1_nearest(masses, m, k, threads, &by_l1);
    for (std::size_t r = 0; r < n; ++r) {
      if (!by_l1[r]) {
        continue;
      }
      std::copy_n(l1.index.begin() + static_cast<std::ptrdiff_t>(r * k), k,
                  out.index.begin() + static_cast<std::ptrdiff_t>(r * k));
      std::copy_n(l1.distance.begin() + static_cast<std::ptrdiff_t>(r * k), k,
                  out.distance.begin() + static_cast<std::ptrdiff_t>(r * k));
    }
  }
  return out;
}

// The previous distance of the pair of previous rows (a, b), if computed.
std::optional<float> previous_distance(const EmWarmStart& warm, std::uint32_t a, std::uint32_t b) {
  if (a > b) {
    std::swap(a, b);
  }
  auto lo = std::lower_bound(warm.pairs.first.begin(), warm.pairs.first.end(), a);
  auto hi = std::upper_bound(lo, warm.pairs.first.end(), a);
  const auto from = static_cast<std::size_t>(lo - warm.pairs.first.begin());
  const auto to = static_cast<std::size_t>(hi - warm.pairs.first.begin());
  auto at = std::lower_bound(warm.pairs.second.begin() + static_cast<std::ptrdiff_t>(from),
                             warm.pairs.second.begin() + static_cast<std::ptrdiff_t>(to), b);
  if (at == warm.pairs.second.begin() + static_cast<std::ptrdiff_t>(to) || *at != b) {
    return std::nullopt;
  }
  return warm.distances[static_cast<std::size_t>(at - warm.pairs.second.begin())];
}

}  // namespace

EmResult run_em(const SparseRows& masses, std::size_t m, std::vector<float> initial_cost,
                const EmOptions& options, const EmWarmStart* warm) {
  const std::size_t n = masses.rows();
  if (warm != nullptr) {
    if (warm->cost.size() != m * m || warm->previous_row.size() != n || warm->unchanged.size() != n) {
      throw std::invalid_argument("run_em: warm start of another shape");
    }
    initial_cost = warm->cost;
  }
  if (initial_cost.size() != m * m) {
    throw std::invalid_argument("run_em: cost must be m × m");
  }
  const unsigned threads = std::max(1u, options.threads);
  EmResult result;
  result.warm = warm != nullptr;
  result.candidate_k = candidate_count(n, options.candidate_cap);
  result.cost = std::move(initial_cost);
  const std::size_t match_k = std::min(options.match_neighbors, n > 0 ? n - 1 : 0);

  auto start = std::chrono::steady_clock::now();
  NeighborLists lists = warm != nullptr ? warm_candidates(masses, m, result.candidate_k, *warm, threads)
                                        : l1_nearest(masses, m, result.candidate_k, threads);
  PairList pairs = candidate_pairs(lists, threads);
  result.durations_ms.emplace_back("candidates", elapsed_ms(start));

  std::vector<PairTransport> transports;
  std::vector<std::vector<SetFlow>> plan_scratch(threads);
  for (std::size_t iteration = 1; iteration <= std::max<std::size_t>(1, options.max_iterations);
       ++iteration) {
    start = std::chrono::steady_clock::now();
    if (iteration > 1) {
      lists = nearest_in_graph(result.graph, result.candidate_k, std::numeric_limits<double>::infinity(),
                               threads);
      pairs = candidate_pairs(lists, threads);
    }
    transports.clear();
    for (unsigned w = 0; w < threads; ++w) {
      transports.emplace_back(masses, result.cost, m);
    }

    // E-step: every candidate pair on its own (on a warm start, a pair of
    // unchanged rows computed last time under these same costs is taken
    // from then).
    std::vector<float> distances(pairs.size());
    std::vector<std::size_t> reused(threads, 0);
    const bool reuse = warm != nullptr && iteration == 1;
    detail::parallel_chunks(pairs.size(), threads, 256, [&](unsigned w, std::size_t begin, std::size_t end) {
      for (std::size_t p = begin; p < end; ++p) {
        const std::uint32_t a = pairs.first[p];
        const std::uint32_t b = pairs.second[p];
        if (reuse && warm->unchanged[a] && warm->unchanged[b]) {
          if (const auto d = previous_distance(*warm, static_cast<std::uint32_t>(warm->previous_row[a]),
                                               static_cast<std::uint32_t>(warm->previous_row[b]))) {
            distances[p] = *d;
            ++reused[w];
            continue;
          }
        }
        distances[p] = static_cast<float>(transports[w].distance(a, b));
      }
    });
    std::size_t reused_now = 0;
    for (const std::size_t r : reused) {
      reused_now += r;
    }
    result.pairs_reused += reused_now;
    result.pairs_solved += pairs.size() - reused_now;
    result.graph = sparse_distance_graph(n, pairs, distances, threads);
    result.candidates = std::move(lists);
    lists = NeighborLists{};
    result.pairs = std::move(pairs);
    result.distances = std::move(distances);
    result.iterations = iteration;
    pairs = PairList{};

    const bool last = iteration >= options.max_iterations;
    if (!last && m > 0 && match_k > 0) {
      // Expected matches from each recipe's nearest recipes; their plans are
      // solved again here (deterministically the same plan) rather than kept
      // for every candidate pair, which would cost O(pairs · support) memory.
      const NeighborLists nearest =
          nearest_in_graph(result.graph, match_k, std::numeric_limits<double>::infinity(), threads);
      std::vector<StrongFlows> strong(n * match_k);
      detail::parallel_chunks(n, threads, 32, [&](unsigned w, std::size_t begin, std::size_t end) {
        for (std::size_t r = begin; r < end; ++r) {
          for (std::size_t j = 0; j < match_k; ++j) {
            if (!std::isfinite(nearest.distance[r * match_k + j])) {
              continue;
            }
            transports[w].solve(static_cast<std::uint32_t>(r), nearest.index[r * match_k + j],
                                plan_scratch[w]);
            strong[r * match_k + j] = strongest_flows(plan_scratch[w]);
          }
        }
      });
      const SparseMatrix matches = expected_matches(m, nearest, strong);
      std::vector<float> next = log_odds_costs(matches, threads);
      const double change = relative_change(next, result.cost);
      result.relative_changes.push_back(change);
      result.durations_ms.emplace_back("em_iter_" + std::to_string(iteration), elapsed_ms(start));
      if (change < options.tolerance) {
        result.converged = true;
        break;
      }
      result.cost = std::move(next);
    } else {
      result.durations_ms.emplace_back("em_iter_" + std::to_string(iteration), elapsed_ms(start));
      break;
    }
  }
  return result;
}

}  // namespace cocktail::analytics

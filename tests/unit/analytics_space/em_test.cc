// The EM pieces on hand-computed cases, and run_em against a slow dense
// implementation written here from the definition (with this project's
// EmdSolver, and with LEMON's NetworkSimplex as an independent solver).
#include "cocktail/analytics/em.h"

#include <gtest/gtest.h>
#include <lemon/network_simplex.h>
#include <lemon/smart_graph.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>

#include "cocktail/analytics/rollup.h"
#include "cocktail/analytics/volumes.h"
#include "seeded_catalog.h"

namespace cocktail::analytics {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

TEST(StrongestFlows, ThresholdAndTopThree) {
  const std::vector<SetFlow> plan{{0, 0, 0.5}, {0, 1, 0.02}, {1, 1, 0.3}, {2, 1, 0.1}, {2, 2, 0.08}};
  const StrongFlows s = strongest_flows(plan);
  ASSERT_EQ(s.count, 3);
  EXPECT_EQ(s.flows[0].mass, 0.5);
  EXPECT_EQ(s.flows[1].mass, 0.3);
  EXPECT_EQ(s.flows[2].mass, 0.1);
  // 0.05 × largest is the floor: 0.02 < 0.025 is dropped even when there is room.
  const std::vector<SetFlow> small{{0, 0, 0.5}, {0, 1, 0.02}};
  EXPECT_EQ(strongest_flows(small).count, 1);
  // Equal masses keep plan order.
  const std::vector<SetFlow> ties{{0, 0, 0.25}, {0, 1, 0.25}, {1, 1, 0.25}, {1, 2, 0.25}};
  const StrongFlows t = strongest_flows(ties);
  ASSERT_EQ(t.count, 3);
  EXPECT_EQ(t.flows[0].to, 0u);
  EXPECT_EQ(t.flows[1].to, 1u);
  EXPECT_EQ(t.flows[2].from, 1u);
  EXPECT_EQ(strongest_flows({}).count, 0);
}

double at(const SparseMatrix& t, std::uint32_t i, std::uint32_t j) {
  for (std::size_t e = 0; e < t.value.size(); ++e) {
    if (t.row[e] == i && t.col[e] == j) {
      return t.value[e];
    }
  }
  return 0.0;
}

StrongFlows flows(std::initializer_list<SetFlow> list) { return strongest_flows(std::vector<SetFlow>(list)); }

TEST(ExpectedMatches, TwoRecipesHandComputed) {
  // Each recipe's only neighbour is the other, so both add the same plan
  // (oriented from recipe 0): T = [[1.2, 0.8], [0, 0]] → (T + Tᵀ)/2.
  NeighborLists nearest{2, 1, {1, 0}, {0.5, 0.5}};
  const std::vector<StrongFlows> plans{flows({{0, 0, 0.6}, {0, 1, 0.4}}), flows({{0, 0, 0.6}, {0, 1, 0.4}})};
  const SparseMatrix t = expected_matches(2, nearest, plans);
  EXPECT_DOUBLE_EQ(at(t, 0, 0), 1.2);
  EXPECT_DOUBLE_EQ(at(t, 0, 1), 0.4);
  EXPECT_DOUBLE_EQ(at(t, 1, 0), 0.4);
  EXPECT_EQ(at(t, 1, 1), 0.0);
  EXPECT_EQ(t.value.size(), 3u);
}

TEST(ExpectedMatches, WeightsFromDistancesAndInfinityIgnored) {
  // Recipe 0: neighbours at 1.0 and 2.0 → weights 1/(1+e⁻¹), e⁻¹/(1+e⁻¹).
  // Recipe 1: one finite neighbour (weight 1) and one at +∞ (weight 0).
  // Recipe 2: all +∞ → nothing.
  NeighborLists nearest{3, 2, {1, 2, 0, 2, 0, 1}, {1.0, 2.0, 1.0, kInf, kInf, kInf}};
  std::vector<StrongFlows> plans(6);
  plans[0] = flows({{0, 1, 1.0}});
  plans[1] = flows({{1, 2, 0.7}, {2, 2, 0.3}});
  plans[2] = flows({{0, 1, 1.0}});
  plans[3] = flows({{2, 0, 1.0}});  // never used: +∞
  const SparseMatrix t = expected_matches(3, nearest, plans);
  const double w1 = 1.0 / (1.0 + std::exp(-1.0));
  const double w2 = std::exp(-1.0) / (1.0 + std::exp(-1.0));
  EXPECT_NEAR(at(t, 0, 1), (w1 + 1.0) / 2.0, 1e-15);
  EXPECT_NEAR(at(t, 1, 0), (w1 + 1.0) / 2.0, 1e-15);
  EXPECT_NEAR(at(t, 1, 2), w2 * 0.7 / 2.0, 1e-15);
  EXPECT_NEAR(at(t, 2, 1), w2 * 0.7 / 2.0, 1e-15);
  EXPECT_NEAR(at(t, 2, 2), w2 * 0.3, 1e-15);
  EXPECT_EQ(at(t, 2, 0), 0.0);
}

TEST(LogOddsCosts, TwoIngredientsHandComputed) {
  // T = [[1.2, 0.4], [0.4, 0]], α = 1, m = 2: E = [[2.16, 1.44], [1.44, 0.96]],
  // S = (T + 1)/E, C = −ln S; min is C11 = −ln(1/0.96); after the shift the
  // off-diagonal values are equal, so dividing by their median gives 1.
  SparseMatrix t{2, {0, 0, 1}, {0, 1, 0}, {1.2, 0.4, 0.4}};
  const std::vector<float> c = log_odds_costs(t);
  EXPECT_EQ(c, (std::vector<float>{0.0f, 1.0f, 1.0f, 0.0f}));
}

TEST(LogOddsCosts, ThreeIngredientsAgainstTheFormula) {
  const double tm[3][3] = {{2.0, 0.5, 0.1}, {0.5, 1.0, 0.0}, {0.1, 0.0, 0.4}};
  SparseMatrix t{3, {}, {}, {}};
  for (std::uint32_t i = 0; i < 3; ++i) {
    for (std::uint32_t j = 0; j < 3; ++j) {
      if (tm[i][j] != 0.0) {
        t.row.push_back(i), t.col.push_back(j), t.value.push_back(tm[i][j]);
      }
    }
  }
  double row[3] = {}, col[3] = {}, total = 0.0;
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) {
      row[i] += tm[i][j], col[j] += tm[i][j], total += tm[i][j];
    }
  }
  double c[3][3];
  double lowest = kInf;
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) {
      const double e = (row[i] + 3.0) * (col[j] + 3.0) / (total + 9.0);
      c[i][j] = -std::log((tm[i][j] + 1.0) / (e + 1e-12) + 1e-12);
      lowest = std::min(lowest, c[i][j]);
    }
  }
  std::vector<double> off;
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) {
      if (i != j) {
        off.push_back(c[i][j] - lowest);
      }
    }
  }
  std::sort(off.begin(), off.end());
  const double median = (off[2] + off[3]) / 2.0;
  const std::vector<float> got = log_odds_costs(t, 2);
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) {
      const double want = i == j ? 0.0 : (c[i][j] - lowest) / median;
      EXPECT_NEAR(got[i * 3 + j], want, 1e-6) << i << "," << j;
    }
  }
}

TEST(LogOddsCosts, RelativeChange) {
  const std::vector<float> a{0, 3, 4, 0};
  const std::vector<float> b{0, 3, 4, 0};
  EXPECT_EQ(relative_change(a, b), 0.0);
  const std::vector<float> c{0, 0, 0, 0};
  EXPECT_NEAR(relative_change(c, a), 1.0, 1e-12);
}

// ---- A slow dense EM written from the definition.

using PairSolver = std::function<double(const std::vector<double>& a, const std::vector<double>& b,
                                        const std::vector<double>& cost, std::vector<SetFlow>& plan)>;

PairSolver emd_solver() {
  auto solver = std::make_shared<EmdSolver>();
  return [solver](const std::vector<double>& a, const std::vector<double>& b, const std::vector<double>& cost,
                  std::vector<SetFlow>& plan) {
    const double d = solver->solve(a, b, cost);
    plan.clear();
    for (const auto& f : solver->plan()) {
      plan.push_back({f.from, f.to, f.mass});
    }
    return d;
  };
}

// LEMON with masses in 1e-9 units and costs in 1e-6 units.
PairSolver lemon_solver() {
  return [](const std::vector<double>& a, const std::vector<double>& b, const std::vector<double>& cost,
            std::vector<SetFlow>& plan) {
    lemon::SmartDigraph g;
    std::vector<lemon::SmartDigraph::Node> nodes;
    for (std::size_t i = 0; i < a.size() + b.size(); ++i) {
      nodes.push_back(g.addNode());
    }
    lemon::SmartDigraph::ArcMap<std::int64_t> c(g);
    std::vector<lemon::SmartDigraph::Arc> arcs;
    for (std::size_t i = 0; i < a.size(); ++i) {
      for (std::size_t j = 0; j < b.size(); ++j) {
        arcs.push_back(g.addArc(nodes[i], nodes[a.size() + j]));
        c[arcs.back()] = std::llround(cost[i * b.size() + j] * 1e6);
      }
    }
    const double sa = std::accumulate(a.begin(), a.end(), 0.0);
    const double sb = std::accumulate(b.begin(), b.end(), 0.0);
    lemon::SmartDigraph::NodeMap<std::int64_t> supply(g);
    std::int64_t balance = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
      balance += supply[nodes[i]] = std::llround(a[i] * 1e9);
    }
    for (std::size_t j = 0; j < b.size(); ++j) {
      balance += supply[nodes[a.size() + j]] = -std::llround(b[j] * sa / sb * 1e9);
    }
    supply[nodes[a.size()]] -= balance;
    lemon::NetworkSimplex<lemon::SmartDigraph, std::int64_t, std::int64_t> ns(g);
    ns.costMap(c).supplyMap(supply);
    EXPECT_EQ(ns.run(), decltype(ns)::OPTIMAL);
    plan.clear();
    for (std::size_t i = 0; i < a.size(); ++i) {
      for (std::size_t j = 0; j < b.size(); ++j) {
        const std::int64_t f = ns.flow(arcs[i * b.size() + j]);
        if (f > 0) {
          plan.push_back({static_cast<std::uint32_t>(i), static_cast<std::uint32_t>(j), f * 1e-9});
        }
      }
    }
    return ns.totalCost<double>() / 1e15;
  };
}

struct SlowEmResult {
  std::vector<double> distance;  // n×n, +∞ for non-candidates, 0 diagonal
  std::vector<float> cost;
  std::size_t iterations = 0;
  bool converged = false;
};

SlowEmResult slow_em(const SparseRows& masses, std::size_t m, std::vector<float> cost,
                     std::size_t max_iterations, const PairSolver& solve) {
  const std::size_t n = masses.rows();
  std::vector<double> dense(n * m, 0.0);
  for (std::size_t r = 0; r < n; ++r) {
    for (std::size_t e = masses.offsets[r]; e < masses.offsets[r + 1]; ++e) {
      dense[r * m + masses.columns[e]] = masses.values[e];
    }
  }
  const std::size_t k = std::min<std::size_t>(std::max<std::size_t>(10, n / 10), n - 1);
  const std::size_t match_k = std::min<std::size_t>(10, n - 1);
  auto nearest = [&](const std::vector<double>& d, std::size_t r, std::size_t count) {
    std::vector<std::size_t> order;
    for (std::size_t s = 0; s < n; ++s) {
      if (s != r) {
        order.push_back(s);
      }
    }
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t x, std::size_t y) { return d[r * n + x] < d[r * n + y]; });
    order.resize(count);
    return order;
  };
  // Iteration 1 candidates: L1 on the dense rows, as 2 − 2·Σ min.
  std::vector<double> previous(n * n, 0.0);
  for (std::size_t r = 0; r < n; ++r) {
    for (std::size_t s = 0; s < n; ++s) {
      double shared = 0.0;
      for (std::size_t i = 0; i < m; ++i) {
        shared += std::min(dense[r * m + i], dense[s * m + i]);
      }
      previous[r * n + s] = std::max(0.0, 2.0 - 2.0 * shared);
    }
  }
  SlowEmResult out;
  std::vector<SetFlow> plan;
  for (std::size_t iteration = 1; iteration <= max_iterations; ++iteration) {
    std::vector<bool> candidate(n * n, false);
    for (std::size_t r = 0; r < n; ++r) {
      for (const std::size_t s : nearest(previous, r, k)) {
        candidate[r * n + s] = candidate[s * n + r] = true;
      }
    }
    std::vector<double> d(n * n, kInf);
    std::vector<std::vector<SetFlow>> plans(n * n);
    for (std::size_t r = 0; r < n; ++r) {
      d[r * n + r] = kInf;
      for (std::size_t s = r + 1; s < n; ++s) {
        if (!candidate[r * n + s]) {
          continue;
        }
        std::vector<double> a, b, c;
        std::vector<std::uint32_t> ia, ib;
        for (std::size_t i = 0; i < m; ++i) {
          if (dense[r * m + i] > 0) {
            a.push_back(dense[r * m + i]), ia.push_back(static_cast<std::uint32_t>(i));
          }
          if (dense[s * m + i] > 0) {
            b.push_back(dense[s * m + i]), ib.push_back(static_cast<std::uint32_t>(i));
          }
        }
        for (const auto i : ia) {
          for (const auto j : ib) {
            c.push_back(cost[i * m + j]);
          }
        }
        const double dist = static_cast<float>(solve(a, b, c, plan));
        d[r * n + s] = d[s * n + r] = dist;
        for (auto& f : plan) {
          f.from = ia[f.from], f.to = ib[f.to];
        }
        plans[r * n + s] = plan;
      }
    }
    out.distance = d;
    out.cost = cost;
    out.iterations = iteration;
    for (std::size_t r = 0; r < n; ++r) {
      out.distance[r * n + r] = 0.0;
    }
    if (iteration == max_iterations) {
      break;
    }
    // Expected matches.
    std::vector<double> t(m * m, 0.0);
    for (std::size_t r = 0; r < n; ++r) {
      const auto near = nearest(d, r, match_k);
      double lowest = kInf;
      for (const auto s : near) {
        lowest = std::min(lowest, d[r * n + s]);
      }
      if (!std::isfinite(lowest)) {
        continue;
      }
      std::vector<double> w;
      double total = 0.0;
      for (const auto s : near) {
        w.push_back(std::exp(-(d[r * n + s] - lowest))), total += w.back();
      }
      for (std::size_t j = 0; j < near.size(); ++j) {
        const std::size_t s = near[j];
        if (!std::isfinite(d[r * n + s])) {
          continue;
        }
        const auto& p = plans[std::min(r, s) * n + std::max(r, s)];
        // Flows ≥ 5% of the largest, at most the 3 largest (stable: plan order on ties).
        double largest = 0.0;
        for (const auto& f : p) {
          largest = std::max(largest, f.mass);
        }
        std::vector<SetFlow> kept;
        for (const auto& f : p) {
          if (f.mass >= 0.05 * largest) {
            kept.push_back(f);
          }
        }
        std::stable_sort(kept.begin(), kept.end(),
                         [](const SetFlow& x, const SetFlow& y) { return x.mass > y.mass; });
        if (kept.size() > 3) {
          kept.resize(3);
        }
        for (const auto& f : kept) {
          t[f.from * m + f.to] += w[j] / total * f.mass;
        }
      }
    }
    std::vector<double> sym(m * m);
    for (std::size_t i = 0; i < m; ++i) {
      for (std::size_t j = 0; j < m; ++j) {
        sym[i * m + j] = (t[i * m + j] + t[j * m + i]) / 2.0;
      }
    }
    // M-step, as the definition reads (float32 median selection mirrored).
    std::vector<double> row(m, 0.0), col(m, 0.0);
    double total = 0.0;
    for (std::size_t i = 0; i < m; ++i) {
      for (std::size_t j = 0; j < m; ++j) {
        row[i] += sym[i * m + j], col[j] += sym[i * m + j], total += sym[i * m + j];
      }
    }
    std::vector<double> c(m * m);
    double lowest = kInf;
    for (std::size_t i = 0; i < m; ++i) {
      for (std::size_t j = 0; j < m; ++j) {
        const double e = (row[i] + m) * (col[j] + m) / (total + static_cast<double>(m * m));
        c[i * m + j] = -std::log((sym[i * m + j] + 1.0) / (e + 1e-12) + 1e-12);
        lowest = std::min(lowest, c[i * m + j]);
      }
    }
    std::vector<float> off;
    for (std::size_t i = 0; i < m; ++i) {
      for (std::size_t j = 0; j < m; ++j) {
        if (i != j) {
          off.push_back(static_cast<float>(c[i * m + j] - lowest));
        }
      }
    }
    std::sort(off.begin(), off.end());
    double median = off.empty() ? 0.0 : off[off.size() / 2];
    if (!off.empty() && off.size() % 2 == 0) {
      median = (median + off[off.size() / 2 - 1]) / 2.0;
    }
    std::vector<float> next(m * m, 0.0f);
    for (std::size_t i = 0; i < m; ++i) {
      for (std::size_t j = 0; j < m; ++j) {
        if (i != j) {
          next[i * m + j] = static_cast<float>((c[i * m + j] - lowest) / (median > 0 ? median : 1.0));
        }
      }
    }
    double diff = 0.0, norm = 0.0;
    for (std::size_t i = 0; i < m * m; ++i) {
      diff += (static_cast<double>(next[i]) - cost[i]) * (static_cast<double>(next[i]) - cost[i]);
      norm += static_cast<double>(cost[i]) * cost[i];
    }
    previous = d;
    if (std::sqrt(diff) / (std::sqrt(norm) + 1e-12) < 1e-3) {
      out.converged = true;
      break;
    }
    cost = next;
  }
  return out;
}

struct EmInputs {
  SparseRows masses;
  std::size_t m = 0;
  std::vector<float> cost;
};

EmInputs inputs_of(const catalog::CatalogState& state) {
  const IngredientHierarchy h(state);
  const SparseRows rolled = roll_up(compute_fractions(state, VolumeRule::kDistance).fractions, h);
  const IngredientSet set = ingredient_set_with_ancestors(rolled, h);
  EmInputs in;
  in.masses = to_set_columns(rolled, set);
  for (double& v : in.masses.values) {
    v = static_cast<float>(v);
  }
  in.m = set.size();
  in.cost = tree_cost_matrix(set, h);
  return in;
}

std::vector<double> dense_of(const EmResult& r, std::size_t n) {
  std::vector<double> d(n * n, kInf);
  for (std::size_t i = 0; i < n; ++i) {
    d[i * n + i] = 0.0;
  }
  for (std::size_t p = 0; p < r.pairs.size(); ++p) {
    d[r.pairs.first[p] * n + r.pairs.second[p]] = d[r.pairs.second[p] * n + r.pairs.first[p]] =
        r.distances[p];
  }
  return d;
}

void expect_same_em(const EmInputs& in, std::size_t max_iterations) {
  const std::size_t n = in.masses.rows();
  EmOptions options;
  options.max_iterations = max_iterations;
  options.threads = 1;
  const EmResult one = run_em(in.masses, in.m, in.cost, options);
  options.threads = 2;
  const EmResult two = run_em(in.masses, in.m, in.cost, options);
  EXPECT_EQ(one.distances, two.distances);  // bit for bit, any thread count
  EXPECT_EQ(one.cost, two.cost);
  const SlowEmResult slow = slow_em(in.masses, in.m, in.cost, max_iterations, emd_solver());
  EXPECT_EQ(one.iterations, slow.iterations);
  EXPECT_EQ(one.converged, slow.converged);
  const auto d = dense_of(one, n);
  for (std::size_t i = 0; i < n * n; ++i) {
    if (std::isinf(slow.distance[i])) {
      ASSERT_TRUE(std::isinf(d[i])) << i;
    } else {
      ASSERT_NEAR(d[i], slow.distance[i], 1e-6 * (1.0 + slow.distance[i])) << i;
    }
  }
  for (std::size_t i = 0; i < in.m * in.m; ++i) {
    ASSERT_NEAR(one.cost[i], slow.cost[i], 1e-6 * (1.0 + slow.cost[i]));
  }
}

catalog::CatalogState tiny_catalog() {
  catalog::CatalogState s;
  s.units = {
      {1, "Ounce", "oz", 29.5735}, {6, "Each", "each", std::nullopt}, {8, "to top", "top", std::nullopt}};
  s.ingredients = {{1, "Spirits", std::nullopt, "/1/", false},
                   {2, "Gin", 1, "/1/2/", false},
                   {3, "Gin A", 2, "/1/2/3/", true},
                   {4, "Rum", 1, "/1/4/", false},
                   {5, "Juices", std::nullopt, "/5/", false},
                   {6, "Lime", 5, "/5/6/", false},
                   {7, "Lemon", 5, "/5/7/", false},
                   {8, "Syrups", std::nullopt, "/8/", false},
                   {9, "Simple", 8, "/8/9/", false},
                   {10, "Soda", std::nullopt, "/10/", false}};
  s.recipes = {{1, "Gimlet"},   {2, "Daiquiri"}, {3, "Gin Sour"}, {4, "Rum Highball"},
               {5, "Gin Fizz"}, {6, "Collins"},  {7, "Gin Neat"}};
  s.recipe_ingredients = {
      {1, 1, 3, 1, 2.0},  {2, 1, 6, 1, 0.75},
      {3, 1, 9, 1, 0.75},  // gimlet
      {4, 2, 4, 1, 2.0},  {5, 2, 6, 1, 1.0},
      {6, 2, 9, 1, 0.75},  // daiquiri
      {7, 3, 2, 1, 2.0},  {8, 3, 7, 1, 0.75},
      {9, 3, 9, 1, 0.75},                                // sour
      {10, 4, 4, 1, 2.0}, {11, 4, 10, 8, std::nullopt},  // highball
      {12, 5, 2, 1, 2.0}, {13, 5, 7, 1, 1.0},
      {14, 5, 9, 1, 0.5}, {15, 5, 10, 8, std::nullopt},  // fizz
      {16, 6, 3, 1, 2.0}, {17, 6, 7, 1, 1.0},
      {18, 6, 9, 1, 1.0}, {19, 6, 10, 8, 4.0},  // collins
      {20, 7, 2, 1, 2.0},                       // neat
  };
  return s;
}

TEST(RunEm, TinyCatalogMatchesSlowDenseImplementation) {
  const EmInputs in = inputs_of(tiny_catalog());
  ASSERT_EQ(in.masses.rows(), 7u);
  expect_same_em(in, 5);
  expect_same_em(in, 1);
}

TEST(RunEm, GeneratedCatalogWithCandidateSelection) {
  // 60 recipes: candidate_k = 10 < n − 1, so selection and +∞ matter.
  const EmInputs in = inputs_of(testing::seeded_catalog(60, 80, 5));
  expect_same_em(in, 5);
}

TEST(RunEm, FirstIterationEqualsLemonAndLaterOnesAgreeInRank) {
  const EmInputs in = inputs_of(testing::seeded_catalog(40, 70, 9));
  const std::size_t n = in.masses.rows();
  EmOptions options;
  options.max_iterations = 1;
  const auto first = dense_of(run_em(in.masses, in.m, in.cost, options), n);
  const SlowEmResult lemon_first = slow_em(in.masses, in.m, in.cost, 1, lemon_solver());
  for (std::size_t i = 0; i < n * n; ++i) {
    if (std::isinf(lemon_first.distance[i])) {
      EXPECT_TRUE(std::isinf(first[i]));
    } else {
      EXPECT_NEAR(first[i], lemon_first.distance[i], 1e-5);
    }
  }
  // Later iterations may pick different optimal plans where optima tie:
  // compare the final distances by rank (Spearman) over pairs both computed.
  options.max_iterations = 5;
  const auto last = dense_of(run_em(in.masses, in.m, in.cost, options), n);
  const SlowEmResult lemon_last = slow_em(in.masses, in.m, in.cost, 5, lemon_solver());
  std::vector<double> x, y;
  for (std::size_t r = 0; r < n; ++r) {
    for (std::size_t s = r + 1; s < n; ++s) {
      if (std::isfinite(last[r * n + s]) && std::isfinite(lemon_last.distance[r * n + s])) {
        x.push_back(last[r * n + s]);
        y.push_back(lemon_last.distance[r * n + s]);
      }
    }
  }
  auto ranks = [](const std::vector<double>& v) {
    std::vector<std::size_t> order(v.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return v[a] < v[b]; });
    std::vector<double> rank(v.size());
    for (std::size_t i = 0; i < order.size();) {  // average ranks over ties
      std::size_t j = i;
      while (j < order.size() && v[order[j]] == v[order[i]]) {
        ++j;
      }
      for (std::size_t k = i; k < j; ++k) {
        rank[order[k]] = (static_cast<double>(i + j) - 1.0) / 2.0;
      }
      i = j;
    }
    return rank;
  };
  const auto rx = ranks(x), ry = ranks(y);
  const double mx = std::accumulate(rx.begin(), rx.end(), 0.0) / rx.size();
  const double my = std::accumulate(ry.begin(), ry.end(), 0.0) / ry.size();
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < rx.size(); ++i) {
    sxy += (rx[i] - mx) * (ry[i] - my), sxx += (rx[i] - mx) * (rx[i] - mx),
        syy += (ry[i] - my) * (ry[i] - my);
  }
  ASSERT_GT(x.size(), 100u);
  EXPECT_GT(sxy / std::sqrt(sxx * syy), 0.95);
}

}  // namespace
}  // namespace cocktail::analytics

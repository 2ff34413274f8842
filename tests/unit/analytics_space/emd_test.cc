// EmdSolver against LEMON's NetworkSimplex (an independent exact min-cost
// flow solver) and against its own dual certificate.
#include "cocktail/analytics/emd.h"

#include <gtest/gtest.h>
#include <lemon/network_simplex.h>
#include <lemon/smart_graph.h>

#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

namespace cocktail::analytics {
namespace {

// LEMON wants integer data: masses in units of 1e-9, costs in 1e-6. The
// rounding moves the optimum by far less than the 1e-5 tolerance.
double lemon_emd(const std::vector<double>& a, const std::vector<double>& b,
                 const std::vector<double>& cost) {
  const double sa = std::accumulate(a.begin(), a.end(), 0.0);
  const double sb = std::accumulate(b.begin(), b.end(), 0.0);
  lemon::SmartDigraph g;
  std::vector<lemon::SmartDigraph::Node> rows;
  std::vector<lemon::SmartDigraph::Node> cols;
  for (std::size_t i = 0; i < a.size(); ++i) {
    rows.push_back(g.addNode());
  }
  for (std::size_t j = 0; j < b.size(); ++j) {
    cols.push_back(g.addNode());
  }
  lemon::SmartDigraph::ArcMap<std::int64_t> arc_cost(g);
  for (std::size_t i = 0; i < a.size(); ++i) {
    for (std::size_t j = 0; j < b.size(); ++j) {
      arc_cost[g.addArc(rows[i], cols[j])] = std::llround(cost[i * b.size() + j] * 1e6);
    }
  }
  lemon::SmartDigraph::NodeMap<std::int64_t> supply(g);
  std::int64_t total = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    supply[rows[i]] = std::llround(a[i] * 1e9);
    total += supply[rows[i]];
  }
  std::size_t largest = 0;
  for (std::size_t j = 0; j < b.size(); ++j) {
    supply[cols[j]] = -std::llround(b[j] * (sa / sb) * 1e9);
    total += supply[cols[j]];
    if (b[j] > b[largest]) {
      largest = j;
    }
  }
  supply[cols[largest]] -= total;  // balance the rounding
  lemon::NetworkSimplex<lemon::SmartDigraph, std::int64_t, std::int64_t> ns(g);
  ns.costMap(arc_cost).supplyMap(supply);
  EXPECT_EQ(ns.run(), decltype(ns)::OPTIMAL);
  return ns.totalCost<double>() / 1e15;
}

std::vector<double> random_masses(std::mt19937_64& rng, std::size_t n, bool normalise) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> m(n);
  for (auto& x : m) {
    const double r = u(rng);
    x = r < 0.1 ? 0.0 : (r < 0.2 ? 0.25 : u(rng));  // zeros and repeated values make ties
  }
  if (std::accumulate(m.begin(), m.end(), 0.0) == 0.0) {
    m[0] = 1.0;
  }
  if (normalise) {
    const double s = std::accumulate(m.begin(), m.end(), 0.0);
    // float32 fractions, as the EM space feeds them: totals differ in the last bits.
    for (auto& x : m) {
      x = static_cast<double>(static_cast<float>(x / s));
    }
  }
  return m;
}

// Checks the plan's feasibility and the optimality certificate; returns
// the plan's cost.
double check_plan_and_duals(const EmdSolver& solver, const std::vector<double>& a,
                            const std::vector<double>& cost, double distance) {
  const std::size_t na = a.size();
  const auto demand = solver.scaled_demand();
  const std::size_t nb = demand.size();
  std::vector<double> row_sum(na, 0.0);
  std::vector<double> col_sum(nb, 0.0);
  double plan_cost = 0.0;
  for (const auto& f : solver.plan()) {
    EXPECT_LT(f.from, na);
    EXPECT_LT(f.to, nb);
    EXPECT_GT(f.mass, 0.0);
    row_sum[f.from] += f.mass;
    col_sum[f.to] += f.mass;
    plan_cost += f.mass * cost[f.from * nb + f.to];
  }
  for (std::size_t i = 0; i < na; ++i) {
    EXPECT_NEAR(row_sum[i], a[i], 1e-9) << "row " << i;
  }
  for (std::size_t j = 0; j < nb; ++j) {
    EXPECT_NEAR(col_sum[j], demand[j], 1e-9) << "column " << j;
  }
  EXPECT_NEAR(plan_cost, distance, 1e-9);
  // Dual feasibility and strong duality prove the plan optimal on its own.
  const auto u = solver.supply_potentials();
  const auto v = solver.demand_potentials();
  double dual = 0.0;
  for (std::size_t i = 0; i < na; ++i) {
    dual += a[i] * u[i];
    for (std::size_t j = 0; j < nb; ++j) {
      EXPECT_LE(u[i] + v[j], cost[i * nb + j] + 1e-9);
    }
  }
  for (std::size_t j = 0; j < nb; ++j) {
    dual += demand[j] * v[j];
  }
  EXPECT_NEAR(dual, distance, 1e-9);
  return plan_cost;
}

TEST(EmdSolver, MatchesLemonOnRandomInstances) {
  std::mt19937_64 rng(20240601);
  EmdSolver solver;
  std::uniform_int_distribution<int> size(1, 20);
  std::uniform_int_distribution<int> tree_cost(0, 6);
  std::uniform_real_distribution<double> real_cost(0.0, 5.0);
  for (int instance = 0; instance < 4000; ++instance) {
    const std::size_t na = static_cast<std::size_t>(instance % 7 == 0 ? size(rng) : 1 + size(rng) % 9);
    const std::size_t nb = static_cast<std::size_t>(instance % 5 == 0 ? size(rng) : 1 + size(rng) % 9);
    const bool normalise = instance % 2 == 0;
    const auto a = random_masses(rng, na, normalise);
    const auto b = random_masses(rng, nb, normalise);
    std::vector<double> cost(na * nb);
    const int kind = instance % 3;
    for (std::size_t i = 0; i < na; ++i) {
      for (std::size_t j = 0; j < nb; ++j) {
        double c = kind == 0 ? tree_cost(rng) : real_cost(rng);
        if (kind == 2 && i == j) {
          c = 0.0;  // shared ingredients: zero on the diagonal
        }
        cost[i * nb + j] = static_cast<double>(static_cast<float>(c));
      }
    }
    SCOPED_TRACE(::testing::Message() << "instance " << instance << " (" << na << "x" << nb << ")");
    const double distance = solver.solve(a, b, cost);
    EXPECT_NEAR(distance, lemon_emd(a, b, cost), 1e-5);
    check_plan_and_duals(solver, a, cost, distance);
    if (::testing::Test::HasFailure()) {
      break;
    }
  }
}

TEST(EmdSolver, HighlyDegenerateInstances) {
  // Equal masses and equal costs everywhere: every basis is optimal and
  // almost every pivot is degenerate.
  EmdSolver solver;
  for (std::size_t n = 1; n <= 20; ++n) {
    std::vector<double> a(n, 1.0 / static_cast<double>(n));
    std::vector<double> cost(n * n, 1.0);
    EXPECT_NEAR(solver.solve(a, a, cost), 1.0, 1e-12);
    check_plan_and_duals(solver, a, cost, 1.0);
    // Identical distributions with a zero diagonal: distance 0, mass stays.
    for (std::size_t i = 0; i < n; ++i) {
      cost[i * n + i] = 0.0;
    }
    EXPECT_NEAR(solver.solve(a, a, cost), 0.0, 1e-12);
    check_plan_and_duals(solver, a, cost, 0.0);
  }
}

TEST(EmdSolver, HandComputedCase) {
  // Two ingredients each side; moving 0.5 across costs 2.
  EmdSolver solver;
  const std::vector<double> a{0.75, 0.25};
  const std::vector<double> b{0.25, 0.75};
  const std::vector<double> cost{0.0, 2.0, 2.0, 0.0};
  EXPECT_DOUBLE_EQ(solver.solve(a, b, cost), 1.0);
  ASSERT_EQ(solver.plan().size(), 3u);
  EXPECT_EQ(solver.plan()[0].from, 0u);
  EXPECT_EQ(solver.plan()[0].to, 0u);
  EXPECT_DOUBLE_EQ(solver.plan()[0].mass, 0.25);
  EXPECT_EQ(solver.plan()[1].to, 1u);
  EXPECT_DOUBLE_EQ(solver.plan()[1].mass, 0.5);
  EXPECT_DOUBLE_EQ(solver.plan()[2].mass, 0.25);
}

TEST(EmdSolver, RejectsBadInput) {
  EmdSolver solver;
  const std::vector<double> a{1.0};
  const std::vector<double> b{0.5, 0.5};
  const std::vector<double> wrong_size{1.0};
  EXPECT_THROW(solver.solve(a, b, wrong_size), std::invalid_argument);
  const std::vector<double> negative{-1.0, 2.0};
  const std::vector<double> cost{1.0, 1.0};
  EXPECT_THROW(solver.solve(a, negative, cost), std::invalid_argument);
  EXPECT_EQ(solver.solve({}, {}, {}), 0.0);
}

TEST(EmdSolver, SameInputSameResult) {
  std::mt19937_64 rng(7);
  const auto a = random_masses(rng, 12, true);
  const auto b = random_masses(rng, 9, true);
  std::vector<double> cost(std::size_t{12} * 9);
  std::uniform_int_distribution<int> c(0, 4);
  for (auto& x : cost) {
    x = c(rng);
  }
  EmdSolver first;
  EmdSolver second;
  const double d1 = first.solve(a, b, cost);
  // A solver that solved something else first gives the same answer.
  second.solve(b, a, std::vector<double>(cost.size(), 1.0));
  const double d2 = second.solve(a, b, cost);
  EXPECT_EQ(d1, d2);
  ASSERT_EQ(first.plan().size(), second.plan().size());
  for (std::size_t k = 0; k < first.plan().size(); ++k) {
    EXPECT_EQ(first.plan()[k].from, second.plan()[k].from);
    EXPECT_EQ(first.plan()[k].to, second.plan()[k].to);
    EXPECT_EQ(first.plan()[k].mass, second.plan()[k].mass);
  }
}

}  // namespace
}  // namespace cocktail::analytics

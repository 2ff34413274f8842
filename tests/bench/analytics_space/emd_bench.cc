// EMD pairs per second on one core: EmdSolver against LEMON's NetworkSimplex
// on the problems the EM space really solves — candidate pairs of a
// generated 1,356-recipe catalog under the tree costs (iteration 1) and
// under learned costs (iteration 2).
//
//   build/bin/emd_bench [--benchmark_min_time=2]
#include <benchmark/benchmark.h>
#include <lemon/network_simplex.h>
#include <lemon/smart_graph.h>

#include <cmath>
#include <numeric>
#include <vector>

#include "cocktail/analytics/candidates.h"
#include "cocktail/analytics/em.h"
#include "cocktail/analytics/emd.h"
#include "cocktail/analytics/rollup.h"
#include "cocktail/analytics/volumes.h"
#include "seeded_catalog.h"

namespace cocktail::analytics {
namespace {

struct Problem {
  std::vector<double> supply;
  std::vector<double> demand;
  std::vector<double> cost;
};

// Up to 20,000 candidate pairs as dense problems, under tree or learned costs.
const std::vector<Problem>& problems(bool learned) {
  static std::vector<Problem> cache[2];
  auto& out = cache[learned ? 1 : 0];
  if (!out.empty()) {
    return out;
  }
  const auto state = testing::seeded_catalog(1356, 610, 42);
  const IngredientHierarchy h(state);
  const SparseRows rolled = roll_up(compute_fractions(state, VolumeRule::kDistance).fractions, h);
  const IngredientSet set = ingredient_set_with_ancestors(rolled, h);
  SparseRows masses = to_set_columns(rolled, set);
  for (double& v : masses.values) {
    v = static_cast<float>(v);
  }
  const std::size_t m = set.size();
  std::vector<float> cost = tree_cost_matrix(set, h);
  if (learned) {
    EmOptions options;
    options.max_iterations = 2;
    cost = run_em(masses, m, cost, options).cost;  // the costs of the 2nd E-step
  }
  const PairList pairs = candidate_pairs(l1_nearest(masses, m, candidate_count(masses.rows(), 256), 2));
  const std::size_t step = std::max<std::size_t>(1, pairs.size() / 20000);
  for (std::size_t p = 0; p < pairs.size(); p += step) {
    Problem pr;
    const std::uint32_t a = pairs.first[p], b = pairs.second[p];
    for (std::size_t i = masses.offsets[a]; i < masses.offsets[a + 1]; ++i) {
      pr.supply.push_back(masses.values[i]);
    }
    for (std::size_t j = masses.offsets[b]; j < masses.offsets[b + 1]; ++j) {
      pr.demand.push_back(masses.values[j]);
    }
    for (std::size_t i = masses.offsets[a]; i < masses.offsets[a + 1]; ++i) {
      for (std::size_t j = masses.offsets[b]; j < masses.offsets[b + 1]; ++j) {
        pr.cost.push_back(cost[masses.columns[i] * m + masses.columns[j]]);
      }
    }
    out.push_back(std::move(pr));
  }
  return out;
}

void BM_EmdSolver(benchmark::State& st) {
  const auto& ps = problems(st.range(0) != 0);
  EmdSolver solver;
  std::size_t i = 0;
  double sink = 0.0;
  std::size_t pivots = 0;
  for (auto _ : st) {
    const Problem& p = ps[i++ % ps.size()];
    sink += solver.solve(p.supply, p.demand, p.cost);
    pivots += solver.last_pivots();
  }
  benchmark::DoNotOptimize(sink);
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()));
  st.counters["pivots_per_pair"] = static_cast<double>(pivots) / static_cast<double>(st.iterations());
  double cells = 0;
  for (const auto& p : ps) {
    cells += static_cast<double>(p.cost.size());
  }
  st.counters["cells_per_pair"] = cells / static_cast<double>(ps.size());
}

// LEMON requires integer data: masses in 1e-9 units, costs in 1e-6 units
// (what the tests compare against). The graph is rebuilt per pair, as a
// caller with varying supports must; clear() keeps its storage.
void BM_LemonNetworkSimplex(benchmark::State& st) {
  const auto& ps = problems(st.range(0) != 0);
  lemon::SmartDigraph g;
  std::size_t i = 0;
  double sink = 0.0;
  for (auto _ : st) {
    const Problem& p = ps[i++ % ps.size()];
    g.clear();
    const std::size_t na = p.supply.size(), nb = p.demand.size();
    for (std::size_t k = 0; k < na + nb; ++k) {
      g.addNode();
    }
    lemon::SmartDigraph::ArcMap<std::int64_t> cost(g);
    lemon::SmartDigraph::NodeMap<std::int64_t> supply(g);
    for (std::size_t a = 0; a < na; ++a) {
      for (std::size_t b = 0; b < nb; ++b) {
        cost[g.addArc(g.nodeFromId(static_cast<int>(a)), g.nodeFromId(static_cast<int>(na + b)))] =
            std::llround(p.cost[a * nb + b] * 1e6);
      }
    }
    const double sa = std::accumulate(p.supply.begin(), p.supply.end(), 0.0);
    const double sb = std::accumulate(p.demand.begin(), p.demand.end(), 0.0);
    std::int64_t balance = 0;
    for (std::size_t a = 0; a < na; ++a) {
      balance += supply[g.nodeFromId(static_cast<int>(a))] = std::llround(p.supply[a] * 1e9);
    }
    for (std::size_t b = 0; b < nb; ++b) {
      balance += supply[g.nodeFromId(static_cast<int>(na + b))] = -std::llround(p.demand[b] * sa / sb * 1e9);
    }
    supply[g.nodeFromId(static_cast<int>(na))] -= balance;
    lemon::NetworkSimplex<lemon::SmartDigraph, std::int64_t, std::int64_t> ns(g);
    ns.costMap(cost).supplyMap(supply).run();
    sink += ns.totalCost<double>() / 1e15;
  }
  benchmark::DoNotOptimize(sink);
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()));
}

// arg 0: tree costs (iteration 1), 1: learned costs (iteration 2).
BENCHMARK(BM_EmdSolver)->Arg(0)->Arg(1);
BENCHMARK(BM_LemonNetworkSimplex)->Arg(0)->Arg(1);

}  // namespace
}  // namespace cocktail::analytics

BENCHMARK_MAIN();

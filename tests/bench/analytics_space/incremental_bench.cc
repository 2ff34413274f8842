// Incremental cocktail-space runs (docs/cocktail-space.md, "Incremental
// runs"): a cold run on a seeded catalog, then a series of small changes,
// each computed from the previous run's memory (as analytics-regen's slow
// lane does) and, for comparison, cold. Per round: wall and CPU time of both,
// how each part started, EM pairs reused, trustworthiness@5 of both maps
// against their own inputs (the test's tie-aware figure), and how far the
// warm EM distances are from the cold ones.
//
//   build/bin/cocktail_space_incremental_bench [--recipes 1356] [--ingredients 610]
//       [--rounds 12] [--threads 2] [--seed 42]
//
// Changes cycle through: an ingredient nobody uses added (the maps' inputs
// do not change), one recipe's amount changed, a recipe added (a variation
// of an existing one), a recipe's ingredient swapped for a sibling.
// Prints one JSON object per round and a summary line.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "cocktail/analytics/cocktail_space.h"
#include "cocktail/analytics/npy.h"
#include "cocktail/analytics/volumes.h"
#include "map_quality.h"
#include "seeded_catalog.h"

namespace {

using cocktail::analytics::CocktailSpaceMemory;
using cocktail::analytics::CocktailSpaceOptions;
using cocktail::analytics::CocktailSpaceResult;
using cocktail::catalog::CatalogState;

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

struct Timed {
  CocktailSpaceResult result;
  double wall_ms = 0;
  double cpu_ms = 0;
};

Timed timed(const CatalogState& state, const CocktailSpaceOptions& options, CocktailSpaceMemory* memory) {
  Timed t;
  const double cpu = cpu_seconds();
  const auto start = std::chrono::steady_clock::now();
  t.result = cocktail::analytics::compute_cocktail_spaces(state, options, memory);
  t.wall_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  t.cpu_ms = (cpu_seconds() - cpu) * 1000.0;
  return t;
}

// x, y of every point of a map's data JSON, in order.
std::vector<float> coordinates(const std::string& json) {
  std::vector<float> xy;
  for (std::size_t at = 0; (at = json.find("\"x\":", at)) != std::string::npos;) {
    xy.push_back(std::strtof(json.c_str() + at + 4, nullptr));
    at = json.find("\"y\":", at);
    xy.push_back(std::strtof(json.c_str() + at + 4, nullptr));
  }
  return xy;
}

std::vector<float> npy_values(const std::string& npy, std::size_t& n) {
  const std::size_t header = 10 + static_cast<std::size_t>(static_cast<unsigned char>(npy[8])) +
                             256 * static_cast<std::size_t>(static_cast<unsigned char>(npy[9]));
  const std::size_t count = (npy.size() - header) / 4;
  n = static_cast<std::size_t>(std::llround(std::sqrt(static_cast<double>(count))));
  std::vector<float> v(count);
  std::memcpy(v.data(), npy.data() + header, count * 4);
  return v;
}

// Trustworthiness@5 of the EM map (against the .npy) and of the Manhattan
// map (against L1 of the matrix fractions).
std::pair<double, double> quality(const CatalogState& state, const CocktailSpaceResult& r) {
  std::size_t n = 0;
  const std::vector<float> em = npy_values(r.distance_matrix_npy, n);
  const auto q_em = cocktail::analytics::testing::map_quality(
      n, [&](std::size_t i, std::size_t j) { return static_cast<double>(em[i * n + j]); },
      coordinates(r.cocktail_space_em), 5);
  const auto f = cocktail::analytics::compute_fractions(state, cocktail::analytics::VolumeRule::kMatrix);
  const auto& rows = f.fractions;
  const auto q_m = cocktail::analytics::testing::map_quality(
      f.recipe_rows.size(),
      [&](std::size_t i, std::size_t j) { return cocktail::analytics::testing::sparse_l1(rows, i, j); },
      coordinates(r.cocktail_space), 5);
  return {q_m.trustworthiness, q_em.trustworthiness};
}

// The largest relative difference between two EM distance matrices over
// the pairs both computed (entries below the +∞ stand-in of each).
double distance_gap(const CocktailSpaceResult& a, const CocktailSpaceResult& b) {
  std::size_t na = 0, nb = 0;
  const auto da = npy_values(a.distance_matrix_npy, na);
  const auto db = npy_values(b.distance_matrix_npy, nb);
  if (na != nb) {
    return -1;
  }
  const float fa = *std::max_element(da.begin(), da.end());
  const float fb = *std::max_element(db.begin(), db.end());
  double gap = 0;
  for (std::size_t i = 0; i < da.size(); ++i) {
    if (da[i] >= fa || db[i] >= fb || da[i] <= 0) {
      continue;
    }
    gap = std::max(gap, std::abs(static_cast<double>(da[i]) - db[i]) / da[i]);
  }
  return gap;
}

std::uint64_t next_random(std::uint64_t& s) {
  s += 0x9e3779b97f4a7c15ULL;
  std::uint64_t z = s;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// One small change of kind `round % 4`; returns its name.
const char* change(CatalogState& state, int round, std::uint64_t& rng) {
  auto& rows = state.recipe_ingredients;
  const auto pick = [&](std::size_t n) { return static_cast<std::size_t>(next_random(rng) % n); };
  switch (round % 4) {
    case 0: {
      const auto& parent = state.ingredients[pick(state.ingredients.size())];
      cocktail::catalog::IngredientRow row;
      row.id = state.ingredients.back().id + 1;
      row.name = "Unused " + std::to_string(round);
      row.parent_id = parent.id;
      row.path = parent.path + std::to_string(row.id) + "/";
      state.ingredients.push_back(row);
      return "unused ingredient added";
    }
    case 1: {
      for (;;) {
        auto& row = rows[pick(rows.size())];
        if (row.amount && *row.amount > 0) {
          *row.amount *= 1.5;
          return "amount changed";
        }
      }
    }
    case 2: {
      const std::int64_t source = state.recipes[pick(state.recipes.size())].id;
      cocktail::catalog::RecipeRow recipe;
      recipe.id = state.recipes.back().id + 1;
      recipe.name = "Variation " + std::to_string(round);
      state.recipes.push_back(recipe);
      std::int64_t next_id = 0;
      for (const auto& r : rows) {
        next_id = std::max(next_id, r.id);
      }
      std::vector<cocktail::catalog::RecipeIngredientRow> copied;
      for (const auto& r : rows) {
        if (r.recipe_id != source) {
          continue;
        }
        auto c = r;
        c.id = ++next_id;
        c.recipe_id = recipe.id;
        if (c.amount && copied.empty()) {
          *c.amount *= 2;
        }
        copied.push_back(c);
      }
      rows.insert(rows.end(), copied.begin(), copied.end());
      return "recipe added";
    }
    default: {
      for (;;) {
        auto& row = rows[pick(rows.size())];
        const auto it = std::find_if(state.ingredients.begin(), state.ingredients.end(),
                                     [&](const auto& i) { return i.id == row.ingredient_id; });
        if (it == state.ingredients.end() || !it->parent_id) {
          continue;
        }
        const auto sibling =
            std::find_if(state.ingredients.begin(), state.ingredients.end(), [&](const auto& i) {
              return i.parent_id == it->parent_id && i.id != it->id && i.name.rfind("Unused", 0) != 0;
            });
        if (sibling == state.ingredients.end()) {
          continue;
        }
        row.ingredient_id = sibling->id;
        return "ingredient swapped for a sibling";
      }
    }
  }
}

std::string stages(const CocktailSpaceResult& r) {
  std::string out = "{";
  char buf[96];
  for (const auto& [name, ms] : r.durations_ms) {
    std::snprintf(buf, sizeof buf, "%s\"%s\": %.1f", out.size() > 1 ? ", " : "", name.c_str(), ms);
    out += buf;
  }
  return out + "}";
}

double median(std::vector<double> v) {
  if (v.empty()) {
    return 0;
  }
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int run(int argc, char** argv) {
  std::int64_t recipes = 1356, ingredients = 610, rounds = 12;
  std::uint64_t seed = 42;
  CocktailSpaceOptions options;
  options.threads = 2;
  options.incremental = true;  // the warm runs; the cold ones pass no memory
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const char* value = argv[i + 1];
    if (flag == "--recipes") {
      recipes = std::strtoll(value, nullptr, 10);
    } else if (flag == "--ingredients") {
      ingredients = std::strtoll(value, nullptr, 10);
    } else if (flag == "--rounds") {
      rounds = std::strtoll(value, nullptr, 10);
    } else if (flag == "--threads") {
      options.threads = static_cast<unsigned>(std::strtoul(value, nullptr, 10));
    } else if (flag == "--seed") {
      seed = std::strtoull(value, nullptr, 10);
    } else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  CatalogState state = cocktail::analytics::testing::seeded_catalog(recipes, ingredients, seed);
  CocktailSpaceMemory memory;
  const Timed first = timed(state, options, &memory);
  const auto [first_m, first_em] = quality(state, first.result);
  std::printf(
      "{\"round\": 0, \"change\": \"none (cold)\", \"wall_ms\": %.1f, \"cpu_ms\": %.1f, \"trust_manhattan\": "
      "%.4f, "
      "\"trust_em\": %.4f}\n",
      first.wall_ms, first.cpu_ms, first_m, first_em);
  std::uint64_t rng = seed;
  std::vector<double> warm_cpu, cold_cpu, warm_wall, cold_wall;
  double worst_m = 1, worst_em = 1, worst_cold_m = 1, worst_cold_em = 1, worst_gap = 0;
  for (std::int64_t round = 1; round <= rounds; ++round) {
    const char* what = change(state, static_cast<int>(round - 1), rng);
    const Timed warm = timed(state, options, &memory);
    const Timed cold = timed(state, options, nullptr);
    const auto [wm, wem] = quality(state, warm.result);
    const auto [cm, cem] = quality(state, cold.result);
    const double gap = distance_gap(warm.result, cold.result);
    const auto& c = warm.result.counts;
    std::printf(
        "{\"round\": %lld, \"change\": \"%s\", \"warm\": {\"wall_ms\": %.1f, \"cpu_ms\": %.1f, \"em_start\": "
        "\"%s\", "
        "\"em_iterations\": %zu, \"pairs_solved\": %zu, \"pairs_reused\": %zu, \"manhattan\": \"%s\", "
        "\"em_map\": "
        "\"%s\", \"trust_manhattan\": %.4f, \"trust_em\": %.4f, \"stages\": %s}, \"cold\": {\"wall_ms\": "
        "%.1f, \"cpu_ms\": %.1f, "
        "\"em_iterations\": %zu, \"trust_manhattan\": %.4f, \"trust_em\": %.4f}, \"em_distance_gap\": "
        "%.2e}\n",
        static_cast<long long>(round), what, warm.wall_ms, warm.cpu_ms, c.em_start.c_str(), c.em_iterations,
        c.pairs_solved, c.em_pairs_reused, c.umap_manhattan_start.c_str(), c.umap_em_start.c_str(), wm, wem,
        stages(warm.result).c_str(), cold.wall_ms, cold.cpu_ms, cold.result.counts.em_iterations, cm, cem,
        gap);
    std::fflush(stdout);
    warm_cpu.push_back(warm.cpu_ms);
    cold_cpu.push_back(cold.cpu_ms);
    warm_wall.push_back(warm.wall_ms);
    cold_wall.push_back(cold.wall_ms);
    worst_m = std::min(worst_m, wm);
    worst_em = std::min(worst_em, wem);
    worst_cold_m = std::min(worst_cold_m, cm);
    worst_cold_em = std::min(worst_cold_em, cem);
    worst_gap = std::max(worst_gap, gap);
  }
  std::printf(
      "{\"summary\": {\"rounds\": %lld, \"warm_cpu_ms_median\": %.1f, \"cold_cpu_ms_median\": %.1f, "
      "\"warm_wall_ms_median\": %.1f, \"cold_wall_ms_median\": %.1f, \"warm_trust_min\": [%.4f, %.4f], "
      "\"cold_trust_min\": [%.4f, %.4f], \"em_distance_gap_max\": %.2e}}\n",
      static_cast<long long>(rounds), median(warm_cpu), median(cold_cpu), median(warm_wall),
      median(cold_wall), worst_m, worst_em, worst_cold_m, worst_cold_em, worst_gap);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cocktail_space_incremental_bench: %s\n", e.what());
    return 1;
  }
}

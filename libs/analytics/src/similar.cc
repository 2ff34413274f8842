#include "cocktail/analytics/similar.h"

#include <algorithm>

#include "cocktail_space_json.h"
#include "cocktail_space_parallel.h"

namespace cocktail::analytics {

SimilarPlan moved_flows(std::span<const SetFlow> plan, bool reverse) {
  SimilarPlan out;
  for (const SetFlow& f : plan) {
    if (f.from == f.to) {
      continue;
    }
    std::size_t at = out.count;
    while (at > 0 && out.flows[at - 1].mass < f.mass) {
      --at;
    }
    if (at >= 3) {
      continue;
    }
    for (std::size_t k = std::min<std::size_t>(out.count, 2); k > at; --k) {
      out.flows[k] = out.flows[k - 1];
    }
    out.flows[at] = reverse ? SetFlow{f.to, f.from, f.mass} : f;
    out.count = static_cast<std::uint8_t>(std::min<std::size_t>(out.count + 1u, 3u));
  }
  return out;
}

std::vector<SetFlow> whole_plan(std::span<const SetFlow> plan, bool reverse) {
  std::vector<SetFlow> out(plan.begin(), plan.end());
  if (reverse) {
    for (SetFlow& f : out) {
      std::swap(f.from, f.to);
    }
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const SetFlow& a, const SetFlow& b) { return a.mass > b.mass; });
  return out;
}

std::string recipe_similar_json(const SparseDistanceGraph& graph, const SparseRows& masses,
                                std::span<const float> cost, std::size_t m, std::span<const Label> recipes,
                                std::span<const Label> ingredients, std::size_t stored, unsigned threads) {
  const std::size_t n = graph.rows;
  std::vector<std::size_t> offsets(n + 1, 0);
  for (std::size_t r = 0; r < n; ++r) {
    offsets[r + 1] = offsets[r] + std::min(stored, graph.offsets[r + 1] - graph.offsets[r]);
  }
  std::vector<SimilarPlan> plans(offsets[n]);
  std::vector<std::vector<SetFlow>> full(offsets[n]);
  threads = std::max(1u, threads);
  std::vector<PairTransport> transports;
  for (unsigned w = 0; w < threads; ++w) {
    transports.emplace_back(masses, cost, m);
  }
  std::vector<std::vector<SetFlow>> scratch(threads);
  detail::parallel_chunks(n, threads, 32, [&](unsigned w, std::size_t begin, std::size_t end) {
    for (std::size_t r = begin; r < end; ++r) {
      for (std::size_t j = 0; j < offsets[r + 1] - offsets[r]; ++j) {
        const std::uint32_t s = graph.neighbor[graph.offsets[r] + j];
        transports[w].solve(static_cast<std::uint32_t>(r), s, scratch[w]);
        plans[offsets[r] + j] = moved_flows(scratch[w], s < r);
        full[offsets[r] + j] = whole_plan(scratch[w], s < r);
      }
    }
  });

  std::string out;
  out.reserve(offsets[n] * 560 + n * 64);  // about 0.55 KB per neighbour: one growth at most
  detail::StringSink sink{&out};
  detail::JsonWriter w(sink);
  w.StartArray();
  for (std::size_t r = 0; r < n; ++r) {
    w.StartObject();
    w.Key("recipe_id");
    w.Int64(recipes[r].id);
    w.Key("recipe_name");
    detail::write_string(w, recipes[r].name);
    w.Key("neighbors");
    w.StartArray();
    for (std::size_t j = 0; j < offsets[r + 1] - offsets[r]; ++j) {
      const std::size_t g = graph.offsets[r] + j;
      const Label& neighbor = recipes[graph.neighbor[g]];
      w.StartObject();
      w.Key("neighbor_recipe_id");
      w.Int64(neighbor.id);
      w.Key("neighbor_name");
      detail::write_string(w, neighbor.name);
      w.Key("distance");
      detail::write_float(w, graph.distance[g]);
      w.Key("transport_plan");
      w.StartArray();
      const SimilarPlan& plan = plans[offsets[r] + j];
      for (std::size_t f = 0; f < plan.count; ++f) {
        const SetFlow& flow = plan.flows[f];
        w.StartObject();
        w.Key("from_ingredient_id");
        w.Int64(ingredients[flow.from].id);
        w.Key("from_ingredient_name");
        detail::write_string(w, ingredients[flow.from].name);
        w.Key("to_ingredient_id");
        w.Int64(ingredients[flow.to].id);
        w.Key("to_ingredient_name");
        detail::write_string(w, ingredients[flow.to].name);
        w.Key("mass");
        detail::write_float(w, static_cast<float>(flow.mass));
        w.EndObject();
      }
      w.EndArray();
      w.Key("flows");
      w.StartArray();
      for (const SetFlow& flow : full[offsets[r] + j]) {
        w.StartArray();
        w.Int64(ingredients[flow.from].id);
        w.Int64(ingredients[flow.to].id);
        detail::write_float(w, static_cast<float>(flow.mass));
        w.EndArray();
      }
      w.EndArray();
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  return out;
}

}  // namespace cocktail::analytics

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

namespace {

// Row r's entry: {"recipe_id", "recipe_name", "neighbors": [...]}.
void write_entry(detail::JsonWriter& w, const SparseDistanceGraph& graph, std::size_t r, std::size_t count,
                 const SimilarPlan* plans, const std::vector<SetFlow>* full, std::span<const Label> recipes,
                 std::span<const Label> ingredients) {
  w.StartObject();
  w.Key("recipe_id");
  w.Int64(recipes[r].id);
  w.Key("recipe_name");
  detail::write_string(w, recipes[r].name);
  w.Key("neighbors");
  w.StartArray();
  for (std::size_t j = 0; j < count; ++j) {
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
    const SimilarPlan& plan = plans[j];
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
    for (const SetFlow& flow : full[j]) {
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

// Whether row r may take its previous entry (see SimilarReuse).
bool reusable(const SimilarReuse& reuse, const SparseDistanceGraph& graph, std::size_t r, std::size_t count,
              std::span<const Label> recipes) {
  if (!reuse.unchanged[r] || reuse.previous_row[r] < 0) {
    return false;
  }
  const SimilarMemory& before = *reuse.previous;
  const auto p = static_cast<std::size_t>(reuse.previous_row[r]);
  if (p >= before.entries.size() || before.entries[p].empty() ||
      before.offsets[p + 1] - before.offsets[p] != count) {
    return false;
  }
  for (std::size_t j = 0; j < count; ++j) {
    const std::size_t g = graph.offsets[r] + j;
    if (!reuse.unchanged[graph.neighbor[g]] ||
        recipes[graph.neighbor[g]].id != before.neighbor_ids[before.offsets[p] + j] ||
        graph.distance[g] != before.distances[before.offsets[p] + j]) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string recipe_similar_json(const SparseDistanceGraph& graph, const SparseRows& masses,
                                std::span<const float> cost, std::size_t m, std::span<const Label> recipes,
                                std::span<const Label> ingredients, std::size_t stored, unsigned threads,
                                SimilarReuse* reuse, SimilarMemory* keep) {
  const std::size_t n = graph.rows;
  std::vector<std::size_t> offsets(n + 1, 0);
  for (std::size_t r = 0; r < n; ++r) {
    offsets[r + 1] = offsets[r] + std::min(stored, graph.offsets[r + 1] - graph.offsets[r]);
  }
  auto count = [&](std::size_t r) { return offsets[r + 1] - offsets[r]; };
  if (keep == nullptr) {
    reuse = nullptr;
  }
  std::vector<bool> taken(n, false);
  if (reuse != nullptr) {
    for (std::size_t r = 0; r < n; ++r) {
      taken[r] = reusable(*reuse, graph, r, count(r), recipes);
    }
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
      if (taken[r]) {
        continue;
      }
      for (std::size_t j = 0; j < count(r); ++j) {
        const std::uint32_t s = graph.neighbor[graph.offsets[r] + j];
        transports[w].solve(static_cast<std::uint32_t>(r), s, scratch[w]);
        plans[offsets[r] + j] = moved_flows(scratch[w], s < r);
        full[offsets[r] + j] = whole_plan(scratch[w], s < r);
      }
    }
  });

  std::string out;
  if (keep == nullptr) {
    // One document written in place (no second copy of a file that reaches
    // 1 GB at 10⁵ recipes).
    out.reserve(offsets[n] * 560 + n * 64);  // about 0.55 KB per neighbour: one growth at most
    detail::StringSink sink{&out};
    detail::JsonWriter w(sink);
    w.StartArray();
    for (std::size_t r = 0; r < n; ++r) {
      write_entry(w, graph, r, count(r), plans.data() + offsets[r], full.data() + offsets[r], recipes,
                  ingredients);
    }
    w.EndArray();
    return out;
  }
  // One entry per row (in parallel), kept for the next run, then joined:
  // the same bytes as the document written in one go.
  SimilarMemory next;
  next.entries.resize(n);
  detail::parallel_chunks(n, threads, 32, [&](unsigned, std::size_t begin, std::size_t end) {
    for (std::size_t r = begin; r < end; ++r) {
      if (taken[r]) {
        next.entries[r] =
            std::move(reuse->previous->entries[static_cast<std::size_t>(reuse->previous_row[r])]);
        continue;
      }
      detail::StringSink sink{&next.entries[r]};
      detail::JsonWriter w(sink);
      write_entry(w, graph, r, count(r), plans.data() + offsets[r], full.data() + offsets[r], recipes,
                  ingredients);
    }
  });
  std::size_t total = 2 + n;
  for (const auto& e : next.entries) {
    total += e.size();
  }
  out.reserve(total);
  out.push_back('[');
  for (std::size_t r = 0; r < n; ++r) {
    if (r > 0) {
      out.push_back(',');
    }
    out.append(next.entries[r]);
  }
  out.push_back(']');
  next.recipe_ids.reserve(n);
  next.offsets.reserve(n + 1);
  for (std::size_t r = 0; r < n; ++r) {
    next.recipe_ids.push_back(recipes[r].id);
    for (std::size_t j = 0; j < count(r); ++j) {
      const std::size_t g = graph.offsets[r] + j;
      next.neighbor_ids.push_back(recipes[graph.neighbor[g]].id);
      next.distances.push_back(graph.distance[g]);
    }
    next.offsets.push_back(next.neighbor_ids.size());
  }
  *keep = std::move(next);
  return out;
}

}  // namespace cocktail::analytics

// recipe-similar: for each recipe of the EM space, its candidate partners
// from the last E-step, nearest first (up to `stored`, default 20), each with
// the 3 largest flows of the pair's transport plan that move mass between two
// different ingredients, and the whole plan, both oriented from this recipe
// to the neighbour.
//
// Layout of the `data` value (sorted by recipe_id, for binary search by id):
//   [{"recipe_id", "recipe_name", "neighbors": [{"neighbor_recipe_id",
//     "neighbor_name", "distance", "transport_plan": [{"from_ingredient_id",
//     "from_ingredient_name", "to_ingredient_id", "to_ingredient_name",
//     "mass"}], "flows": [[from_ingredient_id, to_ingredient_id, mass], …]}]}]
// `flows` is every flow of the optimal plan (mass kept on the same
// ingredient included), largest first: its masses sum to 1, by `from` they
// give this recipe's ingredient masses and by `to` the neighbour's.
// Distances and masses are float32 values in shortest decimal form.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cocktail/analytics/em.h"

namespace cocktail::analytics {

// The ≤ 3 largest flows of `plan` with from ≠ to, largest first (ties keep
// plan order); swapped end for end when `reverse` (the plan is oriented from
// the other recipe).
struct SimilarPlan {
  std::array<SetFlow, 3> flows{};
  std::uint8_t count = 0;
};
SimilarPlan moved_flows(std::span<const SetFlow> plan, bool reverse);

// Every flow of `plan`, swapped end for end when `reverse`, largest first
// (ties keep plan order).
std::vector<SetFlow> whole_plan(std::span<const SetFlow> plan, bool reverse);

struct Label {
  std::int64_t id = 0;
  std::string_view name;
};

// One run's entries, kept for the next (docs/cocktail-space.md,
// "Incremental runs"): per row its recipe id, its JSON object and the
// neighbours (ids, distances) it lists.
struct SimilarMemory {
  std::vector<std::int64_t> recipe_ids;
  std::vector<std::string> entries;
  std::vector<std::size_t> offsets{0};
  std::vector<std::int64_t> neighbor_ids;
  std::vector<float> distances;
};

// What a run may take from the previous one: a row's entry is the previous
// one when the row is `unchanged` (its masses, and every recipe and
// ingredient name, as then), the costs are the previous ones bit for bit
// (the caller's to check), and it lists the same neighbours at the same
// distances, each of them unchanged: every plan in it is then the same.
struct SimilarReuse {
  SimilarMemory* previous = nullptr;       // its entries are moved out
  std::vector<std::int64_t> previous_row;  // per row, -1 when new
  std::vector<bool> unchanged;
};

// `recipes[r]` labels EM row r, `ingredients[i]` labels set index i.
// Solves the plans of the listed pairs again under `cost` (the costs of the
// last E-step, so the same plans), using `threads` workers. With `keep`,
// the entries are also left there for the next run (and `reuse` applies);
// the output is the same either way.
std::string recipe_similar_json(const SparseDistanceGraph& graph, const SparseRows& masses,
                                std::span<const float> cost, std::size_t m, std::span<const Label> recipes,
                                std::span<const Label> ingredients, std::size_t stored, unsigned threads,
                                SimilarReuse* reuse = nullptr, SimilarMemory* keep = nullptr);

}  // namespace cocktail::analytics

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

// `recipes[r]` labels EM row r, `ingredients[i]` labels set index i.
// Solves the plans of the listed pairs again under `cost` (the costs of the
// last E-step, so the same plans), using `threads` workers.
std::string recipe_similar_json(const SparseDistanceGraph& graph, const SparseRows& masses,
                                std::span<const float> cost, std::size_t m, std::span<const Label> recipes,
                                std::span<const Label> ingredients, std::size_t stored, unsigned threads);

}  // namespace cocktail::analytics

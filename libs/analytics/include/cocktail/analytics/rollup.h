// The ingredient hierarchy as the EM cocktail space sees it: roll-up of
// substitutable leaves, the ingredient set with ancestors, and the tree
// distances that are the initial ground costs (docs/cocktail-space.md).
//
// IngredientHierarchy is immutable after construction and safe to share
// across threads. Positions are indices into CatalogState::ingredients.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "cocktail/analytics/volumes.h"
#include "cocktail/catalog/state.h"

namespace cocktail::analytics {

class IngredientHierarchy {
 public:
  static constexpr std::size_t kNoParent = std::numeric_limits<std::size_t>::max();

  // Parents come from parent_id. A parent_id naming no ingredient makes a
  // root; a cycle (refused by the catalog) is cut so every walk terminates.
  explicit IngredientHierarchy(const catalog::CatalogState& state);

  std::size_t size() const { return parent_.size(); }
  std::size_t parent(std::size_t p) const { return parent_[p]; }
  bool has_children(std::size_t p) const { return has_children_[p]; }
  // Roots have depth 0.
  std::size_t depth(std::size_t p) const { return depth_[p]; }

  // Where a recipe's fraction of ingredient p is credited after roll-up: the
  // parent of a childless ingredient with allow_substitution whose parent is
  // an ingredient; p itself otherwise.
  std::size_t rolled_up(std::size_t p) const { return rolled_up_[p]; }

  // Edges between a and b through their lowest common ancestor, with an
  // implicit root above every root (two different roots are 2 apart).
  std::size_t tree_distance(std::size_t a, std::size_t b) const;

 private:
  std::vector<std::size_t> parent_;
  std::vector<std::size_t> depth_;
  std::vector<bool> has_children_;
  std::vector<std::size_t> rolled_up_;
};

// Fractions with every column replaced by its rolled_up() target; fractions
// landing on the same ingredient add up. Rows keep their sums.
SparseRows roll_up(const SparseRows& fractions, const IngredientHierarchy& hierarchy);

// Every ingredient present in `rows` plus all their ancestors, ascending
// position (so ascending id). Set index i stands for ingredient members[i].
struct IngredientSet {
  std::vector<std::size_t> members;

  std::size_t size() const { return members.size(); }
};

IngredientSet ingredient_set_with_ancestors(const SparseRows& rows, const IngredientHierarchy& hierarchy);

// `rows` with columns renumbered from ingredient positions to set indices
// (every column must be a member).
SparseRows to_set_columns(const SparseRows& rows, const IngredientSet& set);

// Tree distances between the set's members: m×m, row-major, float32 (the EM
// space keeps its costs in float32). O(m²) time.
std::vector<float> tree_cost_matrix(const IngredientSet& set, const IngredientHierarchy& hierarchy);

}  // namespace cocktail::analytics

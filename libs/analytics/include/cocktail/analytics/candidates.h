// Nearest-neighbour lists and candidate pairs for the cocktail spaces,
// without ever holding an n×n matrix: L1 neighbours come from an inverted
// index over ingredients, EMD neighbours from the sparse graph of the pairs
// whose distance was computed (docs/cocktail-space.md, "Candidates").
//
// Plain functions over owned values. Results never depend on the thread
// count: every row's list depends on that row only, ties go to the lower index.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "cocktail/analytics/volumes.h"

namespace cocktail::analytics {

// The EM candidate count: max(10, floor(0.10 × n)), at most n − 1 and at
// most `cap` (the setting that keeps the number of pairs O(n·cap)).
std::size_t candidate_count(std::size_t n, std::size_t cap);

// Row r's k nearest rows are index[r·k, r·k + k), nearest first, ties by
// lower index; the row itself is never among them.
struct NeighborLists {
  std::size_t rows = 0;
  std::size_t k = 0;
  std::vector<std::uint32_t> index;
  std::vector<double> distance;
};

// The k nearest rows of every row by L1 distance, for rows that each sum to
// 1: L1(a, b) = 2 − 2·Σ min(a_i, b_i) over shared columns, accumulated
// through an inverted index by column, so rows sharing no column are exactly
// 2 apart. `columns` bounds the column numbers. k must be < rows (or 0).
// Time O(Σ_r Σ_{c∈r} |rows using c|); memory O(n·k + nnz) plus O(n) per thread.
// With `only`, just the rows it marks get their list (the others' are left
// zeroed): their lists are the same as without it.
NeighborLists l1_nearest(const SparseRows& rows, std::size_t columns, std::size_t k, unsigned threads,
                         const std::vector<bool>* only = nullptr);

// Unordered pairs (first[i] < second[i]), ascending by (first, second).
struct PairList {
  std::vector<std::uint32_t> first;
  std::vector<std::uint32_t> second;

  std::size_t size() const { return first.size(); }
};

// Every {r, s} with s in r's list or r in s's list, once.
PairList candidate_pairs(const NeighborLists& lists, unsigned threads = 1);

// Symmetric distances known for some pairs only; every other pair is at
// +∞ (or at the caller's stand-in for it). Row r's partners are
// neighbor[offsets[r], offsets[r+1]), nearest first, ties by lower index.
struct SparseDistanceGraph {
  std::size_t rows = 0;
  std::vector<std::size_t> offsets;
  std::vector<std::uint32_t> neighbor;
  std::vector<float> distance;
};

// distances[i] belongs to pairs[i].
SparseDistanceGraph sparse_distance_graph(std::size_t rows, const PairList& pairs,
                                          std::span<const float> distances, unsigned threads = 1);

// The k nearest rows of every row in `graph`, where a pair without a known
// distance is at `absent_distance` (usually +∞); such fill-ins go by
// ascending index after all known partners at a smaller distance.
NeighborLists nearest_in_graph(const SparseDistanceGraph& graph, std::size_t k, double absent_distance,
                               unsigned threads = 1);

}  // namespace cocktail::analytics

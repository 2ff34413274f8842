// CocktailSpaceProducer: cocktail-space, cocktail-space-em, recipe-similar,
// the EM distance matrix (recipe-distances-em.npy with
// recipe-distances-em.ids.json beside it) and the learned ingredient costs
// (ingredient-distances-em.npy, ingredient-distances-em.ids.json), from
// compute_cocktail_spaces()
// (analytics/cocktail_space.h, docs/cocktail-space.md). Its stages appear in
// the summary as "space.<stage>" (space.candidates, space.em_iter_1, …,
// space.umap_manhattan, space.umap_em). Holds its settings and what its
// last run leaves for the next (analytics::CocktailSpaceMemory: with
// options.incremental the slow lane's runs start from the previous one,
// docs/cocktail-space.md); a run on another
// thread meanwhile (the fast lane recomputing a file it could not carry)
// starts cold and leaves the memory alone. See producer.h.
#pragma once

#include <mutex>

#include "cocktail/analytics/cocktail_space.h"
#include "cocktail/regen_service/producer.h"

namespace cocktail::regen_service {

class CocktailSpaceProducer final : public Producer {
 public:
  explicit CocktailSpaceProducer(analytics::CocktailSpaceOptions options = {}) : options_(options) {}
  std::string_view name() const override { return "cocktail-space"; }
  bool slow() const override { return true; }
  void produce(const ProducerContext& context, ProducerOutput& out) override;
  std::vector<std::string> outputs() const override;

 private:
  analytics::CocktailSpaceOptions options_;
  std::mutex memory_mu_;
  analytics::CocktailSpaceMemory memory_;  // under memory_mu_
};

}  // namespace cocktail::regen_service

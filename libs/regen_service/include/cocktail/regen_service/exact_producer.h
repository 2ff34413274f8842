// ExactAnalyticsProducer: ingredient-usage, ingredient-usage-all,
// recipe-complexity and ingredient-tree, from one pass over the recipe rows
// (analytics/exact_analytics.h). Stateless; see producer.h.
#pragma once

#include "cocktail/regen_service/producer.h"

namespace cocktail::regen_service {

class ExactAnalyticsProducer final : public Producer {
 public:
  std::string_view name() const override { return "exact"; }
  void produce(const ProducerContext& context, ProducerOutput& out) override;
  std::vector<std::string> outputs() const override;
};

}  // namespace cocktail::regen_service

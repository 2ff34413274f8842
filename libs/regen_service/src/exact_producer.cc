#include "cocktail/regen_service/exact_producer.h"

#include "cocktail/analytics/artifacts.h"
#include "cocktail/analytics/exact_analytics.h"

namespace cocktail::regen_service {

void ExactAnalyticsProducer::produce(const ProducerContext& ctx, ProducerOutput& out) {
  namespace an = analytics;
  const an::ExactAnalytics exact =
      out.timed("compute.exact", [&] { return an::compute_exact_analytics(ctx.model); });

  auto add = [&](std::string_view type, std::string body, an::MetadataExtras extras, std::int64_t count) {
    Artifact a;
    a.analytics_type = std::string(type);
    a.file_name = std::string(analytics::artifact_by_type(type)->file);
    a.body = std::move(body);
    a.extras = std::move(extras);
    a.count = count;
    out.artifacts.push_back(std::move(a));
  };

  const auto roots = an::root_rows(exact);
  add(an::kIngredientUsage,
      out.timed("serialize.ingredient-usage",
                [&] { return an::usage_rows_json(std::span<const an::IngredientUsageRow* const>(roots)); }),
      an::usage_extras(exact), static_cast<std::int64_t>(roots.size()));
  add(an::kIngredientUsageAll,
      out.timed("serialize.ingredient-usage-all",
                [&] { return an::usage_rows_json(std::span<const an::IngredientUsageRow>(exact.usage)); }),
      an::usage_extras(exact), static_cast<std::int64_t>(exact.usage.size()));
  add(an::kRecipeComplexity,
      out.timed("serialize.recipe-complexity", [&] { return an::recipe_complexity_json(exact.complexity); }),
      an::complexity_extras(exact), static_cast<std::int64_t>(exact.complexity.size()));
  std::int64_t nodes = 0;
  std::string tree = out.timed("serialize.ingredient-tree",
                               [&] { return an::ingredient_tree_json(ctx.model, exact, &nodes); });
  add(an::kIngredientTree, std::move(tree), an::tree_extras(nodes, ctx.model), nodes);
}

std::vector<std::string> ExactAnalyticsProducer::outputs() const {
  std::vector<std::string> out;
  for (const auto& a : analytics::kArtifacts) {
    if (a.lane == analytics::ArtifactLane::kExact) {
      out.emplace_back(a.file);
    }
  }
  return out;
}

}  // namespace cocktail::regen_service

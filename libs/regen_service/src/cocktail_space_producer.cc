#include "cocktail/regen_service/cocktail_space_producer.h"

#include <optional>
#include <string>
#include <utility>

#include "cocktail/analytics/artifacts.h"

namespace cocktail::regen_service {
namespace {

std::string json_number(std::size_t n) { return std::to_string(n); }

}  // namespace

void CocktailSpaceProducer::produce(const ProducerContext& context, ProducerOutput& out) {
  analytics::CocktailSpaceResult result;
  if (std::unique_lock lock(memory_mu_, std::try_to_lock); lock.owns_lock()) {
    result = analytics::compute_cocktail_spaces(context.state, options_, &memory_);
  } else {
    result = analytics::compute_cocktail_spaces(context.state, options_);
  }
  for (auto& [stage, ms] : result.durations_ms) {
    out.durations_ms.emplace_back("space." + stage, ms);
  }
  for (auto& warning : result.warnings) {
    out.warnings.push_back(std::move(warning));
  }

  const auto& c = result.counts;
  std::string umap = "{\"n_neighbors\":";
  umap.append(json_number(result.settings.n_neighbors))
      .append(",\"min_dist\":")
      .append(std::to_string(result.settings.min_dist))
      .append(",\"seed\":")
      .append(std::to_string(result.settings.seed))
      .append("}");
  const analytics::MetadataExtras common{{"total_recipes", json_number(c.recipes)}, {"umap", umap}};
  // File name and form from the artifact table.
  auto add = [&](std::string_view type, std::string body, analytics::MetadataExtras extras,
                 std::optional<std::size_t> count) {
    const analytics::ArtifactSpec* spec = analytics::artifact_by_type(type);
    Artifact a;
    a.analytics_type = std::string(type);
    a.file_name = std::string(spec->file);
    a.body = std::move(body);
    a.envelope = spec->form == analytics::ArtifactForm::kEnvelopedJson;
    a.extras = std::move(extras);
    if (count) {
      a.count = static_cast<std::int64_t>(*count);
    }
    out.artifacts.push_back(std::move(a));
  };

  analytics::MetadataExtras manhattan = common;
  manhattan.emplace_back("points", json_number(c.manhattan_points));
  manhattan.emplace_back("left_out_zero_total", json_number(c.left_out_matrix_volume));
  manhattan.emplace_back("layout_start", "\"" + c.umap_manhattan_start + "\"");
  add("cocktail-space", std::move(result.cocktail_space), std::move(manhattan), c.manhattan_points);

  analytics::MetadataExtras em = common;
  em.emplace_back("points", json_number(c.em_points));
  em.emplace_back("left_out_zero_total", json_number(c.left_out_distance_volume));
  em.emplace_back("em_iterations", json_number(c.em_iterations));
  em.emplace_back("em_converged", c.em_converged ? "true" : "false");
  em.emplace_back("candidate_k", json_number(c.candidate_k));
  em.emplace_back("ingredients", json_number(c.em_ingredients));
  em.emplace_back("em_start", "\"" + c.em_start + "\"");
  em.emplace_back("layout_start", "\"" + c.umap_em_start + "\"");
  add("cocktail-space-em", std::move(result.cocktail_space_em), std::move(em), c.em_points);

  analytics::MetadataExtras similar{{"total_recipes", json_number(c.recipes)},
                                    {"recipes", json_number(c.em_points)},
                                    {"max_neighbors", json_number(result.settings.similar_stored)}};
  add("recipe-similar", std::move(result.recipe_similar), std::move(similar), c.em_points);

  if (result.distance_matrix_written) {
    // Each matrix (counted: its rows) and its ids beside it.
    add("recipe-distances-em", std::move(result.distance_matrix_npy), {}, c.em_points);
    add("recipe-distances-em-ids", std::move(result.distance_matrix_ids), {}, std::nullopt);
  }
  if (result.ingredient_matrix_written) {
    add("ingredient-distances-em", std::move(result.ingredient_matrix_npy), {}, c.em_ingredients);
    add("ingredient-distances-em-ids", std::move(result.ingredient_matrix_ids), {}, std::nullopt);
  }
}

std::vector<std::string> CocktailSpaceProducer::outputs() const {
  std::vector<std::string> out;
  for (const auto& a : analytics::kArtifacts) {
    if (a.lane == analytics::ArtifactLane::kSpace && !a.conditional) {
      out.emplace_back(a.file);
    }
  }
  return out;
}

}  // namespace cocktail::regen_service

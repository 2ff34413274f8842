#include "cocktail/regen_service/cocktail_space_producer.h"

#include <string>
#include <utility>

namespace cocktail::regen {
namespace {

std::string json_number(std::size_t n) { return std::to_string(n); }

}  // namespace

void CocktailSpaceProducer::produce(const ProducerContext& context, ProducerOutput& out) {
  analytics::CocktailSpaceResult result = analytics::compute_cocktail_spaces(context.state, options_);
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
  auto add = [&](std::string type, std::string file, std::string body, bool envelope,
                 analytics::MetadataExtras extras, std::size_t count) {
    Artifact a;
    a.analytics_type = std::move(type);
    a.file_name = std::move(file);
    a.body = std::move(body);
    a.envelope = envelope;
    a.extras = std::move(extras);
    a.count = static_cast<std::int64_t>(count);
    out.artifacts.push_back(std::move(a));
  };

  analytics::MetadataExtras manhattan = common;
  manhattan.emplace_back("points", json_number(c.manhattan_points));
  manhattan.emplace_back("left_out_zero_total", json_number(c.left_out_matrix_volume));
  add("cocktail-space", "cocktail-space.json", std::move(result.cocktail_space), true, std::move(manhattan),
      c.manhattan_points);

  analytics::MetadataExtras em = common;
  em.emplace_back("points", json_number(c.em_points));
  em.emplace_back("left_out_zero_total", json_number(c.left_out_distance_volume));
  em.emplace_back("em_iterations", json_number(c.em_iterations));
  em.emplace_back("em_converged", c.em_converged ? "true" : "false");
  em.emplace_back("candidate_k", json_number(c.candidate_k));
  em.emplace_back("ingredients", json_number(c.em_ingredients));
  add("cocktail-space-em", "cocktail-space-em.json", std::move(result.cocktail_space_em), true, std::move(em),
      c.em_points);

  analytics::MetadataExtras similar{{"total_recipes", json_number(c.recipes)},
                                    {"recipes", json_number(c.em_points)},
                                    {"max_neighbors", json_number(result.settings.similar_stored)}};
  add("recipe-similar", "recipe-similar.json", std::move(result.recipe_similar), true, std::move(similar),
      c.em_points);

  // The matrices are raw files: the .npy (counted: its rows) and its ids
  // beside it, "<name>.ids.json", whose type is "<name>-ids" (the type the
  // read API envelopes it with).
  auto add_matrix = [&](const std::string& name, std::string npy, std::string ids, std::size_t rows) {
    add(name, name + ".npy", std::move(npy), false, {}, rows);
    Artifact a;
    a.analytics_type = name + "-ids";
    a.file_name = name + ".ids.json";
    a.body = std::move(ids);
    a.envelope = false;
    out.artifacts.push_back(std::move(a));
  };
  if (result.distance_matrix_written) {
    add_matrix("recipe-distances-em", std::move(result.distance_matrix_npy),
               std::move(result.distance_matrix_ids), c.em_points);
  }
  if (result.ingredient_matrix_written) {
    add_matrix("ingredient-distances-em", std::move(result.ingredient_matrix_npy),
               std::move(result.ingredient_matrix_ids), c.em_ingredients);
  }
}

}  // namespace cocktail::regen

#include "cocktail/read_service/live_analytics.h"

#include <exception>

#include "cocktail/analytics/catalog_model.h"
#include "cocktail/analytics/envelope.h"
#include "cocktail/analytics/exact_analytics.h"
#include "cocktail/analytics/exact_json.h"
#include "cocktail/analytics/usage_index.h"
#include "cocktail/catalog/database.h"
#include "cocktail/catalog/state.h"
#include "cocktail/core/log.h"
#include "cocktail/core/time.h"
#include "cocktail/snapshot/sha256.h"

namespace cocktail::read_service {
namespace {

constexpr std::string_view kJsonType = "application/json";

struct Computed {
  catalog::CatalogState state;
  analytics::CatalogModel model;
  analytics::ExactAnalytics exact;
};

core::Result<Computed> compute(const std::string& db_path) {
  try {
    catalog::DatabaseOptions options;
    options.read_only = true;
    options.one_read = true;
    options.create_if_missing = false;
    auto db = catalog::Database::open(db_path, options);
    Computed c;
    c.state = catalog::load_state(*db);
    c.model = analytics::CatalogModel::build(c.state);
    c.exact = analytics::compute_exact_analytics(c.model);
    return c;
  } catch (const std::exception& e) {
    core::log::warn("live.catalog_unreadable", {{"db", db_path}, {"error", e.what()}});
    return core::Error{
        core::ErrorCode::kUnavailable, {}, "no snapshot yet and the catalog cannot be read", {}};
  }
}

LiveView finish(const std::string& data, std::string analytics_type, std::int64_t catalog_seq,
                analytics::MetadataExtras extras) {
  analytics::EnvelopeMetadata meta;
  meta.analytics_type = std::move(analytics_type);
  meta.generation = 0;
  meta.catalog_seq = catalog_seq;
  meta.generated_at_ms = core::system_now_ms();
  meta.extras = std::move(extras);
  meta.extras.emplace_back("source", "\"live\"");
  std::string body = analytics::make_envelope(data, meta);
  // The tag covers the data and the seq, not generated_at: the same catalog
  // state revalidates as unchanged.
  const std::string tag =
      "live-" + std::to_string(catalog_seq) + "-" + snapshot::sha256_hex(data).substr(0, 16);
  return LiveView{make_representation(std::move(body), kJsonType, tag), catalog_seq};
}

}  // namespace

core::Result<LiveView> LiveAnalytics::usage(std::optional<std::int64_t> parent_id,
                                            std::optional<int> level) const {
  auto c = compute(db_path_);
  if (!c.ok()) {
    return c.error();
  }
  auto& exact = c->exact;
  analytics::MetadataExtras extras = analytics::usage_extras(exact);
  const std::int64_t seq = c->state.catalog_seq;
  if (!parent_id && !level) {
    const auto rows = analytics::root_rows(exact);
    return finish(analytics::usage_rows_json(rows), "ingredient-usage", seq, std::move(extras));
  }
  analytics::IngredientUsageIndex index(std::move(exact.usage));
  if (parent_id && index.find(*parent_id) == nullptr) {
    return core::Error::not_found("parent_id",
                                  "ingredient " + std::to_string(*parent_id) + " does not exist");
  }
  const auto rows = index.query(parent_id, level);
  extras.emplace_back("parent_id", parent_id ? std::to_string(*parent_id) : "null");
  extras.emplace_back("level", level ? std::to_string(*level) : "null");
  return finish(analytics::usage_rows_json(rows), "ingredient-usage", seq, std::move(extras));
}

core::Result<LiveView> LiveAnalytics::complexity() const {
  auto c = compute(db_path_);
  if (!c.ok()) {
    return c.error();
  }
  return finish(analytics::recipe_complexity_json(c->exact.complexity), "recipe-complexity",
                c->state.catalog_seq, analytics::complexity_extras(c->exact));
}

}  // namespace cocktail::read_service

#include "cocktail/analytics/exact_json.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cstdio>

#include "json_text.h"

namespace cocktail::analytics {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

std::string take(const rapidjson::StringBuffer& buf) { return std::string(buf.GetString(), buf.GetSize()); }

void write_usage_row(Writer& w, const IngredientUsageRow& r) {
  w.StartObject();
  w.Key("ingredient_id");
  w.Int64(r.ingredient_id);
  w.Key("ingredient_name");
  json_text::write(w, r.ingredient_name);
  w.Key("path");
  json_text::write(w, r.path);
  w.Key("parent_id");
  if (r.parent_id) {
    w.Int64(*r.parent_id);
  } else {
    w.Null();
  }
  w.Key("allow_substitution");
  w.Bool(r.allow_substitution);
  w.Key("direct_usage");
  w.Int64(r.direct_usage);
  w.Key("hierarchical_usage");
  w.Int64(r.hierarchical_usage);
  w.Key("has_children");
  w.Bool(r.has_children);
  w.EndObject();
}

std::string int_text(std::int64_t v) { return std::to_string(v); }

}  // namespace

std::string usage_rows_json(std::span<const IngredientUsageRow> rows) {
  rapidjson::StringBuffer buf;
  buf.Reserve(rows.size() * 200 + 2);
  Writer w(buf);
  w.StartArray();
  for (const auto& r : rows) {
    write_usage_row(w, r);
  }
  w.EndArray();
  return take(buf);
}

std::string usage_rows_json(std::span<const IngredientUsageRow* const> rows) {
  rapidjson::StringBuffer buf;
  buf.Reserve(rows.size() * 200 + 2);
  Writer w(buf);
  w.StartArray();
  for (const auto* r : rows) {
    write_usage_row(w, *r);
  }
  w.EndArray();
  return take(buf);
}

std::vector<const IngredientUsageRow*> root_rows(const ExactAnalytics& analytics) {
  std::vector<const IngredientUsageRow*> out;
  for (const auto& r : analytics.usage) {
    if (!r.parent_id) {
      out.push_back(&r);
    }
  }
  return out;
}

std::string recipe_complexity_json(std::span<const ComplexityBucket> buckets) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartArray();
  for (const auto& b : buckets) {
    w.StartObject();
    w.Key("ingredient_count");
    w.Int64(b.ingredient_count);
    w.Key("recipe_count");
    w.Int64(b.recipe_count);
    w.EndObject();
  }
  w.EndArray();
  return take(buf);
}

std::string ingredient_tree_json(const CatalogModel& model, const ExactAnalytics& analytics,
                                 std::int64_t* nodes) {
  using Index = CatalogModel::Index;
  const auto by_rank = [&](Index a, Index b) { return analytics.usage_rank[a] < analytics.usage_rank[b]; };
  // Child lists in usage order, built once (the model keeps index order).
  auto sorted = [&](std::span<const Index> ids) {
    std::vector<Index> v(ids.begin(), ids.end());
    std::sort(v.begin(), v.end(), by_rank);
    return v;
  };

  rapidjson::StringBuffer buf;
  buf.Reserve(model.ingredient_count() * 120 + 128);
  Writer w(buf);
  w.StartObject();
  w.Key("id");
  w.String("root");
  w.Key("name");
  w.String("All Ingredients");
  w.Key("recipe_count");
  w.Int64(0);
  w.Key("hierarchical_recipe_count");
  w.Int64(0);
  w.Key("children");
  w.StartArray();

  struct Frame {
    std::vector<Index> children;
    std::size_t next = 0;
  };
  std::vector<Frame> stack;
  stack.push_back({sorted(model.roots()), 0});
  std::int64_t written = 0;
  while (!stack.empty()) {
    Frame& top = stack.back();
    if (top.next == top.children.size()) {
      // Closes this level's array and the object that owns it (the root
      // object for the bottom frame).
      w.EndArray();
      w.EndObject();
      stack.pop_back();
      continue;
    }
    const Index i = top.children[top.next++];
    const auto& row = analytics.usage[analytics.usage_rank[i]];
    ++written;
    w.StartObject();
    w.Key("id");
    const std::string id = std::to_string(row.ingredient_id);
    w.String(id.data(), static_cast<rapidjson::SizeType>(id.size()));
    w.Key("name");
    json_text::write(w, row.ingredient_name);
    w.Key("edge_weight");
    w.Double(1.0);
    w.Key("recipe_count");
    w.Int64(row.direct_usage);
    w.Key("hierarchical_recipe_count");
    w.Int64(row.hierarchical_usage);
    auto children = model.children(i);
    if (children.empty()) {
      w.EndObject();
    } else {
      w.Key("children");
      w.StartArray();
      stack.push_back({sorted(children), 0});  // `top` is invalid from here on
    }
  }
  if (nodes != nullptr) {
    *nodes = written;
  }
  return take(buf);
}

MetadataExtras usage_extras(const ExactAnalytics& a) {
  return {{"total_recipes", int_text(a.total_recipes)}, {"total_ingredients", int_text(a.total_ingredients)}};
}

MetadataExtras complexity_extras(const ExactAnalytics& a) {
  const ComplexitySummary summary = summarize_complexity(a.complexity);
  std::string mean = "null";
  if (summary.mean) {
    // Four decimals: a reader shows two; more would only repeat float noise.
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4f", *summary.mean);
    mean = buf;
  }
  return {{"total_recipes", int_text(a.total_recipes)},
          {"recipes_with_ingredients", int_text(a.recipes_with_ingredients)},
          {"mean_ingredient_count", mean},
          {"mode_ingredient_count", summary.mode ? int_text(*summary.mode) : std::string("null")}};
}

MetadataExtras tree_extras(std::int64_t nodes, const CatalogModel& model) {
  int max_depth = 0;
  for (CatalogModel::Index i = 0; i < static_cast<CatalogModel::Index>(model.ingredient_count()); ++i) {
    max_depth = std::max(max_depth, model.depth(i));
  }
  return {{"total_ingredients", int_text(nodes)}, {"max_depth", int_text(max_depth)}};
}

}  // namespace cocktail::analytics

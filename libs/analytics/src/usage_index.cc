#include "cocktail/analytics/usage_index.h"

#include <simdjson.h>

#include <algorithm>
#include <string>

namespace cocktail::analytics {

IngredientUsageIndex::IngredientUsageIndex(std::vector<IngredientUsageRow> rows) : rows_(std::move(rows)) {
  if (!std::is_sorted(rows_.begin(), rows_.end(), usage_order_less)) {
    std::sort(rows_.begin(), rows_.end(), usage_order_less);
  }
  by_id_.reserve(rows_.size());
  for (std::uint32_t k = 0; k < rows_.size(); ++k) {
    auto& row = rows_[k];
    row.depth = path_depth(row.path);
    by_id_.emplace(row.ingredient_id, k);
    if (row.parent_id) {
      by_parent_[*row.parent_id].push_back(k);
    } else {
      roots_.push_back(k);
    }
    if (by_level_.size() <= static_cast<std::size_t>(row.depth)) {
      by_level_.resize(row.depth + 1);
    }
    by_level_[row.depth].push_back(k);
  }
}

const IngredientUsageRow* IngredientUsageIndex::find(std::int64_t ingredient_id) const {
  auto it = by_id_.find(ingredient_id);
  return it == by_id_.end() ? nullptr : &rows_[it->second];
}

IngredientUsageIndex::Rows IngredientUsageIndex::select(const std::vector<std::uint32_t>& positions) const {
  Rows out;
  out.reserve(positions.size());
  for (auto k : positions) {
    out.push_back(&rows_[k]);
  }
  return out;
}

IngredientUsageIndex::Rows IngredientUsageIndex::query(std::optional<std::int64_t> parent_id,
                                                       std::optional<int> level) const {
  if (!parent_id && !level) {
    return select(roots_);
  }
  if (parent_id && !level) {
    auto it = by_parent_.find(*parent_id);
    return it == by_parent_.end() ? Rows{} : select(it->second);
  }
  if (*level < 0 || static_cast<std::size_t>(*level) >= by_level_.size()) {
    return {};
  }
  const auto& at_level = by_level_[*level];
  if (!parent_id) {
    return select(at_level);
  }
  const IngredientUsageRow* parent = find(*parent_id);
  if (parent == nullptr) {
    return {};
  }
  Rows out;
  for (auto k : at_level) {
    const auto& row = rows_[k];
    if (row.ingredient_id != parent->ingredient_id && std::string_view(row.path).starts_with(parent->path)) {
      out.push_back(&row);
    }
  }
  return out;
}

namespace {

core::Error bad(std::size_t index, const std::string& field, const std::string& message) {
  core::Error e =
      core::Error::invalid(field, "ingredient-usage-all row " + std::to_string(index) + ": " + message);
  e.details.push_back({static_cast<int>(index), field, message});
  return e;
}

}  // namespace

core::Result<IngredientUsageIndex> IngredientUsageIndex::from_json(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto err = parser.parse(json.data(), json.size()).get(doc); err) {
    return core::Error::invalid(
        "", std::string("ingredient-usage-all is not valid JSON: ") + simdjson::error_message(err));
  }
  simdjson::dom::array data;
  if (doc.is_object()) {
    if (doc["data"].get_array().get(data)) {
      return core::Error::invalid("data", "expected an array under \"data\"");
    }
  } else if (doc.get_array().get(data)) {
    return core::Error::invalid("", "expected an envelope object or an array of rows");
  }

  std::vector<IngredientUsageRow> rows;
  rows.reserve(data.size());
  std::size_t index = 0;
  for (simdjson::dom::element item : data) {
    if (!item.is_object()) {
      return bad(index, "", "expected an object");
    }
    IngredientUsageRow row;
    std::string_view text;
    bool flag = false;
    if (item["ingredient_id"].get_int64().get(row.ingredient_id)) {
      return bad(index, "ingredient_id", "expected an integer");
    }
    if (item["ingredient_name"].get_string().get(text)) {
      return bad(index, "ingredient_name", "expected a string");
    }
    row.ingredient_name = std::string(text);
    if (item["path"].get_string().get(text)) {
      return bad(index, "path", "expected a string");
    }
    row.path = std::string(text);
    simdjson::dom::element parent;
    if (item["parent_id"].get(parent)) {
      return bad(index, "parent_id", "missing");
    }
    if (!parent.is_null()) {
      std::int64_t p = 0;
      if (parent.get_int64().get(p)) {
        return bad(index, "parent_id", "expected an integer or null");
      }
      row.parent_id = p;
    }
    if (item["allow_substitution"].get_bool().get(flag)) {
      return bad(index, "allow_substitution", "expected a boolean");
    }
    row.allow_substitution = flag;
    if (item["direct_usage"].get_int64().get(row.direct_usage)) {
      return bad(index, "direct_usage", "expected an integer");
    }
    if (item["hierarchical_usage"].get_int64().get(row.hierarchical_usage)) {
      return bad(index, "hierarchical_usage", "expected an integer");
    }
    if (item["has_children"].get_bool().get(flag)) {
      return bad(index, "has_children", "expected a boolean");
    }
    row.has_children = flag;
    rows.push_back(std::move(row));
    ++index;
  }
  return IngredientUsageIndex(std::move(rows));
}

}  // namespace cocktail::analytics

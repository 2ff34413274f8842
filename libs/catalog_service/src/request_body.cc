#include "cocktail/catalog_service/request_body.h"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>

namespace cocktail::catalog_service {
namespace {

using core::Error;
using core::FieldError;
using simdjson::dom::element;
using simdjson::dom::element_type;

// Problems found in one body, in the order found.
class Problems {
 public:
  void add(int index, std::string field, std::string message) {
    ++count_;
    if (list_.size() < kMaxReportedProblems) {
      list_.push_back({index, std::move(field), std::move(message)});
    }
  }
  bool empty() const { return count_ == 0; }
  std::size_t count() const { return count_; }

  // One error naming the first problem; `details` lists them all.
  Error to_error() const {
    const FieldError& first = list_.front();
    std::string message = first.field.empty() ? first.message : first.field + " " + first.message;
    if (first.index >= 0) {
      message = "item " + std::to_string(first.index) + ": " + message;
    }
    if (count_ > 1) {
      message += " (and " + std::to_string(count_ - 1) + " more problems)";
    }
    return {core::ErrorCode::kInvalidArgument, first.field, std::move(message), list_};
  }

 private:
  std::vector<FieldError> list_;
  std::size_t count_ = 0;
};

const char* type_name(element_type type) {
  switch (type) {
    case element_type::ARRAY: return "an array";
    case element_type::OBJECT: return "an object";
    case element_type::INT64:
    case element_type::UINT64:
    case element_type::DOUBLE: return "a number";
    case element_type::STRING: return "a string";
    case element_type::BOOL: return "a boolean";
    case element_type::NULL_VALUE: return "null";
  }
  return "a value";
}

// Fields of one JSON object, checked against the names the shape allows.
// Reports unknown and repeated names at construction; the getters report
// missing fields and wrong types. Field paths are prefixed ("ingredients[2].").
class ObjectReader {
 public:
  ObjectReader(simdjson::dom::object object, std::string prefix, int index, Problems& problems,
               std::span<const std::string_view> known, std::span<const std::string_view> ignored)
      : prefix_(std::move(prefix)), index_(index), problems_(problems) {
    for (const auto& field : object) {
      const std::string_view key = field.key;
      bool is_known = std::find(known.begin(), known.end(), key) != known.end();
      bool is_ignored = std::find(ignored.begin(), ignored.end(), key) != ignored.end();
      if (!is_known && !is_ignored) {
        problems_.add(index_, path(key), "is not a known field");
        continue;
      }
      if (std::any_of(fields_.begin(), fields_.end(), [&](const auto& f) { return f.first == key; })) {
        problems_.add(index_, path(key), "appears more than once");
        continue;
      }
      if (is_known) {
        fields_.emplace_back(key, field.value);
      }
    }
  }

  std::string path(std::string_view key) const { return prefix_ + std::string(key); }

  std::optional<element> find(std::string_view key) const {
    for (const auto& [k, v] : fields_) {
      if (k == key) {
        return v;
      }
    }
    return std::nullopt;
  }
  // The field when present and not null.
  std::optional<element> present(std::string_view key) const {
    auto e = find(key);
    if (!e || e->is_null()) {
      return std::nullopt;
    }
    return e;
  }

  void wrong_type(std::string_view key, const char* expected, element e) {
    problems_.add(index_, path(key), std::string("must be ") + expected + ", not " + type_name(e.type()));
  }

  std::string required_string(std::string_view key) {
    auto e = find(key);
    if (!e || e->is_null()) {
      problems_.add(index_, path(key), "is required");
      return {};
    }
    if (!e->is_string()) {
      wrong_type(key, "a string", *e);
      return {};
    }
    return std::string(std::string_view(*e));
  }

  std::optional<std::string> optional_string(std::string_view key) {
    auto e = present(key);
    if (!e) {
      return std::nullopt;
    }
    if (!e->is_string()) {
      wrong_type(key, "a string or null", *e);
      return std::nullopt;
    }
    return std::string(std::string_view(*e));
  }

  std::optional<std::int64_t> optional_id(std::string_view key) {
    auto e = present(key);
    if (!e) {
      return std::nullopt;
    }
    return id_value(key, *e);
  }

  std::optional<std::int64_t> required_id(std::string_view key) {
    auto e = find(key);
    if (!e || e->is_null()) {
      problems_.add(index_, path(key), "is required");
      return std::nullopt;
    }
    return id_value(key, *e);
  }

  std::optional<double> optional_number(std::string_view key) {
    auto e = present(key);
    if (!e) {
      return std::nullopt;
    }
    if (!e->is_number()) {
      wrong_type(key, "a number or null", *e);
      return std::nullopt;
    }
    return e->get_double().value_unsafe();
  }

  bool flag(std::string_view key, bool default_value) {
    auto e = present(key);
    if (!e) {
      return default_value;
    }
    if (!e->is_bool()) {
      wrong_type(key, "true or false", *e);
      return default_value;
    }
    return e->get_bool().value_unsafe();
  }

  // The array under `key`; nullopt (and a problem when required) otherwise.
  std::optional<simdjson::dom::array> array(std::string_view key, bool required) {
    auto e = present(key);
    if (!e) {
      if (required) {
        problems_.add(index_, path(key), "is required");
      }
      return std::nullopt;
    }
    if (!e->is_array()) {
      wrong_type(key, required ? "an array" : "an array or null", *e);
      return std::nullopt;
    }
    return e->get_array().value_unsafe();
  }

 private:
  std::optional<std::int64_t> id_value(std::string_view key, element e) {
    if (e.type() == element_type::INT64) {
      return e.get_int64().value_unsafe();
    }
    if (e.type() == element_type::UINT64) {
      problems_.add(index_, path(key), "is too large for a 64-bit id");
    } else {
      wrong_type(key, "an integer", e);
    }
    return std::nullopt;
  }

  std::string prefix_;
  int index_;
  Problems& problems_;
  std::vector<std::pair<std::string_view, element>> fields_;
};

// Each thread parses with its own parser, reused so that it keeps its
// buffers. A parser grows to the largest document it parsed (several times
// the document's size); one that grew past kKeptParserCapacity (a bulk
// upload) is released once the decode is over, so that a 32 MiB upload does
// not pin that memory on every executor thread for good.
constexpr std::size_t kKeptParserCapacity = 2 << 20;

simdjson::dom::parser& thread_parser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

// Held for the whole of a decode: the elements point into the parser.
class ParserScope {
 public:
  ParserScope() = default;
  ParserScope(const ParserScope&) = delete;
  ParserScope& operator=(const ParserScope&) = delete;
  ~ParserScope() {
    if (thread_parser().capacity() > kKeptParserCapacity) {
      thread_parser() = simdjson::dom::parser();
    }
  }
};

// The element stays valid until the next parse on this thread.
core::Result<element> parse(std::string_view body) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return Error::invalid("", "request body is empty: expected a JSON document");
  }
  element root;
  auto error = thread_parser().parse(body.data(), body.size()).get(root);
  if (error) {
    return Error::invalid("",
                          std::string("request body is not valid JSON: ") + simdjson::error_message(error));
  }
  return root;
}

core::Result<simdjson::dom::object> parse_object(std::string_view body) {
  auto root = parse(body);
  if (!root.ok()) {
    return root.error();
  }
  if (!root->is_object()) {
    return Error::invalid("",
                          std::string("request body must be a JSON object, not ") + type_name(root->type()));
  }
  return root->get_object().value_unsafe();
}

// Read-only fields of each shape, accepted and ignored (see the header).
using Names = std::span<const std::string_view>;
constexpr std::array<std::string_view, 2> kIngredientReadOnly = {"id", "path"};
constexpr std::array<std::string_view, 3> kRecipeReadOnly = {"id", "avg_rating", "rating_count"};
constexpr std::array<std::string_view, 3> kRowReadOnly = {"id", "ingredient_name", "unit_name"};
constexpr std::array<std::string_view, 1> kIdOnly = {"id"};
constexpr Names kNothing = {};

constexpr std::array<std::string_view, 4> kIngredientFields = {"name", "description", "parent_id",
                                                               "allow_substitution"};
constexpr std::array<std::string_view, 7> kRecipeFields = {
    "name", "instructions", "description", "image_url", "source", "source_url", "ingredients"};
constexpr std::array<std::string_view, 3> kRowFields = {"ingredient_id", "unit_id", "amount"};
constexpr std::array<std::string_view, 3> kUnitFields = {"name", "abbreviation", "conversion_to_ml"};
constexpr std::array<std::string_view, 5> kBulkIngredientFields = {"name", "description", "parent_id",
                                                                   "parent_name", "allow_substitution"};
constexpr std::array<std::string_view, 3> kBulkRowFields = {"ingredient_name", "amount", "unit_name"};

// An ingredient's fields, in the order they are checked; a bulk item may
// name its parent instead of giving its id.
template <typename Ingredient>
Ingredient read_ingredient(ObjectReader& r) {
  Ingredient in;
  in.name = r.required_string("name");
  in.description = r.optional_string("description");
  in.parent_id = r.optional_id("parent_id");
  if constexpr (std::is_same_v<Ingredient, catalog::BulkIngredient>) {
    in.parent_name = r.optional_string("parent_name");
  }
  in.allow_substitution = r.flag("allow_substitution", false);
  return in;
}

catalog::RecipeIngredientInput read_row(ObjectReader& r) {
  catalog::RecipeIngredientInput ri;
  ri.ingredient_id = r.required_id("ingredient_id").value_or(0);
  ri.unit_id = r.optional_id("unit_id");
  ri.amount = r.optional_number("amount");
  return ri;
}

catalog::BulkRecipeIngredient read_bulk_row(ObjectReader& r) {
  catalog::BulkRecipeIngredient bi;
  bi.ingredient_name = r.required_string("ingredient_name");
  bi.amount = r.optional_number("amount");
  bi.unit_name = r.optional_string("unit_name");
  return bi;
}

// A recipe's text fields, then each object of its optional "ingredients"
// array read by `read_item` (with fields `row_fields`, `row_read_only`
// ignored) under the path prefix "ingredients[i].".
template <typename Recipe, typename ReadRow>
Recipe read_recipe(ObjectReader& r, int index, Problems& problems, Names row_fields, Names row_read_only,
                   ReadRow read_item) {
  Recipe in;
  in.name = r.required_string("name");
  in.instructions = r.optional_string("instructions");
  in.description = r.optional_string("description");
  in.image_url = r.optional_string("image_url");
  in.source = r.optional_string("source");
  in.source_url = r.optional_string("source_url");
  if (auto rows = r.array("ingredients", false)) {
    std::size_t i = 0;
    for (element row : *rows) {
      std::string prefix = "ingredients[" + std::to_string(i++) + "]";
      if (!row.is_object()) {
        problems.add(index, prefix, std::string("must be an object, not ") + type_name(row.type()));
        continue;
      }
      ObjectReader rr(row.get_object().value_unsafe(), prefix + ".", index, problems, row_fields,
                      row_read_only);
      in.ingredients.push_back(read_item(rr));
    }
  }
  return in;
}

// A body holding one JSON object, read by `read(reader, problems)`: the
// value only when no problem was found, otherwise one error listing them.
template <typename ReadObject>
auto decode_object(std::string_view body, Names known, Names ignored, ReadObject read)
    -> core::Result<decltype(read(std::declval<ObjectReader&>(), std::declval<Problems&>()))> {
  ParserScope scope;
  auto object = parse_object(body);
  if (!object.ok()) {
    return object.error();
  }
  Problems problems;
  ObjectReader r(*object, "", -1, problems, known, ignored);
  auto in = read(r, problems);
  if (!problems.empty()) {
    return problems.to_error();
  }
  return in;
}

// The items of a bulk body: a top-level array, or an array under `key`.
core::Result<simdjson::dom::array> bulk_items(std::string_view body, std::string_view key) {
  auto root = parse(body);
  if (!root.ok()) {
    return root.error();
  }
  element items = *root;
  if (root->is_object()) {
    Problems problems;
    const std::array<std::string_view, 1> names = {key};
    ObjectReader r(root->get_object().value_unsafe(), "", -1, problems, names, kNothing);
    auto array = r.array(key, true);
    if (!problems.empty()) {
      return problems.to_error();
    }
    return *array;
  }
  if (!items.is_array()) {
    return Error::invalid("", "request body must be a JSON array of items or an object {\"" +
                                  std::string(key) + "\": [...]}, not " + type_name(items.type()));
  }
  return items.get_array().value_unsafe();
}

template <typename Item, typename ReadItem>
core::Result<std::vector<Item>> decode_bulk(std::string_view body, std::string_view key, ReadItem read_item) {
  ParserScope scope;
  auto items = bulk_items(body, key);
  if (!items.ok()) {
    return items.error();
  }
  if (items->size() == 0) {
    return Error::invalid(std::string(key), std::string(key) + " must not be empty");
  }
  if (items->size() > catalog::kMaxBulkItems) {
    return Error{core::ErrorCode::kTooLarge,
                 std::string(key),
                 std::string(key) + " has " + std::to_string(items->size()) + " items; at most " +
                     std::to_string(catalog::kMaxBulkItems) + " per call",
                 {}};
  }
  Problems problems;
  std::vector<Item> out;
  out.reserve(items->size());
  int index = 0;
  for (element item : *items) {
    if (!item.is_object()) {
      problems.add(index, "", std::string("must be an object, not ") + type_name(item.type()));
    } else {
      out.push_back(read_item(item.get_object().value_unsafe(), index, problems));
    }
    ++index;
  }
  if (!problems.empty()) {
    return problems.to_error();
  }
  return out;
}

}  // namespace

core::Result<catalog::IngredientInput> decode_ingredient(std::string_view body) {
  return decode_object(body, kIngredientFields, kIngredientReadOnly, [](ObjectReader& r, Problems&) {
    return read_ingredient<catalog::IngredientInput>(r);
  });
}

core::Result<catalog::RecipeInput> decode_recipe(std::string_view body) {
  return decode_object(body, kRecipeFields, kRecipeReadOnly, [](ObjectReader& r, Problems& problems) {
    return read_recipe<catalog::RecipeInput>(r, -1, problems, kRowFields, kRowReadOnly, read_row);
  });
}

core::Result<catalog::UnitInput> decode_unit(std::string_view body) {
  return decode_object(body, kUnitFields, kIdOnly, [](ObjectReader& r, Problems&) {
    catalog::UnitInput in;
    in.name = r.required_string("name");
    in.abbreviation = r.optional_string("abbreviation");
    in.conversion_to_ml = r.optional_number("conversion_to_ml");
    return in;
  });
}

core::Result<std::vector<catalog::BulkIngredient>> decode_bulk_ingredients(std::string_view body) {
  return decode_bulk<catalog::BulkIngredient>(
      body, "ingredients", [](simdjson::dom::object object, int index, Problems& problems) {
        ObjectReader r(object, "", index, problems, kBulkIngredientFields, kNothing);
        return read_ingredient<catalog::BulkIngredient>(r);
      });
}

core::Result<std::vector<catalog::BulkRecipe>> decode_bulk_recipes(std::string_view body) {
  return decode_bulk<catalog::BulkRecipe>(
      body, "recipes", [](simdjson::dom::object object, int index, Problems& problems) {
        ObjectReader r(object, "", index, problems, kRecipeFields, kNothing);
        return read_recipe<catalog::BulkRecipe>(r, index, problems, kBulkRowFields, kNothing, read_bulk_row);
      });
}

}  // namespace cocktail::catalog_service

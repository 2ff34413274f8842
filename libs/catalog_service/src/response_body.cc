#include "cocktail/catalog_service/response_body.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <optional>
#include <string_view>

namespace cocktail::catalog_service {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void key(Writer& w, std::string_view k) { w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size())); }

void value(Writer& w, std::string_view s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); }
void value(Writer& w, std::int64_t v) { w.Int64(v); }
void value(Writer& w, double v) { w.Double(v); }
void value(Writer& w, bool v) { w.Bool(v); }
// An absent optional field is written as null, never left out.
template <typename T>
void value(Writer& w, const std::optional<T>& v) {
  if (v) {
    value(w, *v);
  } else {
    w.Null();
  }
}

template <typename T>
void field(Writer& w, std::string_view k, const T& v) {
  key(w, k);
  value(w, v);
}

// The JSON text `body(writer)` writes.
template <typename Body>
std::string document(Body body) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  body(w);
  return {buffer.GetString(), buffer.GetSize()};
}

void write(Writer& w, const catalog::Ingredient& row) {
  w.StartObject();
  field(w, "id", row.id);
  field(w, "name", row.name);
  field(w, "description", row.description);
  field(w, "parent_id", row.parent_id);
  field(w, "path", row.path);
  field(w, "allow_substitution", row.allow_substitution);
  w.EndObject();
}

void write(Writer& w, const catalog::Unit& row) {
  w.StartObject();
  field(w, "id", row.id);
  field(w, "name", row.name);
  field(w, "abbreviation", row.abbreviation);
  field(w, "conversion_to_ml", row.conversion_to_ml);
  w.EndObject();
}

void write(Writer& w, const catalog::Recipe& row) {
  w.StartObject();
  field(w, "id", row.id);
  field(w, "name", row.name);
  field(w, "instructions", row.instructions);
  field(w, "description", row.description);
  field(w, "image_url", row.image_url);
  field(w, "source", row.source);
  field(w, "source_url", row.source_url);
  field(w, "avg_rating", row.avg_rating);
  field(w, "rating_count", row.rating_count);
  key(w, "ingredients");
  w.StartArray();
  for (const auto& ri : row.ingredients) {
    w.StartObject();
    field(w, "id", ri.id);
    field(w, "ingredient_id", ri.ingredient_id);
    field(w, "ingredient_name", ri.ingredient_name);
    field(w, "unit_id", ri.unit_id);
    field(w, "unit_name", ri.unit_name);
    field(w, "amount", ri.amount);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

template <typename Row>
std::string one(const Row& row) {
  return document([&](Writer& w) { write(w, row); });
}

template <typename Row>
std::string page(const std::vector<Row>& items, std::optional<std::int64_t> next_after_id) {
  return document([&](Writer& w) {
    w.StartObject();
    key(w, "items");
    w.StartArray();
    for (const auto& row : items) {
      write(w, row);
    }
    w.EndArray();
    field(w, "next_after_id", next_after_id);
    w.EndObject();
  });
}

template <typename Row>
std::string written(const Row& row, std::int64_t catalog_seq) {
  return document([&](Writer& w) {
    w.StartObject();
    key(w, "item");
    write(w, row);
    field(w, "catalog_seq", catalog_seq);
    w.EndObject();
  });
}

template <typename Row>
std::string bulk(const std::vector<Row>& rows, std::int64_t catalog_seq) {
  return document([&](Writer& w) {
    w.StartObject();
    field(w, "created", static_cast<std::int64_t>(rows.size()));
    key(w, "items");
    w.StartArray();
    for (const auto& row : rows) {
      w.StartObject();
      field(w, "id", row.id);
      field(w, "name", row.name);
      w.EndObject();
    }
    w.EndArray();
    field(w, "catalog_seq", catalog_seq);
    w.EndObject();
  });
}

}  // namespace

std::string ingredient_json(const catalog::Ingredient& row) { return one(row); }
std::string recipe_json(const catalog::Recipe& row) { return one(row); }
std::string unit_json(const catalog::Unit& row) { return one(row); }

std::string ingredient_page_json(const catalog::Page<catalog::Ingredient>& p) {
  return page(p.items, p.next_after_id);
}
std::string recipe_page_json(const catalog::Page<catalog::Recipe>& p) {
  return page(p.items, p.next_after_id);
}
std::string unit_list_json(const std::vector<catalog::Unit>& units) { return page(units, std::nullopt); }

std::string written_json(const catalog::Ingredient& row, std::int64_t seq) { return written(row, seq); }
std::string written_json(const catalog::Recipe& row, std::int64_t seq) { return written(row, seq); }
std::string written_json(const catalog::Unit& row, std::int64_t seq) { return written(row, seq); }

std::string deleted_json(std::int64_t id, std::int64_t catalog_seq) {
  return document([&](Writer& w) {
    w.StartObject();
    field(w, "id", id);
    field(w, "deleted", true);
    field(w, "catalog_seq", catalog_seq);
    w.EndObject();
  });
}

std::string bulk_created_json(const std::vector<catalog::Ingredient>& rows, std::int64_t seq) {
  return bulk(rows, seq);
}
std::string bulk_created_json(const std::vector<catalog::Recipe>& rows, std::int64_t seq) {
  return bulk(rows, seq);
}

}  // namespace cocktail::catalog_service

#include "catalog_facts.h"

#include <sqlite3.h>

#include <memory>
#include <sstream>
#include <stdexcept>

namespace cocktail::e2e {
namespace {

struct CloseDb {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct Finalize {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Db = std::unique_ptr<sqlite3, CloseDb>;
using Stmt = std::unique_ptr<sqlite3_stmt, Finalize>;

Stmt prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &raw, nullptr) != SQLITE_OK) {
    throw std::runtime_error(std::string("prepare: ") + sqlite3_errmsg(db) + " in " + sql);
  }
  return Stmt(raw);
}

void exec(sqlite3* db, const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : "?";
    sqlite3_free(error);
    throw std::runtime_error(std::string(sql) + ": " + message);
  }
}

// Calls `row` for every result row; throws on an error.
template <typename Row>
void each_row(sqlite3* db, const char* sql, Row row) {
  Stmt stmt = prepare(db, sql);
  int rc;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    row(stmt.get());
  }
  if (rc != SQLITE_DONE) {
    throw std::runtime_error(std::string("step: ") + sqlite3_errmsg(db));
  }
}

std::string text(sqlite3_stmt* s, int column) {
  const unsigned char* t = sqlite3_column_text(s, column);
  return t ? reinterpret_cast<const char*>(t) : "";
}

// The old system's ingredient-usage query (seed 001), for every ingredient
// rather than one level: a prefix match on the materialised path gives the
// descendants-or-self. substr() instead of LIKE keeps '_' and '%' literal.
constexpr const char* kUsageSql = R"sql(
SELECT i.id, i.name, i.path, i.parent_id, i.allow_substitution,
       (SELECT COUNT(DISTINCT ri.recipe_id) FROM recipe_ingredients ri WHERE ri.ingredient_id = i.id),
       (SELECT COUNT(DISTINCT ri2.recipe_id)
          FROM recipe_ingredients ri2 JOIN ingredients i2 ON ri2.ingredient_id = i2.id
         WHERE substr(i2.path, 1, length(i.path)) = i.path),
       EXISTS (SELECT 1 FROM ingredients c WHERE c.parent_id = i.id)
  FROM ingredients i
)sql";

constexpr const char* kComplexitySql = R"sql(
SELECT ingredient_count, COUNT(*) FROM (
  SELECT recipe_id, COUNT(DISTINCT ingredient_id) AS ingredient_count
    FROM recipe_ingredients GROUP BY recipe_id)
 GROUP BY ingredient_count ORDER BY ingredient_count
)sql";

// The volume rules of the two cocktail spaces, per recipe_ingredients row; a
// recipe whose rows add up to 0 is left out of that map.
constexpr const char* kMapsSql = R"sql(
SELECT ri.recipe_id,
       SUM(CASE WHEN ri.amount IS NOT NULL AND u.conversion_to_ml IS NOT NULL THEN ri.amount * u.conversion_to_ml
                WHEN ri.amount IS NOT NULL THEN ri.amount ELSE 1.0 END),
       SUM(CASE WHEN lower(u.name) = 'to top' THEN 90.0 WHEN lower(u.name) = 'to rinse' THEN 5.0
                WHEN lower(u.name) = 'each' THEN 1.0
                WHEN ri.amount IS NOT NULL AND u.conversion_to_ml IS NOT NULL THEN ri.amount * u.conversion_to_ml
                WHEN ri.amount IS NOT NULL THEN ri.amount ELSE 1.0 END)
  FROM recipe_ingredients ri LEFT JOIN units u ON u.id = ri.unit_id
 GROUP BY ri.recipe_id
)sql";

std::optional<std::string> envelope(const rapidjson::Document& body, AnalyticsFacts& out, const char* type) {
  if (!body.IsObject() || !body.HasMember("data") || !body.HasMember("metadata")) {
    return std::string(type) + ": not a {data, metadata} envelope";
  }
  const auto& m = body["metadata"];
  if (!m.HasMember("catalog_seq") || !m["catalog_seq"].IsInt64() || !m.HasMember("generation") ||
      !m["generation"].IsInt64()) {
    return std::string(type) + ": metadata without catalog_seq or generation";
  }
  out.catalog_seq = m["catalog_seq"].GetInt64();
  out.generation = m["generation"].GetInt64();
  if (!body["data"].IsArray()) {
    return std::string(type) + ": data is not an array";
  }
  return std::nullopt;
}

}  // namespace

CatalogFacts read_catalog_facts(const std::string& db_path) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(db_path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
  Db db(raw);
  if (rc != SQLITE_OK) {
    throw std::runtime_error("open " + db_path + ": " + sqlite3_errstr(rc));
  }
  sqlite3_busy_timeout(db.get(), 5000);

  CatalogFacts facts;
  exec(db.get(), "BEGIN");
  each_row(db.get(), "SELECT COALESCE(MAX(seq), 0) FROM change_log",
           [&](sqlite3_stmt* s) { facts.latest_seq = sqlite3_column_int64(s, 0); });
  each_row(db.get(), kUsageSql, [&](sqlite3_stmt* s) {
    UsageFacts u;
    u.name = text(s, 1);
    u.path = text(s, 2);
    if (sqlite3_column_type(s, 3) != SQLITE_NULL) {
      u.parent_id = sqlite3_column_int64(s, 3);
    }
    u.allow_substitution = sqlite3_column_int64(s, 4) != 0;
    u.direct_usage = sqlite3_column_int64(s, 5);
    u.hierarchical_usage = sqlite3_column_int64(s, 6);
    u.has_children = sqlite3_column_int64(s, 7) != 0;
    facts.ingredient_ids[u.name] = sqlite3_column_int64(s, 0);
    facts.usage[sqlite3_column_int64(s, 0)] = std::move(u);
  });
  each_row(db.get(), kComplexitySql, [&](sqlite3_stmt* s) {
    facts.complexity[sqlite3_column_int64(s, 0)] = sqlite3_column_int64(s, 1);
  });
  each_row(db.get(), "SELECT id, name FROM recipes",
           [&](sqlite3_stmt* s) { facts.recipe_ids[text(s, 1)] = sqlite3_column_int64(s, 0); });
  each_row(db.get(), kMapsSql, [&](sqlite3_stmt* s) {
    const std::int64_t recipe = sqlite3_column_int64(s, 0);
    facts.recipes_with_ingredients.insert(recipe);
    if (sqlite3_column_double(s, 1) > 0) {
      facts.manhattan_recipes.insert(recipe);
    }
    if (sqlite3_column_double(s, 2) > 0) {
      facts.em_recipes.insert(recipe);
    }
  });
  exec(db.get(), "COMMIT");
  return facts;
}

std::optional<std::string> read_usage_all(const rapidjson::Document& body, AnalyticsFacts& out) {
  if (auto problem = envelope(body, out, "ingredient-usage-all")) {
    return problem;
  }
  out.usage.clear();
  std::int64_t previous = INT64_MAX;
  for (const auto& row : body["data"].GetArray()) {
    for (const char* field : {"ingredient_id", "direct_usage", "hierarchical_usage"}) {
      if (!row.HasMember(field) || !row[field].IsInt64()) {
        return std::string("ingredient-usage-all: a row without an integer ") + field;
      }
    }
    if (!row.HasMember("ingredient_name") || !row["ingredient_name"].IsString() || !row.HasMember("path") ||
        !row["path"].IsString() || !row.HasMember("parent_id") || !row.HasMember("allow_substitution") ||
        !row["allow_substitution"].IsBool() || !row.HasMember("has_children") ||
        !row["has_children"].IsBool()) {
      return std::string("ingredient-usage-all: a row without name, path, parent_id or flags");
    }
    UsageFacts u;
    u.name = row["ingredient_name"].GetString();
    u.path = row["path"].GetString();
    if (!row["parent_id"].IsNull()) {
      u.parent_id = row["parent_id"].GetInt64();
    }
    u.allow_substitution = row["allow_substitution"].GetBool();
    u.direct_usage = row["direct_usage"].GetInt64();
    u.hierarchical_usage = row["hierarchical_usage"].GetInt64();
    u.has_children = row["has_children"].GetBool();
    if (u.hierarchical_usage > previous) {
      return "ingredient-usage-all: rows not in descending hierarchical_usage at " + u.name;
    }
    previous = u.hierarchical_usage;
    if (!out.usage.emplace(row["ingredient_id"].GetInt64(), std::move(u)).second) {
      return "ingredient-usage-all: ingredient " + std::to_string(row["ingredient_id"].GetInt64()) + " twice";
    }
  }
  return std::nullopt;
}

std::optional<std::string> read_complexity(const rapidjson::Document& body, AnalyticsFacts& out) {
  if (auto problem = envelope(body, out, "recipe-complexity")) {
    return problem;
  }
  out.complexity.clear();
  for (const auto& row : body["data"].GetArray()) {
    if (!row.HasMember("ingredient_count") || !row["ingredient_count"].IsInt64() ||
        !row.HasMember("recipe_count") || !row["recipe_count"].IsInt64()) {
      return std::string("recipe-complexity: a row without ingredient_count and recipe_count");
    }
    out.complexity[row["ingredient_count"].GetInt64()] = row["recipe_count"].GetInt64();
  }
  return std::nullopt;
}

std::string compare_usage(const std::map<std::int64_t, UsageFacts>& expected,
                          const std::map<std::int64_t, UsageFacts>& actual) {
  std::ostringstream out;
  for (const auto& [id, e] : expected) {
    auto it = actual.find(id);
    if (it == actual.end()) {
      out << "ingredient " << id << " (" << e.name << ") missing from the analytics\n";
      continue;
    }
    const UsageFacts& a = it->second;
    if (a == e) {
      continue;
    }
    out << "ingredient " << id << " (" << e.name << "): expected direct " << e.direct_usage
        << " hierarchical " << e.hierarchical_usage << " children " << e.has_children << " path " << e.path
        << " name " << e.name << ", analytics say direct " << a.direct_usage << " hierarchical "
        << a.hierarchical_usage << " children " << a.has_children << " path " << a.path << " name " << a.name
        << "\n";
  }
  for (const auto& [id, a] : actual) {
    if (!expected.count(id)) {
      out << "ingredient " << id << " (" << a.name << ") is not in the catalog\n";
    }
  }
  return out.str();
}

std::string compare_complexity(const std::map<std::int64_t, std::int64_t>& expected,
                               const std::map<std::int64_t, std::int64_t>& actual) {
  if (expected == actual) {
    return "";
  }
  std::ostringstream out;
  out << "recipe-complexity differs (ingredient_count: expected/actual):";
  std::set<std::int64_t> keys;
  for (const auto& [k, v] : expected) {
    keys.insert(k);
  }
  for (const auto& [k, v] : actual) {
    keys.insert(k);
  }
  for (auto k : keys) {
    auto e = expected.count(k) ? expected.at(k) : 0;
    auto a = actual.count(k) ? actual.at(k) : 0;
    if (e != a) {
      out << " " << k << ": " << e << "/" << a;
    }
  }
  return out.str() + "\n";
}

}  // namespace cocktail::e2e

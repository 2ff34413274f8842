#include "synthetic_catalog.h"

#include <stdlib.h>

#include <filesystem>
#include <random>
#include <stdexcept>

#include "cocktail/catalog/change_log.h"
#include "cocktail/catalog/schema.h"

namespace cocktail::testing {

std::unique_ptr<catalog::Database> open_test_catalog(const std::string& path) {
  catalog::DatabaseOptions options;
  options.synchronous = catalog::Synchronous::kOff;
  return catalog::Database::open(path, options);
}

void create_catalog_schema(catalog::Database& db) { catalog::migrate(db); }

std::int64_t latest_seq(catalog::Database& db) { return catalog::ChangeLog(db).latest_seq(); }

namespace {

std::string random_name(std::mt19937_64& rng, bool nasty, int k) {
  static const char* kPlain[] = {"gin",  "Rum",   "rye",   "Sherry",   "lime",
                                 "Mint", "vodka", "amaro", "_bitters", "Zest"};
  static const char* kNasty[] = {"\"quoted\"",
                                 "back\\slash",
                                 "tab\there",
                                 "new\nline",
                                 "bell\x07",
                                 "caf\xC3\xA9",
                                 "\xE6\x97\xA5\xE6\x9C\xAC",
                                 "emoji \xF0\x9F\x8D\xB8",
                                 "ctrl\x01\x1F",
                                 "del\x7F",
                                 "</script>",
                                 "\xE2\x80\xA8sep"};
  std::string name = kPlain[rng() % 10];
  if (nasty && rng() % 2 == 0) {
    name += kNasty[rng() % 12];
  }
  // A suffix keeps names unique (NOCASE) while leaving ties in the
  // leading part for the ordering rule to break.
  name += " " + std::to_string(k);
  return name;
}

}  // namespace

void fill_synthetic(catalog::Database& db, const SyntheticSpec& spec) {
  std::mt19937_64 rng(spec.seed);
  auto chance = [&](double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; };
  catalog::Transaction tx(db, catalog::Transaction::Kind::kWrite);

  struct Ing {
    std::int64_t id;
    std::string path;
    int depth;
  };
  std::vector<Ing> ings;
  std::int64_t next_id = 1 + static_cast<std::int64_t>(rng() % 5);
  auto ins = db.prepare(
      "INSERT INTO ingredients (id, name, parent_id, path, allow_substitution) VALUES (?1, ?2, ?3, ?4, ?5)");
  for (int k = 0; k < spec.ingredients; ++k) {
    const std::int64_t id = next_id;
    next_id += 1 + static_cast<std::int64_t>(rng() % spec.id_gap);
    std::optional<std::int64_t> parent;
    std::string path;
    int depth = 0;
    if (!ings.empty() && !chance(spec.root_share)) {
      const Ing* p = &ings[rng() % ings.size()];
      if (p->depth < spec.max_depth) {
        parent = p->id;
        path = p->path;
        depth = p->depth + 1;
      }
    }
    if (path.empty()) {
      path = "/";
    }
    path.append(std::to_string(id)).push_back('/');
    ins.bind(1, id).bind(2, random_name(rng, spec.nasty_names, k)).bind(3, parent).bind(4, path);
    ins.bind(5, static_cast<std::int64_t>(rng() % 2));
    ins.run();
    ings.push_back({id, path, depth});
  }

  auto rec = db.prepare("INSERT INTO recipes (id, name) VALUES (?1, ?2)");
  auto row = db.prepare(
      "INSERT INTO recipe_ingredients (recipe_id, ingredient_id, unit_id, amount) VALUES (?1, ?2, ?3, ?4)");
  std::int64_t rid = 1;
  for (int r = 0; r < spec.recipes; ++r) {
    rid += 1 + static_cast<std::int64_t>(rng() % spec.id_gap);
    rec.bind(1, rid).bind(2, random_name(rng, spec.nasty_names, r)).run();
    if (ings.empty()) {
      continue;
    }
    const int rows = static_cast<int>(rng() % (spec.max_rows + 1));
    std::vector<std::int64_t> used;
    for (int k = 0; k < rows; ++k) {
      std::int64_t ing;
      if (!used.empty() && chance(spec.duplicate_share)) {
        ing = used[rng() % used.size()];
      } else {
        // Skewed: low indices (the early, shallow ingredients) are popular.
        const auto a = rng() % ings.size(), b = rng() % ings.size();
        ing = ings[std::min(a, b)].id;
      }
      used.push_back(ing);
      row.bind(1, rid).bind(2, ing);
      if (chance(0.8)) {
        row.bind(3, static_cast<std::int64_t>(1 + rng() % 9));
      } else {
        row.bind_null(3);
      }
      if (chance(0.9)) {
        row.bind(4, static_cast<double>(rng() % 8) * 0.25);
      } else {
        row.bind_null(4);
      }
      row.run();
    }
  }
  const bool pg = db.backend() == catalog::Backend::kPostgres;
  auto log =
      db.prepare(pg ? "INSERT INTO cocktail.change_log (seq, ts, entity, op, row_id) VALUES "
                      "(nextval('cocktail.change_seq'), 0, 'recipes', 'insert', 1)"
                    : "INSERT INTO change_log (ts, entity, op, row_id) VALUES (0, 'recipes', 'insert', 1)");
  for (std::int64_t k = 0; k < spec.change_log_rows; ++k) {
    log.run();
  }
  if (pg) {
    // The ids were chosen here: later inserts take theirs from the sequences.
    for (const char* table : {"ingredients", "recipes"}) {
      db.prepare(std::string("SELECT setval(pg_get_serial_sequence('") + table +
                 "', 'id'), (SELECT MAX(id) FROM " + table + "))")
          .run();
    }
  }
  tx.commit();
}

namespace {

std::vector<analytics::IngredientUsageRow> usage_rows(catalog::Statement& st) {
  std::vector<analytics::IngredientUsageRow> out;
  while (st.step()) {
    analytics::IngredientUsageRow r;
    r.ingredient_id = st.column_int(0);
    r.ingredient_name = st.column_text(1);
    r.path = st.column_text(2);
    r.parent_id = st.column_optional_int(3);
    r.allow_substitution = st.column_int(4) != 0;
    r.direct_usage = st.column_int(5);
    r.hierarchical_usage = st.column_int(6);
    r.has_children = st.column_int(7) != 0;
    r.depth = analytics::path_depth(r.path);
    out.push_back(std::move(r));
  }
  return out;
}

// The seed's query (001), with the full index (no WHERE on parent_id) and the
// ordering rule (ties by name, NOCASE as the column, then id).
constexpr const char* kUsageSql = R"sql(
SELECT
  i.id AS ingredient_id,
  i.name AS ingredient_name,
  i.path,
  i.parent_id,
  i.allow_substitution,
  COUNT(DISTINCT ri.recipe_id) AS direct_usage,
  (
    SELECT COUNT(DISTINCT ri2.recipe_id)
    FROM recipe_ingredients ri2
    INNER JOIN ingredients i2 ON ri2.ingredient_id = i2.id
    WHERE i2.path LIKE i.path || '%'
  ) AS hierarchical_usage,
  EXISTS(SELECT 1 FROM ingredients WHERE parent_id = i.id) AS has_children
FROM ingredients i
LEFT JOIN recipe_ingredients ri ON ri.ingredient_id = i.id
%WHERE%
GROUP BY i.id, i.name, i.path, i.parent_id
ORDER BY hierarchical_usage DESC, ingredient_name, ingredient_id
)sql";

std::string usage_sql(const std::string& where) {
  std::string sql = kUsageSql;
  sql.replace(sql.find("%WHERE%"), 7, where);
  return sql;
}

}  // namespace

std::vector<analytics::IngredientUsageRow> oracle_usage(catalog::Database& db) {
  auto st = db.prepare(usage_sql(""));
  return usage_rows(st);
}

std::vector<analytics::IngredientUsageRow> oracle_usage_children(catalog::Database& db,
                                                                 std::int64_t parent_id) {
  auto st = db.prepare(usage_sql("WHERE i.parent_id = ?1"));
  st.bind(1, parent_id);
  return usage_rows(st);
}

std::vector<analytics::ComplexityBucket> oracle_complexity(catalog::Database& db) {
  auto st = db.prepare(R"sql(
SELECT ingredient_count, COUNT(*) AS recipe_count
FROM (
  SELECT recipe_id, COUNT(DISTINCT ingredient_id) AS ingredient_count
  FROM recipe_ingredients
  GROUP BY recipe_id
) counts
GROUP BY ingredient_count
ORDER BY ingredient_count
)sql");
  std::vector<analytics::ComplexityBucket> out;
  while (st.step()) {
    out.push_back({st.column_int(0), st.column_int(1)});
  }
  return out;
}

std::int64_t oracle_total_recipes(catalog::Database& db) {
  auto st = db.prepare("SELECT COUNT(*) FROM recipes");
  st.step();
  return st.column_int(0);
}

}  // namespace cocktail::testing

#include "cocktail/catalog/state.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <string>
#include <unordered_map>

#include "backend.h"
#include "cocktail/catalog/database.h"
#include "pg_database.h"
#include "pg_outbox.h"
#include "sqlite_database.h"

namespace cocktail::catalog {
namespace {

bool has_table(Database& db, const char* table) {
  auto st = db.prepare(Dialect{"SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                               "SELECT 1 WHERE to_regclass(?1) IS NOT NULL"}
                           .of(db));
  st.bind(1, table);
  return st.step();
}

bool has_column(Database& db, const char* table, const char* column) {
  auto st = db.prepare(Dialect{"SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2",
                               "SELECT 1 FROM pg_catalog.pg_attribute WHERE attrelid = to_regclass(?1) AND "
                               "attname = ?2 AND attnum > 0 AND NOT attisdropped"}
                           .of(db));
  st.bind(1, table).bind(2, column);
  return st.step();
}

// The column, or `fallback` when a catalog that was never migrated lacks it
// (load_state() reads such a catalog as it is, read-only).
std::string column_or(Database& db, const char* table, const char* column, const char* fallback) {
  return has_column(db, table, column) ? std::string(column) : std::string(fallback);
}

struct Queries {
  std::string seq, ingredients, units, recipes, recipe_ingredients;
};

Queries queries(Database& db) {
  const bool pg = db.backend() == Backend::kPostgres;
  Queries q;
  if (pg ? has_table(db, "cocktail.change_log") : has_table(db, "change_log")) {
    // As ChangeLog::latest_seq(): still right after a prune emptied the table.
    q.seq = kLatestSeq.of(db);
  } else {
    q.seq = "SELECT 0";
  }
  // Column names come from the constants here, never from input.
  q.ingredients = "SELECT id, name, " + column_or(db, "ingredients", "parent_id", "NULL") + ", " +
                  column_or(db, "ingredients", "path", "NULL") + ", CASE WHEN " +
                  column_or(db, "ingredients", "allow_substitution", "NULL") +
                  " THEN 1 ELSE 0 END FROM ingredients ORDER BY id";
  q.units = "SELECT id, name, " + column_or(db, "units", "abbreviation", "NULL") + ", " +
            column_or(db, "units", "conversion_to_ml", "NULL") + " FROM units ORDER BY id";
  q.recipes = "SELECT id, name FROM recipes ORDER BY id";
  q.recipe_ingredients =
      "SELECT id, recipe_id, ingredient_id, " + column_or(db, "recipe_ingredients", "unit_id", "NULL") +
      ", " + column_or(db, "recipe_ingredients", "amount", "NULL") +
      // SQLite: rowid order (a straight table scan) is much
      // cheaper than walking the recipe_id index; rows are
      // ordered by recipe in memory below.
      (pg ? " FROM recipe_ingredients ORDER BY recipe_id, id" : " FROM recipe_ingredients ORDER BY id");
  return q;
}

// ---- SQLite: prepared statements.

void load_sqlite(Database& db, const Queries& q, CatalogState& state) {
  {
    auto st = db.prepare(q.seq);
    if (st.step()) {
      state.catalog_seq = st.column_int(0);
    }
  }
  {
    auto st = db.prepare(q.ingredients);
    while (st.step()) {
      state.ingredients.push_back({st.column_int(0), st.column_text(1), st.column_optional_int(2),
                                   st.column_text(3), st.column_int(4) != 0});
    }
  }
  {
    auto st = db.prepare(q.units);
    while (st.step()) {
      state.units.push_back(
          {st.column_int(0), st.column_text(1), st.column_text(2), st.column_optional_double(3)});
    }
  }
  {
    auto st = db.prepare(q.recipes);
    while (st.step()) {
      state.recipes.push_back({st.column_int(0), st.column_text(1)});
    }
  }
  {
    auto st = db.prepare(q.recipe_ingredients);
    while (st.step()) {
      state.recipe_ingredients.push_back({st.column_int(0), st.column_int(1), st.column_int(2),
                                          st.column_optional_int(3), st.column_optional_double(4)});
    }
  }
}

// ---- PostgreSQL: COPY ... TO STDOUT, text format, parsed in place. One
// round trip per table and no per-value allocation by libpq.

// Splits a COPY text line into fields; nullopt for \N. Backslash escapes
// are undone only in fields that have one.
class CopyLine {
 public:
  explicit CopyLine(std::string_view line) {
    std::size_t start = 0;
    for (;;) {
      std::size_t tab = line.find('\t', start);
      fields_.push_back(
          line.substr(start, tab == std::string_view::npos ? std::string_view::npos : tab - start));
      if (tab == std::string_view::npos) {
        break;
      }
      start = tab + 1;
    }
  }
  std::size_t size() const { return fields_.size(); }
  bool is_null(std::size_t i) const { return fields_[i] == "\\N"; }
  std::int64_t integer(std::size_t i) const {
    std::int64_t v = 0;
    std::from_chars(fields_[i].data(), fields_[i].data() + fields_[i].size(), v);
    return v;
  }
  std::optional<std::int64_t> optional_integer(std::size_t i) const {
    if (is_null(i)) {
      return std::nullopt;
    }
    return integer(i);
  }
  std::optional<double> optional_double(std::size_t i) const {
    if (is_null(i)) {
      return std::nullopt;
    }
    double v = 0;
    std::from_chars(fields_[i].data(), fields_[i].data() + fields_[i].size(), v);
    return v;
  }
  std::string text(std::size_t i) const {
    if (is_null(i)) {
      return {};
    }
    std::string_view f = fields_[i];
    if (f.find('\\') == std::string_view::npos) {
      return std::string(f);
    }
    std::string out;
    out.reserve(f.size());
    for (std::size_t k = 0; k < f.size(); ++k) {
      if (f[k] != '\\' || k + 1 == f.size()) {
        out += f[k];
        continue;
      }
      const char c = f[++k];
      switch (c) {
        case 't': out += '\t'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'v': out += '\v'; break;
        default: out += c;  // \\ and any other escaped character
      }
    }
    return out;
  }

 private:
  std::vector<std::string_view> fields_;
};

void expect_fields(const CopyLine& row, std::size_t n) {
  if (row.size() != n) {
    throw DatabaseError(
        DatabaseError::Kind::kOther,
        "unexpected COPY row with " + std::to_string(row.size()) + " fields, expected " + std::to_string(n));
  }
}

void load_postgres(PgDatabase& db, const Queries& q, CatalogState& state) {
  {
    auto st = db.prepare(q.seq);
    if (st.step()) {
      state.catalog_seq = st.column_int(0);
    }
  }
  auto copy = [&](const std::string& select, const std::function<void(const CopyLine&)>& row) {
    db.copy_out("COPY (" + select + ") TO STDOUT", [&](std::string_view line) { row(CopyLine(line)); });
  };
  copy(q.ingredients, [&](const CopyLine& r) {
    expect_fields(r, 5);
    state.ingredients.push_back(
        {r.integer(0), r.text(1), r.optional_integer(2), r.text(3), r.integer(4) != 0});
  });
  copy(q.units, [&](const CopyLine& r) {
    expect_fields(r, 4);
    state.units.push_back({r.integer(0), r.text(1), r.text(2), r.optional_double(3)});
  });
  copy(q.recipes, [&](const CopyLine& r) {
    expect_fields(r, 2);
    state.recipes.push_back({r.integer(0), r.text(1)});
  });
  copy(q.recipe_ingredients, [&](const CopyLine& r) {
    expect_fields(r, 5);
    state.recipe_ingredients.push_back(
        {r.integer(0), r.integer(1), r.integer(2), r.optional_integer(3), r.optional_double(4)});
  });
}

// Rows of a catalog that was never migrated may lack a path: it is derived
// from the parent chain here (in memory; the catalog is not written). A
// chain that does not reach a root (a dangling parent_id) keeps it empty.
void fill_missing_paths(CatalogState& state) {
  std::unordered_map<std::int64_t, std::size_t> index;
  bool missing = false;
  for (std::size_t i = 0; i < state.ingredients.size(); ++i) {
    index.emplace(state.ingredients[i].id, i);
    missing = missing || state.ingredients[i].path.empty();
  }
  if (!missing) {
    return;
  }
  for (auto& ing : state.ingredients) {
    if (!ing.path.empty()) {
      continue;
    }
    std::vector<std::int64_t> chain{ing.id};
    std::optional<std::int64_t> parent = ing.parent_id;
    bool rooted = true;
    while (parent) {
      auto it = index.find(*parent);
      if (it == index.end() || chain.size() > state.ingredients.size()) {
        rooted = false;
        break;
      }
      chain.push_back(*parent);
      parent = state.ingredients[it->second].parent_id;
    }
    if (!rooted) {
      continue;
    }
    std::string path = "/";
    for (auto id = chain.rbegin(); id != chain.rend(); ++id) {
      path += std::to_string(*id) + "/";
    }
    ing.path = std::move(path);
  }
}

}  // namespace

CatalogState load_state(Database& db) {
  CatalogState state;
  // One read transaction: the seq and the rows come from the same committed
  // state (the WAL snapshot fixed by the first read; REPEATABLE READ on
  // PostgreSQL).
  Transaction tx(db, Transaction::Kind::kRead);
  const Queries q = queries(db);
  if (db.backend() == Backend::kPostgres) {
    load_postgres(static_cast<PgDatabase&>(db), q, state);
  } else {
    load_sqlite(db, q, state);
  }
  tx.commit();
  auto by_recipe = [](const RecipeIngredientRow& a, const RecipeIngredientRow& b) {
    return a.recipe_id < b.recipe_id;
  };
  if (!std::is_sorted(state.recipe_ingredients.begin(), state.recipe_ingredients.end(), by_recipe)) {
    // Stable: rows of one recipe stay in ascending id.
    std::stable_sort(state.recipe_ingredients.begin(), state.recipe_ingredients.end(), by_recipe);
  }
  fill_missing_paths(state);
  return state;
}

}  // namespace cocktail::catalog

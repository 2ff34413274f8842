#include "cocktail/catalog/schema.h"

#include <array>
#include <string_view>

#include "cocktail/catalog/change_log.h"
#include "cocktail/core/log.h"
#include "indexes.h"
#include "migrations.h"
#include "pg_outbox.h"

namespace cocktail::catalog {
namespace {

// Definitions for a new catalog. A legacy file keeps its own definitions and
// gets the missing columns from kColumns below. Ids are AUTOINCREMENT so that
// an id, once deleted, never names another row in a later event.
constexpr std::string_view kCreateTables = R"sql(
CREATE TABLE IF NOT EXISTS ingredients (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL COLLATE NOCASE UNIQUE,
  description TEXT,
  parent_id INTEGER REFERENCES ingredients(id),
  path TEXT,
  allow_substitution BOOLEAN NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS units (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL COLLATE NOCASE UNIQUE,
  abbreviation TEXT,
  conversion_to_ml REAL
);
CREATE TABLE IF NOT EXISTS recipes (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL COLLATE NOCASE UNIQUE,
  instructions TEXT,
  description TEXT,
  image_url TEXT,
  source TEXT,
  source_url TEXT,
  avg_rating REAL DEFAULT 0,
  rating_count INTEGER DEFAULT 0,
  created_by TEXT
);
CREATE TABLE IF NOT EXISTS recipe_ingredients (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  recipe_id INTEGER NOT NULL REFERENCES recipes(id) ON DELETE CASCADE,
  ingredient_id INTEGER NOT NULL REFERENCES ingredients(id) ON DELETE RESTRICT,
  unit_id INTEGER REFERENCES units(id) ON DELETE SET NULL,
  amount REAL
);
)sql";

// Columns a file must have; none can be added with a meaningful value.
struct RequiredColumn {
  const char* table;
  const char* column;
};
constexpr std::array<RequiredColumn, 9> kRequired{{
    {"ingredients", "id"},
    {"ingredients", "name"},
    {"units", "id"},
    {"units", "name"},
    {"recipes", "id"},
    {"recipes", "name"},
    {"recipe_ingredients", "id"},
    {"recipe_ingredients", "recipe_id"},
    {"recipe_ingredients", "ingredient_id"},
}};

// Columns added to an older file when missing, with their definitions.
struct OptionalColumn {
  const char* table;
  const char* column;
  const char* definition;
};
constexpr std::array<OptionalColumn, 16> kColumns{{
    {"ingredients", "description", "TEXT"},
    {"ingredients", "parent_id", "INTEGER REFERENCES ingredients(id)"},
    {"ingredients", "path", "TEXT"},
    {"ingredients", "allow_substitution", "BOOLEAN NOT NULL DEFAULT 0"},
    {"units", "abbreviation", "TEXT"},
    {"units", "conversion_to_ml", "REAL"},
    {"recipes", "instructions", "TEXT"},
    {"recipes", "description", "TEXT"},
    {"recipes", "image_url", "TEXT"},
    {"recipes", "source", "TEXT"},
    {"recipes", "source_url", "TEXT"},
    {"recipes", "avg_rating", "REAL DEFAULT 0"},
    {"recipes", "rating_count", "INTEGER DEFAULT 0"},
    {"recipes", "created_by", "TEXT"},
    {"recipe_ingredients", "unit_id", "INTEGER REFERENCES units(id) ON DELETE SET NULL"},
    {"recipe_ingredients", "amount", "REAL"},
}};

struct IndexSpec {
  const char* name;
  const char* table;
  const char* column;
};
constexpr std::array<IndexSpec, 5> kIndexes{{
    {"idx_ingredients_parent_id", "ingredients", "parent_id"},
    {"idx_ingredients_path", "ingredients", "path"},
    {"idx_recipe_ingredients_recipe_id", "recipe_ingredients", "recipe_id"},
    {"idx_recipe_ingredients_ingredient_id", "recipe_ingredients", "ingredient_id"},
    // Makes ON DELETE SET NULL and unit lookups by use cheap.
    {"idx_recipe_ingredients_unit_id", "recipe_ingredients", "unit_id"},
}};

struct StandardUnit {
  const char* name;
  const char* abbreviation;
  double conversion_to_ml;  // < 0: none (NULL)
};
constexpr std::array<StandardUnit, 9> kStandardUnits{{
    {"Ounce", "oz", 29.5735},
    {"Tablespoon", "tbsp", 14.7868},
    {"Teaspoon", "tsp", 4.92892},
    {"Barspoon", "bsp", 2.46446},
    {"Dash", "dash", 0.616115},
    {"Each", "each", -1},
    {"Drop", "drop", 0.05},
    {"to top", "top", -1},
    {"to rinse", "rinse", -1},
}};

constexpr std::string_view kCreateChangeLog = R"sql(
CREATE TABLE IF NOT EXISTS change_log (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  ts INTEGER NOT NULL,
  entity TEXT NOT NULL,
  op TEXT NOT NULL,
  row_id INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox_cursor (
  name TEXT PRIMARY KEY,
  published_seq INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL
);
)sql";

bool table_exists(Database& db, const char* table) {
  auto st = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1");
  st.bind(1, table);
  return st.step();
}

bool column_exists(Database& db, const char* table, const char* column) {
  auto st = db.prepare("SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2");
  st.bind(1, table).bind(2, column);
  return st.step();
}

// True when some index on `table` starts with `column` (and, if asked, is
// UNIQUE with NOCASE collation on it), whatever its name: a legacy file may
// already carry an equivalent index under another name.
bool has_index_on(Database& db, const char* table, const char* column, bool unique_nocase) {
  auto st = db.prepare(
      "SELECT 1 FROM pragma_index_list(?1) AS il, pragma_index_xinfo(il.name) AS ix "
      "WHERE ix.seqno = 0 AND ix.name = ?2 AND (?3 = 0 OR (il.\"unique\" = 1 AND ix.coll = 'NOCASE'))");
  st.bind(1, table).bind(2, column).bind(3, unique_nocase ? 1 : 0);
  return st.step();
}

std::int64_t count_rows(Database& db, const char* table) {
  auto st = db.prepare(std::string("SELECT COUNT(*) FROM ") + table);
  return st.step() ? st.column_int(0) : 0;
}

void migrate_to_1(Database& db) {
  db.exec(kCreateTables);
  for (const auto& r : kRequired) {
    if (!column_exists(db, r.table, r.column)) {
      throw SchemaError(std::string("catalog table '") + r.table + "' has no column '" + r.column +
                            "': not a CocktailDB catalog, refusing to migrate",
                        0);
    }
  }
  for (const auto& c : kColumns) {
    if (column_exists(db, c.table, c.column)) {
      continue;
    }
    db.exec(std::string("ALTER TABLE ") + c.table + " ADD COLUMN " + c.column + " " + c.definition);
    core::log::info("catalog.migrate.add_column", {{"table", c.table}, {"column", c.column}});
  }

  // Paths: "/<root id>/.../<own id>/", computed from parent_id for every row
  // that lacks one; existing paths are kept as they are. Rows whose chain
  // does not reach a root (a dangling parent_id) keep a NULL path.
  db.exec(R"sql(
WITH RECURSIVE tree(id, path) AS (
  SELECT id, '/' || id || '/' FROM ingredients WHERE parent_id IS NULL
  UNION ALL
  SELECT i.id, tree.path || i.id || '/' FROM ingredients AS i JOIN tree ON i.parent_id = tree.id
)
UPDATE ingredients SET path = (SELECT tree.path FROM tree WHERE tree.id = ingredients.id)
WHERE path IS NULL OR path = '')sql");

  ensure_catalog_indexes(db);
  // Names are unique case-insensitively. A legacy file declared without
  // that constraint gets a unique index; if its rows already break the rule
  // the index is skipped (rows are never changed) and the Repository's own
  // check still keeps new writes unique.
  for (const char* table : {"ingredients", "units", "recipes"}) {
    if (has_index_on(db, table, "name", true)) {
      continue;
    }
    try {
      db.exec(std::string("CREATE UNIQUE INDEX idx_") + table + "_name_nocase ON " + table +
              "(name COLLATE NOCASE)");
    } catch (const DatabaseError& e) {
      if (!e.is_constraint()) {
        throw;
      }
      core::log::warn("catalog.migrate.duplicate_names", {{"table", table}, {"error", e.what()}});
    }
  }

  if (count_rows(db, "units") == 0) {
    auto st = db.prepare("INSERT INTO units(name, abbreviation, conversion_to_ml) VALUES (?1, ?2, ?3)");
    for (const auto& u : kStandardUnits) {
      st.bind(1, u.name).bind(2, u.abbreviation);
      if (u.conversion_to_ml < 0) {
        st.bind_null(3);
      } else {
        st.bind(3, u.conversion_to_ml);
      }
      st.run();
    }
  }
}

void migrate_to_2(Database& db) {
  db.exec(kCreateChangeLog);
  install_change_log_triggers(db);
}

void record_version(Database& db, int version, const char* description) {
  auto st = db.prepare("INSERT INTO schema_migrations(version, description) VALUES (?1, ?2)");
  st.bind(1, version).bind(2, description);
  st.run();
}

}  // namespace

void ensure_catalog_indexes(Database& db) {
  if (db.backend() == Backend::kPostgres) {
    return;  // created with the tables (pg_schema.cc)
  }
  for (const auto& ix : kIndexes) {
    if (has_index_on(db, ix.table, ix.column, false)) {
      continue;
    }
    db.exec(std::string("CREATE INDEX IF NOT EXISTS ") + ix.name + " ON " + ix.table + "(" + ix.column + ")");
  }
}

void drop_catalog_indexes(Database& db) {
  if (db.backend() == Backend::kPostgres) {
    return;
  }
  for (const auto& ix : kIndexes) {
    db.exec(std::string("DROP INDEX IF EXISTS ") + ix.name);
  }
}

int schema_version(Database& db) {
  if (db.backend() == Backend::kPostgres) {
    return pg::schema_version(db);
  }
  if (!table_exists(db, "schema_migrations")) {
    return 0;
  }
  if (!column_exists(db, "schema_migrations", "version")) {
    throw SchemaError("table schema_migrations has no version column: not written by this catalog code", -1);
  }
  auto st = db.prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  return st.step() ? static_cast<int>(st.column_int(0)) : 0;
}

int run_migrations(Database& db, const MigrationSteps& steps) {
  auto refuse_newer = [&](int version) {
    if (version > kSchemaVersion) {
      throw SchemaError("catalog '" + db.path() + "' has schema version " + std::to_string(version) +
                            ", newer than the version " + std::to_string(kSchemaVersion) +
                            " this program knows; upgrade the program, do not downgrade the catalog",
                        version);
    }
  };
  int before = steps.version();
  refuse_newer(before);
  // Already done: nothing is written at all.
  if (before == kSchemaVersion && (db.read_only() || steps.triggers_installed())) {
    return before;
  }

  Transaction tx(db, Transaction::Kind::kWrite);
  if (steps.lock) {
    steps.lock();
  }
  // Another process may have migrated between the check and the lock: the
  // later ones find nothing to do.
  int version = steps.version();
  refuse_newer(version);
  if (version < 1) {
    steps.to_1();
  }
  if (version < 2) {
    steps.to_2();
  }
  if (!steps.triggers_installed()) {
    // Someone dropped a trigger by hand: writes would go unpublished.
    core::log::warn("catalog.migrate.triggers_restored", {{"db", db.path()}});
    steps.install_triggers();
  }
  tx.commit();
  if (version != kSchemaVersion) {
    core::log::info("catalog.migrate", {{"db", db.path()}, {"from", version}, {"to", kSchemaVersion}});
  }
  return kSchemaVersion;
}

int migrate(Database& db) {
  if (db.backend() == Backend::kPostgres) {
    return pg::migrate(db);
  }
  MigrationSteps steps;
  steps.version = [&] { return schema_version(db); };
  steps.to_1 = [&] {
    db.exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT "
        "NULL)");
    migrate_to_1(db);
    record_version(db, 1, "catalog tables, columns, ingredient paths, indexes, standard units");
  };
  steps.to_2 = [&] {
    migrate_to_2(db);
    record_version(db, 2, "change_log outbox with triggers, outbox_cursor");
  };
  steps.triggers_installed = [&] { return change_log_triggers_installed(db); };
  steps.install_triggers = [&] { install_change_log_triggers(db); };
  return run_migrations(db, steps);
}

std::unique_ptr<Database> open_catalog(const std::string& path, const DatabaseOptions& options) {
  auto db = Database::open(path, options);
  if (db->backend() == Backend::kPostgres && schema_version(*db) < kSchemaVersion && pg::holds_catalog(*db)) {
    // Attaching to an existing deployment's database is an operator's
    // decision, made once with catalog-admin; an empty database is simply
    // set up.
    throw SchemaError(
        "catalog '" + db->path() +
            "' is a CocktailDB database this program is not attached to yet: run `catalog-admin "
            "migrate --db " +
            db->path() + "` first (see docs/operations.md)",
        schema_version(*db));
  }
  migrate(*db);
  return db;
}

}  // namespace cocktail::catalog

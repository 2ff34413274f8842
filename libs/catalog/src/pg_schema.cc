#include <array>
#include <string>
#include <vector>

#include "backend.h"
#include "cocktail/catalog/schema.h"
#include "cocktail/core/log.h"
#include "migrations.h"
#include "pg_outbox.h"

namespace cocktail::catalog::pg {
namespace {

struct CatalogTable {
  const char* table;
  const char* entity;
  std::vector<const char*> columns;  // what the code reads and writes
};

const std::array<CatalogTable, 4>& catalog_tables() {
  static const std::array<CatalogTable, 4> tables{{
      {"ingredients", "ingredient", {"id", "name", "description", "parent_id", "path", "allow_substitution"}},
      {"units", "unit", {"id", "name", "abbreviation", "conversion_to_ml"}},
      {"recipes",
       "recipe",
       {"id", "name", "instructions", "description", "image_url", "source", "source_url", "avg_rating",
        "rating_count"}},
      {"recipe_ingredients", "recipe_ingredient", {"id", "recipe_id", "ingredient_id", "unit_id", "amount"}},
  }};
  return tables;
}

// A new catalog, shaped like the CocktailDB deployments' own (citext names,
// serial ids, real amounts), for a database that holds no tables at all.
constexpr const char* kCreateCatalog = R"sql(
CREATE EXTENSION IF NOT EXISTS citext;
CREATE TABLE ingredients (
  id serial PRIMARY KEY,
  name citext NOT NULL UNIQUE,
  description text,
  parent_id integer REFERENCES ingredients(id),
  path text,
  allow_substitution boolean NOT NULL DEFAULT false,
  created_at timestamp DEFAULT now(),
  updated_at timestamp DEFAULT now()
);
CREATE TABLE units (
  id serial PRIMARY KEY,
  name text NOT NULL UNIQUE,
  abbreviation text,
  conversion_to_ml real
);
CREATE TABLE recipes (
  id serial PRIMARY KEY,
  name citext NOT NULL UNIQUE,
  instructions text,
  description text,
  image_url text,
  source text,
  source_url text,
  avg_rating real DEFAULT 0,
  rating_count integer DEFAULT 0,
  created_by text,
  created_at timestamp DEFAULT now(),
  updated_at timestamp DEFAULT now()
);
CREATE TABLE recipe_ingredients (
  id serial PRIMARY KEY,
  recipe_id integer NOT NULL REFERENCES recipes(id) ON DELETE CASCADE,
  ingredient_id integer NOT NULL REFERENCES ingredients(id) ON DELETE RESTRICT,
  unit_id integer REFERENCES units(id) ON DELETE SET NULL,
  amount real
);
CREATE INDEX idx_ingredients_parent_id ON ingredients(parent_id);
CREATE INDEX idx_ingredients_path ON ingredients(path);
CREATE INDEX idx_recipe_ingredients_recipe_id ON recipe_ingredients(recipe_id);
CREATE INDEX idx_recipe_ingredients_ingredient_id ON recipe_ingredients(ingredient_id);
CREATE INDEX idx_recipe_ingredients_unit_id ON recipe_ingredients(unit_id);
INSERT INTO units(name, abbreviation, conversion_to_ml) VALUES
  ('Ounce', 'oz', 29.5735), ('Tablespoon', 'tbsp', 14.7868), ('Teaspoon', 'tsp', 4.92892),
  ('Barspoon', 'bsp', 2.46446), ('Dash', 'dash', 0.616115), ('Each', 'each', NULL), ('Drop', 'drop', 0.05),
  ('to top', 'top', NULL), ('to rinse', 'rinse', NULL);
)sql";

// The project's own objects. The capture function is fully schema-qualified
// so that it behaves the same whatever the writer's search_path.
constexpr const char* kCreateOutbox = R"sql(
CREATE TABLE IF NOT EXISTS cocktail.change_log (
  seq bigint PRIMARY KEY,
  ts bigint NOT NULL,
  entity text NOT NULL,
  op text NOT NULL,
  row_id bigint NOT NULL
);
CREATE SEQUENCE IF NOT EXISTS cocktail.change_seq AS bigint;
CREATE TABLE IF NOT EXISTS cocktail.outbox_cursor (
  name text PRIMARY KEY,
  published_seq bigint NOT NULL,
  updated_ms bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS cocktail.outbox_state (
  key text PRIMARY KEY,
  value bigint NOT NULL
);
)sql";

std::string capture_function() {
  const std::string now = PG_NOW_MS;
  const std::string log =
      "INSERT INTO cocktail.change_log(seq, ts, entity, op, row_id) VALUES "
      "(pg_catalog.nextval('cocktail.change_seq'::pg_catalog.regclass), " +
      now + ", TG_ARGV[0], ";
  return "CREATE OR REPLACE FUNCTION cocktail.capture_change() RETURNS trigger LANGUAGE plpgsql AS $fn$\n"
         "BEGIN\n"
         "  -- Held until this transaction has committed: seqs are taken in commit order.\n"
         "  PERFORM pg_catalog.pg_advisory_xact_lock(" +
         std::to_string(kSeqLockKey) +
         ");\n"
         "  IF TG_OP = 'INSERT' THEN\n"
         "    " +
         log +
         "'insert', NEW.id);\n"
         "  ELSIF TG_OP = 'UPDATE' THEN\n"
         "    IF OLD.id IS DISTINCT FROM NEW.id THEN\n"
         "      " +
         log + "'delete', OLD.id);\n      " + log +
         "'insert', NEW.id);\n"
         "    ELSE\n"
         "      " +
         log +
         "'update', NEW.id);\n"
         "    END IF;\n"
         "  ELSE\n"
         "    " +
         log +
         "'delete', OLD.id);\n"
         "  END IF;\n"
         "  PERFORM pg_catalog.pg_notify('" +
         kNotifyChannel +
         "', '');\n"
         "  RETURN NULL;\n"
         "END\n"
         "$fn$";
}

bool exists(Database& db, const char* sql, const std::string& arg) {
  auto st = db.prepare(sql);
  st.bind(1, arg);
  return st.step();
}

bool table_exists(Database& db, const std::string& table) {
  return exists(db, "SELECT 1 WHERE to_regclass(?1) IS NOT NULL", table);
}

std::vector<std::string> missing_columns(Database& db, const CatalogTable& t) {
  std::vector<std::string> missing;
  auto st = db.prepare(
      "SELECT 1 FROM pg_catalog.pg_attribute WHERE attrelid = to_regclass(?1) AND attname = ?2 AND attnum > "
      "0 "
      "AND NOT attisdropped");
  for (const char* column : t.columns) {
    st.bind(1, t.table).bind(2, column);
    if (!st.step()) {
      missing.emplace_back(column);
    }
    st.reset();
  }
  return missing;
}

std::int64_t user_tables(Database& db) {
  auto st = db.prepare(
      "SELECT COUNT(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND schemaname <> "
      "'cocktail'");
  return st.step() ? st.column_int(0) : 0;
}

// Recognises the CocktailDB catalog, or creates one in an empty database.
// Returns what version 1 records.
std::string recognise_or_create(Database& db) {
  std::vector<std::string> present;
  for (const auto& t : catalog_tables()) {
    if (table_exists(db, t.table)) {
      present.emplace_back(t.table);
    }
  }
  if (present.empty()) {
    if (user_tables(db) > 0) {
      throw SchemaError(
          "database '" + db.path() +
              "' holds tables but none of the CocktailDB catalog's (ingredients, units, recipes, "
              "recipe_ingredients): not a CocktailDB catalog, refusing to migrate",
          0);
    }
    db.exec(kCreateCatalog);
    core::log::info("catalog.migrate.created", {{"db", db.path()}});
    return "catalog tables created";
  }
  for (const auto& t : catalog_tables()) {
    if (!table_exists(db, t.table)) {
      throw SchemaError("database '" + db.path() + "' has no table '" + t.table +
                            "': not a CocktailDB catalog, refusing to migrate",
                        0);
    }
    auto missing = missing_columns(db, t);
    if (!missing.empty()) {
      throw SchemaError("catalog table '" + std::string(t.table) + "' has no column '" + missing.front() +
                            "': not a CocktailDB catalog, refusing to migrate",
                        0);
    }
  }
  return "existing CocktailDB catalog recognised";
}

void record_version(Database& db, int version, const std::string& description) {
  auto st = db.prepare("INSERT INTO cocktail.schema_migrations(version, description) VALUES (?1, ?2)");
  st.bind(1, version).bind(2, description);
  st.run();
}

}  // namespace

bool holds_catalog(Database& db) {
  for (const auto& t : catalog_tables()) {
    if (table_exists(db, t.table)) {
      return true;
    }
  }
  return false;
}

int schema_version(Database& db) {
  if (!table_exists(db, "cocktail.schema_migrations")) {
    return 0;
  }
  auto st = db.prepare("SELECT COALESCE(MAX(version), 0) FROM cocktail.schema_migrations");
  return st.step() ? static_cast<int>(st.column_int(0)) : 0;
}

bool capture_triggers_installed(Database& db) {
  auto st = db.prepare(
      "SELECT 1 FROM pg_catalog.pg_trigger WHERE tgrelid = to_regclass(?1) AND tgname = ?2 AND tgenabled = "
      "'O' "
      "AND tgdeferrable AND tginitdeferred");
  for (const auto& t : catalog_tables()) {
    st.bind(1, t.table).bind(2, kCaptureTrigger);
    const bool found = st.step();
    st.reset();
    if (!found) {
      return false;
    }
  }
  return true;
}

void install_capture_triggers(Database& db) {
  db.exec(capture_function());
  auto present = db.prepare(
      "SELECT tgenabled FROM pg_catalog.pg_trigger WHERE tgrelid = to_regclass(?1) AND tgname = ?2");
  for (const auto& t : catalog_tables()) {
    present.bind(1, t.table).bind(2, kCaptureTrigger);
    const bool found = present.step();
    const bool enabled = found && present.column_text_view(0) == "O";
    present.reset();
    // Names come from the constants above, never from input.
    if (!found) {
      db.exec(std::string("CREATE CONSTRAINT TRIGGER ") + kCaptureTrigger +
              " AFTER INSERT OR UPDATE OR DELETE ON " + t.table +
              " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION cocktail.capture_change('" +
              t.entity + "')");
    } else if (!enabled) {
      db.exec(std::string("ALTER TABLE ") + t.table + " ENABLE TRIGGER " + kCaptureTrigger);
    }
  }
}

void disable_capture_triggers(Database& db) {
  for (const auto& t : catalog_tables()) {
    db.exec(std::string("ALTER TABLE ") + t.table + " DISABLE TRIGGER " + kCaptureTrigger);
  }
}

int migrate(Database& db) {
  MigrationSteps steps;
  steps.version = [&] { return pg::schema_version(db); };
  // Concurrent migrations wait here.
  steps.lock = [&] { db.exec("SELECT pg_advisory_xact_lock(" + std::to_string(kMigrateLockKey) + ")"); };
  steps.to_1 = [&] {
    std::string what = recognise_or_create(db);
    db.exec(
        "CREATE SCHEMA IF NOT EXISTS cocktail; CREATE TABLE IF NOT EXISTS cocktail.schema_migrations "
        "(version "
        "integer PRIMARY KEY, description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())");
    record_version(db, 1, what);
  };
  steps.to_2 = [&] {
    db.exec(kCreateOutbox);
    install_capture_triggers(db);
    record_version(db, 2, "change_log outbox with capture triggers, outbox_cursor");
  };
  steps.triggers_installed = [&] { return capture_triggers_installed(db); };
  steps.install_triggers = [&] { install_capture_triggers(db); };
  return run_migrations(db, steps);
}

}  // namespace cocktail::catalog::pg

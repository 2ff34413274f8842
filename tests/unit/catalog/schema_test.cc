#include "cocktail/catalog/schema.h"

#include <gtest/gtest.h>

#include "cocktail/catalog/change_log.h"
#include "cocktail/catalog/repository.h"
#include "temp_catalog.h"

namespace cocktail::catalog {
namespace {

using testing::RawConnection;
using testing::read_file;
using testing::TempDir;

TEST(Schema, FreshCatalogHasTablesStandardUnitsIndexesAndTriggers) {
  TempDir dir;
  auto db = open_catalog(dir.file("new.db"));
  EXPECT_EQ(schema_version(*db), kSchemaVersion);
  EXPECT_TRUE(change_log_triggers_installed(*db));

  RawConnection raw(dir.file("new.db"));
  EXPECT_EQ(raw.dump("SELECT name, abbreviation, conversion_to_ml FROM units ORDER BY id"),
            "Ounce|oz|29.5735\nTablespoon|tbsp|14.7868\nTeaspoon|tsp|4.92892\nBarspoon|bsp|2.46446\n"
            "Dash|dash|0.616115\nEach|each|NULL\nDrop|drop|0.05\nto top|top|NULL\nto rinse|rinse|NULL\n");
  EXPECT_EQ(
      raw.dump(
          "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%' ORDER BY name"),
      "change_log\ningredients\noutbox_cursor\nrecipe_ingredients\nrecipes\nschema_migrations\nunits\n");
  EXPECT_EQ(
      raw.dump("SELECT tbl_name || '(' || (SELECT group_concat(name) FROM pragma_index_info(m.name)) || ')' "
               "FROM sqlite_master AS m WHERE type = 'index' AND name LIKE 'idx_%' ORDER BY name"),
      "ingredients(parent_id)\ningredients(path)\nrecipe_ingredients(ingredient_id)\n"
      "recipe_ingredients(recipe_id)\nrecipe_ingredients(unit_id)\n");
  EXPECT_EQ(raw.dump("SELECT version FROM schema_migrations ORDER BY version"), "1\n2\n");
  // The standard units are part of the initial state, before any change.
  EXPECT_EQ(ChangeLog(*db).latest_seq(), 0);
}

TEST(Schema, ReopenIsANoOp) {
  TempDir dir;
  const auto path = dir.file("catalog.db");
  {
    auto db = open_catalog(path);
    ASSERT_TRUE(Repository(*db).create_ingredient({"Gin", std::nullopt, std::nullopt, false}));
  }
  std::string before = read_file(path);
  for (int i = 0; i < 2; ++i) {
    auto db = open_catalog(path);
    EXPECT_EQ(migrate(*db), kSchemaVersion);
  }
  EXPECT_TRUE(read_file(path) == before) << "file contents differ";
  RawConnection raw(path);
  EXPECT_EQ(raw.scalar("SELECT COUNT(*) FROM schema_migrations"), 2);
  EXPECT_EQ(raw.scalar("SELECT COUNT(*) FROM units"), 9);
}

// A catalog as the existing CocktailDB wrote it: no path, allow_substitution,
// conversion_to_ml or created_by columns, no change_log, no version, plus
// tables this code does not know.
void write_legacy_catalog(const std::string& path) {
  RawConnection raw(path);
  raw.exec(R"sql(
PRAGMA foreign_keys = ON;
CREATE TABLE ingredients (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, description TEXT,
                          parent_id INTEGER REFERENCES ingredients(id));
CREATE TABLE units (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, abbreviation TEXT);
CREATE TABLE recipes (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, instructions TEXT, description TEXT,
                      image_url TEXT, source TEXT, source_url TEXT, avg_rating REAL DEFAULT 0,
                      rating_count INTEGER DEFAULT 0);
CREATE TABLE recipe_ingredients (id INTEGER PRIMARY KEY, recipe_id INTEGER NOT NULL REFERENCES recipes(id),
                                 ingredient_id INTEGER NOT NULL REFERENCES ingredients(id),
                                 unit_id INTEGER REFERENCES units(id), amount REAL);
CREATE TABLE ratings (id INTEGER PRIMARY KEY, cognito_user_id TEXT NOT NULL, recipe_id INTEGER NOT NULL
                      REFERENCES recipes(id), rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5));
CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, created_by TEXT);
CREATE TABLE recipe_tags (recipe_id INTEGER NOT NULL REFERENCES recipes(id), tag_id INTEGER NOT NULL
                          REFERENCES tags(id), PRIMARY KEY (recipe_id, tag_id));
CREATE TABLE user_ingredients (user_id TEXT NOT NULL, ingredient_id INTEGER NOT NULL REFERENCES ingredients(id),
                               added_at TEXT, PRIMARY KEY (user_id, ingredient_id));
INSERT INTO ingredients VALUES (1, 'Spirits', 'Distilled', NULL), (4, 'Whiskey', NULL, 1), (9, 'Bourbon', 'US', 4),
                               (12, 'Juices', NULL, NULL), (13, 'Lemon Juice', 'fresh', 12), (20, 'Rye', NULL, 4),
                               (30, 'Nutmeg', NULL, NULL);
INSERT INTO units VALUES (1, 'Ounce', 'oz'), (2, 'Dash', 'dash'), (7, 'Pinch', NULL);
INSERT INTO recipes VALUES (1, 'Whiskey Sour', 'Shake.', 'Classic', NULL, 'book', NULL, 4.5, 2),
                           (5, 'Old Pal', 'Stir.', NULL, 'http://img/x.png', NULL, 'https://example.com', 0, 0);
INSERT INTO recipe_ingredients VALUES (1, 1, 9, 1, 2.0), (2, 1, 13, 1, 0.75), (3, 5, 20, NULL, NULL),
                                      (8, 5, 9, 2, 1);
INSERT INTO ratings VALUES (1, 'u-1', 1, 5), (2, 'u-2', 1, 4);
INSERT INTO tags VALUES (1, 'sour', 'u-1'), (2, 'stirred', NULL);
INSERT INTO recipe_tags VALUES (1, 1), (5, 2);
INSERT INTO user_ingredients VALUES ('u-1', 9, '2024-01-01'), ('u-1', 13, NULL), ('u-2', 30, NULL);
)sql");
}

const char* kLegacyQueries[] = {
    "SELECT id, name, description, parent_id FROM ingredients ORDER BY id",
    "SELECT id, name, abbreviation FROM units ORDER BY id",
    "SELECT id, name, instructions, description, image_url, source, source_url, avg_rating, rating_count "
    "FROM recipes ORDER BY id",
    "SELECT id, recipe_id, ingredient_id, unit_id, amount FROM recipe_ingredients ORDER BY id",
    "SELECT * FROM ratings ORDER BY id",
    "SELECT * FROM tags ORDER BY id",
    "SELECT * FROM recipe_tags ORDER BY recipe_id, tag_id",
    "SELECT * FROM user_ingredients ORDER BY user_id, ingredient_id",
    "SELECT type, name, sql FROM sqlite_master WHERE tbl_name IN ('ratings', 'tags', 'recipe_tags', "
    "'user_ingredients') ORDER BY name",
};

std::string dump_legacy(const std::string& path) {
  RawConnection raw(path);
  std::string out;
  for (const char* q : kLegacyQueries) {
    out += raw.dump(q) + "--\n";
  }
  return out;
}

TEST(Schema, LegacyCatalogMigratesInPlaceKeepingEveryRowAndTable) {
  TempDir dir;
  const auto path = dir.file("legacy.db");
  write_legacy_catalog(path);
  const std::string before = dump_legacy(path);
  {
    auto db = Database::open(path);
    EXPECT_EQ(schema_version(*db), 0);
    EXPECT_EQ(migrate(*db), kSchemaVersion);
    EXPECT_EQ(schema_version(*db), kSchemaVersion);
  }
  EXPECT_EQ(dump_legacy(path), before);

  RawConnection raw(path);
  // Missing columns added, paths computed from parent_id, defaults in place.
  EXPECT_EQ(raw.dump("SELECT id, path, allow_substitution FROM ingredients ORDER BY id"),
            "1|/1/|0\n4|/1/4/|0\n9|/1/4/9/|0\n12|/12/|0\n13|/12/13/|0\n20|/1/4/20/|0\n30|/30/|0\n");
  EXPECT_EQ(raw.dump("SELECT conversion_to_ml FROM units ORDER BY id"), "NULL\nNULL\nNULL\n");
  EXPECT_EQ(raw.dump("SELECT created_by FROM recipes ORDER BY id"), "NULL\nNULL\n");
  // Its own units are kept; the standard set is only for new catalogs.
  EXPECT_EQ(raw.scalar("SELECT COUNT(*) FROM units"), 3);
  // The outbox starts empty and records from now on, whoever writes.
  EXPECT_EQ(raw.scalar("SELECT COUNT(*) FROM change_log"), 0);
  raw.exec("INSERT INTO ingredients(name, parent_id) VALUES ('Scotch', 4)");
  EXPECT_EQ(raw.dump("SELECT seq, entity, op, row_id FROM change_log"), "1|ingredient|insert|31\n");

  // The library works on it: names stay unique case-insensitively, paths kept.
  auto db = open_catalog(path);
  Repository repo(*db);
  auto dup = repo.create_ingredient({"BOURBON", std::nullopt, std::nullopt, false});
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, core::ErrorCode::kConflict);
  auto child = repo.create_ingredient({"Wheated Bourbon", std::nullopt, 9, true});
  ASSERT_TRUE(child);
  EXPECT_EQ(child->value.path, "/1/4/9/" + std::to_string(child->value.id) + "/");
  // Deleting an ingredient that only a legacy table refers to is a conflict.
  auto del = repo.delete_ingredient(30);
  ASSERT_FALSE(del);
  EXPECT_EQ(del.error().code, core::ErrorCode::kConflict);
  EXPECT_EQ(del.error().field, "id");
}

TEST(Schema, LegacyPathsArePreservedAndOnlyMissingOnesComputed) {
  TempDir dir;
  const auto path = dir.file("paths.db");
  {
    RawConnection raw(path);
    raw.exec(
        "CREATE TABLE ingredients (id INTEGER PRIMARY KEY, name TEXT NOT NULL, parent_id INTEGER, path TEXT);"
        "INSERT INTO ingredients VALUES (1, 'Spirits', NULL, '/1/'), (2, 'Gin', 1, NULL), (3, 'Old Tom', 2, "
        "''),"
        "(4, 'Orphan', 99, NULL);");
  }
  auto db = open_catalog(path);
  RawConnection raw(path);
  EXPECT_EQ(raw.dump("SELECT id, path FROM ingredients ORDER BY id"), "1|/1/\n2|/1/2/\n3|/1/2/3/\n4|NULL\n");
  // The tables the file lacked entirely were created.
  EXPECT_EQ(raw.scalar("SELECT COUNT(*) FROM units"), 9);
}

TEST(Schema, NewerSchemaIsRefusedWithAClearMessage) {
  TempDir dir;
  const auto path = dir.file("future.db");
  { open_catalog(path); }
  {
    RawConnection raw(path);
    raw.exec("INSERT INTO schema_migrations(version, description) VALUES (3, 'from the future')");
  }
  const std::string before = read_file(path);
  try {
    open_catalog(path);
    FAIL() << "a newer schema was accepted";
  } catch (const SchemaError& e) {
    EXPECT_EQ(e.file_version(), 3);
    EXPECT_NE(std::string(e.what()).find("schema version 3"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("newer than the version 2"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(read_file(path) == before) << "file contents differ";
}

TEST(Schema, FileWithoutCatalogColumnsIsRefused) {
  TempDir dir;
  const auto path = dir.file("other.db");
  {
    RawConnection raw(path);
    raw.exec("CREATE TABLE recipes (id INTEGER PRIMARY KEY, title TEXT)");
  }
  EXPECT_THROW(open_catalog(path), SchemaError);
  // All or nothing: the failed migration left no table behind.
  RawConnection raw(path);
  EXPECT_EQ(raw.dump("SELECT name FROM sqlite_master WHERE type = 'table'"), "recipes\n");
}

TEST(Schema, MigrateRestoresADroppedTrigger) {
  TempDir dir;
  const auto path = dir.file("catalog.db");
  { open_catalog(path); }
  {
    RawConnection raw(path);
    raw.exec("DROP TRIGGER change_log_recipes_delete");
  }
  auto db = open_catalog(path);
  EXPECT_TRUE(change_log_triggers_installed(*db));
}

}  // namespace
}  // namespace cocktail::catalog

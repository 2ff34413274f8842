// catalog-seed and catalog-admin as operators run them: real binaries, real
// files, JSON on stdout, exit codes.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstdlib>
#include <string>

#include "temp_catalog.h"

namespace cocktail::catalog {
namespace {

using testing::RawConnection;
using testing::read_file;
using testing::TempDir;

struct ToolRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

class Tools : public ::testing::Test {
 protected:
  ToolRun run(const std::string& args) {
    const std::string out = dir_.file("stdout"), err = dir_.file("stderr");
    std::string cmd = std::string(COCKTAIL_BIN_DIR) + "/" + args + " >" + out + " 2>" + err;
    int status = std::system(cmd.c_str());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_file(out), read_file(err)};
  }
  TempDir dir_;
  simdjson::dom::parser parser_;
};

TEST_F(Tools, SeedWritesTheSameFileForTheSameArguments) {
  const auto a = dir_.file("a.db"), b = dir_.file("b.db");
  ToolRun first = run("catalog-seed --db " + a + " --recipes 1356 --ingredients 610 --seed 42");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  ToolRun second = run("catalog-seed --db " + b + " --recipes 1356 --ingredients 610 --seed 42");
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_TRUE(read_file(a) == read_file(b)) << "file contents differ";

  simdjson::dom::element summary = parser_.parse(first.out);
  EXPECT_EQ(int64_t(summary["recipes"]), 1356);
  EXPECT_EQ(int64_t(summary["ingredients"]), 610);
  EXPECT_GE(int64_t(summary["max_depth"]), 3);

  // An existing catalog is kept unless --replace says otherwise.
  ToolRun refused = run("catalog-seed --db " + a + " --recipes 10 --ingredients 10 --seed 1");
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("--replace"), std::string::npos) << refused.err;
  EXPECT_TRUE(read_file(a) == read_file(b)) << "file contents differ";
  ToolRun replaced = run("catalog-seed --db " + a + " --recipes 10 --ingredients 10 --seed 1 --replace");
  EXPECT_EQ(replaced.exit_code, 0) << replaced.err;
  EXPECT_TRUE(read_file(a) != read_file(b)) << "file contents are equal";

  EXPECT_EQ(run("catalog-seed --recipes 10").exit_code, 2);
  EXPECT_EQ(run("catalog-seed --help").exit_code, 0);
}

TEST_F(Tools, AdminMigratesALegacyFileIdempotentlyAndReportsStats) {
  const auto path = dir_.file("legacy.db");
  {
    RawConnection raw(path);
    raw.exec(
        "CREATE TABLE ingredients (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, description TEXT, "
        "parent_id INTEGER);"
        "CREATE TABLE units (id INTEGER PRIMARY KEY, name TEXT NOT NULL, abbreviation TEXT);"
        "CREATE TABLE recipes (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, instructions TEXT);"
        "CREATE TABLE recipe_ingredients (id INTEGER PRIMARY KEY, recipe_id INTEGER, ingredient_id INTEGER, "
        "unit_id INTEGER, amount REAL);"
        "CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT);"
        "INSERT INTO ingredients VALUES (1, 'Gin', NULL, NULL), (2, 'Old Tom', NULL, 1);"
        "INSERT INTO recipes VALUES (1, 'Martinez', 'Stir.');"
        "INSERT INTO recipe_ingredients VALUES (1, 1, 2, NULL, 2);"
        "INSERT INTO tags VALUES (1, 'stirred'), (2, 'classic');");
  }
  ToolRun before = run("catalog-admin stats --db " + path);
  ASSERT_EQ(before.exit_code, 0) << before.err;
  simdjson::dom::element s0 = parser_.parse(before.out);
  EXPECT_EQ(int64_t(s0["schema_version"]), 0);
  EXPECT_EQ(int64_t(s0["catalog_seq"]), 0);
  EXPECT_EQ(int64_t(s0["tables"]["tags"]), 2);

  ToolRun migrated = run("catalog-admin migrate --db " + path);
  ASSERT_EQ(migrated.exit_code, 0) << migrated.err;
  simdjson::dom::element m1 = parser_.parse(migrated.out);
  EXPECT_EQ(int64_t(m1["from_version"]), 0);
  EXPECT_EQ(int64_t(m1["schema_version"]), 2);
  const std::string after_first = read_file(path);
  ToolRun again = run("catalog-admin migrate --db " + path);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  simdjson::dom::element m2 = parser_.parse(again.out);
  EXPECT_EQ(int64_t(m2["from_version"]), 2);
  EXPECT_TRUE(read_file(path) == after_first) << "file contents differ";

  {
    RawConnection raw(path);
    raw.exec(
        "INSERT INTO recipes(name) VALUES ('Gin Rickey'); UPDATE ingredients SET description = 'dry' WHERE "
        "id = 1");
    raw.exec("INSERT INTO outbox_cursor VALUES ('catalog-api', 1, 0)");
  }
  ToolRun stats = run("catalog-admin stats --db " + path);
  ASSERT_EQ(stats.exit_code, 0) << stats.err;
  simdjson::dom::element s1 = parser_.parse(stats.out);
  EXPECT_EQ(int64_t(s1["schema_version"]), 2);
  EXPECT_EQ(int64_t(s1["catalog_seq"]), 2);
  EXPECT_EQ(int64_t(s1["tables"]["ingredients"]), 2);
  EXPECT_EQ(int64_t(s1["tables"]["recipes"]), 2);
  EXPECT_EQ(int64_t(s1["tables"]["recipe_ingredients"]), 1);
  EXPECT_EQ(int64_t(s1["tables"]["units"]), 9);  // an empty units table gets the standard set
  EXPECT_EQ(int64_t(s1["tables"]["tags"]), 2);
  EXPECT_EQ(int64_t(s1["tables"]["change_log"]), 2);
  EXPECT_EQ(int64_t(s1["published_seq"]["catalog-api"]), 1);
}

TEST_F(Tools, AdminRefusesNewerSchemasMissingFilesAndBadUsage) {
  const auto path = dir_.file("catalog.db");
  ASSERT_EQ(run("catalog-seed --db " + path + " --recipes 5 --ingredients 20").exit_code, 0);
  {
    RawConnection raw(path);
    raw.exec("INSERT INTO schema_migrations VALUES (9, 'future')");
  }
  ToolRun newer = run("catalog-admin migrate --db " + path);
  EXPECT_EQ(newer.exit_code, 1);
  EXPECT_NE(newer.err.find("schema version 9"), std::string::npos) << newer.err;
  EXPECT_NE(newer.err.find("newer"), std::string::npos) << newer.err;

  ToolRun missing = run("catalog-admin migrate --db " + dir_.file("nope.db"));
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_FALSE(std::filesystem::exists(dir_.file("nope.db")));
  EXPECT_EQ(run("catalog-admin --db " + path).exit_code, 2);
  EXPECT_EQ(run("catalog-admin frobnicate --db " + path).exit_code, 2);
  ToolRun help = run("catalog-admin --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("CATALOG_DB"), std::string::npos);
}

}  // namespace
}  // namespace cocktail::catalog

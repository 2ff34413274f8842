// `analytics-regen --once` (and gc, report) as a real process on a generated
// catalog, on each backend: exit code, JSON summary, files and manifest
// verified.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "catalog_backends.h"
#include "cocktail/analytics/exact_json.h"
#include "cocktail/analytics/npy.h"
#include "cocktail/analytics/usage_index.h"
#include "cocktail/catalog/database.h"
#include "cocktail/snapshot/snapshot_store.h"
#include "cocktail/testing/postgres_server.h"
#include "process.h"
#include "synthetic_catalog.h"

namespace cocktail {
namespace {

namespace fs = std::filesystem;

const std::string kBinary = std::string(COCKTAIL_BIN_DIR) + "/analytics-regen";

std::string testing_slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void testing_spit(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
}

class OnceTest : public ::testing::TestWithParam<catalog::Backend> {
 protected:
  void SetUp() override {
    auto db = testing::open_test_catalog(catalog_path_);
    testing::create_catalog_schema(*db);
    spec_.seed = 2024;
    spec_.ingredients = 150;
    spec_.recipes = 400;
    spec_.max_depth = 6;
    spec_.nasty_names = true;
    spec_.change_log_rows = 17;
    testing::fill_synthetic(*db, spec_);
    seq_ = testing::latest_seq(*db);
  }

  testing::ProcessResult run(std::vector<std::string> args,
                             const std::map<std::string, std::string>& env = {}) {
    args.insert(args.begin(), kBinary);
    return testing::run_process(args, env);
  }
  testing::ProcessResult once() {
    return run({"--once", "--db", catalog_path_, "--analytics-path", analytics_path_.string()});
  }

  // A second, empty catalog location on the same backend.
  std::string another_catalog(const std::string& name) {
    return catalog_.postgres() ? testing::PostgresServer::shared()->create_database() : dir_.file(name);
  }

  catalog::testing::TestCatalog catalog_{GetParam()};
  std::string catalog_path_ = catalog_.location();
  testing::TempDir dir_;
  fs::path analytics_path_ = fs::path(dir_.path()) / "analytics";
  testing::SyntheticSpec spec_;
  std::int64_t seq_ = 0;
  simdjson::dom::parser parser_;
};

TEST_P(OnceTest, WritesAVerifiedGenerationAndPrintsTheSummary) {
  auto r = once();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  simdjson::dom::element summary;
  ASSERT_EQ(parser_.parse(r.out).get(summary), simdjson::SUCCESS) << r.out;
  EXPECT_EQ(std::string_view(summary["status"]), "success");
  EXPECT_EQ(int64_t(summary["generation"]), 1);
  EXPECT_EQ(int64_t(summary["catalog_seq"]), seq_);
  // The only warnings: recipes without any volume, left out of the cocktail spaces.
  for (simdjson::dom::element w : summary["warnings"].get_array()) {
    EXPECT_NE(std::string_view(w).find("zero"), std::string_view::npos) << std::string_view(w);
  }

  auto db = testing::open_test_catalog(catalog_path_);
  const auto oracle = testing::oracle_usage(*db);
  std::int64_t roots = 0;
  for (const auto& row : oracle) {
    roots += row.parent_id ? 0 : 1;
  }
  EXPECT_EQ(int64_t(summary["counts"]["ingredient-usage"]), roots);
  EXPECT_EQ(int64_t(summary["counts"]["ingredient-usage-all"]), spec_.ingredients);
  EXPECT_EQ(int64_t(summary["counts"]["recipe-complexity"]),
            static_cast<int64_t>(testing::oracle_complexity(*db).size()));
  EXPECT_EQ(int64_t(summary["counts"]["ingredient-tree"]), spec_.ingredients);
  // The batch summary's older shape beside `counts`: the message, one
  // <type>_count per analytic, and the keys that did not follow the type.
  EXPECT_EQ(std::string_view(summary["message"]), "Analytics regenerated successfully");
  std::size_t flat = 0;
  for (auto [type, n] : summary["counts"].get_object()) {
    std::string key(type);
    std::replace(key.begin(), key.end(), '-', '_');
    EXPECT_EQ(int64_t(summary[key + "_count"]), int64_t(n)) << key;
    ++flat;
  }
  EXPECT_EQ(flat, 9u);
  EXPECT_EQ(int64_t(summary["cocktail_space_count"]), int64_t(summary["counts"]["cocktail-space"]));
  EXPECT_EQ(int64_t(summary["cocktail_space_em_count"]), int64_t(summary["counts"]["cocktail-space-em"]));
  EXPECT_EQ(int64_t(summary["ingredient_stats_count"]), roots);
  EXPECT_EQ(int64_t(summary["complexity_stats_count"]),
            static_cast<int64_t>(testing::oracle_complexity(*db).size()));
  EXPECT_EQ(int64_t(summary["ingredient_tree_nodes"]), spec_.ingredients);
  for (const char* stage :
       {"open", "load", "model", "compute.exact", "serialize.ingredient-tree", "space.candidates",
        "space.em_iter_1", "space.umap_manhattan", "space.umap_em", "write", "total"}) {
    double ms = -1;
    EXPECT_EQ(summary["durations_ms"][stage].get_double().get(ms), simdjson::SUCCESS) << stage;
    EXPECT_GE(ms, 0) << stage;
  }

  // The store verifies every file against the manifest.
  snapshot::SnapshotStore store(analytics_path_);
  auto snap = store.read_current();
  ASSERT_TRUE(snap.ok()) << snap.error().message;
  EXPECT_EQ(snap->manifest.generation, 1);
  EXPECT_EQ(snap->manifest.catalog_seq, seq_);
  std::vector<std::string> names;
  for (const auto& [name, entry] : snap->manifest.files) {
    names.push_back(name);
  }
  EXPECT_EQ(names, (std::vector<std::string>{
                       "cocktail-space-em.json", "cocktail-space.json", "ingredient-distances-em.ids.json",
                       "ingredient-distances-em.npy", "ingredient-tree.json", "ingredient-usage-all.json",
                       "ingredient-usage.json", "recipe-complexity.json", "recipe-distances-em.ids.json",
                       "recipe-distances-em.npy", "recipe-similar.json"}));
  // Every file of the generation, JSON or not, is in the legacy layout as a
  // hard link to the generation's file.
  for (const auto& name : names) {
    EXPECT_TRUE(fs::equivalent(analytics_path_ / "v1" / name, store.generation_dir(1) / name)) << name;
  }
  // The EM distance matrix and its row ids are plain files, not envelopes.
  const std::int64_t em_points = int64_t(summary["counts"]["cocktail-space-em"]);
  const std::int64_t m = int64_t(summary["counts"]["ingredient-distances-em"]);
  EXPECT_EQ(int64_t(summary["counts"]["recipe-distances-em"]), em_points);
  const auto npy = analytics::parse_npy_header(snap->files.at("recipe-distances-em.npy"));
  ASSERT_TRUE(npy.ok()) << npy.error().message;
  EXPECT_EQ(npy->shape, (std::vector<std::size_t>{static_cast<std::size_t>(em_points),
                                                  static_cast<std::size_t>(em_points)}));
  simdjson::dom::element ids;
  ASSERT_EQ(parser_.parse(snap->files.at("recipe-distances-em.ids.json")).get(ids), simdjson::SUCCESS);
  EXPECT_EQ(static_cast<std::int64_t>(ids["recipe_ids"].get_array().size()), em_points);
  // The learned ingredient costs: m×m over the EM ingredient set, ids beside.
  EXPECT_GT(m, 0);
  EXPECT_LE(m, spec_.ingredients);
  const auto costs = analytics::parse_npy_header(snap->files.at("ingredient-distances-em.npy"));
  ASSERT_TRUE(costs.ok()) << costs.error().message;
  EXPECT_EQ(costs->descr, "<f4");
  EXPECT_EQ(costs->shape,
            (std::vector<std::size_t>{static_cast<std::size_t>(m), static_cast<std::size_t>(m)}));
  simdjson::dom::parser ids_parser;
  simdjson::dom::element ingredient_ids;
  ASSERT_EQ(ids_parser.parse(snap->files.at("ingredient-distances-em.ids.json")).get(ingredient_ids),
            simdjson::SUCCESS);
  EXPECT_EQ(static_cast<std::int64_t>(ingredient_ids["ingredient_ids"].get_array().size()), m);
  for (const auto& [name, bytes] : snap->files) {
    if (name.starts_with("recipe-distances-em.") || name.starts_with("ingredient-distances-em.")) {
      continue;
    }
    simdjson::dom::parser p;
    simdjson::dom::element doc;
    ASSERT_EQ(p.parse(bytes).get(doc), simdjson::SUCCESS) << name;
    EXPECT_EQ(int64_t(doc["metadata"]["generation"]), 1) << name;
    EXPECT_EQ(int64_t(doc["metadata"]["catalog_seq"]), seq_) << name;
    EXPECT_EQ(std::string_view(doc["metadata"]["storage_version"]), "v1");
    EXPECT_EQ(std::string(std::string_view(doc["metadata"]["analytics_type"])) + ".json", name);
    // The legacy layout holds the same bytes.
    EXPECT_EQ(testing_slurp(analytics_path_ / "v1" / name), bytes) << name;
  }
  // The manifest honours the wire contract in proto/.
  const fs::path schema = fs::path(COCKTAIL_SOURCE_DIR) / "proto" / "snapshot" / "manifest.schema.json";
  if (fs::exists(schema) && fs::exists("/usr/bin/python3")) {
    const char* validate =
        "import json, sys, jsonschema\n"
        "jsonschema.validate(json.load(open(sys.argv[2])), json.load(open(sys.argv[1])))";
    auto check = testing::run_process({"/usr/bin/python3", "-c", validate, schema.string(),
                                       (store.generation_dir(1) / "manifest.json").string()});
    if (check.err.find("No module named") == std::string::npos) {
      EXPECT_EQ(check.exit_code, 0) << check.err;
    }
  }
  // The full index, read back from the file, equals the seed SQL row for row.
  auto index = analytics::IngredientUsageIndex::from_json(snap->files.at("ingredient-usage-all.json"));
  ASSERT_TRUE(index.ok()) << index.error().message;
  EXPECT_EQ(index->rows(), oracle);
  simdjson::dom::element usage;
  ASSERT_EQ(parser_.parse(snap->files.at("ingredient-usage.json")).get(usage), simdjson::SUCCESS);
  EXPECT_EQ(int64_t(usage["metadata"]["total_recipes"]), spec_.recipes);
}

// Both tools as processes: catalog-seed writes a catalog, --once reads it.
TEST_P(OnceTest, OnACatalogWrittenByCatalogSeed) {
  const std::string seeded = another_catalog("seeded.db");
  auto seed = testing::run_process({std::string(COCKTAIL_BIN_DIR) + "/catalog-seed", "--db", seeded,
                                    "--recipes", "1356", "--ingredients", "610", "--seed", "7"});
  ASSERT_EQ(seed.exit_code, 0) << seed.out << seed.err;
  auto r = run({"--once", "--db", seeded, "--analytics-path", analytics_path_.string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  simdjson::dom::element summary;
  ASSERT_EQ(parser_.parse(r.out).get(summary), simdjson::SUCCESS) << r.out;
  EXPECT_EQ(int64_t(summary["counts"]["ingredient-usage-all"]), 610);
  EXPECT_EQ(int64_t(summary["counts"]["ingredient-usage"]), 8);  // the seeder's eight roots
  EXPECT_EQ(int64_t(summary["counts"]["cocktail-space"]), 1356);
  EXPECT_EQ(int64_t(summary["counts"]["cocktail-space-em"]), 1356);
  EXPECT_EQ(int64_t(summary["counts"]["recipe-similar"]), 1356);
  auto db = testing::open_test_catalog(seeded);
  EXPECT_EQ(int64_t(summary["catalog_seq"]), testing::latest_seq(*db));
  snapshot::SnapshotStore store(analytics_path_);
  auto snap = store.read_current();
  ASSERT_TRUE(snap.ok()) << snap.error().message;
  auto index = analytics::IngredientUsageIndex::from_json(snap->files.at("ingredient-usage-all.json"));
  ASSERT_TRUE(index.ok());
  EXPECT_EQ(index->rows(), testing::oracle_usage(*db));
}

TEST_P(OnceTest, ASecondRunPublishesTheNextGenerationWithTheNewSeq) {
  ASSERT_EQ(once().exit_code, 0);
  {
    auto db = testing::open_test_catalog(catalog_path_);
    db->exec("INSERT INTO recipes (name) VALUES ('New one')");
  }
  auto r = once();
  ASSERT_EQ(r.exit_code, 0) << r.out;
  simdjson::dom::element summary;
  ASSERT_EQ(parser_.parse(r.out).get(summary), simdjson::SUCCESS);
  EXPECT_EQ(int64_t(summary["generation"]), 2);
  EXPECT_EQ(int64_t(summary["catalog_seq"]), seq_ + 1);  // the insert, logged by the trigger
  snapshot::SnapshotStore store(analytics_path_);
  EXPECT_EQ(store.current_generation().value(), 2);
}

TEST_P(OnceTest, FailuresPrintAnErrorExitOneAndKeepThePreviousGeneration) {
  ASSERT_EQ(once().exit_code, 0);
  struct Case {
    std::string db;
    std::string stage;
  };
  // A catalog that is not there, one that is not a catalog at all, one
  // without its recipes.
  std::vector<Case> cases;
  const std::string legacy = another_catalog("legacy.db");
  {
    auto db = testing::open_test_catalog(legacy);
    db->exec("CREATE TABLE ingredients (id INTEGER PRIMARY KEY, name TEXT)");
  }
  if (catalog_.postgres()) {
    const std::string uri = catalog_path_.substr(0, catalog_path_.rfind('/') + 1);
    cases = {{uri + "no_such_database", "open"}, {legacy, "load"}};
  } else {
    const std::string garbage = dir_.file("garbage.db");
    testing_spit(garbage, std::string(8192, 'x'));
    cases = {{dir_.file("missing.db"), "open"}, {garbage, "load"}, {legacy, "load"}};
  }
  for (const auto& c : cases) {
    SCOPED_TRACE(c.db);
    auto r = run({"--once", "--db", c.db, "--analytics-path", analytics_path_.string()});
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    simdjson::dom::element doc;
    ASSERT_EQ(parser_.parse(r.out).get(doc), simdjson::SUCCESS) << r.out;
    EXPECT_EQ(std::string_view(doc["status"]), "error");
    EXPECT_FALSE(std::string_view(doc["error"]).empty());
    EXPECT_EQ(std::string_view(doc["stage"]), c.stage);
    EXPECT_FALSE(std::string_view(doc["details"]).empty());
    snapshot::SnapshotStore store(analytics_path_);
    EXPECT_EQ(store.current_generation().value(), 1);
    EXPECT_TRUE(store.read_current().ok());
    EXPECT_FALSE(fs::exists(store.generation_dir(2)));
  }
  EXPECT_FALSE(fs::exists(dir_.file("missing.db"))) << "a read-only open must not create the catalog";

  // An analytics path that cannot be a directory.
  const std::string blocked = dir_.file("blocked");
  testing_spit(blocked, "a file");
  auto r = run({"--once", "--db", catalog_path_, "--analytics-path", blocked});
  EXPECT_EQ(r.exit_code, 1);
  simdjson::dom::element doc;
  ASSERT_EQ(parser_.parse(r.out).get(doc), simdjson::SUCCESS) << r.out;
  EXPECT_EQ(std::string_view(doc["status"]), "error");

  // Missing --db is an error too, not a default file created somewhere.
  auto no_db = run({"--once", "--analytics-path", analytics_path_.string()}, {{"CATALOG_DB", ""}});
  EXPECT_EQ(no_db.exit_code, 1);
}

TEST_P(OnceTest, SettingsComeFromTheEnvironmentToo) {
  auto r = run({"--once"}, {{"CATALOG_DB", catalog_path_}, {"ANALYTICS_PATH", analytics_path_.string()}});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(fs::exists(analytics_path_ / "v1" / "CURRENT"));
}

TEST_P(OnceTest, GcAndReportCommands) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(run({"--once", "--no-gc", "--db", catalog_path_, "--analytics-path", analytics_path_.string()})
                  .exit_code,
              0);
  }
  const std::vector<std::string> policy = {
      "--analytics-path", analytics_path_.string(), "--keep-generations", "1", "--max-age-hours", "0"};
  auto args = policy;
  args.insert(args.begin(), {"gc", "--dry-run"});
  auto dry = run(args);
  ASSERT_EQ(dry.exit_code, 0) << dry.out << dry.err;
  simdjson::dom::element doc;
  ASSERT_EQ(parser_.parse(dry.out).get(doc), simdjson::SUCCESS) << dry.out;
  EXPECT_TRUE(bool(doc["dry_run"]));
  EXPECT_EQ(doc["would_remove"].get_array().size(), 2u);
  snapshot::SnapshotStore store(analytics_path_);
  EXPECT_EQ(store.report(0).generations.size(), 3u);

  args = policy;
  args.insert(args.begin(), "gc");
  auto gc = run(args);
  ASSERT_EQ(gc.exit_code, 0) << gc.out;
  ASSERT_EQ(parser_.parse(gc.out).get(doc), simdjson::SUCCESS) << gc.out;
  EXPECT_EQ(doc["removed"].get_array().size(), 2u);
  EXPECT_EQ(int64_t(doc["current"]), 3);

  auto report = run({"report", "--analytics-path", analytics_path_.string()});
  ASSERT_EQ(report.exit_code, 0);
  ASSERT_EQ(parser_.parse(report.out).get(doc), simdjson::SUCCESS) << report.out;
  EXPECT_EQ(doc["generations"].get_array().size(), 1u);
  EXPECT_EQ(int64_t(doc["current"]), 3);
  EXPECT_GT(int64_t(doc["total_bytes"]), 0);
  EXPECT_GT(int64_t(doc["filesystem"]["available_bytes"]), 0);

  // Without a catalog the service mode (the default) refuses to start: a usage error.
  EXPECT_EQ(run({"--analytics-path", analytics_path_.string()}).exit_code, 2);
}

INSTANTIATE_TEST_SUITE_P(Backends, OnceTest, catalog::testing::AllBackends(), catalog::testing::BackendName);

}  // namespace
}  // namespace cocktail

// analytics-regen: regenerates every analytic from the catalog and writes it
// as a snapshot generation.
//
//   analytics-regen --once     one regeneration, JSON summary on stdout, exit 0 / 1
//   analytics-regen gc         apply retention (--dry-run: only list)
//   analytics-regen report     generations, sizes, ages, disk use
//
// Wiring only: options -> SnapshotStore / Regenerator -> one JSON line.
// The long-running mode (subscribe, debounce, regenerate, publish) is a
// further command dispatched from main() like the others.
#include <iostream>
#include <optional>
#include <string>

#include "cocktail/core/log.h"
#include "cocktail/core/options.h"
#include "cocktail/core/time.h"
#include "cocktail/regen_service/regenerator.h"
#include "cocktail/snapshot/retention.h"
#include "cocktail/snapshot/snapshot_store.h"

namespace {

using cocktail::core::Options;

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

cocktail::snapshot::RetentionPolicy retention_policy(const Options& o) {
  cocktail::snapshot::RetentionPolicy p;
  p.keep_generations = o.get_int("--keep-generations");
  p.max_age_ms = static_cast<std::int64_t>(o.get_double("--max-age-hours") * 3600.0 * 1000.0);
  return p;
}

// Prints {"status":"error",...} and returns the failure exit code.
int fail(std::string_view stage, const std::string& details) {
  cocktail::core::Error e = cocktail::core::Error::internal(details);
  e.field = std::string(stage);
  std::cout << cocktail::regen::failure_json(e) << std::endl;
  return kExitFailure;
}

int run_once(const Options& o) {
  if (o.get("--db").empty()) {
    return fail("settings", "--db (CATALOG_DB) is required");
  }
  std::optional<cocktail::snapshot::SnapshotStore> store;
  try {
    store.emplace(o.get("--analytics-path"));
  } catch (const std::exception& e) {
    return fail("store", e.what());
  }
  cocktail::regen::RegeneratorSettings settings;
  settings.db_path = o.get("--db");
  if (!o.get_bool("--no-gc")) {
    settings.retention = retention_policy(o);
  }
  cocktail::regen::Regenerator regenerator(std::move(settings), *store);
  auto result = regenerator.run();
  if (!result.ok()) {
    std::cout << cocktail::regen::failure_json(result.error()) << std::endl;
    return kExitFailure;
  }
  std::cout << cocktail::regen::summary_json(result.value()) << std::endl;
  return kExitOk;
}

int run_gc(const Options& o) {
  try {
    cocktail::snapshot::SnapshotStore store(o.get("--analytics-path"));
    auto result =
        store.collect_garbage(retention_policy(o), o.get_bool("--dry-run"), cocktail::core::system_now_ms());
    std::cout << cocktail::snapshot::retention_json(result) << std::endl;
    return kExitOk;
  } catch (const std::exception& e) {
    return fail("gc", e.what());
  }
}

int run_report(const Options& o) {
  try {
    cocktail::snapshot::SnapshotStore store(o.get("--analytics-path"));
    std::cout << cocktail::snapshot::report_json(store.report(cocktail::core::system_now_ms())) << std::endl;
    return kExitOk;
  } catch (const std::exception& e) {
    return fail("report", e.what());
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o("analytics-regen", "Regenerates the analytics snapshots from the catalog.");
  o.add_command("gc", "Remove generations the retention settings do not keep (with --dry-run: list them).")
      .add_command("report", "Print generations, sizes, ages, disk use and free space as JSON.")
      .add_bool("--once", "", false,
                "Run one regeneration, print a JSON summary, exit 0 on success, 1 on failure.")
      .add_string("--db", "CATALOG_DB", "", "Catalog SQLite file (opened read-only).")
      .add_string("--analytics-path", "ANALYTICS_PATH", "/var/lib/cocktaildb/analytics",
                  "Snapshot directory (created when missing).")
      .add_int("--keep-generations", "KEEP_GENERATIONS", 10,
               "Retention: always keep this many newest generations.")
      .add_double("--max-age-hours", "MAX_AGE_HOURS", 24.0,
                  "Retention: keep every generation younger than this (hours).")
      .add_bool("--dry-run", "", false, "gc: list what would be removed, remove nothing.")
      .add_bool("--no-gc", "", false, "--once: skip retention after writing.")
      .add_string("--log-level", "LOG_LEVEL", "info", "debug, info, warn or error (logs go to stderr).");
  o.parse_or_exit(argc, argv);

  cocktail::core::log::Level level;
  if (!cocktail::core::log::parse_level(o.get("--log-level"), &level)) {
    std::cerr << "analytics-regen: --log-level expects debug, info, warn or error\n";
    return kExitUsage;
  }
  cocktail::core::log::set_level(level);
  if (o.get_int("--keep-generations") < 0 || o.get_double("--max-age-hours") < 0) {
    std::cerr << "analytics-regen: --keep-generations and --max-age-hours must not be negative\n";
    return kExitUsage;
  }

  const auto& words = o.positional();
  const std::string command = words.empty() ? "" : words.front();
  if (words.size() > 1) {
    std::cerr << "analytics-regen: unexpected argument '" << words[1] << "'\n";
    return kExitUsage;
  }
  if (command == "gc") {
    return run_gc(o);
  }
  if (command == "report") {
    return run_report(o);
  }
  if (o.get_bool("--once")) {
    return run_once(o);
  }
  std::cerr << "analytics-regen: nothing to do: give --once, gc or report (see --help)\n";
  return kExitUsage;
}

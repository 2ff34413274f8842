// analytics-regen: regenerates every analytic from the catalog and writes it
// as a snapshot generation.
//
//   analytics-regen            the service: subscribe, debounce, regenerate,
//                              publish, until SIGTERM (docs/operations.md)
//   analytics-regen --once     one regeneration, JSON summary on stdout, exit 0 / 1
//   analytics-regen gc         apply retention (--dry-run: only list)
//   analytics-regen report     generations, sizes, ages, disk use
//
// Wiring only: options -> AnalyticsRegen (the service assembled), or
// run_once / gc / report printing one JSON line.
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>

#include "cocktail/analytics/cocktail_space.h"
#include "cocktail/bus/security.h"
#include "cocktail/core/log.h"
#include "cocktail/core/log_options.h"
#include "cocktail/core/options.h"
#include "cocktail/core/shutdown.h"
#include "cocktail/core/time.h"
#include "cocktail/http/server_flags.h"
#include "cocktail/metrics/registry.h"
#include "cocktail/regen_service/analytics_regen.h"
#include "cocktail/snapshot/retention.h"
#include "cocktail/snapshot/snapshot_store.h"

namespace {

using cocktail::core::Options;
namespace rs = cocktail::regen_service;

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

cocktail::snapshot::RetentionPolicy retention_policy(const Options& o) {
  cocktail::snapshot::RetentionPolicy p;
  p.keep_generations = o.get_int("--keep-generations");
  p.max_age_ms = static_cast<std::int64_t>(o.get_double("--max-age-hours") * 3600.0 * 1000.0);
  p.max_bytes = o.get_int("--max-bytes");
  p.versioned_files = rs::versioned_files();
  p.keep_versions = o.get_int("--keep-map-versions");
  return p;
}

cocktail::analytics::CocktailSpaceOptions space_options(const Options& o) {
  cocktail::analytics::CocktailSpaceOptions s;
  s.seed = static_cast<std::uint64_t>(o.get_int("--space-seed"));
  s.candidate_cap = static_cast<std::size_t>(o.get_int("--space-candidate-cap"));
  s.dense_matrix_limit = static_cast<std::size_t>(o.get_int("--space-dense-limit"));
  s.threads = static_cast<unsigned>(o.get_int("--space-threads"));
  s.similar_stored = static_cast<std::size_t>(o.get_int("--space-similar-stored"));
  s.ingredient_matrix_limit = static_cast<std::size_t>(o.get_int("--space-ingredient-matrix-limit"));
  s.incremental = o.get_bool("--space-incremental");
  return s;
}

// Prints {"status":"error",...} and returns the failure exit code.
int fail(std::string_view stage, const std::string& details) {
  std::cout << rs::failure_json(rs::RunFailure{std::string(stage), details, false}) << std::endl;
  return kExitFailure;
}

std::chrono::milliseconds ms(const Options& o, const char* flag) {
  return std::chrono::milliseconds(o.get_int(flag));
}

// Only the listen address: the service's HTTP side (health, metrics, the
// manual trigger) runs with fixed small settings (run_service).
cocktail::http::ServerFlags http_flags() {
  cocktail::http::ServerFlags f("127.0.0.1:8082");
  f.listen_text = {"HTTP_LISTEN", "Service: HTTP listen address (health, metrics, trigger)."};
  f.io_threads.reset();
  f.max_connections.reset();
  f.shutdown_timeout.reset();
  f.access_log.reset();
  return f;
}

rs::AnalyticsRegenOptions regen_options(const Options& o) {
  rs::AnalyticsRegenOptions r;
  r.analytics_path = o.get("--analytics-path");
  r.split_lanes = o.get_bool("--split-lanes");
  if (!o.get_bool("--no-gc")) {
    r.retention = retention_policy(o);
  }
  r.space = space_options(o);
  r.min_free_bytes = o.get_int("--min-free-bytes");

  rs::RegenerationServiceOptions& options = r.service;
  options.db_path = o.get("--db");
  options.sub_endpoints = o.get_list("--sub");
  options.pub_endpoint = o.get("--pub");
  options.debounce.quiet = ms(o, "--quiet-ms");
  options.debounce.max_delay = ms(o, "--max-delay-ms");
  options.debounce.backoff_initial = ms(o, "--backoff-initial-ms");
  options.debounce.backoff_max = ms(o, "--backoff-max-ms");
  options.debounce.backoff_multiplier = o.get_double("--backoff-multiplier");
  options.debounce.backoff_jitter = o.get_double("--backoff-jitter");
  options.check_interval = ms(o, "--check-interval-ms");
  options.heartbeat_interval = ms(o, "--heartbeat-ms");
  options.shutdown_timeout = ms(o, "--shutdown-timeout-ms");
  options.abandon_grace = ms(o, "--abandon-grace-ms");
  options.slow_lane_nice = static_cast<int>(o.get_int("--slow-lane-nice"));
  options.slow_lane_idle = o.get_bool("--slow-lane-idle");
  options.scrub.interval = std::chrono::seconds(o.get_int("--scrub-interval-s"));
  options.scrub.bytes_per_second = o.get_int("--scrub-bytes-per-s");
  options.repair_endpoints = o.get_list("--repair-sub");
  options.repair_min_interval = ms(o, "--repair-min-interval-ms");

  r.routes.allow_anonymous_trigger = o.get_bool("--allow-anonymous-trigger");
  r.routes.max_wait = ms(o, "--regenerate-max-wait-ms");
  auto token = cocktail::http::read_token_flag(o, "--token-file");
  if (!token.ok()) {
    o.exit_usage_error(token.error().message);
  }
  r.routes.token = *token;
  return r;
}

int run_once(const Options& o) {
  if (o.get("--db").empty()) {
    return fail("settings", "--db (CATALOG_DB) is required");
  }
  rs::AnalyticsRegenOptions options = regen_options(o);
  options.split_lanes = false;  // --once writes the complete generation only
  return rs::run_once(options);
}

int run_service(const Options& o) {
  cocktail::core::ShutdownSignals signals;  // before any thread starts

  if (o.get("--db").empty()) {
    o.exit_usage_error("--db (CATALOG_DB) is required");
  }
  rs::AnalyticsRegenOptions options = regen_options(o);
  if (auto read = cocktail::http::read_server_flags(o, http_flags(), options.http); !read.ok()) {
    o.exit_usage_error(read.error().message);
  }
  // Only the service uses the bus: --once needs no keys.
  auto bus_security = cocktail::bus::security_from_options(o, {.publishes = true, .subscribes = true});
  if (!bus_security.ok()) {
    o.exit_usage_error(bus_security.error().message);
  }
  options.service.bus_security = std::move(*bus_security);
  if (!options.service.repair_endpoints.empty() && options.service.bus_security.curve()) {
    auto keys = cocktail::bus::server_keys_from_option(o, "--repair-server-key");
    if (!keys.ok()) {
      o.exit_usage_error(keys.error().message);
    }
    options.service.repair_server_keys = std::move(*keys);
  }
  options.http.io_threads = 1;
  options.http.shutdown_timeout = std::chrono::milliseconds(1000);
  options.http.response_timeout = options.routes.max_wait + std::chrono::seconds(5);

  cocktail::metrics::MetricsRegistry registry;
  std::optional<rs::AnalyticsRegen> regen;
  try {
    regen.emplace(std::move(options), registry);
    regen->start();
  } catch (const std::invalid_argument& e) {
    o.exit_usage_error(e.what());
  } catch (const std::exception& e) {
    cocktail::core::log::error("regen.start_failed", {{"error", e.what()}});
    std::cerr << "analytics-regen: " << e.what() << "\n";
    return kExitFailure;
  }
  cocktail::core::log::info("regen.ready", {{"http_port", static_cast<int>(regen->port())},
                                            {"pub", regen->service().pub_endpoint()}});

  // SIGTERM: the service first (no new work; a running regeneration gets
  // its bound), then HTTP, which still answered /health meanwhile.
  auto outcome = rs::RegenerationService::StopResult::kIdle;
  signals.on_shutdown([&] { outcome = regen->stop(); });
  signals.wait();
  if (outcome == rs::RegenerationService::StopResult::kAbandoned) {
    // The regeneration is inside a stage that cannot be interrupted; its
    // generation was never published, so leaving it is safe (gc removes it).
    cocktail::core::log::warn("regen.exit_abandoning", {});
    std::_Exit(kExitOk);
  }
  regen.reset();
  cocktail::core::log::info("regen.exit", {{"signal", signals.signal_number()}});
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
  Options o("analytics-regen",
            "Regenerates the analytics snapshots from the catalog: as a service (default), or --once.");
  o.add_command("gc", "Remove generations the retention settings do not keep (with --dry-run: list them).")
      .add_command("report", "Print generations, sizes, ages, disk use and free space as JSON.")
      .add_bool("--once", "", false,
                "Run one regeneration, print a JSON summary, exit 0 on success, 1 on failure.")
      .add_string("--db", "CATALOG_DB", "", "Catalog: a SQLite file or a postgresql:// URI (read only).")
      .add_string("--analytics-path", "ANALYTICS_PATH", "/var/lib/cocktaildb/analytics",
                  "Snapshot directory (created when missing).")
      .add_int("--keep-generations", "KEEP_GENERATIONS", 10,
               "Retention: always keep this many newest generations.")
      .add_double("--max-age-hours", "MAX_AGE_HOURS", 24.0,
                  "Retention: keep every generation younger than this (hours).")
      .add_int(
          "--max-bytes", "MAX_BYTES", 0,
          "Retention: size budget of the snapshot directory in bytes, hard-linked files counted once; "
          "the oldest generations go first, whatever their age or rank (never the current one). 0: none.")
      .add_int("--keep-map-versions", "KEEP_MAP_VERSIONS", 1,
               "Retention: superseded versions of the cocktail-space files (maps, recipe-similar, matrices) "
               "kept besides the current one; generations holding older ones are removed whatever their age "
               "or rank.")
      .add_int("--min-free-bytes", "REGEN_MIN_FREE_BYTES", 64LL << 20,
               "Bytes the slow lane leaves free on the analytics file system for the exact analytics; old "
               "generations are removed to make room before either lane writes.")
      .add_int("--space-seed", "SPACE_SEED", 42, "Cocktail space: UMAP seed (same seed, same maps).")
      .add_int("--space-candidate-cap", "SPACE_CANDIDATE_CAP", 256,
               "Cocktail space: at most this many EMD candidates per recipe (pairs stay O(recipes x cap)).")
      .add_int("--space-dense-limit", "SPACE_DENSE_LIMIT", 20000,
               "Cocktail space: write recipe-distances-em.npy only up to this many recipes.")
      .add_int("--space-ingredient-matrix-limit", "SPACE_INGREDIENT_MATRIX_LIMIT", 4096,
               "Cocktail space: write ingredient-distances-em.npy only up to this many ingredients.")
      .add_int("--space-similar-stored", "SPACE_SIMILAR_STORED", 20,
               "Cocktail space: neighbours stored per recipe in recipe-similar (1..100; the API's largest "
               "limit).")
      .add_int("--space-threads", "SPACE_THREADS", 0, "Cocktail space: worker threads (0: one per core).")
      .add_bool("--space-incremental", "SPACE_INCREMENTAL", true,
                "Service: start each cocktail-space run from the previous one (EM fit, candidates, maps); "
                "false: every run from scratch (docs/cocktail-space.md, \"Incremental runs\"). --once always "
                "starts cold.")
      .add_bool("--dry-run", "", false, "gc: list what would be removed, remove nothing.")
      .add_bool("--no-gc", "", false, "Skip retention after writing (--once and service).")
      .add_bool("--split-lanes", "REGEN_SPLIT_LANES", true,
                "Service: publish the exact analytics first (carrying the cocktail space forward), then the "
                "complete generation; false: one generation per run. --once always writes one.")
      .add_int(
          "--slow-lane-nice", "REGEN_SLOW_LANE_NICE", 10,
          "Service: nice value (0-19; 0: unchanged) of the slow lane (the cocktail space), so that a map "
          "computation yields the CPU to the exact analytics at once.")
      .add_bool(
          "--slow-lane-idle", "REGEN_SLOW_LANE_IDLE", false,
          "Service: run the slow lane under SCHED_IDLE instead (only on otherwise idle cores: it starves "
          "on a busy machine).")
      .add_string("--sub", "SUB_ENDPOINTS", "tcp://127.0.0.1:5561",
                  "Service: catalog publishers to subscribe to (connect), comma-separated.")
      .add_string("--pub", "PUB_ENDPOINT", "tcp://127.0.0.1:5562",
                  "Service: where analytics events are published (bind).")
      .add_string("--token-file", "TOKEN_FILE", "",
                  "Service: file holding the bearer token for POST /api/v1/regenerate.")
      .add_bool("--allow-anonymous-trigger", "ALLOW_ANONYMOUS_TRIGGER", false,
                "Service, development only: accept manual triggers without a token when none is configured.")
      .add_int("--quiet-ms", "REGEN_QUIET_MS", 200,
               "Service: a run starts after this long without a new change (ms).")
      .add_int("--max-delay-ms", "REGEN_MAX_DELAY_MS", 2000,
               "Service: ...or when the oldest pending change has waited this long (ms).")
      .add_int("--backoff-initial-ms", "REGEN_BACKOFF_INITIAL_MS", 500,
               "Service: retry delay after a first failed run (ms).")
      .add_int("--backoff-max-ms", "REGEN_BACKOFF_MAX_MS", 30000, "Service: retry delay cap (ms).")
      .add_double("--backoff-multiplier", "REGEN_BACKOFF_MULTIPLIER", 2.0,
                  "Service: retry delay factor per consecutive failure.")
      .add_double("--backoff-jitter", "REGEN_BACKOFF_JITTER", 0.5,
                  "Service: fraction in [0, 1] by which a retry delay is randomly shortened.")
      .add_int("--check-interval-ms", "REGEN_CHECK_INTERVAL_MS", 5000,
               "Service: how often the catalog's latest seq is read directly (ms).")
      .add_int("--heartbeat-ms", "HEARTBEAT_MS", 1000, "Service: analytics.heartbeat interval (ms).")
      .add_int("--shutdown-timeout-ms", "SHUTDOWN_TIMEOUT_MS", 5000,
               "Service: on SIGTERM, how long a running regeneration may take to finish (ms).")
      .add_int("--abandon-grace-ms", "REGEN_ABANDON_GRACE_MS", 1000,
               "Service: then, how long a cancelled one has to reach a stage boundary before it is abandoned "
               "(ms).")
      .add_int("--regenerate-max-wait-ms", "REGENERATE_MAX_WAIT_MS", 20000,
               "Service: longest POST /api/v1/regenerate?wait=true waits (ms).")
      .add_int("--scrub-interval-s", "REGEN_SCRUB_INTERVAL_S", 3600,
               "Service: read the current generation back and verify every file this often, the first time "
               "at start (seconds; 0: only on request).")
      .add_int("--scrub-bytes-per-s", "REGEN_SCRUB_BYTES_PER_S", 32LL << 20,
               "Service: read budget of the scrub and of the checks readers ask for (bytes per second; 0: "
               "unlimited).")
      .add_string("--repair-sub", "REPAIR_SUB_ENDPOINTS", "",
                  "Service: analytics-api publishers of analytics.repair requests to subscribe to (connect), "
                  "comma-separated. Empty: none.")
      .add_string("--repair-server-key", "REPAIR_SERVER_KEY", "",
                  "Service: the public certificate of those publishers (analytics-api's), one for all or one "
                  "per endpoint, comma-separated; needed with --bus-key-file.")
      .add_int("--repair-min-interval-ms", "REGEN_REPAIR_MIN_INTERVAL_MS", 5000,
               "Service: a repair run starts at once, the next one no sooner than this after it (ms).");
  cocktail::http::add_server_flags(o, http_flags());
  cocktail::core::add_log_level_option(o, "debug, info, warn or error (logs go to stderr).");
  cocktail::bus::add_security_options(o);
  o.parse_or_exit(argc, argv);

  if (auto applied = cocktail::core::apply_log_level(o); !applied.ok()) {
    o.exit_usage_error(applied.error().message);
  }
  if (o.get_int("--space-seed") < 0 || o.get_int("--space-candidate-cap") < 1 ||
      o.get_int("--space-dense-limit") < 0 || o.get_int("--space-ingredient-matrix-limit") < 0 ||
      o.get_int("--space-threads") < 0) {
    std::cerr << "analytics-regen: --space-seed, --space-dense-limit, --space-ingredient-matrix-limit and "
                 "--space-threads must not be negative, --space-candidate-cap must be at least 1\n";
    return kExitUsage;
  }
  if (o.get_int("--space-similar-stored") < 1 || o.get_int("--space-similar-stored") > 100) {
    std::cerr << "analytics-regen: --space-similar-stored must be between 1 and 100\n";
    return kExitUsage;
  }
  if (o.get_int("--slow-lane-nice") < 0 || o.get_int("--slow-lane-nice") > 19) {
    std::cerr << "analytics-regen: --slow-lane-nice must be in 0..19\n";
    return kExitUsage;
  }
  if (o.get_int("--keep-generations") < 0 || o.get_double("--max-age-hours") < 0 ||
      o.get_int("--max-bytes") < 0 || o.get_int("--keep-map-versions") < 0 ||
      o.get_int("--min-free-bytes") < 0) {
    std::cerr << "analytics-regen: --keep-generations, --max-age-hours, --max-bytes, --keep-map-versions and "
                 "--min-free-bytes must not be negative\n";
    return kExitUsage;
  }
  if (o.get_int("--scrub-interval-s") < 0 || o.get_int("--scrub-bytes-per-s") < 0 ||
      o.get_int("--repair-min-interval-ms") < 0) {
    std::cerr << "analytics-regen: --scrub-interval-s, --scrub-bytes-per-s and --repair-min-interval-ms must "
                 "not be negative\n";
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
  if (!command.empty()) {
    o.exit_usage_error("unknown command '" + command + "'");
  }
  if (o.get_bool("--once")) {
    return run_once(o);
  }
  return run_service(o);
}

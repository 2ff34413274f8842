// usage-api: durable usage events of the dashboard and API clients, exact
// hourly roll-ups, retention, usage.hour on ZeroMQ (seed 004's contract).
// Wiring only: settings -> UsageService -> run until SIGTERM/SIGINT.
// Settings: `usage-api --help`, docs/operations.md; the API: docs/usage.md.
#include <chrono>
#include <exception>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>

#include "cocktail/bus/security.h"
#include "cocktail/core/log.h"
#include "cocktail/core/log_options.h"
#include "cocktail/core/options.h"
#include "cocktail/core/shutdown.h"
#include "cocktail/http/server_flags.h"
#include "cocktail/metrics/registry.h"
#include "cocktail/usage/usage_service.h"

namespace core = cocktail::core;
namespace http = cocktail::http;
namespace usage = cocktail::usage;

namespace {

std::int64_t positive(const core::Options& o, const char* flag) {
  const std::int64_t v = o.get_int(flag);
  if (v < 1) {
    o.exit_usage_error(std::string(flag) + " must be at least 1");
  }
  return v;
}

}  // namespace

static int run(int argc, char** argv) {
  core::ShutdownSignals signals;  // first, before any thread starts

  core::Options o("usage-api",
                  "Durable usage events with exact hourly roll-ups and retention; usage.hour on ZeroMQ.");
  http::ServerFlags http_flags("127.0.0.1:8083");
  http_flags.max_body_bytes = http::FlagText{"MAX_BODY_BYTES", "largest request body, bytes; beyond: 413"};
  http_flags.cors_origins = http::FlagText{
      "CORS_ORIGINS",
      "origins allowed to call from a browser, comma-separated ('*' for any); empty: CORS off"};
  o.add_string("--db", "USAGE_DB", "/var/lib/cocktaildb/usage/usage.db",
               "usage SQLite file (its own, never the catalog; created and migrated at start)")
      .add_string("--pub", "PUB_ENDPOINT", "tcp://127.0.0.1:5563",
                  "ZeroMQ endpoint to publish usage.hour on (bind)")
      .add_string("--read-token-file", "READ_TOKEN_FILE", "",
                  "file holding a bearer token that the GET routes then require (tracking never needs one)")
      .add_int("--db-threads", "DB_THREADS", 2, "threads (and read connections) for the GET routes")
      .add_int("--write-queue", "WRITE_QUEUE", 10000,
               "track requests that may wait for the writer; beyond: 503")
      .add_int("--max-batch", "WRITE_MAX_BATCH", 512,
               "track requests in one transaction and WAL sync at most (group commit)")
      .add_int("--write-wait-ms", "WRITE_WAIT_MS", 5000,
               "longest a track request waits for its turn and for the usage database's write lock (held by "
               "another process) before it is refused unstored with 503, ms")
      .add_string(
          "--commit", "COMMIT_MODE", "group",
          "group: one transaction and WAL sync per batch of requests; each: one per request (baseline)")
      .add_int("--max-events", "USAGE_MAX_EVENTS", 1000, "events in one track request at most")
      .add_int("--max-properties-bytes", "USAGE_MAX_PROPERTIES_BYTES", 8192,
               "an event's properties (unknown top-level fields included) as JSON, bytes at most")
      .add_int("--max-clock-skew-s", "USAGE_MAX_CLOCK_SKEW_S", 300,
               "how far a client timestamp may be ahead of the server's clock, s")
      .add_string("--distribution-property", "USAGE_DISTRIBUTION_PROPERTY", "risk_mode",
                  "the property whose values the roll-ups' risk_distribution counts")
      .add_int("--max-keys-per-hour", "USAGE_MAX_KEYS_PER_HOUR", 1000,
               "distinct event types, tools or property values per roll-up hour; more are counted as (other)")
      .add_int("--events-retention-days", "USAGE_EVENTS_RETENTION_DAYS", 30,
               "events are kept this long, days")
      .add_int("--rollups-retention-days", "USAGE_ROLLUPS_RETENTION_DAYS", 90,
               "hourly roll-ups are kept this long, days (at least the events retention)")
      .add_int("--retention-interval-s", "USAGE_RETENTION_INTERVAL_S", 60, "how often retention runs, s")
      .add_int("--retention-batch", "USAGE_RETENTION_BATCH", 1000, "rows one retention step deletes at most")
      .add_int("--publish-interval-ms", "USAGE_PUBLISH_INTERVAL_MS", 1000,
               "usage.hour is sent at most once per hour and interval, ms");
  http::add_server_flags(o, http_flags);
  core::add_log_level_option(o);
  cocktail::bus::add_security_options(o);
  o.parse_or_exit(argc, argv);

  if (auto applied = core::apply_log_level(o); !applied.ok()) {
    o.exit_usage_error(applied.error().message);
  }

  usage::UsageServiceOptions options;
  options.db_path = o.get("--db");
  if (options.db_path.empty()) {
    o.exit_usage_error("--db (USAGE_DB) must not be empty");
  }
  if (auto read = http::read_server_flags(o, http_flags, options.http); !read.ok()) {
    o.exit_usage_error(read.error().message);
  }
  options.pub_endpoint = o.get("--pub");
  auto bus_security = cocktail::bus::security_from_options(o, {.publishes = true});
  if (!bus_security.ok()) {
    o.exit_usage_error(bus_security.error().message);
  }
  options.bus_security = std::move(*bus_security);
  options.db_threads = static_cast<std::size_t>(positive(o, "--db-threads"));
  auto read_token = http::read_token_flag(o, "--read-token-file");
  if (!read_token.ok()) {
    o.exit_usage_error(read_token.error().message);
  }
  options.routes.read_token = *read_token;

  const std::string commit = o.get("--commit");
  if (commit != "group" && commit != "each") {
    o.exit_usage_error("--commit must be group or each");
  }
  options.writer.mode =
      commit == "group" ? cocktail::catalog::CommitMode::kGroup : cocktail::catalog::CommitMode::kEach;
  options.writer.max_queue = static_cast<std::size_t>(positive(o, "--write-queue"));
  options.writer.max_batch = static_cast<std::size_t>(positive(o, "--max-batch"));
  options.writer.max_wait = std::chrono::milliseconds(positive(o, "--write-wait-ms"));

  options.routes.track_max_body_bytes = options.http.max_body_bytes;
  options.routes.limits.max_events = static_cast<std::size_t>(positive(o, "--max-events"));
  options.routes.limits.max_properties_bytes =
      static_cast<std::size_t>(positive(o, "--max-properties-bytes"));
  options.routes.limits.max_future_ms = o.get_int("--max-clock-skew-s") * 1000;
  options.store.distribution_property = o.get("--distribution-property");
  if (options.store.distribution_property.empty()) {
    o.exit_usage_error("--distribution-property must not be empty");
  }
  options.store.max_keys_per_hour = static_cast<int>(positive(o, "--max-keys-per-hour"));

  const std::int64_t day_ms = 24 * usage::kHourMs;
  options.retention.events_max_age_ms = positive(o, "--events-retention-days") * day_ms;
  options.retention.rollups_max_age_ms = positive(o, "--rollups-retention-days") * day_ms;
  if (options.retention.rollups_max_age_ms < options.retention.events_max_age_ms) {
    o.exit_usage_error("--rollups-retention-days must be at least --events-retention-days");
  }
  options.retention.interval = std::chrono::seconds(positive(o, "--retention-interval-s"));
  options.retention.batch_rows = positive(o, "--retention-batch");
  options.publish_interval = std::chrono::milliseconds(positive(o, "--publish-interval-ms"));

  // The default lives under the stack's data directory: create it.
  std::error_code ec;
  const auto parent = std::filesystem::path(options.db_path).parent_path();
  if (!parent.empty()) {
    std::filesystem::create_directories(parent, ec);
  }

  cocktail::metrics::MetricsRegistry registry;
  std::optional<usage::UsageService> service;
  try {
    service.emplace(std::move(options), registry);
    service->start();
  } catch (const std::invalid_argument& e) {
    core::log::error("usage_api.refused", {{"error", e.what()}});
    std::cerr << "usage-api: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    core::log::error("usage_api.start_failed", {{"error", e.what()}});
    std::cerr << "usage-api: " << e.what() << "\n";
    return 1;
  }
  core::log::info("usage_api.ready",
                  {{"http_port", static_cast<int>(service->http_port())}, {"pub", service->pub_endpoint()}});

  signals.on_shutdown([&] { service->stop(); });
  signals.wait();
  service.reset();
  core::log::info("usage_api.exit", {{"signal", signals.signal_number()}});
  return 0;
}

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    core::log::error("usage_api.fatal", {{"error", e.what()}});
    return 1;
  }
}

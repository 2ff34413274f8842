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
#include "cocktail/core/options.h"
#include "cocktail/core/shutdown.h"
#include "cocktail/http/bearer_token.h"
#include "cocktail/http/server.h"
#include "cocktail/metrics/registry.h"
#include "cocktail/usage/usage_service.h"

namespace core = cocktail::core;
namespace http = cocktail::http;
namespace usage = cocktail::usage;

namespace {

[[noreturn]] void usage_error(const std::string& message) {
  std::cerr << "usage-api: " << message << " (see usage-api --help)\n";
  std::exit(2);
}

std::int64_t positive(const core::Options& o, const char* flag) {
  const std::int64_t v = o.get_int(flag);
  if (v < 1) {
    usage_error(std::string(flag) + " must be at least 1");
  }
  return v;
}

}  // namespace

static int run(int argc, char** argv) {
  core::ShutdownSignals signals;  // first, before any thread starts

  core::Options o("usage-api",
                  "Durable usage events with exact hourly roll-ups and retention; usage.hour on ZeroMQ.");
  o.add_string("--db", "USAGE_DB", "/var/lib/cocktaildb/usage/usage.db",
               "usage SQLite file (its own, never the catalog; created and migrated at start)")
      .add_string("--http", "HTTP_LISTEN", "127.0.0.1:8083", "HTTP listen address host:port")
      .add_string("--pub", "PUB_ENDPOINT", "tcp://127.0.0.1:5563",
                  "ZeroMQ endpoint to publish usage.hour on (bind)")
      .add_string("--cors-origins", "CORS_ORIGINS", "",
                  "origins allowed to call from a browser, comma-separated ('*' for any); empty: CORS off")
      .add_string("--read-token-file", "READ_TOKEN_FILE", "",
                  "file holding a bearer token that the GET routes then require (tracking never needs one)")
      .add_int("--io-threads", "HTTP_IO_THREADS", 2, "HTTP I/O threads")
      .add_int("--db-threads", "DB_THREADS", 2, "threads (and read connections) for the GET routes")
      .add_int("--max-body-bytes", "MAX_BODY_BYTES", 1 << 20, "largest request body, bytes; beyond: 413")
      .add_int("--max-connections", "HTTP_MAX_CONNECTIONS", 10000, "open HTTP connections at most")
      .add_int("--write-queue", "WRITE_QUEUE", 10000,
               "track requests that may wait for the writer; beyond: 503")
      .add_int("--max-batch", "WRITE_MAX_BATCH", 512,
               "track requests in one transaction and WAL sync at most (group commit)")
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
               "usage.hour is sent at most once per hour and interval, ms")
      .add_int("--shutdown-timeout-ms", "SHUTDOWN_TIMEOUT_MS", 5000,
               "how long in-flight requests may finish, ms")
      .add_string("--log-level", "LOG_LEVEL", "info", "debug, info, warn or error")
      .add_bool("--access-log", "ACCESS_LOG", true, "one log line per HTTP request");
  cocktail::bus::add_security_options(o);
  o.parse_or_exit(argc, argv);

  core::log::Level level;
  if (!core::log::parse_level(o.get("--log-level"), &level)) {
    usage_error("--log-level must be debug, info, warn or error");
  }
  core::log::set_level(level);

  usage::UsageServiceOptions options;
  options.db_path = o.get("--db");
  if (options.db_path.empty()) {
    usage_error("--db (USAGE_DB) must not be empty");
  }
  auto listen = http::parse_listen_address(o.get("--http"), "--http");
  if (!listen.ok()) {
    usage_error(listen.error().message);
  }
  options.http.host = listen->first;
  options.http.port = listen->second;
  options.http.io_threads = static_cast<int>(positive(o, "--io-threads"));
  options.http.max_body_bytes = static_cast<std::size_t>(positive(o, "--max-body-bytes"));
  options.http.max_connections = static_cast<std::size_t>(positive(o, "--max-connections"));
  options.http.shutdown_timeout = std::chrono::milliseconds(o.get_int("--shutdown-timeout-ms"));
  options.http.access_log = o.get_bool("--access-log");
  options.http.cors.allowed_origins = o.get_list("--cors-origins");
  options.pub_endpoint = o.get("--pub");
  auto bus_security = cocktail::bus::security_from_options(o, {.publishes = true});
  if (!bus_security.ok()) {
    usage_error(bus_security.error().message);
  }
  options.bus_security = std::move(*bus_security);
  options.db_threads = static_cast<std::size_t>(positive(o, "--db-threads"));
  if (!o.get("--read-token-file").empty()) {
    auto token = http::read_token_file(o.get("--read-token-file"));
    if (!token.ok()) {
      usage_error(token.error().message);
    }
    options.routes.read_token = *token;
  }

  const std::string commit = o.get("--commit");
  if (commit != "group" && commit != "each") {
    usage_error("--commit must be group or each");
  }
  options.writer.mode =
      commit == "group" ? cocktail::catalog::CommitMode::kGroup : cocktail::catalog::CommitMode::kEach;
  options.writer.max_queue = static_cast<std::size_t>(positive(o, "--write-queue"));
  options.writer.max_batch = static_cast<std::size_t>(positive(o, "--max-batch"));

  options.routes.track_max_body_bytes = options.http.max_body_bytes;
  options.routes.limits.max_events = static_cast<std::size_t>(positive(o, "--max-events"));
  options.routes.limits.max_properties_bytes =
      static_cast<std::size_t>(positive(o, "--max-properties-bytes"));
  options.routes.limits.max_future_ms = o.get_int("--max-clock-skew-s") * 1000;
  options.store.distribution_property = o.get("--distribution-property");
  if (options.store.distribution_property.empty()) {
    usage_error("--distribution-property must not be empty");
  }
  options.store.max_keys_per_hour = static_cast<int>(positive(o, "--max-keys-per-hour"));

  const std::int64_t day_ms = 24 * usage::kHourMs;
  options.retention.events_max_age_ms = positive(o, "--events-retention-days") * day_ms;
  options.retention.rollups_max_age_ms = positive(o, "--rollups-retention-days") * day_ms;
  if (options.retention.rollups_max_age_ms < options.retention.events_max_age_ms) {
    usage_error("--rollups-retention-days must be at least --events-retention-days");
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

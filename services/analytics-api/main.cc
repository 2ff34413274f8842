// analytics-api: serves the analytics snapshots from memory over HTTP —
// verified generations, drill-downs, read-your-writes, live updates.
//
// Wiring only: settings -> ReadServiceOptions -> ReadService -> wait for
// SIGTERM/SIGINT -> graceful stop. See docs/api.md ("analytics-api").
#include <iostream>
#include <string>

#include "cocktail/bus/security.h"
#include "cocktail/core/log.h"
#include "cocktail/core/options.h"
#include "cocktail/core/shutdown.h"
#include "cocktail/http/server.h"
#include "cocktail/metrics/registry.h"
#include "cocktail/read_service/read_service.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

int usage_error(const std::string& message) {
  std::cerr << "analytics-api: " << message << "\n";
  return kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  cocktail::core::ShutdownSignals signals;  // first: blocks SIGTERM/SIGINT in every later thread

  cocktail::core::Options o("analytics-api", "Serves the analytics snapshots over HTTP (the read service).");
  o.add_string("--analytics-path", "ANALYTICS_PATH", "/var/lib/cocktaildb/analytics",
               "Snapshot directory (created when missing).")
      .add_string("--db", "CATALOG_DB", "",
                  "Catalog (SQLite file or postgresql:// URI), opened read-only to compute ingredient-usage "
                  "and recipe-complexity on the "
                  "fly before the first snapshot exists. Empty: no fallback (503 until a snapshot exists).")
      .add_string("--http", "HTTP_LISTEN", "127.0.0.1:8081", "HTTP listen address, host:port.")
      .add_string(
          "--sub", "SUB_ENDPOINTS", "tcp://127.0.0.1:5562",
          "ZeroMQ endpoints of analytics-regen's publisher (comma-separated). Empty: poll CURRENT only.")
      .add_int("--io-threads", "IO_THREADS", 2, "HTTP I/O threads.")
      .add_int("--check-interval-ms", "CHECK_INTERVAL_MS", 2000,
               "How often CURRENT is checked in case an announcement was missed (milliseconds).")
      .add_string("--cors-origins", "CORS_ORIGINS", "",
                  "Origins allowed to read from a browser, comma-separated ('*' for any). Empty: CORS off.")
      .add_int("--max-wait-ms", "MAX_WAIT_MS", 10000, "Largest wait_ms accepted for min_seq (milliseconds).")
      .add_int("--default-wait-ms", "DEFAULT_WAIT_MS", 5000, "wait_ms when min_seq is given without it.")
      .add_int("--max-connections", "MAX_CONNECTIONS", 10000, "Open HTTP connections accepted at once.")
      .add_string("--log-level", "LOG_LEVEL", "info", "debug, info, warn or error (logs go to stderr).")
      .add_bool("--access-log", "ACCESS_LOG", true, "One log line per HTTP request.");
  cocktail::bus::add_security_options(o);
  o.parse_or_exit(argc, argv);

  cocktail::core::log::Level level;
  if (!cocktail::core::log::parse_level(o.get("--log-level"), &level)) {
    return usage_error("--log-level expects debug, info, warn or error");
  }
  cocktail::core::log::set_level(level);

  auto listen = cocktail::http::parse_listen_address(o.get("--http"), "--http");
  if (!listen.ok()) return usage_error(listen.error().message);
  const auto io_threads = o.get_int("--io-threads");
  const auto check_ms = o.get_int("--check-interval-ms");
  const auto max_wait = o.get_int("--max-wait-ms");
  const auto default_wait = o.get_int("--default-wait-ms");
  const auto max_connections = o.get_int("--max-connections");
  if (io_threads < 1 || io_threads > 64) return usage_error("--io-threads must be 1..64");
  if (check_ms < 10) return usage_error("--check-interval-ms must be at least 10");
  if (max_wait < 0 || max_wait > 60000) return usage_error("--max-wait-ms must be 0..60000");
  if (default_wait < 0 || default_wait > max_wait)
    return usage_error("--default-wait-ms must be 0..--max-wait-ms");
  if (max_connections < 1) return usage_error("--max-connections must be positive");

  cocktail::read_service::ReadServiceOptions options;
  options.http.host = listen->first;
  options.http.port = listen->second;
  options.http.io_threads = static_cast<int>(io_threads);
  options.http.max_connections = static_cast<std::size_t>(max_connections);
  options.http.cors.allowed_origins = o.get_list("--cors-origins");
  options.http.access_log = o.get_bool("--access-log");
  options.analytics_path = o.get("--analytics-path");
  options.db_path = o.get("--db");
  options.sub_endpoints = o.get_list("--sub");
  auto bus_security = cocktail::bus::security_from_options(o, {.subscribes = !options.sub_endpoints.empty()});
  if (!bus_security.ok()) return usage_error(bus_security.error().message);
  options.bus_security = std::move(*bus_security);
  options.check_interval = std::chrono::milliseconds(check_ms);
  options.api.max_wait = std::chrono::milliseconds(max_wait);
  options.api.default_wait = std::chrono::milliseconds(default_wait);

  cocktail::metrics::MetricsRegistry registry;
  std::unique_ptr<cocktail::read_service::ReadService> service;
  try {
    service = std::make_unique<cocktail::read_service::ReadService>(std::move(options), registry);
    service->start();
  } catch (const std::exception& e) {
    cocktail::core::log::error("analytics_api.start_failed", {{"error", e.what()}});
    return kExitFailure;
  }
  signals.on_shutdown([&] { service->stop(); });
  signals.wait();
  cocktail::core::log::info("analytics_api.stopped", {{"signal", signals.signal_number()}});
  return kExitOk;
}

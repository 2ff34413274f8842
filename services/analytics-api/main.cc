// analytics-api: serves the analytics snapshots from memory over HTTP —
// verified generations, drill-downs, read-your-writes, live updates — and
// the dashboard page, whose files are compiled in (web_files.h).
//
// Wiring only: settings -> ReadServiceOptions -> ReadService -> wait for
// SIGTERM/SIGINT -> graceful stop. See docs/api.md ("analytics-api") and
// docs/dashboard.md.
#include <iostream>
#include <string>

#include "cocktail/bus/security.h"
#include "cocktail/core/log.h"
#include "cocktail/core/log_options.h"
#include "cocktail/core/options.h"
#include "cocktail/core/shutdown.h"
#include "cocktail/http/server_flags.h"
#include "cocktail/metrics/registry.h"
#include "cocktail/read_service/read_service.h"
#include "web_files.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;

// analytics-api's settings predate the shared names: its environment
// variables and help lines stay as operators know them.
cocktail::http::ServerFlags http_flags() {
  cocktail::http::ServerFlags f("127.0.0.1:8081");
  f.listen_text = {"HTTP_LISTEN", "HTTP listen address, host:port."};
  f.io_threads = cocktail::http::FlagText{"IO_THREADS", "HTTP I/O threads."};
  f.max_connections = cocktail::http::FlagText{"MAX_CONNECTIONS", "Open HTTP connections accepted at once."};
  f.cors_origins = cocktail::http::FlagText{
      "CORS_ORIGINS",
      "Origins allowed to read from a browser, comma-separated ('*' for any). Empty: CORS off."};
  f.shutdown_timeout.reset();
  f.access_log = cocktail::http::FlagText{"ACCESS_LOG", "One log line per HTTP request."};
  return f;
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
      .add_string(
          "--sub", "SUB_ENDPOINTS", "tcp://127.0.0.1:5562",
          "ZeroMQ endpoints of analytics-regen's publisher (comma-separated). Empty: poll CURRENT only.")
      .add_string("--pub", "PUB_ENDPOINT", "",
                  "ZeroMQ endpoint to publish analytics.repair requests on (bind), for analytics-regen's "
                  "--repair-sub. Empty: none (analytics-regen's scrub still finds bad files).")
      .add_int("--repair-interval-ms", "REPAIR_INTERVAL_MS", 5000,
               "How often a repair request is sent again while CURRENT names a refused generation "
               "(milliseconds).")
      .add_int("--check-interval-ms", "CHECK_INTERVAL_MS", 2000,
               "How often CURRENT is checked in case an announcement was missed (milliseconds).")
      .add_int("--max-wait-ms", "MAX_WAIT_MS", 10000, "Largest wait_ms accepted for min_seq (milliseconds).")
      .add_int("--default-wait-ms", "DEFAULT_WAIT_MS", 5000, "wait_ms when min_seq is given without it.")
      .add_bool("--dashboard", "DASHBOARD", true, "Serve the dashboard page at / and /dashboard/.")
      .add_string("--usage-api-url", "USAGE_API_URL", "",
                  "usage-api's base URL as a browser reaches it (http://host:port): the dashboard sends its "
                  "usage events there and draws its roll-ups. Empty: usage tracking not configured.");
  const auto flags = http_flags();
  cocktail::http::add_server_flags(o, flags);
  cocktail::core::add_log_level_option(o, "debug, info, warn or error (logs go to stderr).");
  cocktail::bus::add_security_options(o);
  o.parse_or_exit(argc, argv);

  if (auto applied = cocktail::core::apply_log_level(o); !applied.ok()) {
    o.exit_usage_error(applied.error().message);
  }
  cocktail::read_service::ReadServiceOptions options;
  if (auto read = cocktail::http::read_server_flags(o, flags, options.http); !read.ok()) {
    o.exit_usage_error(read.error().message);
  }
  const auto check_ms = o.get_int("--check-interval-ms");
  const auto max_wait = o.get_int("--max-wait-ms");
  const auto default_wait = o.get_int("--default-wait-ms");
  if (check_ms < 10) {
    o.exit_usage_error("--check-interval-ms must be at least 10");
  }
  if (max_wait < 0 || max_wait > 60000) {
    o.exit_usage_error("--max-wait-ms must be 0..60000");
  }
  if (default_wait < 0 || default_wait > max_wait) {
    o.exit_usage_error("--default-wait-ms must be 0..--max-wait-ms");
  }
  const std::string usage_api = o.get("--usage-api-url");
  if (!usage_api.empty()) {
    auto url = cocktail::read_service::parse_usage_api_url(usage_api, "--usage-api-url");
    if (!url.ok()) {
      o.exit_usage_error(url.error().message);
    }
  }

  options.analytics_path = o.get("--analytics-path");
  options.db_path = o.get("--db");
  options.sub_endpoints = o.get_list("--sub");
  options.pub_endpoint = o.get("--pub");
  const auto repair_ms = o.get_int("--repair-interval-ms");
  if (repair_ms < 100) {
    o.exit_usage_error("--repair-interval-ms must be at least 100");
  }
  options.repair_interval = std::chrono::milliseconds(repair_ms);
  auto bus_security = cocktail::bus::security_from_options(
      o, {.publishes = !options.pub_endpoint.empty(), .subscribes = !options.sub_endpoints.empty()});
  if (!bus_security.ok()) {
    o.exit_usage_error(bus_security.error().message);
  }
  options.bus_security = std::move(*bus_security);
  options.check_interval = std::chrono::milliseconds(check_ms);
  options.api.max_wait = std::chrono::milliseconds(max_wait);
  options.api.default_wait = std::chrono::milliseconds(default_wait);
  if (o.get_bool("--dashboard")) {
    options.dashboard =
        cocktail::read_service::DashboardOptions{cocktail::analytics_api::web_files(), usage_api};
  }

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

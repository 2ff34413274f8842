// catalog-api: the mutation service. CRUD and bulk upload of ingredients,
// recipes and units over HTTP; every committed change published on ZeroMQ.
// Wiring only: settings -> CatalogService -> run until SIGTERM/SIGINT.
// Settings: `catalog-api --help`, docs/api.md.
#include <exception>
#include <iostream>
#include <optional>
#include <string>

#include "cocktail/bus/security.h"
#include "cocktail/catalog_service/catalog_service.h"
#include "cocktail/core/log.h"
#include "cocktail/core/options.h"
#include "cocktail/core/shutdown.h"
#include "cocktail/http/bearer_token.h"
#include "cocktail/http/server.h"
#include "cocktail/metrics/registry.h"

namespace core = cocktail::core;
namespace http = cocktail::http;
namespace service = cocktail::catalog_service;

namespace {

[[noreturn]] void usage_error(const std::string& message) {
  std::cerr << "catalog-api: " << message << " (see catalog-api --help)\n";
  std::exit(2);
}

std::chrono::milliseconds ms(const core::Options& o, const char* flag) {
  return std::chrono::milliseconds(o.get_int(flag));
}

}  // namespace

static int run(int argc, char** argv) {
  core::ShutdownSignals signals;  // first, before any thread starts

  core::Options o("catalog-api",
                  "The catalog mutation service: HTTP API over the catalog, changes on ZeroMQ.");
  o.add_string("--db", "CATALOG_DB", "",
               "catalog: a SQLite file (created and migrated at start) or a postgresql:// URI (migrated with "
               "catalog-admin) (required)")
      .add_string("--http", "HTTP_LISTEN", "127.0.0.1:8080", "HTTP listen address host:port")
      .add_string("--pub", "PUB_ENDPOINT", "tcp://127.0.0.1:5561",
                  "ZeroMQ endpoint to publish catalog events on (bind)")
      .add_string("--token-file", "TOKEN_FILE", "", "file holding the bearer token that writes must carry")
      .add_string("--token", "WRITE_TOKEN", "",
                  "the bearer token itself, when no file is used (prefer --token-file: flags show in ps)")
      .add_bool("--allow-anonymous-writes", "ALLOW_ANONYMOUS_WRITES", false,
                "development only: accept writes without a token when none is configured")
      .add_int("--io-threads", "HTTP_IO_THREADS", 2, "HTTP I/O threads")
      .add_int("--db-threads", "DB_THREADS", 2, "threads (and read connections) for reads and bulk decoding")
      .add_int("--max-body-bytes", "MAX_BODY_BYTES", 1 << 20,
               "largest request body, bytes (bulk routes excepted)")
      .add_int("--bulk-max-body-bytes", "BULK_MAX_BODY_BYTES", 32 << 20, "largest bulk upload body, bytes")
      .add_int("--max-connections", "HTTP_MAX_CONNECTIONS", 10000, "open HTTP connections at most")
      .add_int("--write-queue", "WRITE_QUEUE", 10000, "writes that may wait for the writer; beyond: 503")
      .add_int("--max-batch", "WRITE_MAX_BATCH", 512,
               "writes made durable by one sync at most (group commit)")
      .add_int("--write-wait-ms", "WRITE_WAIT_MS", 5000,
               "longest a write waits for its turn and for the catalog's write lock (held by another "
               "process) before it is refused unwritten with 503, ms")
      .add_string("--commit", "COMMIT_MODE", "group",
                  "group: one WAL sync per batch of concurrent writes; each: one sync per write (baseline)")
      .add_int("--poll-ms", "OUTBOX_POLL_MS", 50,
               "how often change_log is read for other writers' commits, ms")
      .add_int("--publish-start-delay-ms", "OUTBOX_START_DELAY_MS", 500,
               "pause before the first event after start, so reconnecting subscribers get the backlog, ms")
      .add_int("--heartbeat-ms", "HEARTBEAT_MS", 1000, "catalog.heartbeat interval, ms")
      .add_int("--retention-rows", "OUTBOX_KEEP_ROWS", 100000, "published change_log rows always kept")
      .add_int("--retention-hours", "OUTBOX_KEEP_HOURS", 168,
               "published change_log rows kept at least this long")
      .add_int("--prune-interval-s", "OUTBOX_PRUNE_INTERVAL_S", 60,
               "how often old published rows are pruned, s")
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

  service::CatalogServiceOptions options;
  options.db_path = o.get("--db");
  if (options.db_path.empty()) {
    usage_error("--db (CATALOG_DB) is required");
  }
  auto listen = http::parse_listen_address(o.get("--http"), "--http");
  if (!listen.ok()) {
    usage_error(listen.error().message);
  }
  options.http.host = listen->first;
  options.http.port = listen->second;
  options.http.io_threads = static_cast<int>(o.get_int("--io-threads"));
  options.http.max_body_bytes = static_cast<std::size_t>(o.get_int("--max-body-bytes"));
  options.http.max_connections = static_cast<std::size_t>(o.get_int("--max-connections"));
  options.http.shutdown_timeout = ms(o, "--shutdown-timeout-ms");
  options.http.access_log = o.get_bool("--access-log");
  options.pub_endpoint = o.get("--pub");
  auto bus_security = cocktail::bus::security_from_options(o, {.publishes = true});
  if (!bus_security.ok()) {
    usage_error(bus_security.error().message);
  }
  options.bus_security = std::move(*bus_security);
  options.db_threads = static_cast<std::size_t>(o.get_int("--db-threads"));
  options.bulk_max_body_bytes = static_cast<std::size_t>(o.get_int("--bulk-max-body-bytes"));
  if (options.http.io_threads < 1 || options.db_threads < 1) {
    usage_error("thread counts must be at least 1");
  }

  if (!o.get("--token-file").empty()) {
    auto token = http::read_token_file(o.get("--token-file"));
    if (!token.ok()) {
      usage_error(token.error().message);
    }
    options.write_token = *token;
  } else if (!o.get("--token").empty()) {
    options.write_token = o.get("--token");
  }
  options.allow_anonymous_writes = o.get_bool("--allow-anonymous-writes");

  const std::string commit = o.get("--commit");
  if (commit != "group" && commit != "each") {
    usage_error("--commit must be group or each");
  }
  options.writer.mode = commit == "group" ? service::CommitMode::kGroup : service::CommitMode::kEach;
  options.writer.max_queue = static_cast<std::size_t>(o.get_int("--write-queue"));
  options.writer.max_batch = static_cast<std::size_t>(o.get_int("--max-batch"));
  options.writer.max_wait = ms(o, "--write-wait-ms");
  if (options.writer.max_wait.count() < 1) {
    usage_error("--write-wait-ms must be at least 1");
  }
  options.outbox.poll_interval = ms(o, "--poll-ms");
  options.outbox.heartbeat_interval = ms(o, "--heartbeat-ms");
  options.outbox.start_delay = ms(o, "--publish-start-delay-ms");
  options.outbox.prune.keep_count = o.get_int("--retention-rows");
  options.outbox.prune.max_age = std::chrono::hours(o.get_int("--retention-hours"));
  options.outbox.prune_interval = std::chrono::seconds(o.get_int("--prune-interval-s"));

  cocktail::metrics::MetricsRegistry registry;
  std::optional<service::CatalogService> catalog_api;
  try {
    catalog_api.emplace(std::move(options), registry);
    catalog_api->start();
  } catch (const std::invalid_argument& e) {
    core::log::error("catalog_api.refused", {{"error", e.what()}});
    std::cerr << "catalog-api: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    core::log::error("catalog_api.start_failed", {{"error", e.what()}});
    std::cerr << "catalog-api: " << e.what() << "\n";
    return 1;
  }
  core::log::info("catalog_api.ready", {{"http_port", static_cast<int>(catalog_api->http_port())},
                                        {"pub", catalog_api->pub_endpoint()}});

  signals.on_shutdown([&] { catalog_api->stop(); });
  signals.wait();
  catalog_api.reset();
  core::log::info("catalog_api.exit", {{"signal", signals.signal_number()}});
  return 0;
}

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    core::log::error("catalog_api.fatal", {{"error", e.what()}});
    return 1;
  }
}

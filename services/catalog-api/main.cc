// catalog-api: the mutation service. CRUD and bulk upload of ingredients,
// recipes and units over HTTP; every committed change published on ZeroMQ.
// Wiring only: settings -> CatalogService -> run until SIGTERM/SIGINT.
// Settings: `catalog-api --help`, docs/api.md.
#include <chrono>
#include <exception>
#include <iostream>
#include <optional>
#include <string>

#include "cocktail/bus/security.h"
#include "cocktail/catalog_service/catalog_service.h"
#include "cocktail/core/log.h"
#include "cocktail/core/log_options.h"
#include "cocktail/core/options.h"
#include "cocktail/core/shutdown.h"
#include "cocktail/http/server_flags.h"
#include "cocktail/metrics/registry.h"

namespace core = cocktail::core;
namespace http = cocktail::http;
namespace service = cocktail::catalog_service;

namespace {

std::chrono::milliseconds ms(const core::Options& o, const char* flag) {
  return std::chrono::milliseconds(o.get_int(flag));
}

}  // namespace

static int run(int argc, char** argv) {
  core::ShutdownSignals signals;  // first, before any thread starts

  core::Options o("catalog-api",
                  "The catalog mutation service: HTTP API over the catalog, changes on ZeroMQ.");
  http::ServerFlags http_flags("127.0.0.1:8080");
  http_flags.max_body_bytes =
      http::FlagText{"MAX_BODY_BYTES", "largest request body, bytes (bulk routes excepted)"};
  o.add_string("--db", "CATALOG_DB", "",
               "catalog: a SQLite file (created and migrated at start) or a postgresql:// URI (migrated with "
               "catalog-admin) (required)")
      .add_string("--pub", "PUB_ENDPOINT", "tcp://127.0.0.1:5561",
                  "ZeroMQ endpoint to publish catalog events on (bind)")
      .add_string("--token-file", "TOKEN_FILE", "", "file holding the bearer token that writes must carry")
      .add_string("--token", "WRITE_TOKEN", "",
                  "the bearer token itself, when no file is used (prefer --token-file: flags show in ps)")
      .add_bool("--allow-anonymous-writes", "ALLOW_ANONYMOUS_WRITES", false,
                "development only: accept writes without a token when none is configured")
      .add_int("--db-threads", "DB_THREADS", 2, "threads (and read connections) for reads and bulk decoding")
      .add_int("--bulk-max-body-bytes", "BULK_MAX_BODY_BYTES", 32 << 20, "largest bulk upload body, bytes")
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
               "how often old published rows are pruned, s");
  http::add_server_flags(o, http_flags);
  core::add_log_level_option(o);
  cocktail::bus::add_security_options(o);
  o.parse_or_exit(argc, argv);

  if (auto applied = core::apply_log_level(o); !applied.ok()) {
    o.exit_usage_error(applied.error().message);
  }

  service::CatalogServiceOptions options;
  options.db_path = o.get("--db");
  if (options.db_path.empty()) {
    o.exit_usage_error("--db (CATALOG_DB) is required");
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
  options.db_threads = static_cast<std::size_t>(o.get_int("--db-threads"));
  options.bulk_max_body_bytes = static_cast<std::size_t>(o.get_int("--bulk-max-body-bytes"));
  if (options.db_threads < 1) {
    o.exit_usage_error("--db-threads must be at least 1");
  }

  auto token = http::read_token_flag(o, "--token-file");
  if (!token.ok()) {
    o.exit_usage_error(token.error().message);
  }
  if (*token) {
    options.write_token = **token;
  } else if (!o.get("--token").empty()) {
    options.write_token = o.get("--token");
  }
  options.allow_anonymous_writes = o.get_bool("--allow-anonymous-writes");

  const std::string commit = o.get("--commit");
  if (commit != "group" && commit != "each") {
    o.exit_usage_error("--commit must be group or each");
  }
  options.writer.mode = commit == "group" ? service::CommitMode::kGroup : service::CommitMode::kEach;
  options.writer.max_queue = static_cast<std::size_t>(o.get_int("--write-queue"));
  options.writer.max_batch = static_cast<std::size_t>(o.get_int("--max-batch"));
  options.writer.max_wait = ms(o, "--write-wait-ms");
  if (options.writer.max_wait.count() < 1) {
    o.exit_usage_error("--write-wait-ms must be at least 1");
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

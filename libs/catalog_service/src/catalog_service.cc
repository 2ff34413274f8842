#include "cocktail/catalog_service/catalog_service.h"

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <string>
#include <utility>

#include "cocktail/bus/publisher.h"
#include "cocktail/catalog/schema.h"
#include "cocktail/catalog_service/catalog_routes.h"
#include "cocktail/catalog_service/read_connections.h"
#include "cocktail/core/log.h"
#include "cocktail/http/blocking_executor.h"

namespace cocktail::catalog_service {

namespace log = core::log;

// Declaration order is construction order and destruction runs backwards:
// whatever may hold a Responder (executor, writer) is destroyed before the
// server, and the writer (which wakes the outbox) before the outbox. stop()
// gives the order that matters while threads run.
struct CatalogService::Parts {
  CatalogServiceOptions options;
  std::unique_ptr<http::Server> server;
  std::unique_ptr<bus::Publisher> bus;
  std::unique_ptr<OutboxPublisher> outbox;
  std::unique_ptr<ReadConnections> reads;
  std::unique_ptr<http::BlockingExecutor> executor;
  std::unique_ptr<CatalogWriter> writer;
  std::unique_ptr<CatalogRoutes> routes;
  std::atomic<bool> started{false};  // read by /health on I/O threads
  std::atomic<bool> stopped{false};
};

CatalogService::CatalogService(CatalogServiceOptions options, metrics::MetricsRegistry& registry)
    : parts_(std::make_unique<Parts>()) {
  auto& p = *parts_;
  p.options = std::move(options);
  if (p.options.db_path.empty()) {
    throw std::invalid_argument("no catalog file given (--db / CATALOG_DB)");
  }
  if (p.options.write_token && p.options.write_token->empty()) {
    p.options.write_token.reset();
  }
  if (!p.options.write_token && !p.options.allow_anonymous_writes) {
    throw std::invalid_argument(
        "no write token configured (--token-file / TOKEN_FILE): refusing to accept anonymous writes; "
        "pass --allow-anonymous-writes only for development");
  }
  if (!p.options.write_token) {
    log::warn("catalog_api.anonymous_writes", {{"reason", "--allow-anonymous-writes"}});
  }

  {
    // Migrate once, up front, on a connection of its own.
    auto db = catalog::open_catalog(p.options.db_path);
    (void)db;
  }
  auto& prom = registry.prometheus_registry();
  p.server = std::make_unique<http::Server>(p.options.http, registry);

  bus::PublisherOptions bus_options;
  bus_options.endpoint = p.options.pub_endpoint;
  bus_options.security = p.options.bus_security;
  bus_options.metrics = &registry;
  p.bus = std::make_unique<bus::Publisher>(bus_options);
  catalog::DatabaseOptions outbox_db;
  outbox_db.create_if_missing = false;
  // The cursor may lag after a power loss (at-least-once anyway).
  outbox_db.synchronous = catalog::Synchronous::kNormal;
  OutboxPublisherOptions outbox_options = p.options.outbox;
  // The cursor and pruning go through the writer (never waiting for the
  // write lock it holds); pruning in small steps, so as not to hold up writes.
  outbox_options.delegate_writes = [&p](const std::function<void(catalog::ChangeLog&)>& task) {
    return p.writer && p.writer->submit_change_log_task(task);
  };
  outbox_options.prune.max_rows = std::min<std::int64_t>(outbox_options.prune.max_rows, 10'000);
  outbox_options.prune_rounds = 10;
  p.outbox = std::make_unique<OutboxPublisher>(catalog::Database::open(p.options.db_path, outbox_db), *p.bus,
                                               prom, std::move(outbox_options));

  const std::size_t threads = std::max<std::size_t>(p.options.db_threads, 1);
  p.reads = std::make_unique<ReadConnections>(p.options.db_path, threads);
  p.executor = std::make_unique<http::BlockingExecutor>("catalog-read", threads, p.options.max_queued_reads);

  CatalogWriterOptions writer_options = p.options.writer;
  OutboxPublisher* outbox = p.outbox.get();
  writer_options.on_durable = [outbox] { outbox->notify(); };
  p.writer = std::make_unique<CatalogWriter>(p.options.db_path, prom, std::move(writer_options));

  CatalogRoutesOptions route_options;
  route_options.write_token = p.options.write_token;
  route_options.bulk_max_body_bytes = p.options.bulk_max_body_bytes;
  p.routes = std::make_unique<CatalogRoutes>(*p.reads, *p.executor, *p.writer, std::move(route_options));
  p.routes->add_to(p.server->router());

  p.server->set_readiness([&p] {
    http::Readiness r;
    r.ready = p.started && !p.stopped;
    r.details_json = "{\"catalog_seq\":" + std::to_string(p.outbox->latest_seq()) +
                     ",\"published_seq\":" + std::to_string(p.outbox->published_seq()) + "}";
    return r;
  });
}

CatalogService::~CatalogService() { stop(); }

void CatalogService::start() {
  auto& p = *parts_;
  if (p.started) {
    return;
  }
  p.outbox->start();
  p.writer->start();
  p.server->start();
  p.started = true;
  log::info("catalog_api.start", {{"http_port", static_cast<int>(p.server->port())},
                                  {"pub", p.bus->endpoint()},
                                  {"db", p.options.db_path}});
}

void CatalogService::stop() {
  auto& p = *parts_;
  if (p.stopped) {
    return;
  }
  p.stopped = true;
  // In-flight requests finish: their writes are still taken by the writer.
  p.server->stop();
  p.executor->stop();
  p.writer->stop();
  // Last: everything committed is now in change_log.
  p.outbox->stop();
  log::info("catalog_api.stop", {{"published_seq", p.outbox->published_seq()}});
}

std::uint16_t CatalogService::http_port() const { return parts_->server->port(); }
const std::string& CatalogService::pub_endpoint() const { return parts_->bus->endpoint(); }
std::int64_t CatalogService::published_seq() const { return parts_->outbox->published_seq(); }

}  // namespace cocktail::catalog_service

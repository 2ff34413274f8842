#include "cocktail/usage/usage_service.h"

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <utility>

#include "cocktail/bus/publisher.h"
#include "cocktail/core/log.h"
#include "cocktail/core/time.h"
#include "cocktail/http/blocking_executor.h"

namespace cocktail::usage {

namespace log = core::log;

// Declaration order is construction order; destruction runs backwards:
// whatever may hold a Responder (executor, writer) goes before the server,
// and the writer (which marks hours) before the publisher.
struct UsageService::Parts {
  UsageServiceOptions options;
  std::unique_ptr<http::Server> server;
  std::unique_ptr<bus::Publisher> bus;
  std::unique_ptr<HourPublisher> hours;
  std::unique_ptr<StorePool> reads;
  std::unique_ptr<http::BlockingExecutor> executor;
  std::unique_ptr<UsageWriter> writer;
  std::unique_ptr<RetentionSweeper> retention;
  std::unique_ptr<UsageRoutes> routes;
  std::atomic<bool> started{false};
  std::atomic<bool> stopped{false};
};

UsageService::UsageService(UsageServiceOptions options, metrics::MetricsRegistry& registry)
    : parts_(std::make_unique<Parts>()) {
  auto& p = *parts_;
  p.options = std::move(options);
  auto& o = p.options;
  if (o.db_path.empty()) {
    throw std::invalid_argument("no usage database given (--db / USAGE_DB)");
  }
  if (o.retention.events_max_age_ms <= 0 || o.retention.rollups_max_age_ms < o.retention.events_max_age_ms) {
    throw std::invalid_argument("retention: events must be kept at least an hour, roll-ups at least as long");
  }
  if (!o.now_ms) {
    o.now_ms = core::system_now_ms;
  }
  {
    // Migrate once, up front, on a connection of its own.
    auto db = open_usage_db(o.db_path);
    (void)db;
  }
  auto& prom = registry.prometheus_registry();
  p.server = std::make_unique<http::Server>(o.http, registry);

  bus::PublisherOptions bus_options;
  bus_options.endpoint = o.pub_endpoint;
  bus_options.security = o.bus_security;
  bus_options.metrics = &registry;
  p.bus = std::make_unique<bus::Publisher>(bus_options);
  // The writer's connection first: it keeps the WAL open, so that the
  // read-only connections opened next read the live file (a read-only open
  // of a WAL file that no connection holds reads it as an immutable copy).
  UsageWriterOptions writer_options = o.writer;
  writer_options.store = o.store;
  writer_options.now_ms = o.now_ms;
  // p.hours is set below, before start() starts the writer's thread.
  writer_options.on_durable = [&p](const std::set<std::int64_t>& changed) { p.hours->mark(changed); };
  p.writer = std::make_unique<UsageWriter>(o.db_path, prom, std::move(writer_options));

  HourPublisherOptions hour_options;
  hour_options.db_path = o.db_path;
  hour_options.interval = o.publish_interval;
  hour_options.now_ms = o.now_ms;
  p.hours = std::make_unique<HourPublisher>(*p.bus, prom, hour_options);

  const std::size_t threads = std::max<std::size_t>(o.db_threads, 1);
  const StoreOptions store = o.store;
  p.reads = std::make_unique<StorePool>(
      o.db_path, threads, [store](catalog::Database& db) { return std::make_unique<UsageStore>(db, store); });
  p.executor = std::make_unique<http::BlockingExecutor>("usage-read", threads, o.max_queued_reads);

  RetentionOptions retention = o.retention;
  retention.db_path = o.db_path;
  retention.now_ms = o.now_ms;
  p.retention = std::make_unique<RetentionSweeper>(*p.writer, prom, retention);

  UsageRoutesOptions routes = o.routes;
  routes.now_ms = o.now_ms;
  routes.limits.max_age_ms = o.retention.events_max_age_ms;
  routes.limits.distribution_property = o.store.distribution_property;
  routes.max_track_hours = std::max<std::int64_t>(1, o.retention.events_max_age_ms / kHourMs);
  routes.max_rollup_hours = std::max<std::int64_t>(1, o.retention.rollups_max_age_ms / kHourMs);
  p.routes = std::make_unique<UsageRoutes>(*p.writer, *p.reads, *p.executor, prom, std::move(routes));
  p.routes->add_to(p.server->router());

  p.server->set_readiness([&p] {
    http::Readiness r;
    r.ready = p.started && !p.stopped;
    r.details_json = "{\"writer_queue\":" + std::to_string(p.writer->queued()) + "}";
    return r;
  });
}

UsageService::~UsageService() { stop(); }

void UsageService::start() {
  auto& p = *parts_;
  if (p.started) {
    return;
  }
  p.writer->start();
  p.hours->start();
  p.server->start();
  p.retention->start();
  p.started = true;
  log::info("usage_api.start", {{"http_port", static_cast<int>(p.server->port())},
                                {"pub", p.bus->endpoint()},
                                {"db", p.options.db_path}});
}

void UsageService::stop() {
  auto& p = *parts_;
  if (p.stopped) {
    return;
  }
  p.stopped = true;
  p.retention->stop();
  p.server->stop();
  p.executor->stop();
  p.writer->stop();
  p.hours->stop();
  log::info("usage_api.stop", {});
}

std::uint16_t UsageService::http_port() const { return parts_->server->port(); }
const std::string& UsageService::pub_endpoint() const { return parts_->bus->endpoint(); }
RetentionSweeper& UsageService::retention() { return *parts_->retention; }
HourPublisher& UsageService::hour_publisher() { return *parts_->hours; }

}  // namespace cocktail::usage

// ReadService: analytics-api assembled — the HTTP server, the snapshot
// cache and its refresh thread, the bus subscriber that announces new
// generations, the read-your-writes waiters, the event-stream announcer,
// the blocking pool (live fallback, storage report), the routes and, when
// given its files, the dashboard page.
// services/analytics-api/main.cc only turns settings into these options.
//
//   metrics::MetricsRegistry registry;
//   ReadService service(options, registry);
//   service.start();     // loads the current generation, binds, serves
//   ...
//   service.stop();      // graceful: waiters and streams answered, server drained
//
// Self-repair: with a `pub_endpoint`, every generation the cache refuses
// (a file that fails verification, a manifest missing or malformed, an
// unreadable CURRENT) is published as analytics.repair on a PUB socket of its
// own (bound, CURVE from bus_security: the publisher admits
// bus_security.authorized_keys, analytics-regen's key), and again every
// repair_interval while CURRENT names it; analytics-regen subscribes,
// checks the file itself and writes a fresh generation. Meanwhile the cache
// serves the newest older generation that verifies (SnapshotCache,
// "Fallback"), and /health says "degraded" with the details.
//
// Threads: the server's I/O threads, the cache's refresh thread, the
// waiters' timer thread, the subscriber's receive thread, the blocking pool.
// start()/stop() from the owning thread; the accessors from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cocktail/bus/publisher.h"
#include "cocktail/bus/security.h"
#include "cocktail/bus/subscriber.h"
#include "cocktail/http/blocking_executor.h"
#include "cocktail/http/server.h"
#include "cocktail/metrics/filesystem_gauges.h"
#include "cocktail/metrics/registry.h"
#include "cocktail/read_service/dashboard.h"
#include "cocktail/read_service/generation_announcer.h"
#include "cocktail/read_service/live_analytics.h"
#include "cocktail/read_service/read_api.h"
#include "cocktail/read_service/seq_waiters.h"
#include "cocktail/read_service/snapshot_cache.h"

namespace cocktail::read_service {

struct ReadServiceOptions {
  http::ServerOptions http;
  std::filesystem::path analytics_path;
  std::string db_path;                     // empty: no live fallback
  std::vector<std::string> sub_endpoints;  // empty: no subscriber (CURRENT is still polled)
  bus::BusSecurity bus_security;           // CURVE for the subscriber and the publisher; anonymous when empty
  // Where analytics.repair requests are published (bind); empty: none.
  std::string pub_endpoint;
  std::chrono::milliseconds repair_interval{5000};
  std::chrono::milliseconds check_interval{2000};
  ReadApiOptions api;
  std::size_t blocking_threads = 2;
  std::size_t max_waiters = 10000;
  std::size_t max_stream_clients = 1000;
  // The dashboard's files and settings; none: no page, the API alone.
  std::optional<DashboardOptions> dashboard;
};

class ReadService {
 public:
  // Throws snapshot::SnapshotIoError when ANALYTICS_PATH cannot be created,
  // std::invalid_argument / std::runtime_error for a bad endpoint or bad
  // dashboard files.
  ReadService(ReadServiceOptions options, metrics::MetricsRegistry& registry);
  ~ReadService();  // stop()
  ReadService(const ReadService&) = delete;
  ReadService& operator=(const ReadService&) = delete;

  // Loads the current generation (if any), starts the refresh thread and the
  // subscriber, binds and serves. Throws std::system_error when the address
  // cannot be bound.
  void start();
  // Idempotent.
  void stop();

  std::uint16_t port() const { return server_.port(); }
  // The endpoint analytics.repair is published on (bound); empty: none.
  std::string pub_endpoint() const;
  SnapshotCache& cache() { return cache_; }
  CatalogSeqWaiters& waiters() { return waiters_; }
  GenerationAnnouncer& announcer() { return announcer_; }
  http::Server& server() { return server_; }

 private:
  ReadServiceOptions options_;
  http::Server server_;
  http::BlockingExecutor executor_;
  SnapshotCache cache_;
  CatalogSeqWaiters waiters_;
  GenerationAnnouncer announcer_;
  std::unique_ptr<LiveAnalytics> live_;
  ReadApi api_;
  std::unique_ptr<Dashboard> dashboard_;
  std::unique_ptr<bus::Subscriber> subscriber_;
  std::unique_ptr<bus::Publisher> publisher_;  // analytics.repair, when configured
  std::unique_ptr<metrics::FilesystemGauges> filesystem_;
  prometheus::Family<prometheus::Counter>& received_;
  prometheus::Counter& malformed_;
  prometheus::Counter& repair_requests_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace cocktail::read_service

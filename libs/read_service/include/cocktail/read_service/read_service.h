// ReadService: analytics-api assembled — the HTTP server, the snapshot
// cache and its refresh thread, the bus subscriber that announces new
// generations, the read-your-writes waiters, the event-stream announcer,
// the blocking pool (live fallback, storage report) and the routes.
// services/analytics-api/main.cc only turns settings into these options.
//
//   metrics::MetricsRegistry registry;
//   ReadService service(options, registry);
//   service.start();     // loads the current generation, binds, serves
//   ...
//   service.stop();      // graceful: waiters and streams answered, server drained
//
// Threads: the server's I/O threads, the cache's refresh thread, the
// waiters' timer thread, the subscriber's receive thread, the blocking pool.
// start()/stop() from the owning thread; the accessors from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cocktail/bus/security.h"
#include "cocktail/bus/subscriber.h"
#include "cocktail/http/blocking_executor.h"
#include "cocktail/http/server.h"
#include "cocktail/metrics/registry.h"
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
  bus::BusSecurity bus_security;           // CURVE for the subscriber; anonymous when empty
  std::chrono::milliseconds check_interval{2000};
  ReadApiOptions api;
  std::size_t blocking_threads = 2;
  std::size_t max_waiters = 10000;
  std::size_t max_stream_clients = 1000;
};

class ReadService {
 public:
  // Throws snapshot::SnapshotIoError when ANALYTICS_PATH cannot be created,
  // std::invalid_argument / std::runtime_error for a bad endpoint.
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
  std::unique_ptr<bus::Subscriber> subscriber_;
  prometheus::Family<prometheus::Counter>& received_;
  prometheus::Counter& malformed_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace cocktail::read_service

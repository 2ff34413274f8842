// UsageService: the whole usage-api process behind its main(): the usage
// database created and migrated at start, the HTTP server with the usage
// routes, /health and /metrics, the read executor with its connections, the
// single writer with group commit, the retention timer, and the usage.hour
// publisher on its ZeroMQ PUB socket.
//
//   metrics::MetricsRegistry registry;
//   UsageService service(options, registry);   // migrates, binds the bus
//   service.start();                            // binds HTTP, starts threads
//   ...                                         // until SIGTERM
//   service.stop();                             // graceful, see below
//
// stop() order: the retention timer stops; the HTTP server stops accepting
// and lets in-flight requests finish (their events are still written and
// answered); then the executor and the writer drain; then the publisher
// announces what is left and the bus socket closes (bounded linger).
//
// Ownership: owns every component; borrows the registry, which must outlive
// it. Thread-safety: start() and stop() from one thread; accessors from any.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "cocktail/bus/security.h"
#include "cocktail/http/server.h"
#include "cocktail/metrics/registry.h"
#include "cocktail/usage/hour_publisher.h"
#include "cocktail/usage/retention.h"
#include "cocktail/usage/usage_routes.h"
#include "cocktail/usage/usage_writer.h"

namespace cocktail::usage {

struct UsageServiceOptions {
  std::string db_path;
  http::ServerOptions http;  // host, port, I/O threads, limits, CORS
  std::string pub_endpoint = "tcp://127.0.0.1:5563";
  // CURVE for the publisher (bus/security.h); anonymous when empty.
  bus::BusSecurity bus_security;
  std::size_t db_threads = 2;  // read threads and connections
  std::size_t max_queued_reads = 10000;
  UsageWriterOptions writer;   // on_durable, store and now_ms are set by the service
  RetentionOptions retention;  // db_path and now_ms are set by the service
  std::chrono::milliseconds publish_interval{1000};
  UsageRoutesOptions routes;  // limits' max_age follows the events retention
  StoreOptions store;
  // Wall clock for every component (tests inject one); default: the system's.
  std::function<std::int64_t()> now_ms;
};

class UsageService {
 public:
  // Opens and migrates the database, opens the connections and binds the
  // publisher. Throws std::invalid_argument for unusable options,
  // catalog::DatabaseError / std::runtime_error for the database,
  // std::runtime_error when the bus endpoint cannot be bound.
  UsageService(UsageServiceOptions options, metrics::MetricsRegistry& registry);
  ~UsageService();  // stop()
  UsageService(const UsageService&) = delete;
  UsageService& operator=(const UsageService&) = delete;

  void start();
  void stop();

  std::uint16_t http_port() const;
  const std::string& pub_endpoint() const;
  RetentionSweeper& retention();
  HourPublisher& hour_publisher();

 private:
  struct Parts;
  std::unique_ptr<Parts> parts_;
};

}  // namespace cocktail::usage

// CatalogService: the whole catalog-api process behind its main(): the
// catalog migrated at start, the HTTP server with the catalog routes, /health
// and /metrics, the read executor with its connections, the single writer
// with group commit, and the outbox publisher on its ZeroMQ PUB socket.
//
//   metrics::MetricsRegistry registry;
//   CatalogService service(options, registry);   // migrates, binds the bus
//   service.start();                              // binds HTTP, starts threads
//   ...                                           // until SIGTERM
//   service.stop();                               // graceful, see below
//
// Writes need the bearer token; without one the constructor refuses
// (std::invalid_argument) unless allow_anonymous_writes is set (development).
//
// stop() order: the HTTP server stops accepting and lets in-flight requests
// finish (their writes still commit and are answered); then the executor and
// the writer drain; then the publisher publishes whatever is committed and
// records its cursor; then the bus socket closes (bounded linger).
//
// Ownership: owns every component; borrows the registry, which must outlive
// it. Thread-safety: start() and stop() from one thread; accessors from any.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "cocktail/bus/security.h"
#include "cocktail/catalog_service/catalog_writer.h"
#include "cocktail/catalog_service/outbox_publisher.h"
#include "cocktail/http/server.h"
#include "cocktail/metrics/registry.h"

namespace cocktail::catalog_service {

struct CatalogServiceOptions {
  std::string db_path;
  http::ServerOptions http;  // host, port, I/O threads, limits
  std::string pub_endpoint = "tcp://127.0.0.1:5561";
  // CURVE for the publisher (bus/security.h); anonymous when empty.
  bus::BusSecurity bus_security;
  std::optional<std::string> write_token;
  bool allow_anonymous_writes = false;
  // Threads (and connections) serving reads and decoding bulk bodies.
  std::size_t db_threads = 2;
  std::size_t max_queued_reads = 10000;
  std::size_t bulk_max_body_bytes = std::size_t{32} << 20;
  CatalogWriterOptions writer;  // on_durable is set by the service
  OutboxPublisherOptions outbox;
};

class CatalogService {
 public:
  // Opens and migrates the catalog, opens the connections and binds the
  // publisher. Throws std::invalid_argument for unusable options,
  // catalog::SchemaError / catalog::DatabaseError for the catalog,
  // std::runtime_error when the bus endpoint cannot be bound.
  CatalogService(CatalogServiceOptions options, metrics::MetricsRegistry& registry);
  ~CatalogService();  // stop()
  CatalogService(const CatalogService&) = delete;
  CatalogService& operator=(const CatalogService&) = delete;

  // Binds HTTP (std::system_error when it cannot) and starts every thread.
  void start();
  // Graceful and idempotent (see above).
  void stop();

  std::uint16_t http_port() const;
  const std::string& pub_endpoint() const;
  std::int64_t published_seq() const;

 private:
  struct Parts;
  std::unique_ptr<Parts> parts_;
};

}  // namespace cocktail::catalog_service

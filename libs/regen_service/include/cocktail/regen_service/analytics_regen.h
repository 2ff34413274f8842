// AnalyticsRegen: analytics-regen assembled — the snapshot store, the
// Regenerator with the default producers, the RegenerationService (bus,
// lanes, retries) and its HTTP routes on a server of their own.
// services/analytics-regen/main.cc only turns settings into these options.
//
//   metrics::MetricsRegistry registry;
//   AnalyticsRegen regen(options, registry);
//   regen.start();            // catch-up, threads, HTTP
//   ...
//   auto outcome = regen.stop();   // the service first, then HTTP
//
// The one-shot forms (--once, gc, report) are free functions below.
//
// Metrics of its own: the analytics file system's used ratio and free bytes
// (metrics::FilesystemGauges, read at every scrape).
//
// Threads: those of RegenerationService and the HTTP server's I/O threads.
// start()/stop() from the owning thread; the accessors from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>

#include "cocktail/analytics/cocktail_space.h"
#include "cocktail/core/time.h"
#include "cocktail/http/server.h"
#include "cocktail/metrics/filesystem_gauges.h"
#include "cocktail/metrics/registry.h"
#include "cocktail/regen_service/regen_routes.h"
#include "cocktail/regen_service/regeneration_service.h"
#include "cocktail/regen_service/regenerator.h"
#include "cocktail/snapshot/retention.h"
#include "cocktail/snapshot/snapshot_store.h"

namespace cocktail::regen_service {

struct AnalyticsRegenOptions {
  std::filesystem::path analytics_path;
  http::ServerOptions http;
  RegenerationServiceOptions service;  // service.db_path: the catalog
  RegenRoutesOptions routes;
  bool split_lanes = true;
  std::optional<snapshot::RetentionPolicy> retention;  // none: keep everything
  analytics::CocktailSpaceOptions space;
  // What the slow lane leaves free for the fast lane (RegeneratorSettings).
  std::int64_t min_free_bytes = 64LL << 20;
};

class AnalyticsRegen {
 public:
  // Opens the store, binds the publisher. Throws std::invalid_argument for
  // unusable options, snapshot::SnapshotIoError / std::runtime_error when
  // the store or an endpoint cannot be opened.
  AnalyticsRegen(AnalyticsRegenOptions options, metrics::MetricsRegistry& registry);
  ~AnalyticsRegen();  // stop()
  AnalyticsRegen(const AnalyticsRegen&) = delete;
  AnalyticsRegen& operator=(const AnalyticsRegen&) = delete;

  // Starts HTTP (health answers while catching up), then the service.
  void start();
  // The service first (no new work; a running regeneration gets its
  // bound), then HTTP. Idempotent (later calls return kIdle).
  RegenerationService::StopResult stop();

  std::uint16_t port() const { return server_.port(); }
  RegenerationService& service() { return service_; }
  Regenerator& regenerator() { return regenerator_; }

 private:
  core::SteadyClock clock_;
  snapshot::SnapshotStore store_;
  Regenerator regenerator_;
  RegenerationService service_;
  http::Server server_;
  RegenRoutes routes_;
  metrics::FilesystemGauges filesystem_;  // cocktail_analytics_filesystem_*
  bool stopped_ = false;
};

// The files whose superseded versions retention limits
// (RetentionPolicy::versioned_files): the cocktail space's, large and
// rewritten by every slow-lane generation.
std::set<std::string> versioned_files();

// --once: one complete regeneration (both lanes in turn, or one), its JSON
// summary or failure on stdout. Returns the process exit code (0 / 1).
int run_once(const AnalyticsRegenOptions& options);

}  // namespace cocktail::regen_service

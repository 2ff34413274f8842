// RegenRoutes: analytics-regen's HTTP surface over a RegenerationService.
//
//   GET  /health              status of the service (see health_json), 200
//                             when ready, 503 while starting or stopping
//   GET  /metrics             the registry, time-dependent gauges refreshed first
//   POST /api/v1/regenerate   a manual regeneration (bearer token):
//                               202 {"status":"scheduled","run":N,...}
//                               ?wait=true[&timeout_ms=T]: waits (bounded) for
//                               run N and answers 200 with its result, 500
//                               when it failed, 202 "running" when the bound
//                               passed first, 503 when the service stops
//
// "Ready" means the service is started (subscriber, loop and worker
// running, publisher bound) and not stopping; it does not need a catalog or
// a snapshot to exist. "status" in the body: "ok", "degraded" (the last run
// failed; still 200: the service is up and retrying, the previous
// generation is being served), "starting" or "stopping" (503).
//
// Ownership: borrows the service and registry, which must outlive the
// server the routes are added to. Thread-safety: handlers run on I/O
// threads and only read service state or schedule work (never block).
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "cocktail/http/bearer_token.h"
#include "cocktail/http/router.h"
#include "cocktail/metrics/registry.h"
#include "cocktail/regen_service/regeneration_service.h"

namespace cocktail::regen_service {

struct RegenRoutesOptions {
  // The token POST /api/v1/regenerate must carry; none: the route answers
  // 403 unless allow_anonymous_trigger (development only).
  std::optional<std::string> token;
  bool allow_anonymous_trigger = false;
  // Longest ?wait=true may wait; keep it below the server's response_timeout.
  std::chrono::milliseconds max_wait{20000};
};

class RegenRoutes {
 public:
  RegenRoutes(RegenerationService& service, metrics::MetricsRegistry& registry, RegenRoutesOptions options);

  // Adds the three routes (before the server starts).
  void add_to(http::Router& router);

 private:
  void regenerate(const http::Request& request, http::Responder responder);

  RegenerationService& service_;
  metrics::MetricsRegistry& registry_;
  RegenRoutesOptions options_;
  std::optional<http::BearerToken> token_;
};

// The /health body: {"status", "live", "ready", "generation", "catalog_seq",
// "generated_at", "seq_seen", "catalog_latest_seq", "staleness_seconds",
// "running", "pending", "next_run_in_ms", "consecutive_failures",
// "runs_started", "last_event_age_seconds", "last_success", "last_error",
// "catalog_error"}; times are ISO 8601 UTC, absent values null.
std::string health_json(const ServiceStatus& status);
// A run's record as JSON: {"run", "status": "success"|"failure"|"cancelled",
// "finished_at", "duration_ms", "reasons", "changes", then "generation",
// "catalog_seq", "generated_at", "warnings" or "stage", "error"}.
std::string run_json(const RunRecord& record);

}  // namespace cocktail::regen_service

// ReadApi: the HTTP routes of analytics-api (docs/api.md, "analytics-api").
//
//   GET /api/v1/analytics/ingredient-usage[?parent_id=&level=]
//   GET /api/v1/analytics/recipe-complexity
//   GET /api/v1/analytics/{ingredient-usage-all|ingredient-tree|cocktail-space|cocktail-space-em|<any type>}
//   GET /api/v1/analytics/recipe-similar[?recipe_id=&limit=]
//   GET /api/v1/analytics/recipe-distances-em/download[?generation=]   the .npy
//   GET /api/v1/analytics/recipe-distances-em/ids[?generation=]        its row recipe ids
//   GET /api/v1/analytics/ingredient-distances-em/download[?generation=]  learned ingredient costs
//   GET /api/v1/analytics/ingredient-distances-em/ids[?generation=]       their ingredient ids
//   GET /api/v1/analytics/status
//   GET /api/v1/analytics/stream                                        server-sent events
//   GET /api/v1/storage/metrics
//
// Every analytics route serves the current generation from memory, honours
// If-None-Match (304) and Accept-Encoding: gzip (the pre-compressed copy),
// and takes `min_seq` (or the X-Min-Catalog-Seq header) with `wait_ms` for
// read-your-writes: the request is parked (CatalogSeqWaiters) until a
// generation covering that catalog seq is served, or answered 503 with
// Retry-After once wait_ms has passed. Before the first snapshot,
// ingredient-usage and recipe-complexity are computed from the catalog
// (LiveAnalytics, on the BlockingExecutor) when one is configured; the rest
// is 503 with Retry-After. So is a known type (or matrix) the generation
// served does not hold yet; a type that does not exist is 404.
//
// Handlers run on I/O threads and never block: they read the generation
// pointer, build a response around shared bytes, or hand work to the
// executor. Borrowed components must outlive the server the routes are on.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cocktail/http/blocking_executor.h"
#include "cocktail/http/router.h"
#include "cocktail/http/server.h"
#include "cocktail/read_service/generation_announcer.h"
#include "cocktail/read_service/live_analytics.h"
#include "cocktail/read_service/seq_waiters.h"
#include "cocktail/read_service/snapshot_cache.h"

namespace cocktail::read_service {

struct ReadApiOptions {
  std::chrono::milliseconds default_wait{5000};  // wait_ms when min_seq is given without it
  std::chrono::milliseconds max_wait{10000};     // largest wait_ms accepted
  int retry_after_seconds = 1;                   // Retry-After on 503
};

// The analytic types the API knows by name (404 bodies list them).
const std::vector<std::string>& known_analytics_types();

class ReadApi {
 public:
  // `live` may be null (no catalog configured: no fallback).
  ReadApi(ReadApiOptions options, SnapshotCache& cache, CatalogSeqWaiters& waiters,
          GenerationAnnouncer& announcer, http::BlockingExecutor& executor, const LiveAnalytics* live);

  void register_routes(http::Router& router);
  // Ready once a generation is served, or when the live fallback can answer.
  http::Readiness readiness() const;

 private:
  using Render = std::function<http::Response(const Generation&, const http::Request&)>;
  using Live = std::function<core::Result<LiveView>(const http::Request&)>;

  struct Wait {
    std::optional<std::int64_t> min_seq;
    std::chrono::milliseconds wait{0};
  };
  core::Result<Wait> parse_wait(const http::Request& request) const;

  // The common path of every analytics route: read-your-writes, fallback,
  // then `render` on the generation that answers.
  // `files`: the snapshot files the answer is rendered from; min_seq is
  // covered when each of them was computed from seq >= min_seq (a file
  // carried forward keeps its older seq). Empty: the generation's seq.
  void serve(const http::Request& request, http::Responder responder, const Render& render, Live live = {},
             std::vector<std::string> files = {});
  void serve_live(http::Responder responder, Live live, std::optional<std::int64_t> min_seq);
  http::Response not_ready(std::string_view what) const;
  http::Response not_covered(std::int64_t min_seq, std::chrono::milliseconds waited) const;
  // 503 + Retry-After: `what` exists but `g` does not hold it yet. `members`:
  // the JSON members of `details` (retry_after_seconds is added).
  http::Response not_held(const Generation& g, const std::string& what, const std::string& members) const;

  // Route bodies.
  http::Response render_type(const Generation& g, const http::Request& request,
                             const std::string& type) const;
  http::Response render_usage(const Generation& g, const http::Request& request) const;
  http::Response render_similar(const Generation& g, const http::Request& request) const;
  http::Response render_matrix(const Generation& g, const http::Request& request, const MatrixFiles& matrix,
                               bool ids) const;
  http::Response status() const;
  http::Response storage_metrics() const;

  ReadApiOptions options_;
  SnapshotCache& cache_;
  CatalogSeqWaiters& waiters_;
  GenerationAnnouncer& announcer_;
  http::BlockingExecutor& executor_;
  const LiveAnalytics* live_;
};

}  // namespace cocktail::read_service

// UsageRoutes: usage-api's HTTP routes (seed 004's contract; docs/usage.md,
// proto/openapi.yaml, proto/usage/*.schema.json).
//
//   POST /api/analytics/track           one event or an array of up to 1,000
//        -> 200 {"ok": true, "event_id": "evt_…"}            (one event)
//        -> 200 {"ok": true, "count": n, "event_ids": [...]}  (an array)
//   GET  /api/analytics/track?hours=&limit=
//        -> 200 {"ok": true, "count", "total_in_range", "events": [...]}  newest first
//   GET  /api/analytics/rollups?hours=
//        -> 200 {"ok": true, "count", "hours", "total_events", "total_sessions",
//                "rollups": [{"hour", "event_counts", "tool_usage",
//                             "risk_distribution", "unique_sessions", "total_events"}]}
//
// Tracking needs no credentials: a dashboard in a browser sends events with
// navigator.sendBeacon, which cannot set headers (and a page cannot keep a
// secret anyway). Any Content-Type is accepted (sendBeacon sends text/plain
// for a string). The limits that bound abuse are in docs/usage.md. Reads
// need the read token when one is configured.
//
// Where the work runs: a track body (at most the route's body limit, 1 MiB by
// default) is decoded on the I/O thread (well under a millisecond) and the
// events queued for the UsageWriter; the answer is sent once they are
// durable. Reads run on the read executor with a leased connection, in one
// read transaction each.
//
// Errors: {"ok": false, "error": {"code", "message", "details"}}: 400 naming
// the field (nothing stored), 401 without the read token, 413 too large, 503
// with Retry-After and details {"committed": false} when the events were not
// stored (the writer's queue is full, or they waited past the writer's bound
// for their turn or for the write lock another process holds), 500 when the
// write failed (nothing kept, {"committed": false}) or could not be made
// durable (it may or may not be kept). The track route has no response
// timeout: its answer is always the real outcome.
//
// Metrics: cocktail_usage_events_accepted_total,
// cocktail_usage_events_refused_total{reason} (invalid, queue_full, not_run,
// write_failed, not_durable; a refused body counts its events when it could
// be read, else one).
//
// Ownership: borrows everything given to the constructor, which must outlive
// the server. Thread-safety: handlers run concurrently on I/O threads; the
// object is immutable after add_to().
#pragma once

#include <prometheus/registry.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "cocktail/catalog/read_pool.h"
#include "cocktail/http/bearer_token.h"
#include "cocktail/http/blocking_executor.h"
#include "cocktail/http/router.h"
#include "cocktail/usage/event_decoding.h"
#include "cocktail/usage/usage_store.h"
#include "cocktail/usage/usage_writer.h"

namespace cocktail::usage {

struct UsageRoutesOptions {
  DecodeLimits limits;
  std::int64_t default_hours = 24;
  std::int64_t max_track_hours = 720;    // the events retention, 30 days
  std::int64_t max_rollup_hours = 2160;  // the roll-ups retention, 90 days
  std::int64_t default_limit = 100;
  std::int64_t max_limit = 1000;
  std::size_t track_max_body_bytes = std::size_t{1} << 20;
  std::optional<std::string> read_token;  // GET routes need it when set
  std::function<std::int64_t()> now_ms;   // wall clock
};

using StorePool = catalog::ReadPool<UsageStore>;

// "evt_" + 12 hex digits of `now_ms` + 16 random hex digits: unique, and in
// time order so that inserts land at the end of the id index.
std::string new_event_id(std::int64_t now_ms);

class UsageRoutes {
 public:
  UsageRoutes(UsageWriter& writer, StorePool& reads, http::BlockingExecutor& read_executor,
              prometheus::Registry& registry, UsageRoutesOptions options);
  ~UsageRoutes();

  void add_to(http::Router& router);

 private:
  struct Metrics;
  void track(const http::Request& request, http::Responder responder);
  void read(http::Responder responder, std::function<http::Response(UsageStore&, const http::Request&)> work);

  UsageWriter& writer_;
  StorePool& reads_;
  http::BlockingExecutor& read_executor_;
  UsageRoutesOptions options_;
  std::optional<http::BearerToken> read_token_;
  std::unique_ptr<Metrics> metrics_;
};

}  // namespace cocktail::usage

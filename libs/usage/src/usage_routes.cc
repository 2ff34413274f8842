#include "cocktail/usage/usage_routes.h"

#include <prometheus/counter.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdio>
#include <exception>
#include <random>
#include <utility>
#include <vector>

#include "cocktail/bus/events.h"
#include "cocktail/core/log.h"
#include "cocktail/core/time.h"
#include "cocktail/http/errors.h"

namespace cocktail::usage {
namespace {

namespace log = core::log;
using http::Method;
using http::Request;
using http::Responder;
using http::Response;
using http::Status;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

constexpr const char* kTrackPath = "/api/analytics/track";
constexpr const char* kRollupsPath = "/api/analytics/rollups";

// Every usage error body says "ok": false beside the project's error object,
// so that a client of the seed's API that tests `ok` keeps working.
Response with_ok_false(Response error) {
  std::string body(error.body());
  body.insert(1, "\"ok\":false,");
  Response out = Response::json(error.status(), std::move(body));
  for (const auto& field : error.message()) {
    if (field.name() != http::Field::content_type && field.name() != http::Field::content_length) {
      out.set_header(std::string_view(field.name_string().data(), field.name_string().size()),
                     std::string_view(field.value().data(), field.value().size()));
    }
  }
  return out;
}

Response usage_error(const core::Error& error) { return with_ok_false(http::error_response(error)); }

Response usage_error(Status status, std::string_view code, std::string_view message,
                     std::string_view details = "{}") {
  return with_ok_false(http::error_response(status, code, message, details));
}

// Events that were not stored, for sure: refused before they were queued,
// never run, or undone. Safe to send again as they are.
constexpr std::string_view kNotCommitted = R"({"committed":false})";

Response not_stored(std::string_view message) {
  return usage_error(Status::service_unavailable, http::kUnavailable, message, kNotCommitted)
      .set_header(http::Field::retry_after, "1");
}

void key(Writer& w, std::string_view k) { w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size())); }
void str(Writer& w, std::string_view s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); }
void number(Writer& w, std::string_view k, std::int64_t v) {
  key(w, k);
  w.Int64(v);
}
void optional_str(Writer& w, std::string_view k, const std::optional<std::string>& s) {
  key(w, k);
  if (s) {
    str(w, *s);
  } else {
    w.Null();
  }
}

std::string event_ids_json(const std::vector<UsageEvent>& events, bool is_array) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  key(w, "ok");
  w.Bool(true);
  if (is_array) {
    number(w, "count", static_cast<std::int64_t>(events.size()));
    key(w, "event_ids");
    w.StartArray();
    for (const auto& e : events) {
      str(w, e.id);
    }
    w.EndArray();
  } else {
    key(w, "event_id");
    str(w, events.front().id);
  }
  w.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

std::string events_json(const EventPage& page) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  key(w, "ok");
  w.Bool(true);
  number(w, "count", static_cast<std::int64_t>(page.events.size()));
  number(w, "total_in_range", page.total_in_range);
  key(w, "events");
  w.StartArray();
  for (const auto& e : page.events) {
    w.StartObject();
    key(w, "event_id");
    str(w, e.id);
    key(w, "event_type");
    str(w, e.event_type);
    key(w, "session_id");
    str(w, e.session_id);
    optional_str(w, "user_id", e.user_id);
    optional_str(w, "tool_name", e.tool_name);
    optional_str(w, "action", e.action);
    key(w, "properties");
    if (e.properties) {
      w.RawValue(e.properties->data(), e.properties->size(), rapidjson::kObjectType);
    } else {
      w.Null();
    }
    key(w, "demo_mode");
    w.Bool(e.demo_mode);
    key(w, "timestamp");
    str(w, bus::format_utc_timestamp(e.timestamp_ms));
    key(w, "received_at");
    str(w, bus::format_utc_timestamp(e.received_at_ms));
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

void counts_object(Writer& w, std::string_view k, const std::map<std::string, std::int64_t>& counts) {
  key(w, k);
  w.StartObject();
  for (const auto& [name, n] : counts) {
    number(w, name, n);
  }
  w.EndObject();
}

std::string rollups_json(const RollupRange& range, std::int64_t hours) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  key(w, "ok");
  w.Bool(true);
  number(w, "count", static_cast<std::int64_t>(range.rows.size()));
  number(w, "hours", hours);
  number(w, "total_events", range.total_events);
  number(w, "total_sessions", range.total_sessions);
  key(w, "rollups");
  w.StartArray();
  for (const auto& row : range.rows) {
    w.StartObject();
    key(w, "hour");
    str(w, bus::format_utc_timestamp(row.hour_ms));
    counts_object(w, "event_counts", row.event_counts);
    counts_object(w, "tool_usage", row.tool_usage);
    counts_object(w, "risk_distribution", row.risk_distribution);
    number(w, "unique_sessions", row.unique_sessions);
    number(w, "total_events", row.total_events);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

// ?hours= in [1, max], default `fallback`.
core::Result<std::int64_t> hours_param(const Request& request, std::int64_t fallback, std::int64_t max) {
  auto hours = request.query_int("hours", 1, max);
  if (!hours.ok()) {
    return hours.error();
  }
  return hours->value_or(fallback);
}

}  // namespace

std::string new_event_id(std::int64_t now_ms) {
  thread_local std::mt19937_64 random{std::random_device{}()};
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "evt_%012llx%016llx",
                static_cast<unsigned long long>(now_ms) & 0xffffffffffffULL,
                static_cast<unsigned long long>(random()));
  return buffer;
}

struct UsageRoutes::Metrics {
  explicit Metrics(prometheus::Registry& r)
      : accepted(prometheus::BuildCounter()
                     .Name("cocktail_usage_events_accepted_total")
                     .Help("Usage events stored durably and acknowledged (ids already stored included).")
                     .Register(r)
                     .Add({})),
        refused(prometheus::BuildCounter()
                    .Name("cocktail_usage_events_refused_total")
                    .Help("Usage events not acknowledged, by reason.")
                    .Register(r)),
        invalid(refused.Add({{"reason", "invalid"}})),
        queue_full(refused.Add({{"reason", "queue_full"}})),
        write_failed(refused.Add({{"reason", "write_failed"}})),
        not_durable(refused.Add({{"reason", "not_durable"}})),
        not_run(refused.Add({{"reason", "not_run"}})) {}
  prometheus::Counter& accepted;
  prometheus::Family<prometheus::Counter>& refused;
  prometheus::Counter& invalid;
  prometheus::Counter& queue_full;
  prometheus::Counter& write_failed;
  prometheus::Counter& not_durable;
  prometheus::Counter& not_run;
};

UsageRoutes::UsageRoutes(UsageWriter& writer, StorePool& reads, http::BlockingExecutor& read_executor,
                         prometheus::Registry& registry, UsageRoutesOptions options)
    : writer_(writer),
      reads_(reads),
      read_executor_(read_executor),
      options_(std::move(options)),
      metrics_(std::make_unique<Metrics>(registry)) {
  if (!options_.now_ms) {
    options_.now_ms = core::system_now_ms;
  }
  if (options_.read_token && !options_.read_token->empty()) {
    read_token_.emplace(*options_.read_token);
  }
}

UsageRoutes::~UsageRoutes() = default;

void UsageRoutes::add_to(http::Router& router) {
  http::RouteOptions track_options;
  track_options.max_body_bytes = options_.track_max_body_bytes;
  // A track answer is its real outcome: refused unrun within the writer's
  // bound (UsageWriterOptions::max_wait), or sent after the commit. The
  // server's 503 "timeout" could only guess, so the route does without it.
  track_options.response_timeout = http::kNoResponseTimeout;
  router.add(
      Method::post, kTrackPath,
      [this](const Request& request, Responder responder) { track(request, std::move(responder)); },
      track_options);

  router.add(Method::get, kTrackPath, [this](const Request&, Responder responder) {
    read(std::move(responder), [this](UsageStore& store, const Request& request) {
      auto hours = hours_param(request, options_.default_hours, options_.max_track_hours);
      if (!hours.ok()) {
        return usage_error(hours.error());
      }
      auto limit = request.query_int("limit", 1, options_.max_limit);
      if (!limit.ok()) {
        return usage_error(limit.error());
      }
      const std::int64_t since = options_.now_ms() - *hours * kHourMs;
      const EventPage page = store.events_since(since, limit->value_or(options_.default_limit));
      return Response::json(Status::ok, events_json(page));
    });
  });

  router.add(Method::get, kRollupsPath, [this](const Request&, Responder responder) {
    read(std::move(responder), [this](UsageStore& store, const Request& request) {
      auto hours = hours_param(request, options_.default_hours, options_.max_rollup_hours);
      if (!hours.ok()) {
        return usage_error(hours.error());
      }
      // The last `hours` hours, the current one included (and an hour ahead
      // that a client clock a little fast may have filled).
      const std::int64_t from = hour_of(options_.now_ms()) - (*hours - 1) * kHourMs;
      return Response::json(Status::ok, rollups_json(store.rollups_since(from), *hours));
    });
  });
}

void UsageRoutes::read(Responder responder, std::function<Response(UsageStore&, const Request&)> work) {
  if (read_token_) {
    if (auto rejection = read_token_->reject(responder.request())) {
      responder.send(with_ok_false(std::move(*rejection)));
      return;
    }
  }
  read_executor_.respond(std::move(responder), [this, work = std::move(work)](const Request& request) {
    auto lease = reads_.acquire();
    catalog::Transaction snapshot(lease.db(), catalog::Transaction::Kind::kRead);
    return work(*lease, request);
  });
}

void UsageRoutes::track(const Request& request, Responder responder) {
  const std::int64_t now = options_.now_ms();
  auto decoded = decode_track(request.body(), now, options_.limits);
  if (!decoded.ok()) {
    const auto& error = decoded.error();
    std::int64_t refused = 1;
    for (const auto& d : error.details) {
      refused = std::max<std::int64_t>(refused, d.index + 1);
    }
    metrics_->invalid.Increment(static_cast<double>(refused));
    log::debug("usage.track_refused", {{"request_id", request.request_id()}, {"field", error.field}});
    responder.send(usage_error(error));
    return;
  }
  TrackBatch batch = std::move(*decoded);
  for (auto& event : batch.events) {
    if (event.id.empty()) {
      event.id = new_event_id(now);
    }
  }
  const auto n = static_cast<double>(batch.events.size());
  std::string answer = event_ids_json(batch.events, batch.is_array);
  auto done = [this, responder, answer = std::move(answer), n](const UsageWriter::Result& result) mutable {
    switch (result.outcome) {
      case UsageWriter::Outcome::kDurable:
        metrics_->accepted.Increment(n);
        responder.send(Response::json(Status::ok, std::move(answer)));
        return;
      case UsageWriter::Outcome::kFailed:
        metrics_->write_failed.Increment(n);
        responder.send(usage_error(Status::internal_server_error, http::kInternal,
                                   "the events could not be stored; nothing was kept", kNotCommitted));
        return;
      case UsageWriter::Outcome::kNotRun:
        metrics_->not_run.Increment(n);
        log::warn("usage.write_expired",
                  {{"request_id", responder.request().request_id()}, {"waited_ms", result.waited.count()}});
        responder.send(not_stored("the events waited " + std::to_string(result.waited.count()) +
                                  " ms for the usage database and were not stored; try again"));
        return;
      case UsageWriter::Outcome::kNotDurable:
        metrics_->not_durable.Increment(n);
        responder.send(usage_error(Status::internal_server_error, http::kInternal,
                                   "the events could not be made durable; they may or may not be kept"));
        return;
    }
  };
  if (!writer_.submit_events(std::move(batch.events), std::move(done))) {
    metrics_->queue_full.Increment(n);
    responder.send(not_stored("too many writes are waiting; try again"));
  }
}

}  // namespace cocktail::usage

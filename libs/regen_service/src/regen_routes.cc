#include "cocktail/regen_service/regen_routes.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>
#include <utility>

#include "cocktail/core/time.h"
#include "cocktail/http/errors.h"

namespace cocktail::regen_service {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;
using http::Response;
using http::Status;

void text(Writer& w, std::string_view s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); }

// Milliseconds and seconds are shown to the microsecond, not as 17 digits.
void number(Writer& w, double v) { w.Double(static_cast<double>(std::llround(v * 1e6)) / 1e6); }

void time_or_null(Writer& w, std::int64_t epoch_ms) {
  if (epoch_ms > 0) {
    text(w, core::format_utc_iso8601(epoch_ms));
  } else {
    w.Null();
  }
}

void write_run(Writer& w, const RunRecord& r) {
  w.StartObject();
  w.Key("run");
  w.Uint64(r.run);
  w.Key("status");
  w.String(r.success ? "success" : (r.cancelled ? "cancelled" : "failure"));
  w.Key("finished_at");
  time_or_null(w, r.finished_at_ms);
  w.Key("duration_ms");
  number(w, r.duration_ms);
  w.Key("reasons");
  w.StartArray();
  for (const auto& reason : r.reasons) {
    text(w, reason);
  }
  w.EndArray();
  w.Key("changes");
  w.Uint64(r.changes);
  if (r.success) {
    w.Key("generation");
    w.Int64(r.generation);
    w.Key("catalog_seq");
    w.Int64(r.catalog_seq);
    w.Key("generated_at");
    time_or_null(w, r.generated_at_ms);
    w.Key("warnings");
    w.StartArray();
    for (const auto& warning : r.warnings) {
      text(w, warning);
    }
    w.EndArray();
  } else {
    w.Key("stage");
    text(w, r.stage);
    w.Key("error");
    text(w, r.error);
  }
  w.EndObject();
}

std::string status_word(const ServiceStatus& s) {
  if (s.stopping) {
    return "stopping";
  }
  if (!s.started) {
    return "starting";
  }
  if (s.consecutive_failures > 0 || s.slow.consecutive_failures > 0 || s.repair_pending) {
    return "degraded";
  }
  return "ok";
}

bool ready(const ServiceStatus& s) { return s.started && !s.stopping; }

void write_lane(Writer& w, const LaneStatus& l) {
  w.StartObject();
  w.Key("seq");
  w.Int64(l.seq);
  w.Key("running");
  w.Bool(l.running);
  w.Key("pending");
  w.Bool(l.pending);
  w.Key("consecutive_failures");
  w.Uint(l.consecutive_failures);
  w.Key("retry_in_ms");
  if (l.retry_in_ms) {
    number(w, *l.retry_in_ms);
  } else {
    w.Null();
  }
  w.Key("age_seconds");
  if (l.age_seconds) {
    number(w, *l.age_seconds);
  } else {
    w.Null();
  }
  w.Key("staleness_seconds");
  number(w, l.staleness_seconds);
  w.Key("last_error");
  if (l.last_error.empty()) {
    w.Null();
  } else {
    text(w, l.last_error);
  }
  w.EndObject();
}

// "true"/"1" and "false"/"0"; anything else is an error naming the parameter.
core::Result<bool> parse_bool(std::string_view value, std::string_view name) {
  if (value == "true" || value == "1" || value.empty()) {
    return true;
  }
  if (value == "false" || value == "0") {
    return false;
  }
  return core::Error::invalid(std::string(name), std::string(name) + " must be true or false");
}

}  // namespace

std::string run_json(const RunRecord& record) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  write_run(w, record);
  return std::string(buf.GetString(), buf.GetSize());
}

std::string health_json(const ServiceStatus& s) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("status");
  text(w, status_word(s));
  w.Key("live");
  w.Bool(true);
  w.Key("ready");
  w.Bool(ready(s));
  w.Key("generation");
  w.Int64(s.generation);
  w.Key("catalog_seq");
  w.Int64(s.catalog_seq);
  w.Key("generated_at");
  time_or_null(w, s.generated_at_ms);
  w.Key("seq_seen");
  w.Int64(s.seq_seen);
  w.Key("catalog_latest_seq");
  if (s.catalog_latest_seq) {
    w.Int64(*s.catalog_latest_seq);
  } else {
    w.Null();
  }
  w.Key("staleness_seconds");
  number(w, s.staleness_seconds);
  w.Key("running");
  w.Bool(s.running);
  w.Key("pending");
  w.Bool(s.pending);
  w.Key("next_run_in_ms");
  if (s.next_run_in_ms) {
    number(w, *s.next_run_in_ms);
  } else {
    w.Null();
  }
  w.Key("consecutive_failures");
  w.Uint(s.consecutive_failures);
  w.Key("runs_started");
  w.Uint64(s.runs_started);
  w.Key("last_event_age_seconds");
  if (s.last_event_age_seconds) {
    number(w, *s.last_event_age_seconds);
  } else {
    w.Null();
  }
  w.Key("last_success");
  if (s.last_success) {
    write_run(w, *s.last_success);
  } else {
    w.Null();
  }
  w.Key("last_error");
  if (s.last_failure) {
    write_run(w, *s.last_failure);
  } else {
    w.Null();
  }
  w.Key("catalog_error");
  if (s.catalog_probe_error.empty()) {
    w.Null();
  } else {
    text(w, s.catalog_probe_error);
  }
  w.Key("events_rejected");
  w.Uint64(s.events_rejected);
  // Each lane's seq, age and failures (without lanes both describe the one).
  w.Key("lanes");
  w.Bool(s.lanes);
  w.Key("fast");
  write_lane(w, s.fast);
  w.Key("slow");
  write_lane(w, s.slow);
  // Self-repair: what was found failing verification and rewritten.
  w.Key("repair");
  w.StartObject();
  w.Key("corrupt_files");
  w.Uint64(s.corrupt_files);
  w.Key("repairs");
  w.Uint64(s.repairs);
  w.Key("pending");
  w.Bool(s.repair_pending);
  w.Key("last_corrupt");
  if (s.last_corrupt) {
    w.StartObject();
    w.Key("generation");
    w.Int64(s.last_corrupt->generation);
    w.Key("file");
    text(w, s.last_corrupt->file);
    w.Key("reason");
    text(w, s.last_corrupt->reason);
    w.Key("found_by");
    text(w, s.last_corrupt_found_by);
    w.Key("at");
    time_or_null(w, s.last_corrupt_at_ms);
    w.EndObject();
  } else {
    w.Null();
  }
  w.EndObject();
  w.Key("scrub");
  w.StartObject();
  w.Key("passes");
  w.Uint64(s.scrub.passes);
  w.Key("last_pass_at");
  time_or_null(w, s.scrub.last_pass_wall_ms.value_or(0));
  w.Key("bytes_read");
  w.Uint64(s.scrub.bytes_read);
  w.Key("requests");
  w.StartObject();
  w.Key("confirmed");
  w.Uint64(s.scrub.requests_confirmed);
  w.Key("dismissed");
  w.Uint64(s.scrub.requests_dismissed);
  w.Key("dropped");
  w.Uint64(s.scrub.requests_dropped);
  w.EndObject();
  w.EndObject();
  w.Key("filesystem");
  if (s.filesystem) {
    w.StartObject();
    w.Key("used_ratio");
    number(w, s.filesystem->used_ratio());
    w.Key("free_bytes");
    w.Int64(s.filesystem->available_bytes);
    w.Key("size_bytes");
    w.Int64(s.filesystem->total_bytes);
    w.EndObject();
  } else {
    w.Null();
  }
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

RegenRoutes::RegenRoutes(RegenerationService& service, metrics::MetricsRegistry& registry,
                         RegenRoutesOptions options)
    : service_(service), registry_(registry), options_(std::move(options)) {
  if (options_.token && !options_.token->empty()) {
    token_.emplace(*options_.token);
  }
}

void RegenRoutes::add_to(http::Router& router) {
  router.add(http::Method::get, "/health", http::SyncHandler([this](const http::Request&) {
               const ServiceStatus s = service_.status();
               return Response::json(ready(s) ? Status::ok : Status::service_unavailable, health_json(s))
                   .set_header(http::Field::cache_control, "no-store");
             }));
  router.add(http::Method::get, "/metrics", http::SyncHandler([this](const http::Request&) {
               service_.refresh_metrics();
               return Response::text(Status::ok, registry_.serialize_text(), metrics::kTextContentType)
                   .set_header(http::Field::cache_control, "no-store");
             }));
  router.add(http::Method::post, "/api/v1/regenerate",
             http::Handler([this](const http::Request& request, http::Responder responder) {
               regenerate(request, std::move(responder));
             }));
}

void RegenRoutes::regenerate(const http::Request& request, http::Responder responder) {
  if (token_) {
    if (auto rejection = token_->reject(request)) {
      responder.send(std::move(*rejection));
      return;
    }
  } else if (!options_.allow_anonymous_trigger) {
    responder.send(
        http::error_response(Status::forbidden, http::kForbidden,
                             "manual regeneration is disabled: no token is configured (--token-file)"));
    return;
  }

  bool wait = false;
  if (auto w = request.query("wait")) {
    auto parsed = parse_bool(*w, "wait");
    if (!parsed.ok()) {
      responder.send(http::error_response(parsed.error()));
      return;
    }
    wait = *parsed;
  }
  std::chrono::milliseconds timeout = options_.max_wait;
  auto timeout_ms = request.query_int("timeout_ms", 1, options_.max_wait.count());
  if (!timeout_ms.ok()) {
    responder.send(http::error_response(timeout_ms.error()));
    return;
  }
  if (*timeout_ms) {
    timeout = std::chrono::milliseconds(**timeout_ms);
  }

  const ServiceStatus before = service_.status();
  auto run = service_.request_run("manual");
  if (!run) {
    responder.send(http::error_response(Status::service_unavailable, http::kUnavailable,
                                        "the service is not running (starting or stopping)"));
    return;
  }
  const std::uint64_t run_number = *run;
  if (!wait) {
    rapidjson::StringBuffer buf;
    Writer w(buf);
    w.StartObject();
    w.Key("status");
    w.String("scheduled");
    w.Key("run");
    w.Uint64(run_number);
    w.Key("running");
    w.Bool(before.running);
    w.Key("generation");
    w.Int64(before.generation);
    w.Key("catalog_seq");
    w.Int64(before.catalog_seq);
    w.Key("consecutive_failures");
    w.Uint(before.consecutive_failures);
    w.EndObject();
    responder.send(Response::json(Status::accepted, std::string(buf.GetString(), buf.GetSize())));
    return;
  }

  service_.when_finished(
      run_number, timeout, [this, responder, run_number](std::optional<RunRecord> record) mutable {
        if (!record) {
          if (service_.status().stopping) {
            responder.send(http::error_response(Status::service_unavailable, http::kUnavailable,
                                                "the service is stopping; the run may not happen"));
            return;
          }
          // The bound passed first: the run stays scheduled.
          responder.send(Response::json(Status::accepted,
                                        R"({"status":"running","run":)" + std::to_string(run_number) + "}"));
          return;
        }
        if (record->success) {
          responder.send(Response::json(Status::ok, run_json(*record)));
          return;
        }
        const bool cancelled = record->cancelled;
        responder.send(
            http::error_response(cancelled ? Status::service_unavailable : Status::internal_server_error,
                                 cancelled ? http::kUnavailable : http::kInternal,
                                 cancelled ? "the regeneration was cancelled (shutting down)"
                                           : "the regeneration failed; the previous generation stays current",
                                 run_json(*record)));
      });
}

}  // namespace cocktail::regen_service

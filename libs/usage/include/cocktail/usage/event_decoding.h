// Decoding usage events: bytes in, events or field errors out. Pure
// functions (no I/O, no clock: `now_ms` is a parameter, no randomness), so
// that a fuzzer can drive them directly. Thread-safe (one parser per thread).
//
// Body of POST /api/analytics/track: one event object, or an array of 1 to
// max_events of them. An event (docs/usage.md, proto/usage/track-event.schema.json):
//
//   {"event_type": "tool_used", "session_id": "session_…",     required strings
//    "user_id", "tool_name", "action": strings or null,
//    "properties": an object or null, "demo_mode": true/false/null (default true),
//    "timestamp": ISO 8601 UTC or null (default: received time),
//    "event_id": [A-Za-z0-9_-]{1,64} or null (default: one is generated)}
//
// Policy:
//   - Types are strict ("5" is not 5); strings have length limits and no
//     control characters; a field given twice is refused.
//   - Unknown top-level fields are kept: they are moved into `properties`
//     under their own name (the seed's clients send "all other fields"; a
//     field the server does not know yet is data, not a mistake). One that
//     collides with a key of `properties` is refused.
//   - `properties` with the moved fields is at most max_properties_bytes of
//     minified JSON.
//   - `timestamp` later than now + max_future_ms, or older than now -
//     max_age_ms (events retention: it would be deleted at once), is refused.
//   - Invalid UTF-8 anywhere, malformed JSON, a body that is not an object or
//     an array of objects: refused.
// Any problem refuses the whole body (nothing is stored). The error has code
// kInvalidArgument, `field` naming the first culprit ("session_id", or
// "[3].session_id" in an array) and `details` listing up to 100 problems.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cocktail/core/result.h"
#include "cocktail/usage/event.h"

namespace cocktail::usage {

struct DecodeLimits {
  std::size_t max_events = 1000;
  std::size_t max_properties_bytes = 8192;
  std::int64_t max_future_ms = std::int64_t{5} * 60'000;
  std::int64_t max_age_ms = std::int64_t{30} * 24 * kHourMs;
  // The property whose values the roll-ups' risk_distribution counts.
  std::string distribution_property = "risk_mode";
};

struct TrackBatch {
  // In body order; `id` empty unless the client gave event_id.
  std::vector<UsageEvent> events;
  bool is_array = false;  // answer with event_ids rather than event_id
};

core::Result<TrackBatch> decode_track(std::string_view body, std::int64_t now_ms, const DecodeLimits& limits);

// A saved array of events (the browser's localStorage backup,
// `cv_analytics_events`): the same event objects, any number of them, as an
// array, an object {"events": [...]}, or either one JSON-encoded once more
// as a string (what copying localStorage's value can produce). Event ids
// are `event_id` or `id` when given, otherwise derived from the event's
// content (derived_event_id), so importing the same file twice adds nothing.
// Events older than max_age_ms are skipped (counted), not refused; every
// event needs its timestamp (the import time would not be the same twice).
struct BackfillBatch {
  std::vector<UsageEvent> events;  // each with an id
  std::size_t skipped_too_old = 0;
};

core::Result<BackfillBatch> decode_backfill(std::string_view text, std::int64_t now_ms,
                                            const DecodeLimits& limits);

// The value `property` has in a properties object when the roll-ups count
// it: a string of 1..kMaxKeyBytes bytes without control characters (the
// first one, if the key repeats). nullopt otherwise, or for invalid JSON.
std::optional<std::string> distribution_value(std::string_view properties_json, std::string_view property);

// "evt_" + 32 hex digits of the SHA-256 of everything the client said about
// the event (not received_at): equal events get equal ids.
std::string derived_event_id(const UsageEvent& event);

}  // namespace cocktail::usage

// UsageEvent: one product-usage event (seed 004's AnalyticsEvent), as stored
// and served. Timestamps are milliseconds since the Unix epoch (UTC); on the
// wire they are ISO 8601 strings ("2026-11-24T10:00:00.123Z").
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace cocktail::usage {

inline constexpr std::int64_t kHourMs = 3'600'000;

// The start of the UTC hour holding `ms`.
inline std::int64_t hour_of(std::int64_t ms) { return ms - ((ms % kHourMs) + kHourMs) % kHourMs; }

struct UsageEvent {
  std::string id;  // "evt_…", unique
  std::optional<std::string> user_id;
  std::string session_id;  // required
  std::string event_type;  // "tool_used", "risk_mode_changed", …
  std::optional<std::string> tool_name;
  std::optional<std::string> action;
  std::optional<std::string> properties;  // a JSON object, minified
  bool demo_mode = true;
  std::int64_t timestamp_ms = 0;    // the client's time: decides the roll-up hour
  std::int64_t received_at_ms = 0;  // the server's time
  // The value of the distribution property (risk_mode by default) in
  // properties, when it is a string of 1..kMaxKeyBytes bytes: what the
  // roll-up's risk_distribution counts.
  std::optional<std::string> distribution_value;

  bool operator==(const UsageEvent&) const = default;
};

// Longest event_type, action; tool_name, session_id, user_id, event id; a
// counted distribution value.
inline constexpr std::size_t kMaxTypeBytes = 64;
inline constexpr std::size_t kMaxNameBytes = 128;
inline constexpr std::size_t kMaxKeyBytes = 128;

}  // namespace cocktail::usage

// Structured logging: one line per event, logfmt style
//   ts=2026-11-24T10:00:00.123Z level=info event=regen.done generation=12 seq=340
// written atomically to stderr. The sink and level are process-wide on
// purpose: a log line must never be lost because a component was built
// without a logger. Thread-safe.
//
// Repeated warnings and errors are rate-limited per event name, so that a
// flood (a peer sending 100,000 malformed messages, a disk failing on every
// write) cannot turn into a flood of log lines: each event may write `burst`
// lines at once and then one per `interval`; the lines beyond are counted,
// not written, and the next line written for that event says how many were
// left out (`suppressed=N`). Info and debug lines are the normal flow (the
// access log, one line per run) and are never limited. Counts are exposed by
// every service's /metrics (cocktail_log_suppressed_total{event}).
#pragma once

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "cocktail/core/time.h"

namespace cocktail::core::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void set_level(Level level);
Level level();
// "debug", "info", "warn", "error"; false on anything else.
bool parse_level(std::string_view text, Level* out);

// A key and its value rendered as text; strings are quoted when needed.
struct Field {
  std::string_view key;
  std::string value;
  bool quote = false;

  Field(std::string_view k, std::string_view v) : key(k), value(v), quote(true) {}
  Field(std::string_view k, const std::string& v) : key(k), value(v), quote(true) {}
  Field(std::string_view k, const char* v) : key(k), value(v ? v : ""), quote(true) {}
  Field(std::string_view k, bool v) : key(k), value(v ? "true" : "false") {}
  template <typename T, typename = std::enable_if_t<std::is_arithmetic_v<T>>>
  Field(std::string_view k, T v) : key(k), value(number(v)) {}

 private:
  template <typename T>
  static std::string number(T v) {
    if constexpr (std::is_floating_point_v<T>) {
      return format_double(static_cast<double>(v));
    } else {
      return std::to_string(v);
    }
  }
  static std::string format_double(double v);
};

void write(Level level, std::string_view event, std::initializer_list<Field> fields);

struct RateLimit {
  // Lines an event may write at once, and the pace at which that allowance
  // refills (one line per interval). burst 0 turns the limit off.
  int burst = 20;
  std::chrono::milliseconds interval{1000};
  // Events at this level and above are limited.
  Level min_level = Level::kWarn;
  // Time source; a SteadyClock when null. Must outlive its use (tests).
  const Clock* clock = nullptr;
};
// Replaces the process-wide limit and forgets what was counted per event.
void set_rate_limit(const RateLimit& limit);
// Lines left out by the rate limit since the process started, per event
// name (in no particular order), and their sum.
std::vector<std::pair<std::string, std::uint64_t>> suppressed_by_event();
std::uint64_t suppressed_total();

inline void debug(std::string_view event, std::initializer_list<Field> f = {}) {
  write(Level::kDebug, event, f);
}
inline void info(std::string_view event, std::initializer_list<Field> f = {}) {
  write(Level::kInfo, event, f);
}
inline void warn(std::string_view event, std::initializer_list<Field> f = {}) {
  write(Level::kWarn, event, f);
}
inline void error(std::string_view event, std::initializer_list<Field> f = {}) {
  write(Level::kError, event, f);
}

}  // namespace cocktail::core::log

// Wall-clock helpers and an injectable monotonic clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace cocktail::core {

// Milliseconds since the Unix epoch (wall clock).
std::int64_t system_now_ms();
// "2026-11-24T10:00:00.123Z"
std::string format_utc_iso8601(std::int64_t epoch_ms);

// The timestamps the system accepts from outside (events, manifests) lie in
// [0, kMaxEpochMs]: 1970 to 9999-12-31T23:59:59.999Z, the last instant a
// four-digit year can write. Differences of two such values never overflow.
inline constexpr std::int64_t kMaxEpochMs = 253402300799999;

// A monotonic clock that components take by reference so that tests can
// drive time by hand (debounce windows, retries, timeouts) without sleeping.
class Clock {
 public:
  using duration = std::chrono::steady_clock::duration;
  using time_point = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  virtual time_point now() const = 0;
};

class SteadyClock final : public Clock {
 public:
  time_point now() const override { return std::chrono::steady_clock::now(); }
};

// Time that moves only when told to. Not thread-safe; for tests.
class FakeClock final : public Clock {
 public:
  time_point now() const override { return now_; }
  void advance(duration d) { now_ += d; }

 private:
  time_point now_{std::chrono::hours(1)};
};

}  // namespace cocktail::core

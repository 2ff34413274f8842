// UsageStore: the only code that writes SQL for the usage database (its own
// SQLite file, never the catalog's). Schema and invariants in docs/usage.md:
//
//   usage_events             one row per event (seed 004's AnalyticsEvent),
//                            with the seed's indices
//   usage_hourly_rollups     one row per hour (unique): total_events,
//                            unique_sessions, sessions_ending
//   usage_rollup_counts      (hour, dimension, key) -> count: the roll-up's
//                            event_counts, tool_usage and risk_distribution
//   usage_hour_sessions      (hour, session_id): which sessions an hour saw,
//                            so unique_sessions stays exact under increments
//   usage_sessions           session_id -> the latest hour it was seen in
//   hourly_rollup (a view)   the roll-ups in the seed's HourlyRollup shape
//
// Invariants, kept in the writer's transaction with the events they count:
// for every hour, total_events and each count equal a recount of that hour's
// events; unique_sessions equals the distinct session_ids of the hour;
// sessions_ending equals the sessions whose latest hour is that hour
// (maintained by triggers on usage_sessions). So the distinct sessions over
// "every hour since H" is SUM(sessions_ending) over the roll-up rows since H:
// exact, and read from at most one row per hour (how GET rollups answers
// total_sessions without touching events).
//
// Retention deletes events older than the events cutoff and roll-ups (with
// their sessions) older than the roll-ups cutoff, in bounded batches. A
// roll-up hour outlives its events; it is exact for what it counted.
//
// Per hour and dimension at most max_keys_per_hour distinct keys get a row of
// their own; later new keys are counted under "(other)" (a bound on what a
// client inventing event types can make the roll-ups hold).
//
// A UsageStore wraps one connection and is used by one thread at a time.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "cocktail/catalog/database.h"
#include "cocktail/usage/event.h"

namespace cocktail::usage {

// Roll-up dimensions, as stored in usage_rollup_counts.dimension.
enum class Dimension : int { kEventType = 0, kTool = 1, kDistribution = 2 };

inline constexpr const char* kOverflowKey = "(other)";

// Schema version this code writes; a newer file is refused.
inline constexpr int kSchemaVersion = 1;

struct StoreOptions {
  std::string distribution_property = "risk_mode";  // for rebuilds from stored events
  int max_keys_per_hour = 1000;
};

// Opens (creating it when missing) and migrates a usage database. Throws
// catalog::DatabaseError, or std::runtime_error for a file of a newer schema.
std::unique_ptr<catalog::Database> open_usage_db(const std::string& path,
                                                 const catalog::DatabaseOptions& options = {});

// What a set of new events adds to the roll-ups; applied in one go.
class RollupDelta {
 public:
  struct Hour {
    std::int64_t events = 0;
    std::int64_t new_sessions = 0;  // sessions new to the hour
    std::map<std::pair<Dimension, std::string>, std::int64_t> counts;
  };
  void add_event(const UsageEvent& event, bool new_session_in_hour);
  void merge(const RollupDelta& other);
  bool empty() const { return hours_.empty(); }
  void clear() { hours_.clear(); }
  const std::map<std::int64_t, Hour>& hours() const { return hours_; }

 private:
  std::map<std::int64_t, Hour> hours_;
};

struct RollupRow {
  std::int64_t hour_ms = 0;
  std::int64_t total_events = 0;
  std::int64_t unique_sessions = 0;
  std::int64_t sessions_ending = 0;
  std::map<std::string, std::int64_t> event_counts, tool_usage, risk_distribution;

  bool operator==(const RollupRow&) const = default;
};

struct RollupRange {
  std::vector<RollupRow> rows;  // by hour, oldest first; hours with events only
  std::int64_t total_events = 0;
  std::int64_t total_sessions = 0;  // distinct sessions over the whole range
};

struct EventPage {
  std::vector<UsageEvent> events;  // newest first
  std::int64_t total_in_range = 0;
};

struct StoreStats {
  std::int64_t events = 0;
  std::optional<std::int64_t> oldest_event_ms, newest_event_ms;
  std::int64_t rollup_hours = 0;
  std::optional<std::int64_t> oldest_hour_ms, newest_hour_ms;
  std::int64_t sessions = 0;
  std::int64_t database_bytes = 0;  // the file plus its WAL
};

// The size of a database on disk: the file plus its WAL, bytes.
std::int64_t database_bytes(const std::string& path);

class UsageStore {
 public:
  UsageStore(catalog::Database& db, StoreOptions options = {});
  ~UsageStore();
  UsageStore(const UsageStore&) = delete;
  UsageStore& operator=(const UsageStore&) = delete;

  // ---- Writes (inside a transaction or savepoint of the caller).

  // Inserts the events whose id is not stored yet and adds what they count
  // to `delta` (sessions are recorded at once; counters wait for apply()).
  // Returns how many were new; `inserted`, when given, gets one flag per event.
  std::size_t insert_events(const std::vector<UsageEvent>& events, RollupDelta& delta,
                            std::vector<bool>* inserted = nullptr);
  // Adds a delta's counters to the roll-up rows.
  void apply(const RollupDelta& delta, std::int64_t now_ms);
  // Recomputes the roll-ups of these hours from the stored events (sessions
  // included). Only for hours whose events are all still stored.
  void rebuild_hours(const std::set<std::int64_t>& hours, std::int64_t now_ms);

  // Retention, at most `max_rows` rows per call; each returns rows deleted.
  std::int64_t delete_events_before(std::int64_t cutoff_ms, std::int64_t max_rows);
  // The per-hour session sets of hours before `cutoff_hour_ms` (needed only
  // while an hour can still gain events).
  std::int64_t delete_hour_sessions_before(std::int64_t cutoff_hour_ms, std::int64_t max_rows);
  // Roll-up hours before `cutoff_hour_ms`: sessions last seen then, then the
  // rows and their counts.
  std::int64_t delete_rollups_before(std::int64_t cutoff_hour_ms, std::int64_t max_rows);

  // ---- Reads (consistent when run inside one read transaction).

  // Events with timestamp >= since_ms, newest first, at most `limit`.
  EventPage events_since(std::int64_t since_ms, std::int64_t limit);
  // Roll-ups of every hour >= from_hour_ms.
  RollupRange rollups_since(std::int64_t from_hour_ms);
  // The totals of some hours (absent hours: none).
  std::vector<RollupRow> hour_totals(const std::vector<std::int64_t>& hours);
  StoreStats stats();

  catalog::Database& db() { return db_; }

 private:
  struct Statements;
  catalog::Statement& stmt(std::unique_ptr<catalog::Statement>& slot, const char* sql);
  void add_count(std::int64_t hour_ms, Dimension dimension, const std::string& key, std::int64_t n);

  catalog::Database& db_;
  StoreOptions options_;
  std::unique_ptr<Statements> s_;
};

}  // namespace cocktail::usage

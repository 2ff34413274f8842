// RetentionSweeper: deletes old usage data on a timer, in bounded batches,
// through the writer.
//
// Every `interval` (default one minute) it deletes events older than
// events_max_age (default 30 days), the per-hour session sets of hours that
// can no longer gain events, and roll-up hours older than rollups_max_age
// (default 90 days) with the sessions last seen in them. Each batch deletes
// at most `batch_rows` rows per table and is one job of the UsageWriter: the
// next batch is queued only when the previous one is done, so writes queued
// meanwhile go first and a large backlog never holds the write lock for long.
// (The seed cleaned up on ~1% of requests: a request then paid for the
// clean-up, nothing was cleaned while idle, and tests could not predict it.
// docs/usage.md.)
//
// It also refreshes cocktail_usage_database_bytes every stats_interval.
// Metrics: cocktail_usage_retention_deleted_total{table},
// cocktail_usage_retention_runs_total{result}, cocktail_usage_database_bytes.
//
// The wall clock is injected (now_ms), so tests drive retention by hand with
// sweep_once(). Ownership: borrows the writer and the registry.
// Thread-safety: start()/stop() from the owner; sweep_once() from one thread
// at a time (the timer thread, or a test while the timer is not started).
#pragma once

#include <prometheus/registry.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "cocktail/usage/usage_writer.h"

namespace cocktail::usage {

struct RetentionOptions {
  std::int64_t events_max_age_ms = std::int64_t{30} * 24 * kHourMs;
  std::int64_t rollups_max_age_ms = std::int64_t{90} * 24 * kHourMs;
  std::chrono::milliseconds interval{60'000};
  std::chrono::milliseconds stats_interval{10'000};
  std::int64_t batch_rows = 1000;
  // Batches per table and sweep at most (a sweep always ends).
  std::int64_t max_batches = 100'000;
  std::function<std::int64_t()> now_ms;  // wall clock, ms since the epoch
  std::string db_path;                   // for the size gauge
};

struct RetentionReport {
  std::int64_t events = 0;
  std::int64_t hour_sessions = 0;
  std::int64_t rollup_rows = 0;  // roll-up rows, counts and sessions
  std::int64_t batches = 0;
  bool ok = true;  // false when a batch failed (logged; retried next time)
};

class RetentionSweeper {
 public:
  RetentionSweeper(UsageWriter& writer, prometheus::Registry& registry, RetentionOptions options);
  ~RetentionSweeper();  // stop()
  RetentionSweeper(const RetentionSweeper&) = delete;
  RetentionSweeper& operator=(const RetentionSweeper&) = delete;

  void start();
  void stop();  // idempotent; an ongoing sweep finishes its current batch

  // One full sweep now; blocks until done.
  RetentionReport sweep_once();
  void refresh_size();

 private:
  struct Metrics;
  void run();
  // Runs `task` batches until one deletes less than batch_rows (nothing, when
  // `until_empty`); the rows deleted, -1 on failure.
  std::int64_t drain(const UsageWriter::Task& task, bool until_empty, std::int64_t& batches);

  UsageWriter& writer_;
  RetentionOptions options_;
  std::unique_ptr<Metrics> metrics_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace cocktail::usage

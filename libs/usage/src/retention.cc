#include "cocktail/usage/retention.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>

#include <algorithm>
#include <future>
#include <utility>

#include "cocktail/core/log.h"
#include "cocktail/core/time.h"

namespace cocktail::usage {

namespace log = core::log;

struct RetentionSweeper::Metrics {
  explicit Metrics(prometheus::Registry& r)
      : deleted(prometheus::BuildCounter()
                    .Name("cocktail_usage_retention_deleted_total")
                    .Help("Rows deleted by retention, by table.")
                    .Register(r)),
        runs(prometheus::BuildCounter()
                 .Name("cocktail_usage_retention_runs_total")
                 .Help("Retention sweeps, by result (success or failure).")
                 .Register(r)),
        bytes(prometheus::BuildGauge()
                  .Name("cocktail_usage_database_bytes")
                  .Help("Size of the usage database on disk (file plus WAL), bytes.")
                  .Register(r)
                  .Add({})),
        events(deleted.Add({{"table", "events"}})),
        hour_sessions(deleted.Add({{"table", "hour_sessions"}})),
        rollups(deleted.Add({{"table", "rollups"}})),
        success(runs.Add({{"result", "success"}})),
        failure(runs.Add({{"result", "failure"}})) {}
  prometheus::Family<prometheus::Counter>& deleted;
  prometheus::Family<prometheus::Counter>& runs;
  prometheus::Gauge& bytes;
  prometheus::Counter& events;
  prometheus::Counter& hour_sessions;
  prometheus::Counter& rollups;
  prometheus::Counter& success;
  prometheus::Counter& failure;
};

RetentionSweeper::RetentionSweeper(UsageWriter& writer, prometheus::Registry& registry,
                                   RetentionOptions options)
    : writer_(writer), options_(std::move(options)), metrics_(std::make_unique<Metrics>(registry)) {
  if (!options_.now_ms) {
    options_.now_ms = core::system_now_ms;
  }
  options_.batch_rows = std::max<std::int64_t>(options_.batch_rows, 1);
}

RetentionSweeper::~RetentionSweeper() { stop(); }

void RetentionSweeper::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable() || stopping_) {
    return;
  }
  thread_ = std::thread([this] { run(); });
}

void RetentionSweeper::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void RetentionSweeper::refresh_size() {
  if (!options_.db_path.empty()) {
    metrics_->bytes.Set(static_cast<double>(database_bytes(options_.db_path)));
  }
}

void RetentionSweeper::run() {
  refresh_size();
  auto next_sweep = std::chrono::steady_clock::now() + options_.interval;
  std::unique_lock lock(mu_);
  while (!stopping_) {
    const auto wake = std::min(next_sweep, std::chrono::steady_clock::now() + options_.stats_interval);
    cv_.wait_until(lock, wake, [&] { return stopping_; });
    if (stopping_) {
      break;
    }
    lock.unlock();
    if (std::chrono::steady_clock::now() >= next_sweep) {
      sweep_once();
      next_sweep = std::chrono::steady_clock::now() + options_.interval;
    }
    refresh_size();
    lock.lock();
  }
}

std::int64_t RetentionSweeper::drain(const UsageWriter::Task& task, bool until_empty, std::int64_t& batches) {
  std::int64_t total = 0;
  for (std::int64_t i = 0; i < options_.max_batches; ++i) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) {
        break;  // the rest waits for the next start
      }
    }
    std::promise<UsageWriter::Result> promise;
    auto future = promise.get_future();
    if (!writer_.submit_task(task, [&promise](const UsageWriter::Result& r) { promise.set_value(r); })) {
      return -1;  // the writer is full or stopped: try again next time
    }
    const UsageWriter::Result result = future.get();
    if (result.outcome != UsageWriter::Outcome::kDurable) {
      return -1;
    }
    ++batches;
    const auto n = static_cast<std::int64_t>(result.inserted);
    total += n;
    if (until_empty ? n == 0 : n < options_.batch_rows) {
      break;
    }
  }
  return total;
}

RetentionReport RetentionSweeper::sweep_once() {
  const std::int64_t now = options_.now_ms();
  const std::int64_t events_cutoff = now - options_.events_max_age_ms;
  // An hour before the one holding the events cutoff can gain no event
  // (older timestamps are refused), so its session set is no longer needed.
  const std::int64_t sessions_cutoff_hour = hour_of(events_cutoff);
  const std::int64_t rollups_cutoff_hour = hour_of(now - options_.rollups_max_age_ms);
  const std::int64_t rows = options_.batch_rows;
  RetentionReport report;

  const auto events = drain([=](UsageStore& s) { return s.delete_events_before(events_cutoff, rows); }, false,
                            report.batches);
  const auto sessions =
      drain([=](UsageStore& s) { return s.delete_hour_sessions_before(sessions_cutoff_hour, rows); }, false,
            report.batches);
  // Three tables per batch, each bounded by `rows`: a short total does not
  // mean all are done, so these batches go on until one deletes nothing.
  const auto rollups =
      drain([=](UsageStore& s) { return s.delete_rollups_before(rollups_cutoff_hour, rows); }, true,
            report.batches);
  report.ok = events >= 0 && sessions >= 0 && rollups >= 0;
  report.events = std::max<std::int64_t>(events, 0);
  report.hour_sessions = std::max<std::int64_t>(sessions, 0);
  report.rollup_rows = std::max<std::int64_t>(rollups, 0);
  metrics_->events.Increment(static_cast<double>(report.events));
  metrics_->hour_sessions.Increment(static_cast<double>(report.hour_sessions));
  metrics_->rollups.Increment(static_cast<double>(report.rollup_rows));
  (report.ok ? metrics_->success : metrics_->failure).Increment();
  if (!report.ok) {
    log::warn("usage_retention.failed", {{"events_deleted", report.events}});
  } else if (report.events + report.hour_sessions + report.rollup_rows > 0) {
    log::info("usage_retention.swept", {{"events_deleted", report.events},
                                        {"hour_sessions_deleted", report.hour_sessions},
                                        {"batches", report.batches}});
  }
  return report;
}

}  // namespace cocktail::usage

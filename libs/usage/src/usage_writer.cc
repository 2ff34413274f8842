#include "cocktail/usage/usage_writer.h"

#include <prometheus/counter.h>
#include <prometheus/histogram.h>

#include <chrono>
#include <exception>
#include <utility>

#include "cocktail/core/log.h"
#include "cocktail/core/time.h"

namespace cocktail::usage {

namespace log = core::log;

struct UsageWriter::Metrics {
  explicit Metrics(prometheus::Registry& r)
      : errors(prometheus::BuildCounter()
                   .Name("cocktail_usage_write_errors_total")
                   .Help("Write requests that failed or could not be made durable (not acknowledged).")
                   .Register(r)
                   .Add({})),
        seconds(prometheus::BuildHistogram()
                    .Name("cocktail_usage_write_seconds")
                    .Help("From a write request queued to its outcome known (durable or not).")
                    .Register(r)
                    .Add({}, prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                                     0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5})) {}
  prometheus::Counter& errors;
  prometheus::Histogram& seconds;
};

UsageWriter::UsageWriter(const std::string& db_path, prometheus::Registry& registry,
                         UsageWriterOptions options)
    : options_(std::move(options)), metrics_(std::make_unique<Metrics>(registry)) {
  if (!options_.now_ms) {
    options_.now_ms = core::system_now_ms;
  }
  catalog::DatabaseOptions db_options;
  db_options.create_if_missing = false;
  db_options.synchronous = catalog::synchronous_for(options_.mode);
  db_ = catalog::Database::open(db_path, db_options);
  store_ = std::make_unique<UsageStore>(*db_, options_.store);
  savepoints_ = std::make_unique<catalog::Savepoint::Prepared>(*db_);

  catalog::GroupCommitOptions engine;
  engine.mode = options_.mode;
  engine.max_queue = options_.max_queue;
  engine.max_batch = options_.max_batch;
  engine.metric_prefix = "cocktail_usage";
  engine.one_transaction_per_batch = true;
  engine.on_batch_start = [this] {
    batch_delta_.clear();
    batch_hours_.clear();
  };
  engine.before_commit = [this] { store_->apply(batch_delta_, options_.now_ms()); };
  engine.on_durable = [this] {
    if (options_.on_durable && !batch_hours_.empty()) {
      options_.on_durable(batch_hours_);
    }
  };
  engine_ = std::make_unique<catalog::GroupCommit>(*db_, registry, std::move(engine));
}

UsageWriter::~UsageWriter() { stop(); }

void UsageWriter::start() { engine_->start(); }

void UsageWriter::stop() { engine_->stop(); }

std::size_t UsageWriter::queued() const { return engine_->queued(); }

catalog::GroupCommit::Completion UsageWriter::finish(Result result, Done done,
                                                     std::chrono::steady_clock::time_point queued) {
  return [this, result = std::move(result), done = std::move(done), queued](bool durable) mutable {
    if (result.outcome == Outcome::kDurable && !durable) {
      result.outcome = Outcome::kNotDurable;
      result.error = "the write could not be made durable";
    }
    if (result.outcome != Outcome::kDurable) {
      metrics_->errors.Increment();
    }
    metrics_->seconds.Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - queued).count());
    if (done) {
      done(result);
    }
  };
}

bool UsageWriter::submit_events(std::vector<UsageEvent> events, Done done) {
  const auto queued = std::chrono::steady_clock::now();
  return engine_->submit([this, events = std::move(events), done = std::move(done),
                          queued]() mutable -> catalog::GroupCommit::Completion {
    Result result;
    try {
      RollupDelta delta;
      catalog::Savepoint savepoint(*savepoints_);
      result.inserted = store_->insert_events(events, delta);
      const bool own_transaction = engine_->options().mode == catalog::CommitMode::kEach;
      if (own_transaction) {
        store_->apply(delta, options_.now_ms());
      }
      savepoint.release();
      for (const auto& [hour, ignored] : delta.hours()) {
        batch_hours_.insert(hour);
      }
      if (!own_transaction) {
        batch_delta_.merge(delta);
      }
      result.outcome = Outcome::kDurable;  // once the batch is
    } catch (const std::exception& e) {
      result.outcome = Outcome::kFailed;
      result.error = e.what();
      log::error("usage_writer.write_failed", {{"events", events.size()}, {"error", e.what()}});
    }
    return finish(std::move(result), std::move(done), queued);
  });
}

bool UsageWriter::submit_task(Task task, Done done) {
  const auto queued = std::chrono::steady_clock::now();
  return engine_->submit([this, task = std::move(task), done = std::move(done),
                          queued]() mutable -> catalog::GroupCommit::Completion {
    Result result;
    try {
      catalog::Savepoint savepoint(*savepoints_);
      result.inserted = static_cast<std::size_t>(task(*store_));
      savepoint.release();
      result.outcome = Outcome::kDurable;
    } catch (const std::exception& e) {
      result.outcome = Outcome::kFailed;
      result.error = e.what();
      log::error("usage_writer.task_failed", {{"error", e.what()}});
    }
    return finish(std::move(result), std::move(done), queued);
  });
}

}  // namespace cocktail::usage

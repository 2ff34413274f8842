#include "cocktail/usage/usage_writer.h"

#include <prometheus/counter.h>
#include <prometheus/histogram.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <memory>
#include <string>
#include <utility>

#include "cocktail/core/log.h"
#include "cocktail/core/time.h"
#include "cocktail/http/responder.h"

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
  db_->exec("PRAGMA wal_autocheckpoint=" + std::to_string(std::max(options_.wal_autocheckpoint_pages, 1)));
  store_ = std::make_unique<UsageStore>(*db_, options_.store);
  savepoints_ = std::make_unique<catalog::Savepoint::Prepared>(*db_);

  catalog::GroupCommitOptions engine;
  engine.mode = options_.mode;
  engine.max_queue = options_.max_queue;
  engine.max_batch = options_.max_batch;
  engine.metric_prefix = "cocktail_usage";
  engine.one_transaction_per_batch = true;
  engine.max_wait = std::max(options_.max_wait, std::chrono::milliseconds(1));
  engine.on_batch_start = [this] {
    batch_delta_.clear();
    batch_hours_.clear();
  };
  engine.before_commit = [this] { store_->apply(batch_delta_, options_.now_ms()); };
  // The requests of a batch are answered together: one hand-over to each
  // HTTP I/O thread per batch instead of one per request.
  engine.run_completions = [](const std::function<void()>& complete) {
    http::SendBatch answers;
    complete();
  };
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

catalog::GroupCommit::Completion UsageWriter::finish(Result result, std::shared_ptr<const Done> done,
                                                     std::chrono::steady_clock::time_point queued) {
  return [this, result = std::move(result), done = std::move(done), queued](bool durable) mutable {
    if (result.outcome == Outcome::kDurable && !durable) {
      result.outcome = Outcome::kNotDurable;
      result.error = "the write could not be made durable";
    }
    if (result.outcome == Outcome::kFailed || result.outcome == Outcome::kNotDurable) {
      metrics_->errors.Increment();
    }
    metrics_->seconds.Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - queued).count());
    if (*done) {
      (*done)(result);
    }
  };
}

catalog::GroupCommit::NotRun UsageWriter::not_run(std::shared_ptr<const Done> done) {
  return [done = std::move(done)](std::chrono::milliseconds waited) {
    Result result;
    result.outcome = Outcome::kNotRun;
    result.waited = waited;
    result.error = "the write waited " + std::to_string(waited.count()) + " ms and was not made";
    if (*done) {
      (*done)(result);
    }
  };
}

template <typename Work>
UsageWriter::Result UsageWriter::run_isolated(Work&& work, const char* failure_event) {
  Result result;
  if (!engine_->isolating()) {
    // A batch's first pass: a failure escapes, and the engine runs the
    // batch again with every request in its own savepoint.
    result.inserted = work();
    result.outcome = Outcome::kDurable;  // once the batch is
    return result;
  }
  try {
    catalog::Savepoint savepoint(*savepoints_);
    result.inserted = work();
    savepoint.release();
    result.outcome = Outcome::kDurable;  // once the batch is
  } catch (const catalog::DatabaseError& e) {
    // In kEach mode the savepoint is the request's own transaction: its
    // first write waits for the lock only until the request's deadline
    // (GroupCommit's bound), then gives up having written nothing.
    const bool busy = e.kind() == catalog::DatabaseError::Kind::kBusy;
    result.outcome = busy ? Outcome::kNotRun : Outcome::kFailed;
    result.error = e.what();
    if (busy) {
      log::warn("usage_writer.busy", {{"error", e.what()}});
    } else {
      log::error(failure_event, {{"error", e.what()}});
    }
  } catch (const std::exception& e) {
    result.outcome = Outcome::kFailed;
    result.error = e.what();
    log::error(failure_event, {{"error", e.what()}});
  }
  return result;
}

// A request's job may run twice (a batch's first pass rolled back, see
// GroupCommit's "Transactions"): it keeps what it needs, and `done` is shared
// by the job's completion and the not_run callback, exactly one of which is
// called.
bool UsageWriter::submit_events(std::vector<UsageEvent> events, Done done) {
  const auto queued = std::chrono::steady_clock::now();
  auto shared_done = std::make_shared<const Done>(std::move(done));
  auto refused = not_run(shared_done);
  return engine_->submit(
      [this, events = std::move(events), shared_done = std::move(shared_done),
       queued]() -> catalog::GroupCommit::Completion {
        const bool own_transaction = engine_->options().mode == catalog::CommitMode::kEach;
        RollupDelta delta;
        Result result = run_isolated(
            [&] {
              const std::size_t added = store_->insert_events(events, delta);
              if (own_transaction) {
                store_->apply(delta, options_.now_ms());
              }
              return added;
            },
            "usage_writer.write_failed");
        if (result.outcome == Outcome::kDurable) {
          for (const auto& [hour, ignored] : delta.hours()) {
            batch_hours_.insert(hour);
          }
          if (!own_transaction) {
            batch_delta_.merge(delta);
          }
        }
        return finish(std::move(result), shared_done, queued);
      },
      std::move(refused));
}

bool UsageWriter::submit_task(Task task, Done done) {
  const auto queued = std::chrono::steady_clock::now();
  auto shared_done = std::make_shared<const Done>(std::move(done));
  auto refused = not_run(shared_done);
  return engine_->submit(
      [this, task = std::move(task), shared_done = std::move(shared_done),
       queued]() -> catalog::GroupCommit::Completion {
        Result result =
            run_isolated([&] { return static_cast<std::size_t>(task(*store_)); }, "usage_writer.task_failed");
        return finish(std::move(result), shared_done, queued);
      },
      std::move(refused));
}

}  // namespace cocktail::usage

#include "cocktail/catalog/group_commit.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include <chrono>
#include <exception>
#include <optional>
#include <utility>

#include "cocktail/core/log.h"

namespace cocktail::catalog {

namespace log = core::log;

Synchronous synchronous_for(CommitMode mode) {
  return mode == CommitMode::kGroup ? Synchronous::kNormal : Synchronous::kFull;
}

struct GroupCommit::Metrics {
  Metrics(prometheus::Registry& r, const std::string& prefix)
      : queue(prometheus::BuildGauge()
                  .Name(prefix + "_writer_queue")
                  .Help("Write jobs waiting for the writer thread.")
                  .Register(r)
                  .Add({})),
        batch_size(
            prometheus::BuildHistogram()
                .Name(prefix + "_write_batch_size")
                .Help("Write jobs made durable by one sync (group commit).")
                .Register(r)
                .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64, 128, 256, 512})),
        sync_seconds(
            prometheus::BuildHistogram()
                .Name(prefix + "_write_sync_seconds")
                .Help("Time to make a batch of commits durable.")
                .Register(r)
                .Add({}, prometheus::Histogram::BucketBoundaries{0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                                                 0.005, 0.01, 0.025, 0.05, 0.1, 0.5})),
        sync_failures(prometheus::BuildCounter()
                          .Name(prefix + "_write_sync_failures_total")
                          .Help("Batches whose durability sync failed (their writes were not acknowledged).")
                          .Register(r)
                          .Add({})) {}

  prometheus::Gauge& queue;
  prometheus::Histogram& batch_size;
  prometheus::Histogram& sync_seconds;
  prometheus::Counter& sync_failures;
};

GroupCommit::GroupCommit(Database& db, prometheus::Registry& registry, GroupCommitOptions options)
    : db_(db), options_(std::move(options)) {
  if (options_.max_batch == 0) {
    options_.max_batch = 1;
  }
  if (options_.mode == CommitMode::kEach) {
    options_.one_transaction_per_batch = false;
  }
  metrics_ = std::make_unique<Metrics>(registry, options_.metric_prefix);
}

GroupCommit::~GroupCommit() { stop(); }

void GroupCommit::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable() || stopping_) {
    return;
  }
  thread_ = std::thread([this] { run(); });
}

bool GroupCommit::submit(Job job) {
  bool was_empty = false;
  {
    std::lock_guard lock(mu_);
    if (stopping_ || queue_.size() >= options_.max_queue) {
      return false;
    }
    was_empty = queue_.empty();
    queue_.push_back(std::move(job));
    metrics_->queue.Set(static_cast<double>(queue_.size()));
  }
  // The writer only waits on an empty queue: a job joining others needs no
  // wake-up (a system call per request under load).
  if (was_empty) {
    cv_.notify_one();
  }
  return true;
}

void GroupCommit::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) {
    thread_.join();
  }
}

std::size_t GroupCommit::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

void GroupCommit::run() {
  std::deque<Job> batch;
  std::deque<Completion> completions;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) {
        return;  // stopping, and everything queued was run
      }
      while (!queue_.empty() && batch.size() < options_.max_batch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      metrics_->queue.Set(static_cast<double>(queue_.size()));
    }
    const std::size_t jobs = batch.size();
    if (options_.on_batch_start) {
      options_.on_batch_start();
    }
    const bool committed = run_batch(batch, completions);
    const bool durable = committed && (options_.mode == CommitMode::kEach || sync());
    if (durable && options_.on_durable) {
      options_.on_durable();
    }
    metrics_->batch_size.Observe(static_cast<double>(jobs));
    for (auto& done : completions) {
      try {
        done(durable);
      } catch (const std::exception& e) {
        log::error("group_commit.completion_failed",
                   {{"writer", options_.metric_prefix}, {"error", e.what()}});
      }
    }
    batch.clear();
    completions.clear();
  }
}

bool GroupCommit::run_batch(std::deque<Job>& batch, std::deque<Completion>& completions) {
  std::optional<Transaction> transaction;
  try {
    if (options_.one_transaction_per_batch) {
      transaction.emplace(db_, Transaction::Kind::kWrite);
    }
  } catch (const std::exception& e) {
    // Nothing ran: the jobs are dropped, and their completions (never made)
    // leave the answers to the HTTP layer's safety net.
    log::error("group_commit.begin_failed", {{"writer", options_.metric_prefix}, {"error", e.what()}});
    return false;
  }
  bool job_threw = false;
  for (auto& job : batch) {
    try {
      if (auto done = job()) {
        completions.push_back(std::move(done));
      }
    } catch (const std::exception& e) {
      job_threw = true;
      log::error("group_commit.job_failed", {{"writer", options_.metric_prefix}, {"error", e.what()}});
    }
  }
  if (!transaction) {
    return true;  // each job committed (or not) by itself
  }
  if (job_threw) {
    return false;  // the transaction rolls back as it goes out of scope
  }
  try {
    if (options_.before_commit) {
      options_.before_commit();
    }
    transaction->commit();
    return true;
  } catch (const std::exception& e) {
    log::error("group_commit.commit_failed", {{"writer", options_.metric_prefix}, {"error", e.what()}});
    return false;
  }
}

// Database::sync_commits() makes every commit of the writer's connection
// since the last sync durable at once (on SQLite one sync of the WAL file,
// the call a synchronous=FULL commit makes; see database.h). Called between
// transactions, on the thread owning the connection.
bool GroupCommit::sync() {
  const auto start = std::chrono::steady_clock::now();
  std::string error;
  const bool ok = db_.sync_commits(error);
  metrics_->sync_seconds.Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  if (!ok) {
    metrics_->sync_failures.Increment();
    log::error("group_commit.sync_failed", {{"writer", options_.metric_prefix}, {"error", error}});
  }
  return ok;
}

}  // namespace cocktail::catalog

#include "cocktail/catalog/group_commit.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <optional>
#include <utility>
#include <vector>

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
                          .Add({})),
        wait_seconds(prometheus::BuildHistogram()
                         .Name(prefix + "_write_wait_seconds")
                         .Help("Time a write waited for the writer thread before it started.")
                         .Register(r)
                         .Add({}, prometheus::Histogram::BucketBoundaries{0.0001, 0.001, 0.005, 0.01, 0.05,
                                                                          0.1, 0.5, 1, 2.5, 5, 10})),
        expired(prometheus::BuildCounter()
                    .Name(prefix + "_writes_expired_total")
                    .Help("Writes refused unrun: they waited past the write wait bound, or their batch's "
                          "transaction could not begin.")
                    .Register(r)
                    .Add({})) {}

  prometheus::Gauge& queue;
  prometheus::Histogram& batch_size;
  prometheus::Histogram& sync_seconds;
  prometheus::Counter& sync_failures;
  prometheus::Histogram& wait_seconds;
  prometheus::Counter& expired;
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
  if (options_.max_wait.count() > 0) {
    reaper_ = std::thread([this] { reap(); });
  }
}

bool GroupCommit::submit(Job job, NotRun not_run) {
  auto pending = std::make_shared<Pending>();
  pending->job = std::move(job);
  pending->not_run = std::move(not_run);
  pending->submitted = std::chrono::steady_clock::now();
  if (options_.max_wait.count() > 0) {
    pending->deadline = pending->submitted + options_.max_wait;
  }
  bool was_empty = false;
  {
    std::lock_guard lock(mu_);
    if (stopping_ || queue_.size() >= options_.max_queue) {
      return false;
    }
    was_empty = queue_.empty();
    queue_.push_back(std::move(pending));
    metrics_->queue.Set(static_cast<double>(queue_.size()));
  }
  // The writer (and the reaper) only wait on an empty queue: a job joining
  // others needs no wake-up (a system call per request under load).
  if (was_empty) {
    cv_.notify_one();
    reaper_cv_.notify_one();
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
  {
    std::lock_guard lock(mu_);
    writer_done_ = true;
  }
  reaper_cv_.notify_one();
  if (reaper_.joinable()) {
    reaper_.join();
  }
}

std::size_t GroupCommit::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

bool GroupCommit::claim(Pending& pending) {
  int waiting = Pending::kWaiting;
  return pending.state.compare_exchange_strong(waiting, Pending::kStarted);
}

bool GroupCommit::refuse(Pending& pending) {
  int waiting = Pending::kWaiting;
  if (!pending.state.compare_exchange_strong(waiting, Pending::kNotRun)) {
    return false;
  }
  tell_not_run(pending);
  return true;
}

void GroupCommit::tell_not_run(Pending& pending) {
  metrics_->expired.Increment();
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                            pending.submitted);
  if (pending.not_run) {
    try {
      pending.not_run(waited);
    } catch (const std::exception& e) {
      log::error("group_commit.not_run_failed", {{"writer", options_.metric_prefix}, {"error", e.what()}});
    }
  }
  pending.job = nullptr;  // release what it captured (the request) now
}

// The reaper refuses jobs whose deadline passed while they waited, whatever
// the writer thread is doing (a long bulk import, a wait for a lock held by
// another process). It only ever takes jobs still waiting; the writer claims
// a job before running it, so a job is either run or refused, never both.
void GroupCommit::reap() {
  std::unique_lock lock(mu_);
  while (!writer_done_) {
    const auto now = std::chrono::steady_clock::now();
    std::vector<PendingPtr> due;
    std::optional<std::chrono::steady_clock::time_point> next;
    auto consider = [&](const PendingPtr& p) {
      if (p->state.load() != Pending::kWaiting || !p->deadline) {
        return;
      }
      if (*p->deadline <= now) {
        due.push_back(p);
      } else if (!next || *p->deadline < *next) {
        next = p->deadline;
      }
    };
    for (const auto& p : batch_) {
      consider(p);
    }
    // Deadlines grow along the queue (one max_wait for all): stop at the
    // first one still in the future.
    for (const auto& p : queue_) {
      consider(p);
      if (next && p->deadline >= next) {
        break;
      }
    }
    if (!due.empty()) {
      lock.unlock();
      for (const auto& p : due) {
        refuse(*p);
      }
      lock.lock();
      std::erase_if(queue_, [](const PendingPtr& p) { return p->state.load() == Pending::kNotRun; });
      metrics_->queue.Set(static_cast<double>(queue_.size()));
      continue;
    }
    if (next) {
      reaper_cv_.wait_until(lock, *next);
    } else {
      reaper_cv_.wait(lock);
    }
  }
}

void GroupCommit::run() {
  std::deque<Completion> completions;
  for (;;) {
    std::size_t jobs = 0;
    {
      std::unique_lock lock(mu_);
      batch_.clear();
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) {
        return;  // stopping, and everything queued was run or refused
      }
      while (!queue_.empty() && batch_.size() < options_.max_batch) {
        batch_.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      metrics_->queue.Set(static_cast<double>(queue_.size()));
      jobs = batch_.size();
    }
    if (options_.on_batch_start) {
      options_.on_batch_start();
    }
    const bool committed = run_batch(jobs, completions);
    const bool durable = committed && (options_.mode == CommitMode::kEach || sync());
    if (durable && options_.on_durable) {
      options_.on_durable();
    }
    metrics_->batch_size.Observe(static_cast<double>(jobs));
    const std::function<void()> complete = [&] {
      for (auto& done : completions) {
        try {
          done(durable);
        } catch (const std::exception& e) {
          log::error("group_commit.completion_failed",
                     {{"writer", options_.metric_prefix}, {"error", e.what()}});
        }
      }
    };
    if (options_.run_completions) {
      options_.run_completions(complete);
    } else {
      complete();
    }
    completions.clear();
  }
}

bool GroupCommit::run_batch(std::size_t jobs, std::deque<Completion>& completions) {
  // The batch is read under the lock only: the reaper looks at it too.
  auto job_at = [this](std::size_t i) {
    std::lock_guard lock(mu_);
    return batch_[i];
  };
  // A job whose deadline passed before it started is refused here if the
  // reaper has not come round to it yet; the others are claimed for running.
  auto take = [this](Pending& p) {
    if (p.deadline && std::chrono::steady_clock::now() >= *p.deadline) {
      refuse(p);
      return false;
    }
    if (!claim(p)) {
      return false;  // refused by the reaper meanwhile
    }
    metrics_->wait_seconds.Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - p.submitted).count());
    return true;
  };
  // The lock another process holds is waited for until the job's own
  // deadline (or the batch's earliest), not a full busy timeout more.
  auto bound_lock_wait = [this](std::optional<std::chrono::steady_clock::time_point> deadline) noexcept {
    if (options_.max_wait.count() == 0) {
      return;
    }
    try {
      db_.set_lock_deadline(deadline);
    } catch (const std::exception& e) {
      // (A lost PostgreSQL connection: the job's own statements will say so.)
      log::warn("group_commit.lock_deadline_failed",
                {{"writer", options_.metric_prefix}, {"error", e.what()}});
    }
  };

  if (!options_.one_transaction_per_batch) {
    for (std::size_t i = 0; i < jobs; ++i) {
      const PendingPtr p = job_at(i);
      if (!take(*p)) {
        continue;
      }
      bound_lock_wait(p->deadline);
      try {
        if (auto done = p->job()) {
          completions.push_back(std::move(done));
        }
      } catch (const std::exception& e) {
        log::error("group_commit.job_failed", {{"writer", options_.metric_prefix}, {"error", e.what()}});
      }
      bound_lock_wait(std::nullopt);
      p->job = nullptr;
    }
    return true;  // each job committed (or not) by itself
  }

  std::vector<PendingPtr> taken;
  std::optional<std::chrono::steady_clock::time_point> earliest;
  for (std::size_t i = 0; i < jobs; ++i) {
    const PendingPtr p = job_at(i);
    if (!take(*p)) {
      continue;
    }
    if (p->deadline && (!earliest || *p->deadline < *earliest)) {
      earliest = p->deadline;
    }
    taken.push_back(p);
  }
  if (taken.empty()) {
    return true;
  }
  bound_lock_wait(earliest);
  // The setting goes back once the transaction ended (committed or rolled
  // back), not inside it: `transaction` is declared after this, so it ends
  // first.
  struct RestoreLockWait {
    std::function<void()> restore;
    ~RestoreLockWait() { restore(); }
  } restore{[&] { bound_lock_wait(std::nullopt); }};
  std::optional<Transaction> transaction;
  struct ClearIsolating {
    bool& isolating;
    ~ClearIsolating() { isolating = false; }
  } clear_isolating{isolating_};
  auto begin = [&] {
    try {
      transaction.emplace(db_, Transaction::Kind::kWrite);
      return true;
    } catch (const std::exception& e) {
      // Nothing ran (or what ran was rolled back): every job of the batch is told so.
      log::error("group_commit.begin_failed", {{"writer", options_.metric_prefix}, {"error", e.what()}});
      completions.clear();
      for (const auto& p : taken) {
        p->state.store(Pending::kNotRun);
        tell_not_run(*p);
      }
      return false;
    }
  };
  // Runs the jobs; false when one threw. Without isolation the first failure
  // ends the pass (the batch is run again); isolated, the others still run.
  auto run_jobs = [&] {
    bool threw = false;
    for (const auto& p : taken) {
      try {
        if (auto done = p->job()) {
          completions.push_back(std::move(done));
        }
      } catch (const std::exception& e) {
        threw = true;
        log::error("group_commit.job_failed",
                   {{"writer", options_.metric_prefix}, {"isolated", isolating_}, {"error", e.what()}});
        if (!isolating_) {
          break;
        }
      }
    }
    return !threw;
  };

  if (!begin()) {
    return false;
  }
  isolating_ = false;
  if (!run_jobs()) {
    // Undo the whole pass and run the batch again, each job isolating itself.
    transaction.reset();
    completions.clear();
    if (options_.on_batch_start) {
      options_.on_batch_start();
    }
    isolating_ = true;
    if (!begin()) {
      return false;
    }
    if (!run_jobs()) {
      return false;  // the transaction rolls back as it goes out of scope
    }
  }
  for (const auto& p : taken) {
    p->job = nullptr;
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

bool GroupCommit::isolating() const { return isolating_ || !options_.one_transaction_per_batch; }

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

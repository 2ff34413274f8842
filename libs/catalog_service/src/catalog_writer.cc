#include "cocktail/catalog_service/catalog_writer.h"

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

namespace cocktail::catalog_service {

namespace log = core::log;

struct CatalogWriter::Metrics {
  explicit Metrics(prometheus::Registry& r)
      : queue(prometheus::BuildGauge()
                  .Name("cocktail_catalog_writer_queue")
                  .Help("Write jobs waiting for the catalog writer thread.")
                  .Register(r)
                  .Add({})),
        batch_size(
            prometheus::BuildHistogram()
                .Name("cocktail_catalog_write_batch_size")
                .Help("Write jobs made durable by one sync (group commit).")
                .Register(r)
                .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64, 128, 256, 512})),
        sync_seconds(
            prometheus::BuildHistogram()
                .Name("cocktail_catalog_write_sync_seconds")
                .Help("Time to make a batch of commits durable.")
                .Register(r)
                .Add({}, prometheus::Histogram::BucketBoundaries{0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                                                 0.005, 0.01, 0.025, 0.05, 0.1, 0.5})),
        sync_failures(prometheus::BuildCounter()
                          .Name("cocktail_catalog_write_sync_failures_total")
                          .Help("Batches whose durability sync failed (their writes were not acknowledged).")
                          .Register(r)
                          .Add({})),
        wait_seconds(prometheus::BuildHistogram()
                         .Name("cocktail_catalog_write_wait_seconds")
                         .Help("Time a write waited for the writer thread before it started.")
                         .Register(r)
                         .Add({}, prometheus::Histogram::BucketBoundaries{0.0001, 0.001, 0.005, 0.01, 0.05,
                                                                          0.1, 0.5, 1, 2.5, 5, 10})),
        expired(prometheus::BuildCounter()
                    .Name("cocktail_catalog_writes_expired_total")
                    .Help("Writes refused unrun because they waited past the write wait bound.")
                    .Register(r)
                    .Add({})) {}

  prometheus::Gauge& queue;
  prometheus::Histogram& batch_size;
  prometheus::Histogram& sync_seconds;
  prometheus::Counter& sync_failures;
  prometheus::Histogram& wait_seconds;
  prometheus::Counter& expired;
};

CatalogWriter::CatalogWriter(const std::string& db_path, prometheus::Registry& registry,
                             CatalogWriterOptions options)
    : options_(std::move(options)), metrics_(std::make_unique<Metrics>(registry)) {
  if (options_.max_batch == 0) {
    options_.max_batch = 1;
  }
  options_.max_wait = std::max(options_.max_wait, std::chrono::milliseconds(1));
  catalog::DatabaseOptions db_options;
  db_options.create_if_missing = false;
  db_options.synchronous =
      options_.mode == CommitMode::kGroup ? catalog::Synchronous::kNormal : catalog::Synchronous::kFull;
  db_ = catalog::Database::open(db_path, db_options);
  repository_ = std::make_unique<catalog::Repository>(*db_);
  change_log_ = std::make_unique<catalog::ChangeLog>(*db_);
}

CatalogWriter::~CatalogWriter() { stop(); }

void CatalogWriter::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable() || stopping_) {
    return;
  }
  thread_ = std::thread([this] { run(); });
  reaper_ = std::thread([this] { reap(); });
}

bool CatalogWriter::submit(Job job, Expired on_expired) {
  auto pending = std::make_shared<Pending>();
  pending->job = std::move(job);
  pending->on_expired = std::move(on_expired);
  pending->submitted = std::chrono::steady_clock::now();
  pending->deadline = pending->submitted + options_.max_wait;
  {
    std::lock_guard lock(mu_);
    if (stopping_ || queue_.size() >= options_.max_queue) {
      return false;
    }
    queue_.push_back(std::move(pending));
    metrics_->queue.Set(static_cast<double>(queue_.size()));
  }
  cv_.notify_one();
  reaper_cv_.notify_one();
  return true;
}

bool CatalogWriter::submit_change_log_task(std::function<void(catalog::ChangeLog&)> task) {
  // Bookkeeping that did not run in time is simply done at its next turn.
  return submit([this, task = std::move(task)](catalog::Repository&) -> Completion {
    task(*change_log_);
    return nullptr;
  });
}

void CatalogWriter::stop() {
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

std::size_t CatalogWriter::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

bool CatalogWriter::expire(Pending& pending) {
  int waiting = Pending::kWaiting;
  if (!pending.state.compare_exchange_strong(waiting, Pending::kExpired)) {
    return false;
  }
  metrics_->expired.Increment();
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                            pending.submitted);
  if (pending.on_expired) {
    try {
      pending.on_expired(waited);
    } catch (const std::exception& e) {
      log::error("catalog_writer.expiry_failed", {{"error", e.what()}});
    }
  }
  pending.job = nullptr;  // release what it captured (the request) now
  return true;
}

// The reaper answers jobs whose deadline passed while they waited, whatever
// the writer thread is doing (a long bulk import, a wait for a lock held by
// another process). It only ever takes jobs still waiting; the writer marks
// a job started before running it, so a job is either run or expired.
void CatalogWriter::reap() {
  std::unique_lock lock(mu_);
  while (!writer_done_) {
    const auto now = std::chrono::steady_clock::now();
    std::vector<std::shared_ptr<Pending>> due;
    std::optional<std::chrono::steady_clock::time_point> next;
    auto consider = [&](const std::shared_ptr<Pending>& p) {
      if (p->state.load() != Pending::kWaiting) return;
      if (p->deadline <= now) {
        due.push_back(p);
      } else if (!next || p->deadline < *next) {
        next = p->deadline;
      }
    };
    for (const auto& p : batch_) consider(p);
    // Deadlines grow along the queue (one max_wait for all): stop at the
    // first one still in the future.
    for (const auto& p : queue_) {
      consider(p);
      if (next && p->deadline >= *next) break;
    }
    if (!due.empty()) {
      lock.unlock();
      for (const auto& p : due) expire(*p);
      lock.lock();
      std::erase_if(queue_, [](const auto& p) { return p->state.load() == Pending::kExpired; });
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

void CatalogWriter::run() {
  std::vector<Completion> completions;
  std::size_t taken = 0;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      batch_.clear();
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) {
        return;  // stopping, and everything queued was run or expired
      }
      while (!queue_.empty() && batch_.size() < options_.max_batch) {
        batch_.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      metrics_->queue.Set(static_cast<double>(queue_.size()));
      taken = batch_.size();
    }

    std::size_t ran = 0;
    for (std::size_t i = 0; i < taken; ++i) {
      std::shared_ptr<Pending> pending;
      {
        std::lock_guard lock(mu_);
        pending = batch_[i];
      }
      const auto now = std::chrono::steady_clock::now();
      if (now >= pending->deadline) {
        expire(*pending);  // the reaper may not have come round to it yet
        continue;
      }
      int waiting = Pending::kWaiting;
      if (!pending->state.compare_exchange_strong(waiting, Pending::kStarted)) {
        continue;  // expired by the reaper
      }
      metrics_->wait_seconds.Observe(std::chrono::duration<double>(now - pending->submitted).count());
      ++ran;
      // A lock held by another process is waited for until this job's own
      // deadline, not a full busy timeout more.
      db_->set_lock_deadline(pending->deadline);
      try {
        if (auto done = pending->job(*repository_)) {
          completions.push_back(std::move(done));
        }
      } catch (const std::exception& e) {
        log::error("catalog_writer.job_failed", {{"error", e.what()}});
      }
      db_->set_lock_deadline(std::nullopt);
      pending->job = nullptr;
    }
    bool durable = options_.mode == CommitMode::kEach || sync();
    if (durable && options_.on_durable) {
      options_.on_durable();
    }
    if (ran > 0) {
      metrics_->batch_size.Observe(static_cast<double>(ran));
    }
    for (auto& done : completions) {
      try {
        done(durable);
      } catch (const std::exception& e) {
        log::error("catalog_writer.completion_failed", {{"error", e.what()}});
      }
    }
    completions.clear();
  }
}

// Database::sync_commits() makes every commit of the writer's connection
// since the last sync durable at once (see database.h). Called between
// transactions, on the thread owning the connection.
bool CatalogWriter::sync() {
  const auto start = std::chrono::steady_clock::now();
  std::string error;
  const bool ok = db_->sync_commits(error);
  metrics_->sync_seconds.Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  if (!ok) {
    metrics_->sync_failures.Increment();
    log::error("catalog_writer.sync_failed", {{"error", error}});
  }
  return ok;
}

}  // namespace cocktail::catalog_service

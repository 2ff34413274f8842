#include "cocktail/catalog_service/catalog_writer.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include <chrono>
#include <exception>
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
                          .Add({})) {}

  prometheus::Gauge& queue;
  prometheus::Histogram& batch_size;
  prometheus::Histogram& sync_seconds;
  prometheus::Counter& sync_failures;
};

CatalogWriter::CatalogWriter(const std::string& db_path, prometheus::Registry& registry,
                             CatalogWriterOptions options)
    : options_(std::move(options)), metrics_(std::make_unique<Metrics>(registry)) {
  if (options_.max_batch == 0) {
    options_.max_batch = 1;
  }
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
}

bool CatalogWriter::submit(Job job) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || queue_.size() >= options_.max_queue) {
      return false;
    }
    queue_.push_back(std::move(job));
    metrics_->queue.Set(static_cast<double>(queue_.size()));
  }
  cv_.notify_one();
  return true;
}

bool CatalogWriter::submit_change_log_task(std::function<void(catalog::ChangeLog&)> task) {
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
}

std::size_t CatalogWriter::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

void CatalogWriter::run() {
  std::vector<Job> batch;
  std::vector<Completion> completions;
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

    for (auto& job : batch) {
      try {
        if (auto done = job(*repository_)) {
          completions.push_back(std::move(done));
        }
      } catch (const std::exception& e) {
        log::error("catalog_writer.job_failed", {{"error", e.what()}});
      }
    }
    bool durable = options_.mode == CommitMode::kEach || sync();
    if (durable && options_.on_durable) {
      options_.on_durable();
    }
    metrics_->batch_size.Observe(static_cast<double>(batch.size()));
    for (auto& done : completions) {
      try {
        done(durable);
      } catch (const std::exception& e) {
        log::error("catalog_writer.completion_failed", {{"error", e.what()}});
      }
    }
    batch.clear();
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

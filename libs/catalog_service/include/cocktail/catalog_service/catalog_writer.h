// CatalogWriter: the one thread that writes the catalog, with group commit.
//
// SQLite admits one writer at a time, and writers that contend for the lock
// wait in its busy handler (sleeps of milliseconds). So every write of the
// service goes through this single thread and its own connection: jobs are
// queued, and the thread runs them one after another, each in its own
// transaction (Repository's), so that each request keeps its own outcome.
//
// Group commit: what makes a commit expensive is the fsync that makes it
// durable (about 0.5 ms here, so at most ~2,000 commits/s one by one). In
// kGroup mode the connection runs with synchronous=NORMAL, so a commit only
// writes the WAL (it already survives a crash of the process), and after the
// batch of jobs that were waiting has run, one sync of the WAL file makes
// all of them durable at once (what synchronous=FULL does per commit). Only
// then do the jobs' completions run (the HTTP answers), and then on_durable
// (which wakes the outbox publisher). An acknowledged write is therefore as
// durable as with FULL, and the cost of the sync is shared by every request
// that arrived while the previous batch was being written. kEach mode (FULL,
// one sync per commit) is kept as the baseline for benchmarks.
//
// A job runs on the writer thread with the writer's Repository and returns
// a completion, called with `durable` = false when the sync failed (the
// commit may be lost on power failure: the caller must not acknowledge it).
// A job must catch what it can handle; an exception escaping it is logged and
// its completion is lost (the HTTP layer then answers 500 for it).
//
// Metrics: cocktail_catalog_writer_queue (jobs waiting),
// cocktail_catalog_write_batch_size (jobs per sync, histogram),
// cocktail_catalog_write_sync_seconds (histogram),
// cocktail_catalog_write_sync_failures_total.
//
// Ownership: owns its connection and thread; borrows the registry.
// Thread-safety: submit() from any thread; start()/stop() from the owner.
#pragma once

#include <prometheus/registry.h>

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "cocktail/catalog/change_log.h"
#include "cocktail/catalog/database.h"
#include "cocktail/catalog/repository.h"

namespace cocktail::catalog_service {

enum class CommitMode {
  kGroup,  // synchronous=NORMAL + one WAL sync per batch (default)
  kEach,   // synchronous=FULL: every commit syncs by itself
};

struct CatalogWriterOptions {
  CommitMode mode = CommitMode::kGroup;
  // Jobs that may wait; beyond, submit() refuses (the caller answers 503).
  std::size_t max_queue = 10000;
  // Jobs run between two syncs at most; bounds the latency a batch adds.
  std::size_t max_batch = 512;
  // Called after each batch once its writes are durable (and before the
  // completions), on the writer thread. Must not block.
  std::function<void()> on_durable;
};

class CatalogWriter {
 public:
  using Completion = std::function<void(bool durable)>;
  using Job = std::function<Completion(catalog::Repository& repository)>;

  // Opens the writer's connection to a migrated catalog. Throws
  // catalog::DatabaseError when the file cannot be opened.
  CatalogWriter(const std::string& db_path, prometheus::Registry& registry,
                CatalogWriterOptions options = {});
  ~CatalogWriter();  // stop()
  CatalogWriter(const CatalogWriter&) = delete;
  CatalogWriter& operator=(const CatalogWriter&) = delete;

  void start();
  // Queues a job; false when the queue is full or the writer stopped.
  bool submit(Job job);
  // Queues a write to change_log's bookkeeping (the publication cursor,
  // pruning) on the writer's connection, answered by no one: the outbox
  // publisher's writes, so that they never wait for the write lock.
  bool submit_change_log_task(std::function<void(catalog::ChangeLog&)> task);
  // Runs what is queued, then joins. Idempotent.
  void stop();

  std::size_t queued() const;

 private:
  struct Metrics;
  void run();
  // Makes every commit so far durable; false on failure (logged).
  bool sync();

  CatalogWriterOptions options_;
  std::unique_ptr<catalog::Database> db_;
  std::unique_ptr<catalog::Repository> repository_;
  std::unique_ptr<catalog::ChangeLog> change_log_;
  std::unique_ptr<Metrics> metrics_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace cocktail::catalog_service

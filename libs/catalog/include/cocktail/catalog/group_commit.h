// GroupCommit: the one thread that writes a SQLite file, with group commit.
//
// SQLite admits one writer at a time, and writers that contend for the lock
// wait in its busy handler (sleeps of milliseconds). So every write of a
// service goes through one thread and one connection: jobs are queued, and
// the thread runs them one after another.
//
// Group commit: what makes a commit expensive is the fsync that makes it
// durable (about 0.5 ms here, so at most ~2,000 commits/s one by one). In
// kGroup mode the connection runs with synchronous=NORMAL, so a commit only
// writes the WAL (it already survives a crash of the process), and after the
// batch of jobs that were waiting has run, one sync of the WAL file makes
// all of them durable at once (what synchronous=FULL does per commit). Only
// then do the jobs' completions run (the HTTP answers), and then on_durable.
// An acknowledged write is therefore as durable as with FULL, and the cost of
// the sync is shared by every job that arrived while the previous batch was
// being written. kEach mode (FULL, one sync per commit) is kept as the
// baseline for benchmarks.
//
// Transactions: by default each job opens and commits its own (catalog-api's
// Repository does), so each request keeps its own outcome. With
// one_transaction_per_batch (kGroup only) the engine runs the whole batch in
// one BEGIN IMMEDIATE ... COMMIT, calling before_commit last: every page a
// batch touches is written to the WAL once instead of once per job (what
// usage-api needs for tens of thousands of small events a second). Such a
// job isolates itself with a Savepoint (savepoint.h), which is its own
// transaction in kEach mode and nests in the batch's otherwise. A job that
// throws in that mode takes the whole batch down with it (rolled back, every
// completion called with durable = false): the engine cannot tell what it
// left behind.
//
// A job runs on the writer thread and returns a completion (or nullptr),
// called with `durable` = false when the batch could not be made durable
// (the commit may be lost: the caller must not acknowledge it). A job must
// catch what it can handle; an exception escaping it is logged and its
// completion is lost (the HTTP layer then answers 500 for it).
//
// Metrics, named after options.metric_prefix (e.g. "cocktail_catalog"):
// <prefix>_writer_queue (jobs waiting), <prefix>_write_batch_size (jobs per
// sync, histogram), <prefix>_write_sync_seconds (histogram),
// <prefix>_write_sync_failures_total.
//
// Ownership: borrows the connection (which must outlive it and be used by no
// other thread while it runs) and the registry; owns its thread.
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

#include "cocktail/catalog/database.h"

namespace cocktail::catalog {

enum class CommitMode {
  kGroup,  // synchronous=NORMAL + one WAL sync per batch (default)
  kEach,   // synchronous=FULL: every commit syncs by itself
};

// The synchronous level a connection written through GroupCommit needs.
Synchronous synchronous_for(CommitMode mode);

struct GroupCommitOptions {
  CommitMode mode = CommitMode::kGroup;
  // Jobs that may wait; beyond, submit() refuses (the caller answers 503).
  std::size_t max_queue = 10000;
  // Jobs run between two syncs at most; bounds the latency a batch adds.
  std::size_t max_batch = 512;
  // Metric names start with it ("cocktail_catalog", "cocktail_usage").
  std::string metric_prefix = "cocktail_catalog";
  // kGroup only: run each batch in one transaction (see above).
  bool one_transaction_per_batch = false;
  // Called on the writer thread before each batch's first job (to reset what
  // the jobs of a batch aggregate).
  std::function<void()> on_batch_start;
  // With one_transaction_per_batch: called after the batch's last job, inside
  // its transaction (to write what the jobs aggregated). Throwing rolls the
  // batch back.
  std::function<void()> before_commit;
  // Called after each batch once its writes are durable (and before the
  // completions), on the writer thread. Must not block.
  std::function<void()> on_durable;
};

class GroupCommit {
 public:
  using Completion = std::function<void(bool durable)>;
  using Job = std::function<Completion()>;

  // `db` must have been opened with synchronous_for(options.mode).
  GroupCommit(Database& db, prometheus::Registry& registry, GroupCommitOptions options);
  ~GroupCommit();  // stop()
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  void start();
  // Queues a job; false when the queue is full or the writer stopped.
  bool submit(Job job);
  // Runs what is queued, then joins. Idempotent.
  void stop();

  std::size_t queued() const;
  const GroupCommitOptions& options() const { return options_; }

 private:
  struct Metrics;
  void run();
  // Runs the jobs and returns whether their writes were committed (false:
  // the batch transaction was rolled back).
  bool run_batch(std::deque<Job>& batch, std::deque<Completion>& completions);
  // Makes every commit so far durable; false on failure (logged).
  bool sync();

  Database& db_;
  GroupCommitOptions options_;
  std::unique_ptr<Metrics> metrics_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace cocktail::catalog

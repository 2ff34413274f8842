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
// usage-api needs for tens of thousands of small events a second). The
// jobs first run one after another with nothing between them (isolating()
// false): a job must then let a failure escape rather than catch it, since
// what it left half done cannot be undone alone. When one throws, the pass
// is rolled back and the batch runs again from its first job
// (on_batch_start called again) with isolating() true: each job then
// isolates itself with a Savepoint (savepoint.h), which is its own
// transaction in kEach mode and nests in the batch's otherwise, and catches
// what it can handle, so that a failing job is undone alone. A savepoint per
// job costs a copy of every page the job touches that the batch had already
// touched (the savepoint's journal); the first pass avoids it, as failures
// inside a job are rare. A job may therefore run twice (its first run rolled
// back). A job that throws in the isolated pass takes the whole batch down
// with it (rolled back, every completion called with durable = false): the
// engine cannot tell what it left behind.
//
// Bounded waits (max_wait > 0): every job has a deadline, max_wait after it
// was submitted. A job still waiting at its deadline — behind other jobs, or
// because the writer is stuck behind a lock another process holds — is
// taken out and never runs: its `not_run` callback is called (from the
// engine's reaper thread, at the deadline, whatever the writer thread is
// doing), so the caller can say "not written" and mean it. A job that
// started waits for the write lock only until its own deadline (the
// connection's lock deadline, database.h), then fails with a kBusy error
// and writes nothing. With one_transaction_per_batch, the batch's
// transaction waits until the earliest deadline among its jobs; if it
// cannot begin, every job of the batch is not run (`not_run` called). So
// while a lock is held, each write is answered about max_wait after it was
// queued, and writes queued together fail together — never one busy timeout
// after another. Once a job has started, its answer waits for the commit and
// the sync. max_wait 0: no bound (a job waits as long as it takes).
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
// <prefix>_write_sync_failures_total, <prefix>_write_wait_seconds (queued to
// started, histogram), <prefix>_writes_expired_total (jobs that never ran).
//
// Ownership: borrows the connection (which must outlive it and be used by no
// other thread while it runs) and the registry; owns its threads (the writer,
// and the reaper when max_wait > 0).
// Thread-safety: submit() from any thread; start()/stop() from the owner.
#pragma once

#include <prometheus/registry.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

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
  // Runs a batch's completions, given as one function, on the writer thread:
  // a caller that answers requests from them can hold the answers and send
  // them together (http::SendBatch). Default: runs them.
  std::function<void(const std::function<void()>& completions)> run_completions;
  // How long a job may wait to start (for its turn and for the write lock)
  // before it is refused unrun; 0: no bound.
  std::chrono::milliseconds max_wait{0};
};

class GroupCommit {
 public:
  using Completion = std::function<void(bool durable)>;
  using Job = std::function<Completion()>;
  // Called instead of a job that never ran, with how long it waited: its
  // deadline passed before it started, or its batch's transaction could not
  // begin. Runs on the reaper or the writer thread; must not block.
  using NotRun = std::function<void(std::chrono::milliseconds waited)>;

  // `db` must have been opened with synchronous_for(options.mode).
  GroupCommit(Database& db, prometheus::Registry& registry, GroupCommitOptions options);
  ~GroupCommit();  // stop()
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  void start();
  // Queues a job; false when the queue is full or the writer stopped.
  bool submit(Job job, NotRun not_run = nullptr);
  // Runs what is queued (or refuses it at its deadline), then joins.
  // Idempotent.
  void stop();

  std::size_t queued() const;
  const GroupCommitOptions& options() const { return options_; }
  // For the job running (writer thread only): whether it must isolate itself
  // (Savepoint) and catch its own failures. Always true without
  // one_transaction_per_batch; see "Transactions" above.
  bool isolating() const;

 private:
  struct Metrics;
  // A job and its deadline, shared by the queue, the batch being run and the
  // reaper; whoever moves `state` away from kWaiting owns it.
  struct Pending {
    enum State { kWaiting, kStarted, kNotRun };
    Job job;
    NotRun not_run;
    std::chrono::steady_clock::time_point submitted;
    std::optional<std::chrono::steady_clock::time_point> deadline;
    std::atomic<int> state{kWaiting};
  };
  using PendingPtr = std::shared_ptr<Pending>;

  void run();
  void reap();
  // Runs the jobs and returns whether their writes were committed (false:
  // the batch transaction was rolled back, or could not begin).
  bool run_batch(std::size_t jobs, std::deque<Completion>& completions);
  // Claims a waiting job: true when the caller may run it.
  bool claim(Pending& pending);
  // Claims a waiting job and tells its caller it will not run; false when
  // it had started.
  bool refuse(Pending& pending);
  // Counts a job that will not run and calls its not_run.
  void tell_not_run(Pending& pending);
  // Makes every commit so far durable; false on failure (logged).
  bool sync();

  Database& db_;
  GroupCommitOptions options_;
  std::unique_ptr<Metrics> metrics_;

  mutable std::mutex mu_;
  std::condition_variable cv_;         // the writer: work queued, or stopping
  std::condition_variable reaper_cv_;  // the reaper: a new deadline, or stopped
  std::deque<PendingPtr> queue_;
  // The batch taken by the writer (its jobs stay refusable until started).
  std::vector<PendingPtr> batch_;
  bool stopping_ = false;
  bool writer_done_ = false;
  bool isolating_ = false;  // writer thread only
  std::thread thread_;
  std::thread reaper_;
};

}  // namespace cocktail::catalog

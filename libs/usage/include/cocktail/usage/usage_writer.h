// UsageWriter: the one thread that writes the usage database, over
// catalog::GroupCommit (group_commit.h) with one transaction per batch.
//
// A batch of queued requests runs in one BEGIN IMMEDIATE ... COMMIT: each
// request inserts its events and records their sessions; what they add to
// the hourly roll-ups is summed in memory and written once, just before the
// commit; then one WAL sync makes the batch durable, and only then are the
// requests answered (together: http::SendBatch). Should a request fail, the
// batch is rolled back and run again with each request inside a savepoint
// of its own, so that the failing one is undone alone and answered 500
// (GroupCommit's "Transactions"); a request's roll-up delta counts only from
// the pass that commits. So an event and the roll-up counting it always
// commit together, and an acknowledged event survives a crash or power
// loss. In kEach mode (the benchmarks' baseline) every request is its own
// transaction with synchronous=FULL and writes its own roll-up increments.
//
// Bounded waits (max_wait, GroupCommit's "Bounded waits"): a request that
// has not started max_wait after it was queued — behind other writes, or
// because another process holds the usage database's write lock — never
// runs, and its Done is called with kNotRun (from the engine's reaper
// thread, at the deadline); so is every request of a batch whose
// transaction could not begin by the batch's earliest deadline. A request
// that started is answered after its commit and sync. Every Done is called
// exactly once.
//
// Metrics: cocktail_usage_writer_queue, cocktail_usage_write_batch_size,
// cocktail_usage_write_sync_seconds, cocktail_usage_write_sync_failures_total
// (from GroupCommit), cocktail_usage_write_errors_total (requests whose
// write failed) and cocktail_usage_write_seconds (queued to durable).
//
// Ownership: owns its connection and thread; borrows the registry.
// Thread-safety: submit_*() from any thread; start()/stop() from the owner.
#pragma once

#include <prometheus/registry.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cocktail/catalog/group_commit.h"
#include "cocktail/catalog/savepoint.h"
#include "cocktail/usage/event.h"
#include "cocktail/usage/usage_store.h"

namespace cocktail::usage {

struct UsageWriterOptions {
  catalog::CommitMode mode = catalog::CommitMode::kGroup;
  std::size_t max_queue = 10000;  // requests waiting; beyond, submit refuses
  std::size_t max_batch = 512;    // requests per transaction and sync at most
  // How long a request may wait to start (for its turn and for the write
  // lock) before it is refused unrun (kNotRun); at least 1 ms.
  std::chrono::milliseconds max_wait{5000};
  // The WAL is copied back into the database file (a checkpoint, on the
  // writer thread, after a commit) once it holds this many pages: 8,192
  // (32 MiB of 4 KiB pages) instead of SQLite's 1,000, because a page that a
  // stream of batches rewrites (the end of each time-ordered index, a busy
  // session's index page, the hour's roll-up rows) is copied once per
  // checkpoint, not once per version (docs/usage.md).
  int wal_autocheckpoint_pages = 8192;
  StoreOptions store;
  // Wall clock, ms since the epoch (roll-up updated_at); injectable for tests.
  std::function<std::int64_t()> now_ms;
  // After each durable batch, on the writer thread, with the hours whose
  // roll-ups it changed. Must not block.
  std::function<void(const std::set<std::int64_t>& hours)> on_durable;
};

class UsageWriter {
 public:
  enum class Outcome {
    kDurable,     // committed and synced: acknowledge
    kFailed,      // not written (an error inside the request's work)
    kNotDurable,  // committed but the sync failed, or the batch rolled back: do not acknowledge
    kNotRun,      // never ran (its wait bound passed, or the write lock stayed held): not written
  };
  struct Result {
    Outcome outcome = Outcome::kFailed;
    std::size_t inserted = 0;             // events new to the store (others had ids already stored)
    std::string error;                    // when not kDurable
    std::chrono::milliseconds waited{0};  // kNotRun: how long it waited
  };
  using Done = std::function<void(const Result&)>;
  // Work on the store inside the batch transaction (retention, backfill);
  // returns a row count reported back through Result::inserted.
  using Task = std::function<std::int64_t(UsageStore& store)>;

  // Opens the writer's connection to a migrated usage database. Throws
  // catalog::DatabaseError when it cannot.
  UsageWriter(const std::string& db_path, prometheus::Registry& registry, UsageWriterOptions options = {});
  ~UsageWriter();  // stop()
  UsageWriter(const UsageWriter&) = delete;
  UsageWriter& operator=(const UsageWriter&) = delete;

  void start();
  // Queues the events of one request; `done` runs once the outcome is known
  // (on the writer thread, or on the reaper's for kNotRun). False when the
  // queue is full or the writer stopped (`done` is then never called).
  bool submit_events(std::vector<UsageEvent> events, Done done);
  bool submit_task(Task task, Done done);
  // Runs what is queued, then joins. Idempotent.
  void stop();

  std::size_t queued() const;

 private:
  struct Metrics;
  catalog::GroupCommit::Completion finish(Result result, std::shared_ptr<const Done> done,
                                          std::chrono::steady_clock::time_point queued);
  // What GroupCommit calls instead of a request that never ran.
  catalog::GroupCommit::NotRun not_run(std::shared_ptr<const Done> done);
  // Runs `work` for one request: kDurable (once the batch is). In a batch's
  // first pass a failure escapes (GroupCommit then runs the batch again);
  // isolated, `work` runs inside the request's savepoint and a failure is
  // kNotRun when the write lock stayed held past the deadline (kEach mode),
  // kFailed otherwise.
  template <typename Work>
  Result run_isolated(Work&& work, const char* failure_event);

  UsageWriterOptions options_;
  std::unique_ptr<catalog::Database> db_;
  std::unique_ptr<UsageStore> store_;
  std::unique_ptr<catalog::Savepoint::Prepared> savepoints_;
  std::unique_ptr<Metrics> metrics_;
  // Writer thread only: the batch's roll-up increments and the hours they touch.
  RollupDelta batch_delta_;
  std::set<std::int64_t> batch_hours_;
  std::unique_ptr<catalog::GroupCommit> engine_;  // last: its thread uses the above
};

}  // namespace cocktail::usage

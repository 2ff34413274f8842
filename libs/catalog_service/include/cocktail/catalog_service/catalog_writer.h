// CatalogWriter: the one thread that writes the catalog, with group commit.
//
// Every write of the service goes through this writer: a catalog::GroupCommit
// (group_commit.h: one thread, one connection, one WAL sync per batch of
// jobs, completions only once durable) over the writer's own connection and
// its Repository. Each job runs in its own transaction (Repository's), so
// that each request keeps its own outcome.
//
// Bounded waits: a write that cannot start within max_wait (behind other
// writes, or behind the catalog's write lock held by another process) never
// runs and its Expired callback says so; one that started waits for the lock
// only until its own deadline, then fails with a kBusy error having written
// nothing (group_commit.h, "Bounded waits").
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
// cocktail_catalog_write_sync_failures_total,
// cocktail_catalog_write_wait_seconds, cocktail_catalog_writes_expired_total.
//
// Ownership: owns its connection and thread; borrows the registry.
// Thread-safety: submit() from any thread; start()/stop() from the owner.
#pragma once

#include <prometheus/registry.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "cocktail/catalog/change_log.h"
#include "cocktail/catalog/database.h"
#include "cocktail/catalog/group_commit.h"
#include "cocktail/catalog/repository.h"

namespace cocktail::catalog_service {

using CommitMode = catalog::CommitMode;

struct CatalogWriterOptions {
  CommitMode mode = CommitMode::kGroup;
  // Jobs that may wait; beyond, submit() refuses (the caller answers 503).
  std::size_t max_queue = 10000;
  // Jobs run between two syncs at most; bounds the latency a batch adds.
  std::size_t max_batch = 512;
  // Called after each batch once its writes are durable (and before the
  // completions), on the writer thread. Must not block.
  std::function<void()> on_durable;
  // How long a write may wait to start (for its turn and for the catalog's
  // write lock) before it is refused unrun: docs/api.md, --write-wait-ms.
  std::chrono::milliseconds max_wait{5000};
};

class CatalogWriter {
 public:
  using Completion = catalog::GroupCommit::Completion;
  using Job = std::function<Completion(catalog::Repository& repository)>;
  // Called instead of the job when it never ran (it waited this long).
  using Expired = catalog::GroupCommit::NotRun;

  // Opens the writer's connection to a migrated catalog. Throws
  // catalog::DatabaseError when the file cannot be opened.
  CatalogWriter(const std::string& db_path, prometheus::Registry& registry,
                CatalogWriterOptions options = {});
  ~CatalogWriter();  // stop()
  CatalogWriter(const CatalogWriter&) = delete;
  CatalogWriter& operator=(const CatalogWriter&) = delete;

  void start();
  // Queues a job; false when the queue is full or the writer stopped.
  bool submit(Job job, Expired on_expired = nullptr);
  // Queues a write to change_log's bookkeeping (the publication cursor,
  // pruning) on the writer's connection, answered by no one: the outbox
  // publisher's writes, so that they never wait for the write lock.
  bool submit_change_log_task(std::function<void(catalog::ChangeLog&)> task);
  // Runs what is queued, then joins. Idempotent.
  void stop();

  std::size_t queued() const;

 private:
  // Declaration order: the engine (whose thread uses them) goes first.
  std::unique_ptr<catalog::Database> db_;
  std::unique_ptr<catalog::Repository> repository_;
  std::unique_ptr<catalog::ChangeLog> change_log_;
  std::unique_ptr<catalog::GroupCommit> engine_;
};

}  // namespace cocktail::catalog_service

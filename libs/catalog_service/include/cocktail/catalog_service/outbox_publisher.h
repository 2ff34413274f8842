// OutboxPublisher: turns the catalog's change_log (the outbox, see
// cocktail/catalog/change_log.h) into `catalog.change` events on the bus, in
// seq order, plus a `catalog.heartbeat` with the latest committed seq every
// heartbeat interval.
//
// One thread tails change_log by seq on a connection of its own. It is woken
// at once by notify() (the service calls it after each of its own commits)
// and, on PostgreSQL, by the catalog's change notifications (so rows
// committed by any other writer, their own web API or psql, are published at
// once); otherwise it polls every poll_interval, so that rows committed by
// any other writer (a bulk import, another process, the sqlite3 shell) are
// published too, a poll interval later at most.
//
// Delivery is at least once: how far it got is recorded durably in the
// publication cursor (ChangeLog::mark_published under `cursor_name`), at most
// every cursor_interval and when stopping (see delegate_writes), so a restarted publisher resumes
// from the table and may send the last rows of its predecessor again;
// consumers dedupe by seq. A row is marked published only after it was handed
// to ZeroMQ. Old published rows are pruned every prune_interval (see
// catalog::PruneOptions: never an unpublished row).
//
// Failures (the bus refusing a send, SQLite busy or I/O errors) are logged,
// counted and retried after error_backoff; they never stop the thread.
//
// Metrics (registered on the registry given to the constructor):
//   cocktail_events_published_total{topic}       messages sent
//   cocktail_events_publish_errors_total{topic}  sends refused by the bus
//   cocktail_outbox_errors_total{operation}      read, cursor, prune failures
//   cocktail_catalog_seq                          latest committed seq
//   cocktail_outbox_lag                           latest committed seq - last seq sent
//   cocktail_outbox_published_seq                 last seq sent
//   cocktail_outbox_pruned_rows_total             rows removed by pruning
//
// Ownership: owns its Database connection and its thread; borrows the
// bus::Publisher and the registry, which must outlive it. Thread-safety:
// notify(), published_seq(), latest_seq() from any thread; start() and stop()
// from the owning thread.
#pragma once

#include <prometheus/registry.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "cocktail/bus/publisher.h"
#include "cocktail/catalog/change_log.h"
#include "cocktail/catalog/database.h"

namespace cocktail::catalog_service {

struct OutboxPublisherOptions {
  // The publication cursor's name in the outbox_cursor table.
  std::string cursor_name = "catalog-api";
  // Pause between binding and the first message. Subscribers connected to a
  // previous process reconnect in the background (ZeroMQ retries every
  // 100 ms by default); messages sent before a subscription arrives are
  // dropped, so the backlog of a restart waits this long for them. Later
  // subscribers are repaired by seq gaps and heartbeats (docs/events.md).
  std::chrono::milliseconds start_delay{500};
  // How often change_log is read when nobody calls notify(): the delay
  // before a change committed by another process is published.
  std::chrono::milliseconds poll_interval{50};
  std::chrono::milliseconds heartbeat_interval{1000};
  // Rows read (and sent) per round.
  int batch_rows = 1000;
  // How often the durable cursor is written while publishing (a write
  // transaction: doing it per row would compete with the service's writes).
  // A crash re-sends at most this much history.
  std::chrono::milliseconds cursor_interval{200};
  std::chrono::milliseconds prune_interval{std::chrono::minutes(1)};
  catalog::PruneOptions prune;
  // prune() calls per prune_interval at most (each removes prune.max_rows at most).
  int prune_rounds = 100;
  // Pause after a failure before trying again.
  std::chrono::milliseconds error_backoff{200};
  // Where the publisher's own writes (the cursor, pruning) run. Empty: on the
  // publisher's connection, on its thread; a write there waits for SQLite's
  // write lock, which a busy writer may hold for long stretches, and
  // publishing waits with it. catalog-api hands them to its CatalogWriter
  // instead (they then ride along in a group commit). Returns false when it
  // cannot take the task (the publisher then runs it itself). Tasks capture
  // the publisher: they must have run (or been dropped) before it is
  // destroyed. The final cursor write at stop() always runs on the
  // publisher's own connection.
  std::function<bool(const std::function<void(catalog::ChangeLog&)>& task)> delegate_writes;
};

class OutboxPublisher {
 public:
  // `db` is a migrated catalog connection for this publisher's use only.
  // Reads the cursor (throws catalog::DatabaseError when it cannot).
  OutboxPublisher(std::unique_ptr<catalog::Database> db, bus::Publisher& publisher,
                  prometheus::Registry& registry, OutboxPublisherOptions options = {});
  ~OutboxPublisher();  // stop()
  OutboxPublisher(const OutboxPublisher&) = delete;
  OutboxPublisher& operator=(const OutboxPublisher&) = delete;

  // Starts the thread; it publishes everything after the cursor at once.
  void start();
  // Wakes the thread: something was committed. Cheap; never blocks on I/O.
  void notify();
  // Publishes what is committed by now (bounded by `flush_timeout`), records
  // the cursor, and joins the thread. Idempotent.
  void stop(std::chrono::milliseconds flush_timeout = std::chrono::seconds(2));

  // The last seq handed to the bus (resumed from the cursor at start).
  std::int64_t published_seq() const { return published_.load(); }
  // The latest committed seq seen at the last read.
  std::int64_t latest_seq() const { return latest_.load(); }

 private:
  struct Metrics;
  void run();
  // One round: reads and sends what is new; true when a full batch was read
  // (more may be waiting).
  bool publish_round();
  void heartbeat();
  void run_write(const std::function<void(catalog::ChangeLog&)>& task);
  void record_cursor();
  void prune();
  void sleep_for(std::chrono::milliseconds d);

  std::unique_ptr<catalog::Database> db_;
  catalog::ChangeLog log_;
  // Wakes the thread when another writer commits (where the backend can
  // tell; see catalog::ChangeWatch); polling covers the rest.
  std::unique_ptr<catalog::ChangeWatch> watch_;
  bus::Publisher& publisher_;
  OutboxPublisherOptions options_;
  std::unique_ptr<Metrics> metrics_;

  std::atomic<std::int64_t> published_{0};
  std::atomic<std::int64_t> latest_{0};
  std::atomic<std::int64_t> cursor_written_{0};  // the cursor as last written

  std::mutex mu_;
  std::condition_variable cv_;
  bool notified_ = false;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point flush_deadline_;
  std::thread thread_;
};

}  // namespace cocktail::catalog_service

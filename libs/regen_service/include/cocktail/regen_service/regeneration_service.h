// RegenerationService: the long-running part of analytics-regen. It listens
// to the catalog's events, decides when to regenerate (Debouncer), runs one
// regeneration at a time on a thread of its own (Regenerator), announces each
// new generation and, every second, what is current.
//
//   catalog.change / catalog.heartbeat (SUB, one or more endpoints)
//        │  receive thread: dedupe, gap and heartbeat checks, Debouncer
//        ▼
//   loop thread: runs due? heartbeats, catalog probe, waiter deadlines
//        │  hands one run at a time to
//        ▼
//   worker thread: Regenerator::run() → analytics.snapshot (PUB)
//
// Never missing a change for long (docs/events.md, "Delivery"):
//  - a catalog.change whose seq is above the highest seq known + 1 is a gap
//    (events were lost): a regeneration is scheduled, like for a change;
//  - a catalog.heartbeat whose seq is above every seq already covered or
//    scheduled (newest snapshot, changes noted, earlier repairs) means the
//    last events were lost: a regeneration is scheduled;
//  - at start the catalog's latest seq is compared with the newest
//    snapshot's catalog_seq, and a regeneration runs at once when the
//    catalog is ahead (or when there is no snapshot at all);
//  - every check_interval the catalog's latest seq is read again
//    (CatalogProbe), so that a silent or unreachable publisher delays a
//    regeneration by at most that interval.
// A failed run keeps the previous generation current and is retried after
// the Debouncer's backoff (exponential, capped, with jitter); a later
// success clears the failure.
//
// Metrics (architecture.md, "Metrics"): cocktail_events_received_total{topic},
// cocktail_events_malformed_total, cocktail_events_published_total{topic},
// cocktail_regen_runs_total{result}, cocktail_regen_duration_seconds{stage},
// cocktail_snapshot_generation, cocktail_snapshot_catalog_seq,
// cocktail_snapshot_staleness_seconds, cocktail_regen_coalesced_changes_total,
// cocktail_regen_in_progress, and a few more listed in docs/operations.md.
//
// Time: the Debouncer, heartbeats, probes and waits use the injected
// monotonic clock. The threads sleep in real time until the next deadline by
// that clock; a test that moves a manual clock calls wake() afterwards.
//
// stop(): no new work is taken (the subscriber stops, pending work is left
// for the next start's catch-up); a running regeneration may finish within
// shutdown_timeout, after which it is cancelled between stages (it never
// replaces CURRENT once cancelled; see Regenerator). If the regeneration is
// inside a stage that cannot be interrupted (a producer), stop() returns
// kAbandoned after abandon_grace and the caller may end the process: the
// snapshot store's atomic CURRENT makes that safe.
//
// Concurrent lanes (Regenerator::concurrent_lanes()): the single flight
// covers fast runs only (load, exact analytics, commit, announce). Each fast
// run hands its loaded state to the slow-lane thread, which computes the
// slow producers for the newest state it was given (a newer hand-off
// replaces one not yet started; one computation at a time) and commits and
// announces a generation of its own, keeping the newer exact files. stop()
// cancels the slow lane at once (between stages; a computation in progress
// is waited for up to shutdown_timeout + abandon_grace, then abandoned).
//
// Ownership: borrows the clock, store, regenerator and registry, which must
// outlive it; owns its sockets and threads. Thread-safety: start(), stop()
// and the destructor from one thread; every other method from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cocktail/bus/events.h"
#include "cocktail/bus/security.h"
#include "cocktail/core/time.h"
#include "cocktail/metrics/registry.h"
#include "cocktail/regen_service/catalog_probe.h"
#include "cocktail/regen_service/debouncer.h"
#include "cocktail/regen_service/regenerator.h"
#include "cocktail/snapshot/snapshot_store.h"

namespace cocktail::bus {
class Publisher;
class Subscriber;
}  // namespace cocktail::bus

namespace cocktail::regen_service {

struct RegenerationServiceOptions {
  // The catalog file, read only by the probe (the Regenerator has its own).
  std::string db_path;
  // catalog-api publishers to connect to. At least one.
  std::vector<std::string> sub_endpoints = {"tcp://127.0.0.1:5561"};
  // Where analytics.snapshot and analytics.heartbeat are published (bind;
  // port 0 picks a free one, see pub_endpoint()).
  std::string pub_endpoint = "tcp://127.0.0.1:5562";
  // CURVE for both sockets (bus/security.h); anonymous when empty.
  bus::BusSecurity bus_security;
  DebouncerOptions debounce;
  // How often the catalog's latest seq is read directly.
  std::chrono::milliseconds check_interval{5000};
  // analytics.heartbeat period.
  std::chrono::milliseconds heartbeat_interval{1000};
  // stop(): how long a running regeneration may take to finish...
  std::chrono::milliseconds shutdown_timeout{10000};
  // ...and how long, once cancelled, it has to reach a cancellation point.
  std::chrono::milliseconds abandon_grace{1000};
  // The Debouncer's jitter source; a seeded generator when empty.
  Debouncer::RandomSource random;
  // Wall clock (Unix epoch ms) for the times shown in status(); system time when empty.
  std::function<std::int64_t()> wall_now_ms;
};

// One finished regeneration, as status() and the manual trigger report it.
struct RunRecord {
  std::uint64_t run = 0;  // 1 for the first run since start
  bool success = false;
  bool cancelled = false;           // stopped by stop(), not a failure of the run
  std::int64_t finished_at_ms = 0;  // wall clock
  double duration_ms = 0;
  std::vector<std::string> reasons;  // why it ran: "change", "seq_gap", "manual", ...
  std::uint64_t changes = 0;         // change events it covered
  // On success:
  std::int64_t generation = 0;
  std::int64_t catalog_seq = 0;
  std::int64_t generated_at_ms = 0;
  std::vector<std::string> warnings;
  // On failure: the stage that failed ("write", "load", ...) and why.
  std::string stage;
  std::string error;
};

struct ServiceStatus {
  bool started = false;
  bool stopping = false;
  // What is current (0 and 0 before the first generation).
  std::int64_t generation = 0;
  std::int64_t catalog_seq = 0;
  std::int64_t generated_at_ms = 0;
  // The highest catalog seq heard of: change events, heartbeats, probes.
  std::int64_t seq_seen = 0;
  // The catalog's latest committed seq, by its last heartbeat or the last
  // direct read, whichever is higher; nullopt when neither happened yet.
  std::optional<std::int64_t> catalog_latest_seq;
  std::string catalog_probe_error;  // the last probe's error, empty when it worked
  // Age of the oldest change not yet covered by a snapshot; 0 when covered.
  double staleness_seconds = 0;
  bool running = false;                  // a regeneration is in progress
  bool pending = false;                  // one is owed (waiting for its window or a backoff)
  std::optional<double> next_run_in_ms;  // when the pending one is due
  std::uint32_t consecutive_failures = 0;
  std::uint64_t runs_started = 0;
  // Seconds since the last valid catalog event; nullopt when none yet.
  std::optional<double> last_event_age_seconds;
  std::optional<RunRecord> last_success;
  std::optional<RunRecord> last_failure;
};

class RegenerationService {
 public:
  enum class StopResult {
    kIdle,       // nothing was running
    kFinished,   // the running regeneration finished within shutdown_timeout
    kCancelled,  // it was cancelled at a stage boundary; CURRENT untouched
    kAbandoned,  // it is still inside a stage; the caller may exit the process
  };

  // Binds the publisher (std::runtime_error when it cannot) and creates the
  // subscriber. Throws std::invalid_argument for unusable options.
  RegenerationService(RegenerationServiceOptions options, const core::Clock& clock,
                      snapshot::SnapshotStore& store, regen::Regenerator& regenerator,
                      metrics::MetricsRegistry& registry);
  // stop(); then waits for an abandoned regeneration to return.
  ~RegenerationService();
  RegenerationService(const RegenerationService&) = delete;
  RegenerationService& operator=(const RegenerationService&) = delete;

  // Reads the newest snapshot and the catalog's latest seq (start-up
  // catch-up), then starts the subscriber, loop and worker threads.
  void start();
  // See the header comment. Idempotent (later calls return kIdle).
  StopResult stop();

  // Schedules a regeneration now (still one at a time, and after a failure
  // backoff). Returns the number of the run that will cover the request, or
  // nullopt when the service is stopping or not started.
  std::optional<std::uint64_t> request_run(std::string reason = "manual");
  // Calls `done` once: with the record of run `run` (or the first later run
  // that finished) when it finishes, or with nullopt after `timeout` or when
  // the service stops. Runs on the worker or loop thread: keep it short.
  void when_finished(std::uint64_t run, std::chrono::milliseconds timeout,
                     std::function<void(std::optional<RunRecord>)> done);

  ServiceStatus status() const;
  // Brings the gauges that depend on time (staleness) up to date; called
  // before each /metrics serialisation.
  void refresh_metrics();
  // Re-evaluates deadlines now (after moving a manual clock).
  void wake();

  // The endpoint actually bound for publishing.
  const std::string& pub_endpoint() const;

 private:
  struct Metrics;
  struct Waiter {
    std::uint64_t run;
    core::Clock::time_point deadline;
    std::function<void(std::optional<RunRecord>)> done;
  };

  void on_event(const bus::Event& event);
  void on_malformed(std::string_view topic, const core::Error& error);
  void loop();
  void work();
  // The slow-lane thread (concurrent lanes only).
  void work_slow();
  void probe_catalog(std::unique_lock<std::mutex>& lock);
  void finish_run(std::uint64_t run, const PendingWork& work, core::Result<regen::RegenSummary> result,
                  double duration_ms);
  void publish_heartbeat();
  void set_current(const snapshot::Manifest& manifest);
  // Raises seq_seen_ (and its gauge) to `seq`.
  void note_seq_seen(std::int64_t seq);
  double staleness_seconds_locked(core::Clock::time_point now) const;
  std::int64_t wall_now_ms() const;

  RegenerationServiceOptions options_;
  const core::Clock& clock_;
  snapshot::SnapshotStore& store_;
  regen::Regenerator& regenerator_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<bus::Publisher> publisher_;
  std::unique_ptr<bus::Subscriber> subscriber_;
  CatalogProbe probe_;  // loop thread (and start())

  mutable std::mutex mu_;
  std::condition_variable loop_cv_;    // events, run finished, stop
  std::condition_variable worker_cv_;  // a run handed over, stop
  std::condition_variable idle_cv_;    // the worker finished a run
  Debouncer debouncer_;
  bool started_ = false;
  bool stopping_ = false;
  bool stopped_ = false;
  bool worker_exit_ = false;
  // The run handed to the worker, until it finished.
  std::optional<PendingWork> handed_;
  std::uint64_t handed_run_ = 0;
  bool running_ = false;
  std::atomic<bool> cancel_{false};
  // Slow lane (under mu_): the newest state not yet started, whether a
  // computation is in progress, and the exit/cancel flags.
  std::shared_ptr<const regen::LoadedCatalog> slow_pending_;
  bool slow_running_ = false;
  bool slow_exit_ = false;
  std::atomic<bool> slow_cancel_{false};
  std::condition_variable slow_cv_;

  // Highest seq covered by the current snapshot or already scheduled: a
  // heartbeat or probe above it is news.
  std::int64_t owed_seq_ = 0;
  // owed_seq_ rests on something read (a snapshot, the catalog, an event):
  // only then can a change reveal a gap.
  bool seq_known_ = false;
  std::int64_t seq_seen_ = 0;
  std::optional<std::int64_t> catalog_latest_seq_;
  std::string catalog_probe_error_;
  // A probe saw the catalog ahead while events were flowing: if the next
  // probe finds owed_seq_ still below this, the events were lost.
  std::optional<std::int64_t> probe_ahead_;
  std::optional<core::Clock::time_point> last_event_;
  snapshot::Manifest current_;  // generation 0: none
  std::optional<RunRecord> last_success_;
  std::optional<RunRecord> last_failure_;
  std::optional<RunRecord> last_record_;  // the latest finished run, whatever its outcome
  std::uint64_t coalesced_reported_ = 0;
  std::vector<Waiter> waiters_;
  core::Clock::time_point next_heartbeat_{};
  core::Clock::time_point next_probe_{};

  std::thread loop_thread_;
  std::thread worker_thread_;
  std::thread slow_thread_;
};

const char* stop_result_name(RegenerationService::StopResult result);

}  // namespace cocktail::regen_service

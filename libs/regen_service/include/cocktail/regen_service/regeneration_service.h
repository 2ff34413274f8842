// RegenerationService: the long-running part of analytics-regen. It listens
// to the catalog's events, decides when to regenerate (SequenceTracker,
// Debouncer), runs the two lanes of the Regenerator on threads of their own,
// announces each new generation and, every second, what is current.
//
//   catalog.change / catalog.heartbeat (SUB, one or more endpoints)
//        │  receive thread: hints to the SequenceTracker
//        ▼
//   loop thread: confirms hinted seqs against the catalog (CatalogProbe),
//        │       runs due? heartbeats, periodic probe, waiter deadlines
//        │  hands one fast run at a time to
//        ▼
//   fast-lane thread: Regenerator::run_fast() → analytics.snapshot (PUB)
//        │  hands the state it loaded (the newest replaces one not started) to
//        ▼
//   slow-lane thread, at lower CPU priority (nice 10, or SCHED_IDLE):
//        Regenerator::run_slow() → analytics.snapshot
//
// Without concurrent lanes (Regenerator::concurrent_lanes() false) the
// fast-lane thread runs Regenerator::run() and there is no slow thread.
//
// Never missing a change for long (docs/events.md, "Delivery"): events are
// hints checked against the catalog's real newest seq (SequenceTracker);
// at start the catalog is compared with the newest snapshot (and a
// generation whose slow files lag its exact ones is caught up); every
// check_interval the catalog's newest seq is read again, so a silent
// publisher delays a regeneration by at most that interval.
//
// Repair: a file of the current generation that fails verification is
// rewritten without waiting for a catalog change. Whoever finds it — a
// carry (the run that found it carries an older verified copy or computes
// the file again, so it is its own repair), the Scrubber's periodic pass, or
// a reader's analytics.repair request that the Scrubber confirmed by reading
// the file itself — makes the next carry verify that file again
// (Regenerator::distrust) and schedules a run ("repair") at once, the next
// such run no sooner than repair_min_interval after the previous one.
// Requests that do not confirm change nothing.
//
// Failures: a failed fast run keeps the previous generation current and is
// retried after the Debouncer's backoff (exponential, capped, with jitter).
// A failed slow run is retried the same way, on the newest state handed to
// it. status() and the metrics show each lane's seq, age and failures.
//
// stop(): no new work is taken (the subscriber stops, pending work is left
// for the next start's catch-up); a running fast run may finish within
// shutdown_timeout, after which it is cancelled between stages (it never
// replaces CURRENT once cancelled). If it is inside a stage that cannot be
// interrupted (a producer), stop() returns kAbandoned after abandon_grace and
// the caller may end the process: the store's atomic CURRENT makes that
// safe. The slow lane is cancelled at once (a refinement of what is already
// published), with the same bounded wait.
//
// Time: the Debouncer, heartbeats, probes, retries and waits use the injected
// monotonic clock. The threads sleep in real time until the next deadline by
// that clock; a test that moves a manual clock calls wake() afterwards.
//
// Ownership: borrows the clock, store, regenerator and registry, which must
// outlive it; owns its sockets and threads. Thread-safety: start(), stop()
// and the destructor from one thread; every other method from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cocktail/bus/security.h"
#include "cocktail/core/filesystem.h"
#include "cocktail/core/time.h"
#include "cocktail/metrics/registry.h"
#include "cocktail/regen_service/debouncer.h"
#include "cocktail/regen_service/regenerator.h"
#include "cocktail/regen_service/scrubber.h"
#include "cocktail/snapshot/snapshot_store.h"

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
  // The slow lane's thread (and the threads it starts) run at this nice
  // value (0-19; 0: unchanged), so that a map computation yields the CPU to
  // the fast lane and the I/O threads at once. With slow_lane_idle they run
  // under SCHED_IDLE instead: only when a core is otherwise idle, which
  // starves the maps on a machine that is busy with anything else.
  int slow_lane_nice = 10;
  bool slow_lane_idle = false;

  // Self-repair (see "Repair" above). analytics-api publishers of
  // analytics.repair to subscribe to (connect); empty: none (the scrub
  // still runs). Their CURVE public keys: one for all, or one per endpoint
  // (bus_security's key pair is the client key).
  std::vector<std::string> repair_endpoints;
  std::vector<std::string> repair_server_keys;
  // The periodic scrub and the read budget of every check.
  ScrubberOptions scrub;
  // A repair run starts at once; the next one no sooner than this after it,
  // so that a disk that keeps corrupting what is written (or a peer that
  // keeps asking) cannot keep the service regenerating.
  std::chrono::milliseconds repair_min_interval{5000};
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

// One lane's state (status() and /health).
struct LaneStatus {
  // The catalog seq this lane's files in the current generation were
  // computed from (0: none yet).
  std::int64_t seq = 0;
  bool running = false;
  bool pending = false;  // work waits (its window, a retry backoff, or the other lane)
  std::uint32_t consecutive_failures = 0;
  std::optional<double> retry_in_ms;  // when a failed run is retried
  // Seconds since the lane last published (nullopt: not since start).
  std::optional<double> age_seconds;
  // How long its files have been behind the catalog seq owed; 0 when not.
  double staleness_seconds = 0;
  std::string last_error;  // "<stage>: <reason>" of the last failure, empty after a success
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
  // Events whose seq the catalog did not confirm (ignored).
  std::uint64_t events_rejected = 0;
  bool lanes = false;  // two lanes; else `fast` describes the one lane
  LaneStatus fast;
  LaneStatus slow;

  // Self-repair: files found failing verification (by carry, scrub or a
  // reader's request), repair runs started and whether one is owed, the
  // last finding, the scrub's progress.
  std::uint64_t corrupt_files = 0;
  std::uint64_t repairs = 0;
  bool repair_pending = false;
  std::optional<ScrubFinding> last_corrupt;
  std::string last_corrupt_found_by;  // "carry", "scrub" or "reader"
  std::int64_t last_corrupt_at_ms = 0;
  ScrubberStats scrub;
  // The analytics file system (nullopt when it cannot be read).
  std::optional<core::FilesystemUsage> filesystem;
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
                      snapshot::SnapshotStore& store, regen_service::Regenerator& regenerator,
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
  // Waits until the service is quiescent: no run in progress or due by the
  // injected clock, no event waiting to be confirmed, no slow-lane work
  // that could start now. True when reached within `timeout` (real time).
  // For tests: "nothing happened" becomes "it settled, and the counters say
  // nothing ran" rather than a sleep.
  bool wait_quiescent(std::chrono::milliseconds timeout) const;

  // The endpoint actually bound for publishing.
  const std::string& pub_endpoint() const;

  // A reader says `file` of the current generation ("manifest.json" and
  // "CURRENT" included) failed verification: the scrubber checks it first
  // thing (within its read budget), and only when it fails here too is a
  // fresh generation written (see "Repair"). False when the request was
  // dropped (not a snapshot file name, too many waiting, stopping).
  bool request_repair(const std::string& file);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

const char* stop_result_name(RegenerationService::StopResult result);

}  // namespace cocktail::regen_service

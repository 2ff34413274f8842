// Debouncer: decides when a regeneration starts, from the change events seen
// and the outcome of earlier runs. A pure state machine over an injected
// clock: no threads, no sleeping, no I/O. The owner's loop feeds it events,
// waits until next_deadline() (or the next event), asks poll(now), and on
// `true` calls run_started(), runs, then run_finished(success).
//
// Rules (docs/events.md, "Consumers"):
//  - Leading edge: a change that finds nothing running and no run started
//    within the quiet window (`quiet`, default 200 ms) makes a run due at
//    once: an isolated change waits for nothing.
//  - Otherwise changes are coalesced into one pending run, due one quiet
//    window after the previous run started, so a burst or a stream costs at
//    most one run per window...
//  - ...and never later than `max_delay` (default 2 s) after the oldest
//    pending change (which matters when max_delay < quiet).
//  - Single flight: while a run is in progress, changes accumulate; when it
//    finishes they make exactly one follow-up run, due by the same rule (at
//    once if the window has already elapsed during the run).
//  - Duplicates: changes carry the catalog seq; a seq not above the highest
//    seen so far is a redelivery (the bus is at-least-once) and is ignored.
//  - Triggers: a reason to regenerate that is not a change (a seq gap, a
//    heartbeat ahead of the snapshot, a start-up catch-up, a manual request).
//    kDebounced triggers behave like a change; kImmediate ones make a run due
//    at once (still subject to single flight and failure backoff). A trigger
//    may name the catalog seq it is about (a gap or a heartbeat ahead): it is
//    then satisfied by any snapshot at or above that seq.
//  - Covered work: a run reads the whole catalog, so it may cover changes
//    that arrived after it started. drop_covered(seq) drops pending work made
//    only of changes and seq-bound triggers up to `seq`: no follow-up is run
//    for changes the finished run already reflects.
//  - Failure: the work of a failed run becomes pending again, and the next
//    run waits a backoff after the failure: initial 500 ms, doubling per
//    consecutive failure, capped at 30 s, with jitter that shortens it by up
//    to `backoff_jitter` (default half) using the injected random source, so
//    several instances do not retry in step. A success resets the backoff.
//
// Ownership: holds a reference to the clock, which must outlive it.
// Thread-safety: none. It belongs to the service's event loop; every call
// must come from that one thread (or be externally serialised).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cocktail/core/time.h"

namespace cocktail::regen_service {

struct DebouncerOptions {
  std::chrono::milliseconds quiet{200};
  std::chrono::milliseconds max_delay{2000};
  std::chrono::milliseconds backoff_initial{500};
  std::chrono::milliseconds backoff_max{30000};
  double backoff_multiplier = 2.0;
  // Fraction in [0, 1]: a backoff b is drawn from (b * (1 - jitter), b].
  double backoff_jitter = 0.5;
};

enum class TriggerMode { kDebounced, kImmediate };

// The delay before retrying after `failures` consecutive failures (>= 1):
// backoff_initial, times backoff_multiplier per further failure, capped at
// backoff_max, shortened by up to backoff_jitter times itself using
// `random01` (a number in [0, 1)).
core::Clock::duration backoff_delay(const DebouncerOptions& options, std::uint32_t failures, double random01);

// What a run was started for: everything pending at run_started().
struct PendingWork {
  std::int64_t newest_seq = 0;       // highest change seq covered (0: none noted)
  std::uint64_t changes = 0;         // distinct changes folded into this run
  std::vector<std::string> reasons;  // triggers, in arrival order, deduplicated
  core::Clock::time_point oldest;    // when the oldest of them arrived
  // A trigger without a seq (manual, start-up) is part of it: only a run
  // started after it satisfies it, whatever the seq (see drop_covered).
  bool unconditional = false;
};

struct DebouncerStats {
  std::uint64_t changes = 0;            // distinct changes noted
  std::uint64_t duplicate_changes = 0;  // redeliveries ignored
  // Changes that needed no run of their own: a successful run covering n
  // changes adds n - 1 (a failed run's changes are counted when retried),
  // and changes dropped by drop_covered() add one each.
  std::uint64_t coalesced_changes = 0;
  std::uint64_t dropped_as_covered = 0;  // pending works dropped by drop_covered()
  std::uint64_t triggers = 0;
  std::uint64_t runs_started = 0;
  std::uint64_t runs_succeeded = 0;
  std::uint64_t runs_failed = 0;
  std::uint32_t consecutive_failures = 0;
};

class Debouncer {
 public:
  // A number in [0, 1); the jitter's random source. Tests pass a fixed one.
  using RandomSource = std::function<double()>;
  // A seeded generator (the default when none is given).
  static RandomSource default_random();

  // Throws std::invalid_argument for non-positive windows, a multiplier
  // below 1, a jitter outside [0, 1] or backoff_initial > backoff_max.
  Debouncer(const core::Clock& clock, DebouncerOptions options = {}, RandomSource random = {});

  // A catalog change with its seq, seen now.
  void note_change(std::int64_t seq);
  // Changes up to `seq` are already covered (e.g. by the newest snapshot at
  // start-up): their redelivery will be ignored. Never lowers newest_seq().
  void note_covered(std::int64_t seq);
  // A reason to regenerate that is not a change event. With `seq`, the
  // trigger is about the catalog reaching that seq (a gap, a heartbeat ahead)
  // and any snapshot at or above it satisfies it; without, it is
  // unconditional (a manual request, the start-up catch-up).
  void note_trigger(std::string reason, TriggerMode mode = TriggerMode::kDebounced,
                    std::optional<std::int64_t> seq = std::nullopt);
  // A snapshot at catalog `seq` is current. Drops the pending work when it
  // holds nothing but changes and seq-bound triggers up to `seq`; returns
  // whether it did. The running run, if any, is not affected.
  bool drop_covered(std::int64_t seq);
  // The catalog's real newest seq is `latest`: any seq noted above it (a
  // forged or corrupt event) is lowered to it, so that it neither makes
  // later real changes look like redeliveries nor keeps work owed forever.
  void clamp_seq(std::int64_t latest);

  // Whether a run should start at `now`: something is pending, no run is in
  // progress, and its deadline has passed.
  bool poll(core::Clock::time_point now) const;
  // When poll() will next turn true if nothing else happens; nullopt when
  // nothing is pending or a run is in progress (the loop then waits for
  // events or run_finished only).
  std::optional<core::Clock::time_point> next_deadline() const;

  // Takes all pending work into a run. Throws std::logic_error if a run is
  // already in progress.
  PendingWork run_started();
  // Ends the run. On failure its work is pending again, behind the backoff.
  // Throws std::logic_error if no run is in progress.
  void run_finished(bool success);

  bool running() const { return running_.has_value(); }
  bool pending() const { return pending_.has_value(); }
  // Highest change seq ever noted (0 before the first).
  std::int64_t newest_seq() const { return newest_seq_; }
  // When the oldest change or trigger not yet covered by a successful run
  // arrived (pending or in the running run): the age behind the staleness metric.
  std::optional<core::Clock::time_point> oldest_uncovered() const;
  // The backoff drawn after the latest failure (zero after a success).
  core::Clock::duration current_backoff() const { return backoff_; }
  const DebouncerStats& stats() const { return stats_; }

 private:
  struct Work {
    PendingWork work;
    core::Clock::time_point newest;  // last change or debounced trigger
    std::optional<core::Clock::time_point> immediate_since;
  };

  Work& pending_work(core::Clock::time_point now);
  core::Clock::duration next_backoff();

  const core::Clock& clock_;
  DebouncerOptions options_;
  RandomSource random_;

  std::optional<Work> pending_;
  std::optional<Work> running_;
  std::optional<core::Clock::time_point> last_started_;
  std::int64_t newest_seq_ = 0;
  // A run may not start before this (failure backoff); time_point{} when none.
  core::Clock::time_point not_before_{};
  core::Clock::duration backoff_{};
  DebouncerStats stats_;
};

}  // namespace cocktail::regen_service

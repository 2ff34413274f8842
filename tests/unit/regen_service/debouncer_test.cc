// The Debouncer against a FakeClock: no test sleeps.
#include "cocktail/regen_service/debouncer.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace cocktail::regen_service {
namespace {

using namespace std::chrono_literals;
using TimePoint = core::Clock::time_point;

class DebouncerTest : public ::testing::Test {
 protected:
  // The random source returns `r`; 0 means "no jitter shortening".
  Debouncer make(DebouncerOptions options = {}) {
    return Debouncer(clock_, options, [this] { return r_; });
  }
  // Runs one regeneration at the current time, with the given outcome.
  PendingWork run(Debouncer& d, bool success = true) {
    EXPECT_TRUE(d.poll(clock_.now()));
    auto work = d.run_started();
    d.run_finished(success);
    return work;
  }

  core::FakeClock clock_;
  double r_ = 0.0;
};

TEST_F(DebouncerTest, NothingPendingGivesNoRun) {
  auto d = make();
  EXPECT_FALSE(d.next_deadline());
  for (int i = 0; i < 100; ++i) {
    clock_.advance(1s);
    EXPECT_FALSE(d.poll(clock_.now()));
  }
  EXPECT_EQ(d.stats().runs_started, 0u);
  EXPECT_FALSE(d.oldest_uncovered());
}

TEST_F(DebouncerTest, AnIsolatedChangeStartsARunAtOnce) {
  auto d = make();
  const TimePoint t0 = clock_.now();
  d.note_change(1);
  EXPECT_EQ(d.next_deadline(), t0);
  EXPECT_TRUE(d.poll(t0));
  run(d);
  // Long after that run: the next isolated change starts at once too.
  clock_.advance(5s);
  d.note_change(2);
  EXPECT_EQ(d.next_deadline(), clock_.now());
}

TEST_F(DebouncerTest, ChangesWithinTheQuietWindowOfARunStartAreCoalescedIntoOne) {
  auto d = make();
  const TimePoint t0 = clock_.now();
  d.note_change(1);
  run(d);  // leading edge, at t0
  for (int seq = 2; seq <= 5; ++seq) {
    clock_.advance(40ms);
    d.note_change(seq);
    EXPECT_FALSE(d.poll(clock_.now()));
  }
  // One window after the previous run started.
  EXPECT_EQ(d.next_deadline(), t0 + 200ms);
  clock_.advance(40ms);  // t0 + 200 ms
  auto work = run(d);
  EXPECT_EQ(work.changes, 4u);
  EXPECT_EQ(work.newest_seq, 5);
  EXPECT_EQ(work.oldest, t0 + 40ms);
  EXPECT_EQ(d.stats().coalesced_changes, 3u);
  EXPECT_EQ(d.stats().runs_succeeded, 2u);
  EXPECT_FALSE(d.pending());
  EXPECT_FALSE(d.next_deadline());
}

TEST_F(DebouncerTest, AContinuousStreamRunsOncePerQuietWindow) {
  auto d = make();
  const TimePoint t0 = clock_.now();
  std::vector<TimePoint> starts;
  // A change every 20 ms (50 per second) for 1 s.
  for (int seq = 1; seq <= 50; ++seq) {
    d.note_change(seq);
    if (d.poll(clock_.now())) {
      starts.push_back(clock_.now());
      d.run_started();
      d.run_finished(true);
    }
    clock_.advance(20ms);
  }
  ASSERT_EQ(starts.size(), 5u);
  for (std::size_t i = 0; i < starts.size(); ++i) {
    EXPECT_EQ(starts[i], t0 + 200ms * static_cast<int>(i));
  }
}

TEST_F(DebouncerTest, TheMaximumDelayBoundsAWindowLongerThanIt) {
  auto d = make({.quiet = 500ms, .max_delay = 120ms});
  const TimePoint t0 = clock_.now();
  d.note_change(1);
  run(d);
  clock_.advance(40ms);
  d.note_change(2);
  clock_.advance(40ms);
  d.note_change(3);
  EXPECT_EQ(d.next_deadline(), t0 + 160ms);  // 120 ms after change 2, before t0 + 500 ms
}

TEST_F(DebouncerTest, WindowsAreSettings) {
  auto d = make({.quiet = 50ms, .max_delay = 1000ms});
  const TimePoint t0 = clock_.now();
  d.note_change(1);
  run(d);
  clock_.advance(10ms);
  d.note_change(2);
  EXPECT_EQ(d.next_deadline(), t0 + 50ms);
}

TEST_F(DebouncerTest, ABurstDuringARunGivesExactlyOneFollowUp) {
  auto d = make();
  d.note_change(1);
  clock_.advance(200ms);
  ASSERT_TRUE(d.poll(clock_.now()));
  auto first = d.run_started();
  EXPECT_EQ(first.newest_seq, 1);

  // 500 changes over 3 s while the run is in progress: nothing may start.
  for (int seq = 2; seq <= 501; ++seq) {
    d.note_change(seq);
    clock_.advance(6ms);
    EXPECT_FALSE(d.poll(clock_.now()));
    EXPECT_FALSE(d.next_deadline());
  }
  EXPECT_TRUE(d.running());
  EXPECT_THROW(d.run_started(), std::logic_error);
  d.run_finished(true);

  // Their windows elapsed during the run: the follow-up is due at once.
  ASSERT_TRUE(d.poll(clock_.now()));
  auto follow_up = d.run_started();
  EXPECT_EQ(follow_up.changes, 500u);
  EXPECT_EQ(follow_up.newest_seq, 501);
  d.run_finished(true);
  for (int i = 0; i < 50; ++i) {
    clock_.advance(100ms);
    EXPECT_FALSE(d.poll(clock_.now()));
  }
  EXPECT_EQ(d.stats().runs_started, 2u);
  EXPECT_EQ(d.stats().coalesced_changes, 499u);
}

TEST_F(DebouncerTest, AFollowUpStillWaitsForAQuietWindowNotYetElapsed) {
  auto d = make();
  d.note_change(1);
  const TimePoint started = clock_.now();
  d.poll(clock_.now());
  d.run_started();
  clock_.advance(50ms);
  d.note_change(2);
  clock_.advance(50ms);
  d.run_finished(true);
  EXPECT_EQ(d.next_deadline(), started + 200ms);
  EXPECT_FALSE(d.poll(clock_.now()));
}

TEST_F(DebouncerTest, ClampingDropsSeqsTheCatalogDoesNotHold) {
  auto d = make();
  d.note_change(1LL << 62);  // forged
  d.clamp_seq(10);
  EXPECT_EQ(d.newest_seq(), 10);
  d.note_change(11);  // a real change is not taken for a redelivery
  EXPECT_EQ(d.stats().duplicate_changes, 0u);
  auto work = run(d);
  EXPECT_EQ(work.newest_seq, 11);
  EXPECT_TRUE(d.drop_covered(11) || !d.pending());
}

TEST_F(DebouncerTest, RedeliveredChangesAreIgnored) {
  auto d = make();
  d.note_change(7);
  clock_.advance(200ms);
  run(d);
  d.note_change(7);  // at-least-once: the same event again
  d.note_change(5);  // an older one
  EXPECT_FALSE(d.pending());
  EXPECT_EQ(d.stats().duplicate_changes, 2u);
  EXPECT_EQ(d.stats().changes, 1u);
  EXPECT_EQ(d.newest_seq(), 7);
}

TEST_F(DebouncerTest, ChangesAlreadyCoveredAtStartUpAreIgnored) {
  auto d = make();
  d.note_covered(40);
  d.note_change(40);
  EXPECT_FALSE(d.pending());
  d.note_change(41);
  EXPECT_TRUE(d.pending());
  d.note_covered(10);  // never lowers
  EXPECT_EQ(d.newest_seq(), 41);
}

TEST_F(DebouncerTest, TriggersAreDebouncedOrImmediate) {
  auto d = make();
  d.note_change(1);
  run(d);  // a run just started: debounced work waits for the window
  const TimePoint t0 = clock_.now();
  d.note_trigger("seq_gap");
  EXPECT_EQ(d.next_deadline(), t0 + 200ms);
  clock_.advance(100ms);
  d.note_trigger("startup", TriggerMode::kImmediate);
  EXPECT_TRUE(d.poll(clock_.now()));
  d.note_trigger("seq_gap");
  auto work = d.run_started();
  EXPECT_EQ(work.reasons, (std::vector<std::string>{"seq_gap", "startup"}));
  EXPECT_EQ(work.changes, 0u);
  d.run_finished(true);
  EXPECT_EQ(d.stats().triggers, 3u);
}

TEST_F(DebouncerTest, AFailedRunIsRetriedAfterABackoffThatGrowsAndIsCapped) {
  auto d = make();  // 500 ms doubling to 30 s
  d.note_change(1);
  clock_.advance(200ms);
  const std::vector<std::chrono::milliseconds> expected = {500ms,   1000ms,  2000ms,  4000ms, 8000ms,
                                                           16000ms, 30000ms, 30000ms, 30000ms};
  for (auto backoff : expected) {
    run(d, /*success=*/false);
    EXPECT_EQ(d.current_backoff(), backoff);
    ASSERT_TRUE(d.pending()) << "the failed run's work is still owed";
    EXPECT_EQ(d.next_deadline(), clock_.now() + backoff);
    EXPECT_FALSE(d.poll(clock_.now() + backoff - 1ms));
    clock_.advance(backoff);
  }
  EXPECT_EQ(d.stats().consecutive_failures, expected.size());
  auto work = d.run_started();
  EXPECT_EQ(work.newest_seq, 1);
  EXPECT_EQ(work.changes, 1u);
}

TEST_F(DebouncerTest, BackoffIsJitteredWithinBounds) {
  for (double r : {0.0, 0.25, 0.5, 0.999}) {
    r_ = r;
    auto d = make();
    d.note_change(1);
    clock_.advance(200ms);
    run(d, false);
    clock_.advance(d.current_backoff());
    run(d, false);  // second failure: base 1000 ms
    const auto backoff = d.current_backoff();
    EXPECT_GT(backoff, 500ms) << r;   // at most half is taken off
    EXPECT_LE(backoff, 1000ms) << r;  // never above the base
    const double expected_us = 1'000'000 * (1 - 0.5 * r);
    const double actual_us = std::chrono::duration<double, std::micro>(backoff).count();
    EXPECT_NEAR(actual_us, expected_us, 1.0) << r;
  }
}

TEST_F(DebouncerTest, ASuccessResetsTheBackoff) {
  auto d = make();
  d.note_change(1);
  clock_.advance(200ms);
  run(d, false);
  clock_.advance(d.current_backoff());
  run(d, false);
  EXPECT_EQ(d.current_backoff(), 1000ms);
  clock_.advance(d.current_backoff());
  run(d, true);
  EXPECT_EQ(d.current_backoff(), 0ms);
  EXPECT_EQ(d.stats().consecutive_failures, 0u);

  d.note_change(2);
  EXPECT_EQ(d.next_deadline(), clock_.now() + 200ms);  // no backoff left behind
  clock_.advance(200ms);
  run(d, false);
  EXPECT_EQ(d.current_backoff(), 500ms);
}

TEST_F(DebouncerTest, ChangesDuringAFailedRunMergeWithItsWork) {
  auto d = make();
  const TimePoint t0 = clock_.now();
  d.note_change(1);
  clock_.advance(200ms);
  d.poll(clock_.now());
  d.run_started();
  d.note_change(2);
  d.note_trigger("heartbeat_ahead");
  clock_.advance(1s);
  EXPECT_EQ(d.oldest_uncovered(), t0);
  d.run_finished(false);
  clock_.advance(d.current_backoff());
  auto retry = d.run_started();
  EXPECT_EQ(retry.newest_seq, 2);
  EXPECT_EQ(retry.changes, 2u);
  EXPECT_EQ(retry.oldest, t0);
  EXPECT_EQ(retry.reasons, (std::vector<std::string>{"heartbeat_ahead"}));
  d.run_finished(true);
  EXPECT_FALSE(d.oldest_uncovered());
  EXPECT_EQ(d.stats().runs_failed, 1u);
  EXPECT_EQ(d.stats().runs_succeeded, 1u);
  EXPECT_EQ(d.stats().coalesced_changes, 1u);
}

TEST_F(DebouncerTest, ChangesCoveredByTheFinishedRunNeedNoFollowUp) {
  auto d = make();
  d.note_change(1);
  clock_.advance(200ms);
  ASSERT_TRUE(d.poll(clock_.now()));
  d.run_started();
  // Committed before the run read the catalog (seq 3), announced after it started.
  d.note_change(2);
  d.note_change(3);
  d.run_finished(true);
  ASSERT_TRUE(d.pending());
  EXPECT_TRUE(d.drop_covered(3));
  EXPECT_FALSE(d.pending());
  EXPECT_FALSE(d.oldest_uncovered());
  EXPECT_EQ(d.stats().coalesced_changes, 2u) << "both needed no run of their own";
  EXPECT_EQ(d.stats().dropped_as_covered, 1u);
  for (int i = 0; i < 10; ++i) {
    clock_.advance(1s);
    EXPECT_FALSE(d.poll(clock_.now()));
  }
}

TEST_F(DebouncerTest, WorkBeyondTheSnapshotOrUnconditionalIsKept) {
  auto d = make();
  d.note_change(5);
  EXPECT_FALSE(d.drop_covered(4)) << "seq 5 is not in a snapshot at 4";
  EXPECT_TRUE(d.pending());

  auto manual = make();
  manual.note_trigger("manual", TriggerMode::kImmediate);
  EXPECT_FALSE(manual.drop_covered(1000)) << "a manual request wants a run of its own";
  EXPECT_TRUE(manual.poll(clock_.now()));

  auto heartbeat = make();
  heartbeat.note_trigger("heartbeat_ahead", TriggerMode::kDebounced, 7);
  EXPECT_FALSE(heartbeat.drop_covered(6));
  EXPECT_TRUE(heartbeat.drop_covered(7)) << "a snapshot at seq 7 is what the heartbeat asked for";
  EXPECT_FALSE(heartbeat.pending());
  EXPECT_FALSE(heartbeat.drop_covered(7)) << "nothing left to drop";
}

TEST_F(DebouncerTest, AnUnconditionalTriggerSurvivesAFailedRunMerge) {
  auto d = make();
  d.note_trigger("manual", TriggerMode::kImmediate);
  d.run_started();
  d.note_change(1);
  d.run_finished(false);
  EXPECT_FALSE(d.drop_covered(100)) << "the manual request is still owed after its run failed";
  EXPECT_TRUE(d.pending());
}

TEST_F(DebouncerTest, MisuseAndBadOptionsThrow) {
  auto d = make();
  EXPECT_THROW(d.run_finished(true), std::logic_error);
  EXPECT_THROW(make({.quiet = 0ms}), std::invalid_argument);
  EXPECT_THROW(make({.max_delay = -1ms}), std::invalid_argument);
  EXPECT_THROW(make({.backoff_initial = 40s}), std::invalid_argument);
  EXPECT_THROW(make({.backoff_multiplier = 0.5}), std::invalid_argument);
  EXPECT_THROW(make({.backoff_jitter = 1.5}), std::invalid_argument);
}

}  // namespace
}  // namespace cocktail::regen_service

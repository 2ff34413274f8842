// The SequenceTracker against a FakeClock and a real Debouncer: no threads,
// no sockets, no sleeping.
#include "cocktail/regen_service/sequence_tracker.h"

#include <gtest/gtest.h>

namespace cocktail::regen_service {
namespace {

using namespace std::chrono_literals;

constexpr std::int64_t kForged = std::int64_t{1} << 62;

class SequenceTrackerTest : public ::testing::Test {
 protected:
  SequenceTrackerTest() : debouncer_(clock_, {}, [] { return 0.0; }), tracker_(clock_, debouncer_) {}

  // Runs what is due and publishes it at the catalog's seq `seq`.
  PendingWork run_and_publish(std::int64_t seq) {
    EXPECT_TRUE(debouncer_.poll(clock_.now()));
    auto work = debouncer_.run_started();
    debouncer_.run_finished(true);
    tracker_.on_published(seq);
    return work;
  }

  core::FakeClock clock_;
  Debouncer debouncer_;
  SequenceTracker tracker_;
};

TEST_F(SequenceTrackerTest, StartCatchesUpOnlyWhenTheCatalogIsAheadOrThereIsNoSnapshot) {
  EXPECT_FALSE(tracker_.start(10, 10));
  EXPECT_FALSE(debouncer_.pending());
  SequenceTracker none(clock_, debouncer_);
  EXPECT_TRUE(none.start(std::nullopt, 0));
  EXPECT_EQ(none.take_triggers(), (std::vector<std::string>{kReasonStartup}));
}

TEST_F(SequenceTrackerTest, AChangeIsAHintConfirmedByTheCatalogBeforeItCounts) {
  tracker_.start(10, 10);
  tracker_.on_change(11);
  EXPECT_TRUE(tracker_.wants_probe());
  EXPECT_FALSE(debouncer_.pending()) << "nothing changes before the catalog confirms";
  EXPECT_EQ(tracker_.owed_seq(), 10);
  tracker_.on_probe(11, /*periodic=*/false);
  EXPECT_FALSE(tracker_.wants_probe());
  EXPECT_EQ(tracker_.owed_seq(), 11);
  EXPECT_TRUE(debouncer_.pending());
  EXPECT_EQ(run_and_publish(11).newest_seq, 11);
  EXPECT_EQ(tracker_.staleness_seconds(clock_.now()), 0.0);
}

TEST_F(SequenceTrackerTest, AForgedSeqIsRejectedAndLeavesNothingOwed) {
  tracker_.start(10, 10);
  tracker_.on_change(kForged);
  tracker_.on_heartbeat(kForged);
  tracker_.on_probe(10, false);
  EXPECT_EQ(tracker_.rejected(), 2u);
  EXPECT_EQ(tracker_.owed_seq(), 10);
  EXPECT_EQ(tracker_.confirmed_seq(), 10);
  EXPECT_FALSE(debouncer_.pending());
  EXPECT_EQ(tracker_.staleness_seconds(clock_.now()), 0.0);
  // The next real change is not taken for a redelivery.
  tracker_.on_change(11);
  tracker_.on_probe(11, false);
  EXPECT_EQ(debouncer_.stats().duplicate_changes, 0u);
  EXPECT_EQ(run_and_publish(11).newest_seq, 11);
}

TEST_F(SequenceTrackerTest, AForgedSeqAmongRealOnesRejectsOnlyItself) {
  tracker_.start(10, 10);
  tracker_.on_change(11);
  tracker_.on_change(kForged);
  tracker_.on_change(12);
  tracker_.on_probe(12, false);
  EXPECT_EQ(tracker_.rejected(), 1u);
  EXPECT_EQ(tracker_.owed_seq(), 12);
  const auto work = run_and_publish(12);
  EXPECT_EQ(work.changes, 2u);
  EXPECT_EQ(work.newest_seq, 12);
}

// The service lets events in while it reads the catalog: a change committed
// (and announced) after the read saw the catalog is judged by the next read,
// not rejected as forged; a forged one still is, one read later.
TEST_F(SequenceTrackerTest, AHintArrivingDuringAReadWaitsForTheNextRead) {
  tracker_.start(10, 10);
  tracker_.on_change(11);
  tracker_.begin_probe();
  tracker_.on_change(12);  // committed after the read below saw 11
  tracker_.on_heartbeat(12);
  tracker_.on_change(kForged);   // forged, also during the read
  tracker_.on_probe(11, false);  // what the read saw
  EXPECT_EQ(tracker_.rejected(), 0u);
  EXPECT_EQ(tracker_.owed_seq(), 11);
  EXPECT_TRUE(tracker_.wants_probe()) << "the later hints wait for another read";
  tracker_.begin_probe();
  tracker_.on_probe(12, false);
  EXPECT_EQ(tracker_.rejected(), 1u) << "the forged seq, and only it";
  EXPECT_EQ(tracker_.owed_seq(), 12);
  EXPECT_FALSE(tracker_.wants_probe());
  const auto work = run_and_publish(12);
  EXPECT_EQ(work.changes, 2u);
  EXPECT_EQ(work.newest_seq, 12);
}

TEST_F(SequenceTrackerTest, GapsHeartbeatsAndPeriodicReadsNameTheirReason) {
  tracker_.start(10, 10);
  tracker_.on_change(13);  // 11 and 12 were never announced
  tracker_.on_probe(13, false);
  EXPECT_EQ(tracker_.take_triggers(), (std::vector<std::string>{kReasonGap}));
  run_and_publish(13);

  tracker_.on_heartbeat(15);
  tracker_.on_probe(15, false);
  EXPECT_EQ(tracker_.take_triggers(), (std::vector<std::string>{kReasonHeartbeat}));
  clock_.advance(1s);
  run_and_publish(15);

  tracker_.on_probe(16, /*periodic=*/true);  // no event at all
  EXPECT_EQ(tracker_.take_triggers(), (std::vector<std::string>{kReasonCatalog}));
  EXPECT_TRUE(debouncer_.poll(clock_.now())) << "immediate";
}

TEST_F(SequenceTrackerTest, RedeliveriesAndCoveredHeartbeatsNeedNoRead) {
  tracker_.start(10, 10);
  tracker_.on_change(9);
  tracker_.on_heartbeat(10);
  EXPECT_FALSE(tracker_.wants_probe());
  EXPECT_FALSE(debouncer_.pending());
  EXPECT_EQ(debouncer_.stats().duplicate_changes, 1u);
}

TEST_F(SequenceTrackerTest, AnUnreadableCatalogStillSchedulesTheHintedWork) {
  tracker_.start(10, 10);
  tracker_.on_change(11);
  tracker_.on_probe_failed("database is locked");
  EXPECT_FALSE(tracker_.wants_probe());
  EXPECT_TRUE(debouncer_.pending()) << "the run reads the catalog itself";
  EXPECT_EQ(tracker_.probe_error(), "database is locked");
  tracker_.on_probe(11, true);
  EXPECT_TRUE(tracker_.probe_error().empty());
}

TEST_F(SequenceTrackerTest, StalenessIsTheAgeOfTheOldestUncoveredChange) {
  tracker_.start(10, 10);
  tracker_.on_change(11);
  tracker_.on_probe(11, false);
  clock_.advance(1500ms);
  EXPECT_DOUBLE_EQ(tracker_.staleness_seconds(clock_.now()), 1.5);
  run_and_publish(11);
  EXPECT_EQ(tracker_.staleness_seconds(clock_.now()), 0.0);
}

}  // namespace
}  // namespace cocktail::regen_service

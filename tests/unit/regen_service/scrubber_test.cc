// Scrubber over a real store: passes find what went bad on disk, requests
// are confirmed or dismissed by reading the file itself, and every read
// draws on one budget of bytes per second (time by a manual clock).
#include "cocktail/regen_service/scrubber.h"

#include <gtest/gtest.h>

#include <mutex>
#include <vector>

#include "analytics_inbox.h"
#include "cocktail/testing/temp_dir.h"
#include "cocktail/testing/wait.h"
#include "service_fixture.h"

namespace cocktail::regen_service {
namespace {

namespace fs = std::filesystem;

class ScrubberTest : public ::testing::Test {
 protected:
  std::int64_t write_generation(std::int64_t big_bytes = 1000) {
    auto w = store_.begin_generation();
    const auto g = w.generation();
    w.add("small.json", "{\"g\":" + std::to_string(g) + "}");
    w.add("big.bin", std::string(static_cast<std::size_t>(big_bytes), static_cast<char>('a' + g)));
    w.commit(g, 1795000000000 + g);
    return g;
  }
  void start(ScrubberOptions options) {
    scrubber_ = std::make_unique<Scrubber>(options, clock_, store_, registry_, [this](const ScrubFinding& f) {
      std::lock_guard lock(mu_);
      found_.push_back(f);
    });
    scrubber_->start();
  }
  std::vector<ScrubFinding> found() {
    std::lock_guard lock(mu_);
    return found_;
  }
  void corrupt(std::int64_t g, const std::string& name) {
    auto bytes = testing::read_file((store_.generation_dir(g) / name).string());
    bytes[bytes.size() / 2] ^= 0x01;
    testing::write_file((store_.generation_dir(g) / name).string(), bytes);
  }
  std::uint64_t requests_done() {
    const auto s = scrubber_->stats();
    return s.requests_confirmed + s.requests_dismissed;
  }

  testing::TempDir dir_{"scrubber-test"};
  snapshot::SnapshotStore store_{dir_.file("analytics")};
  ManualClock clock_;
  metrics::MetricsRegistry registry_;
  std::mutex mu_;
  std::vector<ScrubFinding> found_;
  std::unique_ptr<Scrubber> scrubber_;
};

TEST_F(ScrubberTest, APassAtStartAndThenEveryIntervalFindsWhatWentBad) {
  write_generation();
  const auto g = write_generation();
  start({std::chrono::hours(1), 0});
  ASSERT_TRUE(testing::wait_until([&] { return scrubber_->stats().passes == 1; }, 5s));
  EXPECT_TRUE(found().empty());
  EXPECT_GT(scrubber_->stats().bytes_read, 1000u);
  EXPECT_EQ(sample(registry_.serialize_text(), "cocktail_regen_scrub_passes_total"), 1);

  corrupt(g, "big.bin");
  clock_.advance(std::chrono::hours(1));
  scrubber_->wake();
  ASSERT_TRUE(testing::wait_until([&] { return scrubber_->stats().passes == 2; }, 5s));
  const auto f = found();
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].generation, g);
  EXPECT_EQ(f[0].file, "big.bin");
  EXPECT_EQ(f[0].reason, "corrupt");
  EXPECT_FALSE(f[0].requested);
}

TEST_F(ScrubberTest, RequestsAreConfirmedOnlyWhenTheFileFailsHere) {
  const auto g = write_generation();
  start({std::chrono::milliseconds(0), 0});  // requests only
  EXPECT_TRUE(scrubber_->check("big.bin"));
  ASSERT_TRUE(testing::wait_until([&] { return requests_done() == 1; }, 5s));
  EXPECT_EQ(scrubber_->stats().requests_dismissed, 1u);  // it verifies: nothing to do
  EXPECT_TRUE(found().empty());

  corrupt(g, "small.json");
  EXPECT_TRUE(scrubber_->check("small.json"));
  EXPECT_TRUE(scrubber_->check("not-in-the-manifest.json"));
  ASSERT_TRUE(testing::wait_until([&] { return requests_done() == 3; }, 5s));
  EXPECT_EQ(scrubber_->stats().requests_confirmed, 1u);
  ASSERT_EQ(found().size(), 1u);
  EXPECT_TRUE(found()[0].requested);
  EXPECT_EQ(found()[0].file, "small.json");

  // Not a snapshot file name: dropped without a look.
  EXPECT_FALSE(scrubber_->check("../../etc/passwd"));
  EXPECT_FALSE(scrubber_->check(""));
  EXPECT_EQ(scrubber_->stats().requests_dropped, 2u);
  const std::string text = registry_.serialize_text();
  EXPECT_EQ(sample(text, R"(cocktail_regen_repair_requests_total{result="confirmed"})"), 1);
  EXPECT_EQ(sample(text, R"(cocktail_regen_repair_requests_total{result="dismissed"})"), 2);
  EXPECT_EQ(sample(text, R"(cocktail_regen_repair_requests_total{result="dropped"})"), 2);
}

TEST_F(ScrubberTest, AnUnreadableManifestOrAMissingCurrentIsFound) {
  const auto g = write_generation();
  testing::write_file((store_.generation_dir(g) / "manifest.json").string(), "{");
  start({std::chrono::milliseconds(0), 0});
  scrubber_->check("big.bin");
  ASSERT_TRUE(testing::wait_until([&] { return found().size() == 1; }, 5s));
  EXPECT_EQ(found()[0].file, "manifest.json");
  EXPECT_EQ(found()[0].reason, "malformed");

  write_generation();  // a good one, then CURRENT is lost
  fs::remove(store_.version_dir() / "CURRENT");
  scrubber_->check("CURRENT");
  ASSERT_TRUE(testing::wait_until([&] { return found().size() == 2; }, 5s));
  EXPECT_EQ(found()[1].file, "CURRENT");
  EXPECT_EQ(found()[1].reason, "not_found");
}

TEST_F(ScrubberTest, ReadsDrawOnOneBudgetOfBytesPerSecond) {
  write_generation(35000);
  // 10,000 bytes a second: the 35 KB file is drawn on credit and the check
  // completes only once 2.5 s have passed by the clock.
  start({std::chrono::milliseconds(0), 10000});
  scrubber_->check("big.bin");
  ASSERT_TRUE(testing::wait_until([&] { return scrubber_->stats().bytes_read >= 35000; }, 5s));
  EXPECT_EQ(requests_done(), 0u);  // waiting for its budget
  clock_.advance(std::chrono::milliseconds(2000));
  scrubber_->wake();
  EXPECT_EQ(requests_done(), 0u);
  clock_.advance(std::chrono::milliseconds(600));
  ASSERT_TRUE(testing::wait_until([&] { return requests_done() == 1; }, 5s));
}

TEST_F(ScrubberTest, AGenerationReplacedDuringAPassIsNotAFailure) {
  const auto first = write_generation(35000);
  start({std::chrono::hours(1), 10000});
  // The pass reads big.bin (first in name order) and waits for its budget...
  ASSERT_TRUE(testing::wait_until([&] { return scrubber_->stats().bytes_read >= 35000; }, 5s));
  // ...meanwhile a new generation is published and gc removes the first.
  write_generation(35000);
  fs::remove_all(store_.generation_dir(first));
  clock_.advance(std::chrono::seconds(60));
  // The pass moves on to the new generation (its big.bin is a new file).
  ASSERT_TRUE(testing::wait_until([&] { return scrubber_->stats().bytes_read >= 70000; }, 5s));
  clock_.advance(std::chrono::seconds(60));
  ASSERT_TRUE(testing::wait_until([&] { return scrubber_->stats().passes == 1; }, 5s));
  EXPECT_TRUE(found().empty());
}

TEST_F(ScrubberTest, StopInterruptsAPacedRead) {
  write_generation(35000);
  start({std::chrono::hours(1), 1000});  // 35 s of budget by the manual clock, which never moves
  ASSERT_TRUE(testing::wait_until([&] { return scrubber_->stats().bytes_read >= 35000; }, 5s));
  scrubber_->stop();
  EXPECT_EQ(scrubber_->stats().passes, 0u);
}

}  // namespace
}  // namespace cocktail::regen_service

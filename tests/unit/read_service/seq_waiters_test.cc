// CatalogSeqWaiters: parked callbacks complete once, with the generation
// that covers them or on their deadline; races with a swap are not lost.
#include "cocktail/read_service/seq_waiters.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>
#include <vector>

#include "cocktail/testing/wait.h"

namespace cocktail::read_service {
namespace {

using namespace std::chrono_literals;
using Clock = CatalogSeqWaiters::Clock;

std::shared_ptr<const Generation> generation(std::int64_t number, std::int64_t seq) {
  snapshot::Snapshot snap;
  snap.manifest.generation = number;
  snap.manifest.catalog_seq = seq;
  return Generation::build(std::move(snap), 0).value();
}

TEST(CatalogSeqWaiters, AGenerationCoveringTheSeqCompletesTheWaiter) {
  metrics::MetricsRegistry registry;
  CatalogSeqWaiters waiters(100, registry);
  std::promise<std::int64_t> done;
  auto parked = waiters.park(10, {}, Clock::now() + 10s, [&](const std::shared_ptr<const Generation>& g) {
    done.set_value(g ? g->generation() : -1);
  });
  ASSERT_EQ(parked.kind, CatalogSeqWaiters::Parked::Kind::kParked);
  EXPECT_EQ(waiters.waiting(), 1u);
  waiters.on_generation(generation(1, 9));  // not enough
  EXPECT_EQ(waiters.waiting(), 1u);
  waiters.on_generation(generation(2, 12));
  auto f = done.get_future();
  ASSERT_EQ(f.wait_for(1s), std::future_status::ready);
  EXPECT_EQ(f.get(), 2);
  EXPECT_EQ(waiters.waiting(), 0u);
}

// A fast generation: fresh exact files at `seq`, the cocktail space carried
// forward from `space_seq`.
std::shared_ptr<const Generation> fast_generation(std::int64_t number, std::int64_t seq,
                                                  std::int64_t space_seq) {
  snapshot::Snapshot snap;
  snap.manifest.generation = number;
  snap.manifest.catalog_seq = seq;
  const std::string digest(64, 'a');
  snap.manifest.files["ingredient-usage.json"] = snapshot::FileEntry{digest, 10, std::nullopt};
  snap.manifest.files["cocktail-space.json"] = snapshot::FileEntry{digest, 10, space_seq};
  snap.files["ingredient-usage.json"] = "{\"data\":1}";
  snap.files["cocktail-space.json"] = "{\"data\":2}";
  return Generation::build(std::move(snap), 0).value();
}

TEST(CatalogSeqWaiters, PerFileSeqsDecideWhatAFastGenerationCovers) {
  metrics::MetricsRegistry registry;
  CatalogSeqWaiters waiters(100, registry);
  std::promise<std::int64_t> usage;
  std::promise<std::int64_t> space;
  ASSERT_EQ(waiters
                .park(10, {"ingredient-usage.json"}, Clock::now() + 10s,
                      [&](const std::shared_ptr<const Generation>& g) {
                        usage.set_value(g ? g->generation() : -1);
                      })
                .kind,
            CatalogSeqWaiters::Parked::Kind::kParked);
  ASSERT_EQ(waiters
                .park(10, {"cocktail-space.json"}, Clock::now() + 10s,
                      [&](const std::shared_ptr<const Generation>& g) {
                        space.set_value(g ? g->generation() : -1);
                      })
                .kind,
            CatalogSeqWaiters::Parked::Kind::kParked);
  const auto fast = fast_generation(3, 10, 7);
  EXPECT_EQ(fast->covered_seq({"ingredient-usage.json"}), 10);
  EXPECT_EQ(fast->covered_seq({"cocktail-space.json"}), 7);
  EXPECT_EQ(fast->covered_seq({}), 10);
  waiters.on_generation(fast);
  auto u = usage.get_future();
  ASSERT_EQ(u.wait_for(1s), std::future_status::ready);
  EXPECT_EQ(u.get(), 3) << "the fresh exact files satisfy min_seq at once";
  EXPECT_EQ(waiters.waiting(), 1u) << "the carried-forward space is older than min_seq";
  waiters.on_generation(fast_generation(4, 10, 10));  // the complete generation
  auto s = space.get_future();
  ASSERT_EQ(s.wait_for(1s), std::future_status::ready);
  EXPECT_EQ(s.get(), 4);
  EXPECT_EQ(waiters.waiting(), 0u);
}

TEST(CatalogSeqWaiters, TheDeadlineCompletesWithNull) {
  metrics::MetricsRegistry registry;
  CatalogSeqWaiters waiters(100, registry);
  std::promise<bool> done;
  const auto start = Clock::now();
  waiters.park(10, {}, start + 100ms,
               [&](const std::shared_ptr<const Generation>& g) { done.set_value(g == nullptr); });
  // An earlier deadline parked later is still honoured first.
  std::promise<bool> early;
  waiters.park(10, {}, start + 30ms,
               [&](const std::shared_ptr<const Generation>& g) { early.set_value(g == nullptr); });
  auto fe = early.get_future();
  ASSERT_EQ(fe.wait_for(2s), std::future_status::ready);
  EXPECT_TRUE(fe.get());
  auto f = done.get_future();
  ASSERT_EQ(f.wait_for(2s), std::future_status::ready);
  EXPECT_TRUE(f.get());
  EXPECT_GE(Clock::now() - start, 100ms);
  EXPECT_EQ(waiters.waiting(), 0u);
  EXPECT_NE(registry.serialize_text().find("cocktail_read_waits_total{result=\"timeout\"} 2"),
            std::string::npos);
}

TEST(CatalogSeqWaiters, AlreadyCoveredIsAnsweredWithoutParking) {
  metrics::MetricsRegistry registry;
  CatalogSeqWaiters waiters(100, registry);
  waiters.on_generation(generation(4, 50));
  bool called = false;
  auto parked = waiters.park(50, {}, Clock::now() + 1s,
                             [&](const std::shared_ptr<const Generation>&) { called = true; });
  EXPECT_EQ(parked.kind, CatalogSeqWaiters::Parked::Kind::kSatisfied);
  EXPECT_EQ(parked.generation->generation(), 4);
  EXPECT_FALSE(called);
}

TEST(CatalogSeqWaiters, BoundedAndStoppable) {
  metrics::MetricsRegistry registry;
  CatalogSeqWaiters waiters(3, registry);
  std::atomic<int> nulls{0};
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(waiters.park(100, {}, Clock::now() + 60s, [&](auto g) { nulls += g == nullptr; }).kind,
              CatalogSeqWaiters::Parked::Kind::kParked);
  }
  EXPECT_EQ(waiters.park(100, {}, Clock::now() + 60s, [&](auto) {}).kind,
            CatalogSeqWaiters::Parked::Kind::kFull);
  waiters.stop();
  EXPECT_EQ(nulls.load(), 3);
  EXPECT_EQ(waiters.park(100, {}, Clock::now() + 60s, [&](auto) {}).kind,
            CatalogSeqWaiters::Parked::Kind::kStopped);
}

TEST(CatalogSeqWaiters, NoWaiterIsLostToARacingSwap) {
  metrics::MetricsRegistry registry;
  CatalogSeqWaiters waiters(100000, registry);
  std::atomic<int> satisfied{0}, timed_out{0};
  std::thread swapper([&] {
    for (int g = 1; g <= 200; ++g) {
      waiters.on_generation(generation(g, g));
    }
  });
  for (int i = 0; i < 2000; ++i) {
    const std::int64_t want = 1 + i % 200;
    auto p = waiters.park(want, {}, Clock::now() + 5s,
                          [&](const std::shared_ptr<const Generation>& g) { (g ? satisfied : timed_out)++; });
    if (p.kind == CatalogSeqWaiters::Parked::Kind::kSatisfied) {
      satisfied++;
    }
  }
  swapper.join();
  // Every seq up to 200 was eventually covered: all complete at once, none waits for its deadline.
  EXPECT_TRUE(testing::wait_until([&] { return satisfied.load() == 2000; }, 2s));
  EXPECT_EQ(timed_out.load(), 0);
}

}  // namespace
}  // namespace cocktail::read_service

// SnapshotCache: loads verified generations written by the engine, refuses
// corrupt ones (counted, named, previous kept), follows CURRENT by itself.
#include "cocktail/read_service/snapshot_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>

#include "cocktail/read_service/representation.h"
#include "cocktail/testing/temp_dir.h"
#include "cocktail/testing/wait.h"
#include "engine_fixture.h"

namespace cocktail::read_service {
namespace {

using namespace std::chrono_literals;

void flip_a_byte(const std::filesystem::path& file) {
  std::string bytes = testing::read_file(file);
  ASSERT_FALSE(bytes.empty());
  bytes[bytes.size() / 2] ^= 0x20;
  testing::write_file(file, bytes);
}

TEST(SnapshotCache, LoadsSwapsAndNotifies) {
  read_test::Engine engine;
  metrics::MetricsRegistry registry;
  SnapshotCache cache({engine.analytics_path(), 1h}, registry);
  EXPECT_EQ(cache.refresh(), RefreshOutcome::kNoSnapshot);
  EXPECT_EQ(cache.current(), nullptr);

  std::vector<std::int64_t> seen;
  cache.add_listener([&](const std::shared_ptr<const Generation>& g) { seen.push_back(g->generation()); });
  const auto first = engine.regenerate();
  EXPECT_EQ(cache.refresh(), RefreshOutcome::kSwapped);
  auto held = cache.current();
  ASSERT_NE(held, nullptr);
  EXPECT_EQ(held->generation(), first.generation);
  EXPECT_EQ(cache.refresh(), RefreshOutcome::kUnchanged);

  const auto second = engine.change_and_regenerate();
  EXPECT_EQ(cache.refresh(), RefreshOutcome::kSwapped);
  EXPECT_EQ(cache.current()->generation(), second.generation);
  EXPECT_GT(cache.current()->catalog_seq(), first.catalog_seq);
  // A reader holding the previous generation keeps it intact.
  EXPECT_EQ(held->generation(), first.generation);
  EXPECT_NE(held->analytic("ingredient-usage"), nullptr);
  EXPECT_EQ(seen, (std::vector<std::int64_t>{first.generation, second.generation}));

  const std::string text = registry.serialize_text();
  EXPECT_NE(text.find("cocktail_snapshot_generation " + std::to_string(second.generation)),
            std::string::npos);
  EXPECT_NE(text.find("cocktail_snapshot_catalog_seq " + std::to_string(second.catalog_seq)),
            std::string::npos);
}

TEST(SnapshotCache, ACorruptFileIsNeverServedAndIsCounted) {
  read_test::Engine engine;
  metrics::MetricsRegistry registry;
  SnapshotCache cache({engine.analytics_path(), 1h}, registry);
  const auto good = engine.regenerate();
  ASSERT_EQ(cache.refresh(), RefreshOutcome::kSwapped);

  const auto bad = engine.change_and_regenerate();
  flip_a_byte(engine.store().generation_dir(bad.generation) / "recipe-complexity.json");
  EXPECT_EQ(cache.refresh(), RefreshOutcome::kRefused);
  EXPECT_EQ(cache.current()->generation(), good.generation);
  EXPECT_EQ(cache.verification_failures(), 1u);
  auto refusal = cache.last_refusal();
  ASSERT_TRUE(refusal.has_value());
  EXPECT_EQ(refusal->generation, bad.generation);
  EXPECT_NE(refusal->file.find("recipe-complexity.json"), std::string::npos);
  EXPECT_EQ(refusal->reason, "corrupt");
  EXPECT_NE(registry.serialize_text().find("cocktail_snapshot_verification_failures_total 1"),
            std::string::npos);

  // Not retried (and not counted again) while CURRENT names it.
  EXPECT_EQ(cache.refresh(), RefreshOutcome::kUnchanged);
  EXPECT_EQ(cache.verification_failures(), 1u);

  // The next good generation is served.
  const auto next = engine.change_and_regenerate();
  EXPECT_EQ(cache.refresh(), RefreshOutcome::kSwapped);
  EXPECT_EQ(cache.current()->generation(), next.generation);
}

TEST(SnapshotCache, ATruncatedFileAndAMalformedManifestAreRefused) {
  read_test::Engine engine;
  metrics::MetricsRegistry registry;
  SnapshotCache cache({engine.analytics_path(), 1h}, registry);
  engine.regenerate();
  ASSERT_EQ(cache.refresh(), RefreshOutcome::kSwapped);

  const auto truncated = engine.change_and_regenerate();
  const auto file = engine.store().generation_dir(truncated.generation) / "ingredient-tree.json";
  testing::write_file(file, testing::read_file(file).substr(0, 10));
  EXPECT_EQ(cache.refresh(), RefreshOutcome::kRefused);
  EXPECT_EQ(cache.verification_failures(), 1u);

  const auto malformed = engine.change_and_regenerate();
  testing::write_file(engine.store().generation_dir(malformed.generation) / "manifest.json", "{not json");
  EXPECT_EQ(cache.refresh(), RefreshOutcome::kRefused);
  EXPECT_EQ(cache.last_refusal()->reason, "malformed");
  EXPECT_LT(cache.current()->generation(), truncated.generation);
}

TEST(SnapshotCache, TheRefreshThreadFollowsCurrentWithoutAnnouncements) {
  read_test::Engine engine;
  metrics::MetricsRegistry registry;
  SnapshotCache cache({engine.analytics_path(), 20ms}, registry);
  cache.start();
  const auto first = engine.regenerate();
  EXPECT_TRUE(testing::wait_until(
      [&] { return cache.current() && cache.current()->generation() == first.generation; }, 5s));
  const auto second = engine.change_and_regenerate();
  EXPECT_TRUE(testing::wait_until(
      [&] { return cache.current() && cache.current()->generation() == second.generation; }, 5s));
  cache.stop();
}

TEST(SnapshotCache, AnAnnouncementWakesTheRefreshAndStalenessCountsUntilLoaded) {
  read_test::Engine engine;
  metrics::MetricsRegistry registry;
  SnapshotCache cache({engine.analytics_path(), 1h}, registry);  // no periodic check in this test
  engine.regenerate();
  cache.start();
  ASSERT_TRUE(testing::wait_until([&] { return cache.current() != nullptr; }, 5s));
  EXPECT_EQ(cache.staleness_seconds(), 0.0);

  // Announced but not (yet) loadable: the generation is refused, staleness grows.
  const auto bad = engine.change_and_regenerate();
  flip_a_byte(engine.store().generation_dir(bad.generation) / "ingredient-usage.json");
  cache.note_announced(bad.generation);
  ASSERT_TRUE(testing::wait_until([&] { return cache.verification_failures() == 1; }, 5s));
  std::this_thread::sleep_for(20ms);
  EXPECT_GT(cache.staleness_seconds(), 0.0);

  const auto good = engine.change_and_regenerate();
  cache.note_announced(good.generation);
  ASSERT_TRUE(testing::wait_until([&] { return cache.current()->generation() == good.generation; }, 5s));
  EXPECT_EQ(cache.staleness_seconds(), 0.0);
  cache.stop();
}

TEST(SnapshotCache, AForgedAnnouncementIsCheckedAgainstCurrentAndNeverHoldsTheStalenessClock) {
  read_test::Engine engine;
  metrics::MetricsRegistry registry;
  SnapshotCache cache({engine.analytics_path(), 1h}, registry);  // no periodic check in this test
  const auto first = engine.regenerate();
  cache.start();
  ASSERT_TRUE(testing::wait_until([&] { return cache.current() != nullptr; }, 5s));

  // Generation 2^62 on the bus, again and again: CURRENT says otherwise.
  constexpr std::int64_t kForged = std::int64_t{1} << 62;
  for (std::uint64_t n = 1; n <= 3; ++n) {
    cache.note_announced(kForged);
    ASSERT_TRUE(testing::wait_until([&] { return cache.unverified_announcements() >= n; }, 5s)) << n;
    std::this_thread::sleep_for(20ms);
    EXPECT_EQ(cache.staleness_seconds(), 0.0) << n;
  }
  EXPECT_EQ(cache.current()->generation(), first.generation);
  EXPECT_NE(registry.serialize_text().find("cocktail_snapshot_unverified_announcements_total 3"),
            std::string::npos);
  EXPECT_NE(registry.serialize_text().find("cocktail_snapshot_staleness_seconds 0"), std::string::npos);

  // Real announcements still work afterwards.
  const auto second = engine.change_and_regenerate();
  cache.note_announced(second.generation);
  ASSERT_TRUE(testing::wait_until([&] { return cache.current()->generation() == second.generation; }, 5s));
  EXPECT_EQ(cache.staleness_seconds(), 0.0);
  EXPECT_EQ(cache.unverified_announcements(), 3u);
  cache.stop();
}

// Files over Generation::kEagerGzipMaxBytes get their gzip copy on the gzip
// thread after the generation is served; a later generation that keeps the
// file keeps the copy.
TEST(SnapshotCache, LargeFilesGetTheirGzipCopyOffTheLoaderAndKeepIt) {
  testing::TempDir dir("gzip-thread");
  snapshot::SnapshotStore store(dir.path());
  std::string big = "{\"data\":[";
  while (big.size() < Generation::kEagerGzipMaxBytes + 4096) {
    big += "1234567,";
  }
  big += "0],\"metadata\":{}}";
  snapshot::FileEntry big_entry;
  {
    auto w = store.begin_generation();
    w.add("big.json", big);
    w.add("small.json", "{\"data\":[1],\"metadata\":{}}");
    big_entry = w.commit(1, 1000).manifest.files.at("big.json");
  }
  metrics::MetricsRegistry registry;
  SnapshotCache cache({dir.path(), 20ms}, registry);
  cache.start();
  auto gzipped = [&](std::int64_t generation) {
    const auto g = cache.current();
    return g && g->generation() == generation && g->analytic("big") != nullptr &&
           g->analytic("big")->gzip != nullptr;
  };
  ASSERT_TRUE(testing::wait_until([&] { return gzipped(1); }, 30s));
  const Representation* made = cache.current()->analytic("big");
  EXPECT_EQ(gzip_decompress(*made->gzip), big);
  EXPECT_FALSE(made->gzip_pending);
  {
    auto w = store.begin_generation();
    w.link("big.json", 1, big_entry);
    w.add("small.json", "{\"data\":[2],\"metadata\":{}}");
    w.commit(2, 2000);
  }
  cache.request_refresh();
  ASSERT_TRUE(testing::wait_until([&] { return gzipped(2); }, 30s));
  EXPECT_EQ(cache.current()->analytic("big"), made) << "the same representation, compressed once";
  cache.stop();
}

}  // namespace
}  // namespace cocktail::read_service

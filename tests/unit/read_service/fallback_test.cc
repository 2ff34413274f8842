// SnapshotCache when the generation CURRENT names cannot be served: the
// newest older generation that verifies is served instead (never a mix, never
// an unverified file), the cache says so, and analytics-regen is asked for a
// fresh generation — again while CURRENT names the refused one, at most once
// per repair interval.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "cocktail/read_service/snapshot_cache.h"
#include "cocktail/testing/wait.h"
#include "engine_fixture.h"

namespace cocktail::read_service {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

void flip_a_byte(const fs::path& file) {
  std::string bytes = testing::read_file(file);
  ASSERT_FALSE(bytes.empty());
  bytes[bytes.size() / 2] ^= 0x20;
  testing::write_file(file, bytes);
}

double sample(const std::string& text, const std::string& series) {
  const auto at = text.find("\n" + series + " ");
  return at == std::string::npos ? -1 : std::stod(text.substr(at + series.size() + 2));
}

// A cache started on an existing store, recording the repair requests.
struct Reader {
  explicit Reader(read_test::Engine& engine) : cache({engine.analytics_path(), 1h, &clock, 5s}, registry) {
    cache.set_repair_handler([this](const RepairNeed& need) { asked.push_back(need); });
  }
  core::FakeClock clock;
  metrics::MetricsRegistry registry;
  SnapshotCache cache;
  std::vector<RepairNeed> asked;
};

TEST(SnapshotCacheFallback, StartingOnACorruptFileServesTheNewestGenerationThatVerifies) {
  read_test::Engine engine({7, 40, 50}, /*with_space=*/false);
  engine.regenerate();
  const auto older = engine.change_and_regenerate();
  const auto bad = engine.change_and_regenerate();
  flip_a_byte(engine.store().generation_dir(bad.generation) / "recipe-complexity.json");

  Reader r(engine);
  EXPECT_EQ(r.cache.refresh(), RefreshOutcome::kFellBack);
  ASSERT_NE(r.cache.current(), nullptr);
  EXPECT_EQ(r.cache.current()->generation(), older.generation);
  EXPECT_NE(r.cache.current()->analytic("ingredient-tree"), nullptr);
  auto f = r.cache.fallback();
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->served, older.generation);
  EXPECT_EQ(f->current, bad.generation);
  EXPECT_EQ(f->refusal.reason, "corrupt");
  EXPECT_NE(f->refusal.file.find("recipe-complexity.json"), std::string::npos);
  ASSERT_EQ(r.asked.size(), 1u);
  EXPECT_EQ(r.asked[0].generation, bad.generation);
  EXPECT_EQ(r.asked[0].file, "recipe-complexity.json");
  EXPECT_EQ(r.asked[0].reason, "corrupt");
  std::string text = r.registry.serialize_text();
  EXPECT_EQ(sample(text, "cocktail_snapshot_fallback"), 1);
  EXPECT_EQ(sample(text, "cocktail_snapshot_generation"), older.generation);
  EXPECT_EQ(sample(text, R"(cocktail_snapshot_loads_total{result="fallback"})"), 1);
  // Behind CURRENT: the staleness clock runs.
  r.clock.advance(3s);
  EXPECT_GE(r.cache.staleness_seconds(), 3.0);

  // While CURRENT names the refused generation: not read again, asked again
  // only once the repair interval passed.
  EXPECT_EQ(r.cache.refresh(), RefreshOutcome::kUnchanged);
  EXPECT_EQ(r.asked.size(), 1u);
  r.clock.advance(5s);
  EXPECT_EQ(r.cache.refresh(), RefreshOutcome::kUnchanged);
  EXPECT_EQ(r.asked.size(), 2u);
  EXPECT_EQ(r.cache.verification_failures(), 1u);

  // The repair: a fresh generation is served, and the cache says all is well.
  const auto fresh = engine.regenerate();
  EXPECT_EQ(r.cache.refresh(), RefreshOutcome::kSwapped);
  EXPECT_EQ(r.cache.current()->generation(), fresh.generation);
  EXPECT_FALSE(r.cache.fallback().has_value());
  EXPECT_EQ(r.cache.staleness_seconds(), 0.0);
  text = r.registry.serialize_text();
  EXPECT_EQ(sample(text, "cocktail_snapshot_fallback"), 0);
}

TEST(SnapshotCacheFallback, AMissingOrTruncatedManifestFallsBackToo) {
  read_test::Engine engine({7, 40, 50}, false);
  const auto first = engine.regenerate();
  const auto second = engine.change_and_regenerate();
  const fs::path manifest = engine.store().generation_dir(second.generation) / "manifest.json";
  const std::string text = testing::read_file(manifest);

  fs::remove(manifest);
  {
    Reader r(engine);
    EXPECT_EQ(r.cache.refresh(), RefreshOutcome::kFellBack);
    EXPECT_EQ(r.cache.current()->generation(), first.generation);
    EXPECT_EQ(r.cache.fallback()->refusal.reason, "not_found");
    ASSERT_EQ(r.asked.size(), 1u);
    EXPECT_EQ(r.asked[0].file, "manifest.json");
    EXPECT_EQ(r.asked[0].reason, "not_found");
  }
  testing::write_file(manifest, text.substr(0, text.size() / 2));
  {
    Reader r(engine);
    EXPECT_EQ(r.cache.refresh(), RefreshOutcome::kFellBack);
    EXPECT_EQ(r.cache.current()->generation(), first.generation);
    EXPECT_EQ(r.asked.at(0).reason, "malformed");
  }
  // A file the manifest lists, gone while CURRENT names the generation.
  testing::write_file(manifest, text);
  fs::remove(engine.store().generation_dir(second.generation) / "ingredient-usage.json");
  {
    Reader r(engine);
    EXPECT_EQ(r.cache.refresh(), RefreshOutcome::kFellBack);
    EXPECT_EQ(r.asked.at(0).file, "ingredient-usage.json");
    EXPECT_EQ(r.asked.at(0).reason, "not_found");
  }
}

TEST(SnapshotCacheFallback, AnUnreadableCurrentServesTheNewestCompleteGeneration) {
  read_test::Engine engine({7, 40, 50}, false);
  engine.regenerate();
  const auto second = engine.change_and_regenerate();
  testing::write_file(fs::path(engine.analytics_path()) / "v1" / "CURRENT", "garbage\n");
  Reader r(engine);
  EXPECT_EQ(r.cache.refresh(), RefreshOutcome::kFellBack);
  EXPECT_EQ(r.cache.current()->generation(), second.generation);
  EXPECT_EQ(r.cache.fallback()->current, 0);
  ASSERT_EQ(r.asked.size(), 1u);
  EXPECT_EQ(r.asked[0].file, "CURRENT");
  EXPECT_EQ(r.asked[0].reason, "malformed");
  EXPECT_EQ(r.cache.refresh(), RefreshOutcome::kUnchanged);
}

TEST(SnapshotCacheFallback, ACopySharedByHardLinkIsNotReadAgainAndNothingUnverifiedIsServed) {
  read_test::Engine engine({7, 40, 50}, false);
  const auto first = engine.regenerate();
  const auto second = engine.change_and_regenerate();
  // A third generation carrying every file of the second by hard link, as
  // analytics-regen's lanes do; then the shared copy of one file goes bad.
  auto& store = engine.store();
  const auto m2 = store.read_manifest(second.generation).value();
  std::int64_t third = 0;
  {
    auto w = store.begin_generation();
    third = w.generation();
    for (const auto& [name, entry] : m2.files) {
      w.link(name, second.generation, entry);
    }
    w.commit(m2.catalog_seq, m2.generated_at_ms + 1);
  }
  flip_a_byte(store.generation_dir(third) / "ingredient-tree.json");  // also the second's

  Reader r(engine);
  EXPECT_EQ(r.cache.refresh(), RefreshOutcome::kFellBack);
  EXPECT_EQ(r.cache.current()->generation(), first.generation);
  // The second generation shares the bad copy: skipped, not read (one failure).
  EXPECT_EQ(r.cache.verification_failures(), 1u);

  // Nothing verifies at all: nothing is served, and the repair is asked for.
  flip_a_byte(store.generation_dir(first.generation) / "ingredient-usage.json");
  Reader none(engine);
  EXPECT_EQ(none.cache.refresh(), RefreshOutcome::kRefused);
  EXPECT_EQ(none.cache.current(), nullptr);
  EXPECT_FALSE(none.cache.fallback().has_value());
  EXPECT_EQ(none.asked.size(), 1u);
}

TEST(SnapshotCacheFallback, ANewGenerationRefusedWhileServingKeepsTheServedOne) {
  read_test::Engine engine({7, 40, 50}, false);
  const auto first = engine.regenerate();
  Reader r(engine);
  ASSERT_EQ(r.cache.refresh(), RefreshOutcome::kSwapped);
  const auto bad = engine.change_and_regenerate();
  flip_a_byte(engine.store().generation_dir(bad.generation) / "ingredient-usage-all.json");
  // Nothing newer than the served generation verifies: it stays, and the
  // repair is still asked for.
  EXPECT_EQ(r.cache.refresh(), RefreshOutcome::kRefused);
  EXPECT_EQ(r.cache.current()->generation(), first.generation);
  EXPECT_FALSE(r.cache.fallback().has_value());
  ASSERT_EQ(r.asked.size(), 1u);
  EXPECT_EQ(r.asked[0].file, "ingredient-usage-all.json");
}

}  // namespace
}  // namespace cocktail::read_service

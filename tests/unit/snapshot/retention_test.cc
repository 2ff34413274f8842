#include "cocktail/snapshot/retention.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include "cocktail/snapshot/snapshot_store.h"
#include "store_fixture.h"

namespace cocktail::snapshot {
namespace {

namespace fs = std::filesystem;
constexpr std::int64_t kHour = std::int64_t{3600} * 1000;
constexpr std::int64_t kT0 = 1795000000000;

std::vector<std::int64_t> removed_ids(const RetentionResult& r) {
  std::vector<std::int64_t> out;
  for (const auto& g : r.removed) {
    out.push_back(g.generation);
  }
  return out;
}

// Six generations, one an hour: generation g was generated at T0 + g hours.
class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int g = 1; g <= 6; ++g) {
      testing::write_generation(store_, g, kT0 + g * kHour);
    }
  }
  testing::TempDir tmp_;
  SnapshotStore store_{tmp_.path()};
};

TEST_F(RetentionTest, KeepsTheNewestN) {
  auto r = store_.collect_garbage({2, 0}, false, kT0 + 10 * kHour);
  EXPECT_EQ(removed_ids(r), (std::vector<std::int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(r.kept, (std::vector<std::int64_t>{5, 6}));
  for (const auto& g : r.removed) {
    EXPECT_EQ(g.reason, "expired");
  }
  EXPECT_GT(r.bytes_freed, 0);
  for (int g = 1; g <= 4; ++g) {
    EXPECT_FALSE(fs::exists(store_.generation_dir(g)));
  }
  EXPECT_TRUE(testing::consistent(store_.read_current().value()));
}

TEST_F(RetentionTest, KeepsEveryGenerationYoungerThanTheMaximumAge) {
  // At T0 + 6.5 h with a 3 h limit, generations 4, 5 and 6 are young.
  auto r = store_.collect_garbage({1, 3 * kHour}, false, kT0 + 6 * kHour + kHour / 2);
  EXPECT_EQ(removed_ids(r), (std::vector<std::int64_t>{1, 2, 3}));
  EXPECT_EQ(r.removed[0].age_ms, 5 * kHour + kHour / 2);
  EXPECT_EQ(r.kept, (std::vector<std::int64_t>{4, 5, 6}));
}

TEST_F(RetentionTest, NeverRemovesTheCurrentGeneration) {
  auto r = store_.collect_garbage({0, 0}, false, kT0 + 100 * kHour);
  EXPECT_EQ(r.kept, (std::vector<std::int64_t>{6}));
  EXPECT_TRUE(testing::consistent(store_.read_current().value()));
  // Even when CURRENT names an old generation (an operator rolled back),
  // that one stays; newer ones were never published by CURRENT's standard.
  testing::spit(store_.version_dir() / "CURRENT", "6\n");
  testing::write_generation(store_, 7, kT0 + 7 * kHour);
  testing::spit(store_.version_dir() / "CURRENT", "6\n");
  auto again = store_.collect_garbage({0, 0}, false, kT0 + 100 * kHour);
  EXPECT_EQ(again.kept, (std::vector<std::int64_t>{6}));
  ASSERT_EQ(again.removed.size(), 1u);
  EXPECT_EQ(again.removed[0].reason, "unpublished");
}

TEST_F(RetentionTest, DryRunRemovesNothingAndReportsTheSame) {
  auto dry = store_.collect_garbage({2, 0}, true, kT0 + 10 * kHour);
  EXPECT_TRUE(dry.dry_run);
  EXPECT_EQ(removed_ids(dry), (std::vector<std::int64_t>{1, 2, 3, 4}));
  for (int g = 1; g <= 6; ++g) {
    EXPECT_TRUE(fs::exists(store_.generation_dir(g)));
  }
  auto real = store_.collect_garbage({2, 0}, false, kT0 + 10 * kHour);
  EXPECT_EQ(removed_ids(real), removed_ids(dry));
  EXPECT_EQ(real.bytes_freed, dry.bytes_freed);

  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(retention_json(dry)).get(doc), simdjson::SUCCESS);
  EXPECT_TRUE(bool(doc["dry_run"]));
  EXPECT_EQ(doc["would_remove"].get_array().size(), 4u);
}

TEST_F(RetentionTest, PartialGenerationsAreCollected) {
  // A writer that died before its manifest: an older number and a newer one.
  fs::create_directories(store_.generation_dir(100));
  testing::spit(store_.generation_dir(100) / "alpha.json", "half");
  fs::remove(store_.generation_dir(3) / "manifest.json");
  auto r = store_.collect_garbage({10, 100 * kHour}, false, kT0 + 7 * kHour);
  EXPECT_EQ(removed_ids(r), (std::vector<std::int64_t>{3, 100}));
  for (const auto& g : r.removed) {
    EXPECT_EQ(g.reason, "partial");
  }
  EXPECT_EQ(r.kept, (std::vector<std::int64_t>{1, 2, 4, 5, 6}));
}

TEST_F(RetentionTest, ReportListsGenerationsSizesAgesAndDisk) {
  fs::create_directories(store_.generation_dir(9));  // a partial one
  auto rep = store_.report(kT0 + 8 * kHour);
  ASSERT_EQ(rep.generations.size(), 7u);
  EXPECT_EQ(rep.current, 6);
  const auto& g6 = rep.generations[5];
  EXPECT_EQ(g6.generation, 6);
  EXPECT_TRUE(g6.current && g6.complete);
  EXPECT_EQ(g6.catalog_seq, 6);
  EXPECT_EQ(g6.age_ms, 2 * kHour);
  EXPECT_EQ(g6.files, 4);  // three files and the manifest
  std::int64_t expected = 0;
  for (const auto& e : fs::directory_iterator(store_.generation_dir(6))) {
    expected += fs::file_size(e.path());
  }
  EXPECT_EQ(g6.bytes, expected);
  EXPECT_FALSE(rep.generations[6].complete);
  EXPECT_EQ(rep.generation_bytes, [&] {
    std::int64_t sum = 0;
    for (const auto& g : rep.generations) {
      sum += g.bytes;
    }
    return sum;
  }());
  EXPECT_GT(rep.legacy_bytes, 0);
  EXPECT_GE(rep.total_bytes, rep.generation_bytes);
  EXPECT_GT(rep.fs_total_bytes, 0);
  EXPECT_GE(rep.fs_free_bytes, rep.fs_available_bytes);

  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(report_json(rep)).get(doc), simdjson::SUCCESS);
  EXPECT_EQ(int64_t(doc["current"]), 6);
  EXPECT_EQ(doc["generations"].get_array().size(), 7u);
  EXPECT_EQ(int64_t(doc["generations"].at(5)["age_seconds"]), 7200);
}

}  // namespace
}  // namespace cocktail::snapshot

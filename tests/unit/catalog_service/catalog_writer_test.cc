// CatalogWriter over a real SQLite catalog: jobs run in order on one thread,
// each keeps its own outcome inside a group, completions come after the
// batch is durable, and a full queue refuses at once.
#include "cocktail/catalog_service/catalog_writer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <vector>

#include "cocktail/catalog/change_log.h"
#include "cocktail/catalog/schema.h"
#include "cocktail/testing/temp_dir.h"
#include "cocktail/testing/wait.h"

namespace cocktail::catalog_service {
namespace {

using namespace std::chrono_literals;

class CatalogWriterTest : public ::testing::TestWithParam<CommitMode> {
 protected:
  CatalogWriterTest() : path_(dir_.file("catalog.db")) { catalog::open_catalog(path_); }

  CatalogWriterOptions options(std::function<void()> on_durable = {}, std::size_t max_queue = 10000) {
    CatalogWriterOptions o;
    o.mode = GetParam();
    o.on_durable = std::move(on_durable);
    o.max_queue = max_queue;
    return o;
  }

  testing::TempDir dir_;
  std::string path_;
  prometheus::Registry registry_;
};

TEST_P(CatalogWriterTest, EachJobKeepsItsOwnOutcomeAndAllAreDurable) {
  std::atomic<int> durable_calls{0};
  CatalogWriter writer(path_, registry_, options([&] { ++durable_calls; }));
  writer.start();

  constexpr int kJobs = 200;
  std::vector<std::promise<std::pair<bool, bool>>> results(kJobs);  // {created, durable}
  for (int i = 0; i < kJobs; ++i) {
    // Every fifth job is a duplicate name: refused, without undoing the others.
    std::string name = (i % 5 == 4) ? "Ingredient 0" : "Ingredient " + std::to_string(i);
    ASSERT_TRUE(writer.submit([&, i, name](catalog::Repository& repo) -> CatalogWriter::Completion {
      bool created = repo.create_ingredient({name, {}, {}, false}).ok();
      return [&, i, created](bool durable) { results[i].set_value({created, durable}); };
    }));
  }
  for (int i = 0; i < kJobs; ++i) {
    auto f = results[i].get_future();
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
    auto [created, durable] = f.get();
    EXPECT_EQ(created, i % 5 != 4) << i;
    EXPECT_TRUE(durable);
  }
  writer.stop();
  EXPECT_GE(durable_calls.load(), 1);

  auto db = catalog::Database::open(path_);
  auto st = db->prepare("SELECT COUNT(*) FROM ingredients WHERE name LIKE 'Ingredient %'");
  ASSERT_TRUE(st.step());
  EXPECT_EQ(st.column_int(0), kJobs - kJobs / 5);
}

TEST_P(CatalogWriterTest, StopRunsWhatIsQueuedThenRefuses) {
  CatalogWriter writer(path_, registry_, options());
  std::atomic<int> ran{0};
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(writer.submit([&](catalog::Repository&) -> CatalogWriter::Completion {
      ++ran;
      return nullptr;
    }));
  }
  writer.start();
  writer.stop();
  EXPECT_EQ(ran.load(), 10);
  EXPECT_FALSE(writer.submit([](catalog::Repository&) -> CatalogWriter::Completion { return nullptr; }));
}

TEST_P(CatalogWriterTest, FullQueueRefusesAtOnce) {
  CatalogWriter writer(path_, registry_, options({}, 3));
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(writer.submit([](catalog::Repository&) -> CatalogWriter::Completion { return nullptr; }));
  }
  EXPECT_FALSE(writer.submit([](catalog::Repository&) -> CatalogWriter::Completion { return nullptr; }));
  EXPECT_EQ(writer.queued(), 3u);
}

TEST_P(CatalogWriterTest, AJobThatThrowsDoesNotStopTheWriter) {
  CatalogWriter writer(path_, registry_, options());
  writer.start();
  std::promise<bool> after;
  ASSERT_TRUE(writer.submit(
      [](catalog::Repository&) -> CatalogWriter::Completion { throw std::runtime_error("boom"); }));
  ASSERT_TRUE(writer.submit([&](catalog::Repository& repo) -> CatalogWriter::Completion {
    bool ok = repo.create_ingredient({"Gin", {}, {}, false}).ok();
    return [&, ok](bool durable) { after.set_value(ok && durable); };
  }));
  auto f = after.get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(f.get());
}

INSTANTIATE_TEST_SUITE_P(Modes, CatalogWriterTest, ::testing::Values(CommitMode::kGroup, CommitMode::kEach),
                         [](const auto& info) {
                           return info.param == CommitMode::kGroup ? "Group" : "Each";
                         });

}  // namespace
}  // namespace cocktail::catalog_service

// CatalogWriter over a real catalog on each backend (a SQLite file, a
// database on the test PostgreSQL server), in each commit mode: jobs run in
// order on one thread, each keeps its own outcome inside a group,
// completions come after the batch is durable, a full queue refuses at once,
// and a job that cannot start by its deadline (the writer busy, the catalog
// locked by another connection) is refused unrun, each at its own deadline.
#include "cocktail/catalog_service/catalog_writer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <string>
#include <tuple>
#include <vector>

#include "catalog_backends.h"
#include "cocktail/catalog/change_log.h"
#include "cocktail/catalog/database.h"
#include "cocktail/catalog/schema.h"
#include "cocktail/testing/temp_dir.h"
#include "cocktail/testing/wait.h"

namespace cocktail::catalog_service {
namespace {

using namespace std::chrono_literals;

class CatalogWriterTest : public ::testing::TestWithParam<std::tuple<catalog::Backend, CommitMode>> {
 protected:
  CatalogWriterTest() : path_(catalog_.location()) { catalog::open_catalog(path_); }

  CatalogWriterOptions options(std::function<void()> on_durable = {}, std::size_t max_queue = 10000) {
    CatalogWriterOptions o;
    o.mode = std::get<1>(GetParam());
    o.on_durable = std::move(on_durable);
    o.max_queue = max_queue;
    return o;
  }

  catalog::testing::TestCatalog catalog_{std::get<0>(GetParam())};
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

TEST_P(CatalogWriterTest, AJobWaitingPastItsDeadlineExpiresUnrunWhileTheWriterIsBusy) {
  auto o = options();
  o.max_wait = 200ms;
  CatalogWriter writer(path_, registry_, o);
  writer.start();
  std::promise<void> release;
  auto released = release.get_future().share();
  std::atomic<bool> first_started{false};
  ASSERT_TRUE(writer.submit([&](catalog::Repository&) -> CatalogWriter::Completion {
    first_started = true;
    released.wait_for(10s);  // a long job: a bulk import, say
    return nullptr;
  }));
  ASSERT_TRUE(testing::wait_until([&] { return first_started.load(); }, 5s));
  std::atomic<bool> second_ran{false};
  std::promise<std::chrono::milliseconds> expired;
  ASSERT_TRUE(writer.submit(
      [&](catalog::Repository&) -> CatalogWriter::Completion {
        second_ran = true;
        return nullptr;
      },
      [&](std::chrono::milliseconds waited) { expired.set_value(waited); }));
  // Answered at its deadline although the writer thread is still busy.
  auto f = expired.get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  EXPECT_GE(f.get(), 200ms);
  release.set_value();
  writer.stop();
  EXPECT_FALSE(second_ran.load());
  bool counted = false;
  for (const auto& family : registry_.Collect()) {
    if (family.name == "cocktail_catalog_writes_expired_total") {
      counted = family.metric.at(0).counter.value == 1;
    }
  }
  EXPECT_TRUE(counted);
}

TEST_P(CatalogWriterTest, ALockHeldElsewhereIsWaitedForOnlyUntilEachJobsDeadline) {
  // Another connection (as the sqlite3 shell or psql would) holds the lock
  // writes need.
  auto holder = catalog::Database::open(path_);
  holder->exec(catalog_.postgres() ? "BEGIN; LOCK TABLE ingredients IN EXCLUSIVE MODE" : "BEGIN EXCLUSIVE");
  auto o = options();
  o.max_wait = 300ms;
  CatalogWriter writer(path_, registry_, o);
  writer.start();

  constexpr int kJobs = 5;
  enum Outcome { kCreated, kBusy, kExpired, kOther };
  std::vector<std::promise<Outcome>> outcomes(kJobs);
  const auto begin = std::chrono::steady_clock::now();
  for (int i = 0; i < kJobs; ++i) {
    ASSERT_TRUE(writer.submit(
        [&, i](catalog::Repository& repo) -> CatalogWriter::Completion {
          Outcome outcome = kOther;
          try {
            outcome = repo.create_ingredient({"Locked " + std::to_string(i), {}, {}, false}).ok() ? kCreated
                                                                                                  : kOther;
          } catch (const catalog::DatabaseError& e) {
            outcome = e.kind() == catalog::DatabaseError::Kind::kBusy ? kBusy : kOther;
          }
          return [&, i, outcome](bool) { outcomes[i].set_value(outcome); };
        },
        [&, i](std::chrono::milliseconds) { outcomes[i].set_value(kExpired); }));
  }
  for (int i = 0; i < kJobs; ++i) {
    auto f = outcomes[i].get_future();
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready) << i;
    const Outcome outcome = f.get();
    EXPECT_TRUE(outcome == kBusy || outcome == kExpired) << i << ": " << outcome;
  }
  // Five jobs queued together fail together: a busy timeout each (5 s by
  // default) would take many seconds; the bound is one deadline, plus slack
  // for a loaded machine.
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 300ms + 3s);

  holder->exec("ROLLBACK");
  std::promise<Outcome> after;
  ASSERT_TRUE(writer.submit([&](catalog::Repository& repo) -> CatalogWriter::Completion {
    const bool ok = repo.create_ingredient({"After the lock", {}, {}, false}).ok();
    return [&, ok](bool durable) { after.set_value(ok && durable ? kCreated : kOther); };
  }));
  auto f = after.get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(f.get(), kCreated);
  writer.stop();
  auto st = holder->prepare("SELECT COUNT(*) FROM ingredients WHERE name LIKE 'Locked %'");
  ASSERT_TRUE(st.step());
  EXPECT_EQ(st.column_int(0), 0);
}

INSTANTIATE_TEST_SUITE_P(BackendsAndModes, CatalogWriterTest,
                         ::testing::Combine(catalog::testing::AllBackends(),
                                            ::testing::Values(CommitMode::kGroup, CommitMode::kEach)),
                         [](const auto& info) {
                           const auto backend = std::get<0>(info.param);
                           return std::string(backend == catalog::Backend::kPostgres ? "Postgres"
                                                                                     : "Sqlite") +
                                  (std::get<1>(info.param) == CommitMode::kGroup ? "Group" : "Each");
                         });

}  // namespace
}  // namespace cocktail::catalog_service

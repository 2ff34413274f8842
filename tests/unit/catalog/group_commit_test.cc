// GroupCommit's bounded waits with one transaction per batch (the mode
// usage-api's writer runs in): while another connection holds the write
// lock, the batch's transaction waits only until its earliest deadline, then
// every job of the batch is told it did not run, and nothing is written.
// (Per-job transactions: tests/unit/catalog_service/catalog_writer_test.cc.)
#include "cocktail/catalog/group_commit.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <future>
#include <vector>

#include "cocktail/catalog/database.h"
#include "cocktail/catalog/schema.h"
#include "temp_catalog.h"

namespace cocktail::catalog {
namespace {

using namespace std::chrono_literals;

TEST(GroupCommit, ABatchBehindAHeldLockIsRefusedWholeAtItsEarliestDeadline) {
  testing::TempDir dir;
  const std::string path = dir.file("catalog.db");
  { open_catalog(path); }
  DatabaseOptions db_options;
  db_options.synchronous = synchronous_for(CommitMode::kGroup);
  auto db = Database::open(path, db_options);
  prometheus::Registry registry;
  GroupCommitOptions options;
  options.one_transaction_per_batch = true;
  options.max_wait = 300ms;
  options.metric_prefix = "test";
  GroupCommit engine(*db, registry, options);

  auto holder = Database::open(path);
  holder->exec("BEGIN EXCLUSIVE");
  engine.start();

  enum Outcome { kWritten, kNotRun, kNotDurable };
  constexpr int kJobs = 3;
  std::vector<std::promise<Outcome>> outcomes(kJobs);
  const auto begin = std::chrono::steady_clock::now();
  for (int i = 0; i < kJobs; ++i) {
    ASSERT_TRUE(engine.submit(
        [&, i]() -> GroupCommit::Completion {
          auto insert = db->prepare("INSERT INTO units (name, abbreviation) VALUES (?1, ?1)");
          insert.bind(1, "Batch " + std::to_string(i)).run();
          return [&, i](bool durable) { outcomes[i].set_value(durable ? kWritten : kNotDurable); };
        },
        [&, i](std::chrono::milliseconds) { outcomes[i].set_value(kNotRun); }));
  }
  for (int i = 0; i < kJobs; ++i) {
    auto f = outcomes[i].get_future();
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready) << i;
    EXPECT_EQ(f.get(), kNotRun) << i;
  }
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 300ms + 3s);

  holder->exec("ROLLBACK");
  std::promise<Outcome> after;
  ASSERT_TRUE(engine.submit([&]() -> GroupCommit::Completion {
    auto insert = db->prepare("INSERT INTO units (name, abbreviation) VALUES ('After', 'after')");
    insert.run();
    return [&](bool durable) { after.set_value(durable ? kWritten : kNotDurable); };
  }));
  auto f = after.get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(f.get(), kWritten);
  engine.stop();
  auto count = holder->prepare("SELECT COUNT(*) FROM units WHERE name LIKE 'Batch %' OR name = 'After'");
  ASSERT_TRUE(count.step());
  EXPECT_EQ(count.column_int(0), 1);
}

}  // namespace
}  // namespace cocktail::catalog

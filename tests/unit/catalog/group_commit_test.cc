// GroupCommit with one transaction per batch (the mode usage-api's writer
// runs in): bounded waits — while another connection holds the write lock,
// the batch's transaction waits only until its earliest deadline, then every
// job of the batch is told it did not run, and nothing is written — and a
// job failing in a batch's first pass: the batch runs again, each job
// isolated, so that only the failing job's work is undone.
// (Per-job transactions: tests/unit/catalog_service/catalog_writer_test.cc.)
#include "cocktail/catalog/group_commit.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "cocktail/catalog/database.h"
#include "cocktail/catalog/savepoint.h"
#include "cocktail/catalog/schema.h"
#include "temp_catalog.h"

namespace cocktail::catalog {
namespace {

using namespace std::chrono_literals;

// A migrated catalog file and the writer's connection to it (group mode).
class GroupCommitTest : public ::testing::Test {
 protected:
  GroupCommitTest() {
    open_catalog(path);
    DatabaseOptions options;
    options.synchronous = synchronous_for(CommitMode::kGroup);
    db = Database::open(path, options);
  }
  // What the jobs wrote: the names of the units like `pattern`, sorted.
  std::vector<std::string> names(const std::string& pattern) {
    auto rows = db->prepare("SELECT name FROM units WHERE name LIKE ?1 ORDER BY name");
    rows.bind(1, pattern);
    std::vector<std::string> out;
    while (rows.step()) {
      out.push_back(rows.column_text(0));
    }
    return out;
  }

  testing::TempDir dir;
  const std::string path = dir.file("catalog.db");
  std::unique_ptr<Database> db;
  prometheus::Registry registry;
};

TEST_F(GroupCommitTest, ABatchBehindAHeldLockIsRefusedWholeAtItsEarliestDeadline) {
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

TEST_F(GroupCommitTest, AJobFailingInTheFirstPassIsUndoneAloneWhenTheBatchRunsAgainIsolated) {
  int batch_starts = 0;
  GroupCommitOptions options;
  options.one_transaction_per_batch = true;
  options.max_wait = 5s;
  options.metric_prefix = "test";
  options.on_batch_start = [&] { ++batch_starts; };
  GroupCommit engine(*db, registry, options);

  enum Outcome { kWritten, kFailed, kNotDurable };
  constexpr int kJobs = 3;
  constexpr int kFailing = 1;
  std::vector<std::promise<Outcome>> outcomes(kJobs);
  std::vector<int> runs(kJobs, 0);
  std::vector<int> isolated_runs(kJobs, 0);
  std::vector<int> completed(kJobs, 0);  // the first pass's completions are dropped
  auto insert = [&](int i) {
    auto s = db->prepare("INSERT INTO units (name, abbreviation) VALUES (?1, ?1)");
    s.bind(1, "Job " + std::to_string(i)).run();
  };
  // Queued before the writer starts: one batch.
  for (int i = 0; i < kJobs; ++i) {
    ASSERT_TRUE(engine.submit([&, i]() -> GroupCommit::Completion {
      ++runs[i];
      Outcome outcome = kWritten;
      if (!engine.isolating()) {
        insert(i);  // half done, then the failure escapes
        if (i == kFailing) throw std::runtime_error("fails");
      } else {
        ++isolated_runs[i];
        try {
          Savepoint savepoint(*db);
          insert(i);
          if (i == kFailing) throw std::runtime_error("fails again");
          savepoint.release();
        } catch (const std::runtime_error&) {
          outcome = kFailed;
        }
      }
      return [&, i, outcome](bool durable) {
        if (++completed[i] == 1) outcomes[i].set_value(durable ? outcome : kNotDurable);
      };
    }));
  }
  engine.start();
  std::vector<Outcome> got;
  for (auto& o : outcomes) {
    auto f = o.get_future();
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
    got.push_back(f.get());
  }
  engine.stop();
  EXPECT_EQ(got, (std::vector<Outcome>{kWritten, kFailed, kWritten}));
  // The first pass stopped at the failing job; the second ran every job isolated.
  EXPECT_EQ(runs, (std::vector<int>{2, 2, 1}));
  EXPECT_EQ(isolated_runs, (std::vector<int>{1, 1, 1}));
  EXPECT_EQ(batch_starts, 2);
  EXPECT_EQ(completed, (std::vector<int>{1, 1, 1}));
  EXPECT_EQ(names("Job %"), (std::vector<std::string>{"Job 0", "Job 2"}));
}

// catalog-api's mode (each job its own transaction): nothing is run twice, a
// job that throws loses only its own work, and isolating() is always true.
TEST_F(GroupCommitTest, WithATransactionPerJobAFailingJobRunsOnceAndTakesNoBatchMateDown) {
  GroupCommitOptions options;
  options.max_wait = 5s;
  options.metric_prefix = "test";
  GroupCommit engine(*db, registry, options);

  constexpr int kJobs = 3;
  constexpr int kFailing = 1;
  std::vector<int> runs(kJobs, 0);
  std::vector<std::promise<bool>> durable(kJobs);
  for (int i = 0; i < kJobs; ++i) {
    ASSERT_TRUE(engine.submit([&, i]() -> GroupCommit::Completion {
      ++runs[i];
      EXPECT_TRUE(engine.isolating());
      Transaction transaction(*db, Transaction::Kind::kWrite);
      auto s = db->prepare("INSERT INTO units (name, abbreviation) VALUES (?1, ?1)");
      s.bind(1, "Job " + std::to_string(i)).run();
      if (i == kFailing) throw std::runtime_error("fails");  // rolled back with its transaction
      transaction.commit();
      return [&, i](bool d) { durable[i].set_value(d); };
    }));
  }
  engine.start();
  for (int i = 0; i < kJobs; ++i) {
    if (i == kFailing) {
      continue;
    }
    auto f = durable[i].get_future();
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
    EXPECT_TRUE(f.get());
  }
  engine.stop();
  EXPECT_EQ(runs, (std::vector<int>{1, 1, 1}));
  EXPECT_EQ(names("Job %"), (std::vector<std::string>{"Job 0", "Job 2"}));
}

}  // namespace
}  // namespace cocktail::catalog

// Statement::send() on both backends: statements sent run in order, their
// results are read later (after the commit too), and one that failed fails
// the commit even if nobody read it.
#include "cocktail/catalog/database.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "catalog_backends.h"
#include "cocktail/catalog/schema.h"

namespace cocktail::catalog {
namespace {

class DatabaseTest : public ::testing::TestWithParam<Backend> {
 protected:
  std::int64_t jiggers() {
    auto st = db_->prepare("SELECT COUNT(*) FROM units WHERE name = 'Jigger'");
    return st.step() ? st.column_int(0) : -1;
  }

  testing::TestCatalog catalog_{GetParam()};
  std::unique_ptr<Database> db_ = open_catalog(catalog_.location());
};

TEST_P(DatabaseTest, SentStatementsRunInOrderAndAreReadAfterTheCommit) {
  auto insert = db_->prepare("INSERT INTO units(name, abbreviation) VALUES (?1, ?2) RETURNING id");
  auto count = db_->prepare("SELECT COUNT(*), MAX(abbreviation) FROM units WHERE name = ?1");
  const std::int64_t before = db_->round_trips();
  {
    Transaction tx(*db_, Transaction::Kind::kWrite);
    insert.bind(1, "Jigger").bind(2, "jig").send();
    count.bind(1, "Jigger").send();
    tx.commit();
  }
  // BEGIN, both statements and COMMIT in one round trip.
  EXPECT_EQ(db_->round_trips() - before, catalog_.postgres() ? 1 : 0);
  ASSERT_TRUE(insert.step());
  EXPECT_GT(insert.column_int(0), 0);
  EXPECT_FALSE(insert.step());
  ASSERT_TRUE(count.step());
  EXPECT_EQ(count.column_int(0), 1);
  EXPECT_EQ(count.column_text(1), "jig");
  EXPECT_FALSE(count.step());
  count.reset();

  // A plain command runs after what was sent before it.
  insert.bind(1, "Pony").bind(2, "pony").send();
  db_->exec("UPDATE units SET abbreviation = 'pny' WHERE name = 'Pony'");
  count.bind(1, "Pony");
  ASSERT_TRUE(count.step());
  EXPECT_EQ(count.column_text(1), "pny");
  count.reset();

  // Bound again before being read: what was sent is forgotten (it ran).
  count.bind(1, "Jigger").send();
  count.bind(1, "Pony");
  ASSERT_TRUE(count.step());
  EXPECT_EQ(count.column_text(1), "pny");
  count.reset();

  // Sent again before being read: the earlier result is dropped, the
  // statement still ran.
  insert.bind(1, "Bucket").bind(2, "bkt").send();
  insert.bind(1, "Barrel").bind(2, "brl").send();
  ASSERT_TRUE(insert.step());
  insert.reset();
  count.bind(1, "Bucket");
  ASSERT_TRUE(count.step());
  EXPECT_EQ(count.column_int(0), 1);
}

// bind_unowned() reads the caller's text in place (SQLite) or copies it
// (PostgreSQL): either way the row holds the value, and a statement run again
// with other values stores those.
TEST_P(DatabaseTest, TextBoundUnownedIsStoredAsBound) {
  auto insert = db_->prepare("INSERT INTO units(name, abbreviation) VALUES (?1, ?2)");
  auto read = db_->prepare("SELECT abbreviation FROM units WHERE name = ?1");
  const std::string names[] = {"Jigger", "Pony"};
  const std::optional<std::string> abbreviations[] = {std::string("jig"), std::nullopt};
  for (int i = 0; i < 2; ++i) {
    insert.bind_unowned(1, names[i]).bind_unowned(2, abbreviations[i]).run();
  }
  for (int i = 0; i < 2; ++i) {
    read.bind_unowned(1, std::string_view(names[i]));
    ASSERT_TRUE(read.step()) << names[i];
    EXPECT_EQ(read.is_null(0), !abbreviations[i]);
    EXPECT_EQ(read.column_text(0), abbreviations[i].value_or(""));
    read.reset();
  }
}

TEST_P(DatabaseTest, AFailedSentStatementFailsTheCommitEvenUnread) {
  {
    Transaction tx(*db_, Transaction::Kind::kWrite);
    auto first = db_->prepare("INSERT INTO units(name) VALUES ('Jigger')");
    auto duplicate = db_->prepare("INSERT INTO units(name) VALUES ('Ounce')");  // names are unique
    auto after = db_->prepare("SELECT COUNT(*) FROM units");
    first.send();
    duplicate.send();
    after.send();
    try {
      tx.commit();
      ADD_FAILURE() << "the commit went through";
    } catch (const DatabaseError& e) {
      EXPECT_TRUE(e.is_constraint()) << e.what();
    }
    EXPECT_FALSE(first.step());
    EXPECT_THROW(duplicate.step(), DatabaseError);
  }
  EXPECT_EQ(jiggers(), 0) << "nothing of the transaction is kept";
  // The connection goes on as usual.
  Transaction tx(*db_, Transaction::Kind::kWrite);
  db_->prepare("INSERT INTO units(name) VALUES ('Jigger')").run();
  tx.commit();
  EXPECT_EQ(jiggers(), 1);
}

TEST_P(DatabaseTest, AnErrorReadInsideATransactionStillFailsTheCommit) {
  auto duplicate = db_->prepare("INSERT INTO units(name) VALUES ('Ounce')");
  Transaction tx(*db_, Transaction::Kind::kWrite);
  db_->prepare("INSERT INTO units(name) VALUES ('Jigger')").run();
  duplicate.send();
  EXPECT_THROW(duplicate.step(), DatabaseError);
  EXPECT_THROW(tx.commit(), DatabaseError);
}

// PostgreSQL: a lost connection fails what was using it (kConnection,
// transient), and the next use outside a transaction reconnects, with its
// statements prepared again.
TEST_P(DatabaseTest, ALostServerConnectionFailsOnceThenReconnects) {
  if (!catalog_.postgres()) {
    GTEST_SKIP() << "SQLite has no connection to lose";
  }
  auto pid = db_->prepare("SELECT pg_backend_pid()");
  auto raw = catalog_.raw();
  auto kill = [&] {
    ASSERT_TRUE(pid.step());
    const std::string backend = pid.column_text(0);
    pid.reset();
    raw->exec("SELECT pg_terminate_backend(" + backend + ")");
    for (int i = 0;
         i < 200 && raw->scalar("SELECT COUNT(*) FROM pg_stat_activity WHERE pid = " + backend) > 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  };
  auto expect_lost = [](const std::function<void()>& use) {
    try {
      use();
      ADD_FAILURE() << "the lost connection went unnoticed";
    } catch (const DatabaseError& e) {
      EXPECT_EQ(e.kind(), DatabaseError::Kind::kConnection) << e.what();
      EXPECT_TRUE(e.is_transient());
    }
  };

  kill();
  expect_lost([&] { pid.step(); });
  pid.reset();
  EXPECT_EQ(jiggers(), 0) << "reconnected";

  // Lost inside a transaction: the transaction fails, the connection comes back.
  kill();
  expect_lost([&] {
    Transaction tx(*db_, Transaction::Kind::kWrite);
    db_->prepare("INSERT INTO units(name) VALUES ('Jigger')").send();
    tx.commit();
  });
  EXPECT_EQ(jiggers(), 0);
  Transaction tx(*db_, Transaction::Kind::kWrite);
  db_->prepare("INSERT INTO units(name) VALUES ('Jigger')").run();
  tx.commit();
  EXPECT_EQ(jiggers(), 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, DatabaseTest, testing::AllBackends(), testing::BackendName);

}  // namespace
}  // namespace cocktail::catalog

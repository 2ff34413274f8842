// Locks held by other clients of the catalog. A wait for the write lock ends
// at the deadline set on the connection, on both backends. And another
// process closing the catalog file must never take this process's open
// connections for gone. SQLite's locks are POSIX locks, which belong to
// the process: a descriptor of the file opened and closed outside SQLite
// would release them all, and the other process, finding no lock, deletes the
// WAL this process is still writing to (every later commit is then lost and
// invisible). Opening a read-only connection (which looks at the file's
// header) is the case that once did this.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "catalog_backends.h"
#include "cocktail/catalog/database.h"
#include "cocktail/catalog/schema.h"
#include "cocktail/testing/child_process.h"
#include "temp_catalog.h"

namespace cocktail::catalog {
namespace {

using namespace std::chrono_literals;

// Runs SQL in the sqlite3 shell, a process of its own; its stdout.
std::string shell(const std::string& path, const std::string& sql) {
  cocktail::testing::ChildProcess child("/usr/bin/sqlite3", {path, sql});
  auto status = child.wait_for(30s);
  EXPECT_TRUE(status && status->success()) << child.stderr_text();
  return child.stdout_text();
}

TEST(SqliteLocks, AReadOnlyOpenKeepsThisProcessesLocksAndTheWalOfItsWriter) {
  if (!std::filesystem::exists("/usr/bin/sqlite3")) {
    GTEST_SKIP() << "needs the sqlite3 shell";
  }
  testing::TempDir dir;
  const std::string path = dir.file("catalog.db");
  { open_catalog(path); }  // migrated, then closed: no -wal, no -shm
  auto writer = Database::open(path);
  writer->exec("INSERT INTO units (name, abbreviation) VALUES ('Before', 'b1')");
  {
    DatabaseOptions read_only;
    read_only.read_only = true;
    auto reader = Database::open(path, read_only);
  }
  // Another process opens and closes the file.
  EXPECT_EQ(shell(path, "SELECT COUNT(*) FROM units WHERE name = 'Before';"), "1\n");
  EXPECT_TRUE(std::filesystem::exists(path + "-wal"));
  writer->exec("INSERT INTO units (name, abbreviation) VALUES ('After', 'a1')");
  EXPECT_EQ(shell(path, "SELECT COUNT(*) FROM units WHERE name IN ('Before', 'After');"), "2\n");
}

// A long-lived read-only connection (analytics-regen's catalog probe, a read
// pool) opened while nobody has the file open must still see every later
// commit; only a one-read connection may take the file as an immutable copy.
TEST(SqliteReadOnly, ALongLivedReaderOpenedFirstSeesLaterCommits) {
  testing::TempDir dir;
  const std::string path = dir.file("catalog.db");
  { open_catalog(path); }  // migrated, then closed: no -wal, no -shm
  DatabaseOptions read_only;
  read_only.read_only = true;
  auto reader = Database::open(path, read_only);
  auto count = [&] {
    Transaction tx(*reader, Transaction::Kind::kRead);
    auto q = reader->prepare("SELECT COUNT(*) FROM units WHERE name = 'Later'");
    q.step();
    const auto n = q.column_int(0);
    tx.commit();
    return n;
  };
  EXPECT_EQ(count(), 0);
  auto writer = Database::open(path);
  writer->exec("INSERT INTO units (name, abbreviation) VALUES ('Later', 'l1')");
  EXPECT_EQ(count(), 1);
}

TEST(SqliteReadOnly, AOneReadConnectionLeavesNoWalOrShmAndRefusesAWriteMadeDuringIt) {
  testing::TempDir dir;
  const std::string path = dir.file("catalog.db");
  { open_catalog(path); }
  DatabaseOptions one_read;
  one_read.read_only = true;
  one_read.one_read = true;
  {
    auto reader = Database::open(path, one_read);
    Transaction tx(*reader, Transaction::Kind::kRead);
    auto q = reader->prepare("SELECT COUNT(*) FROM units");
    q.step();
    tx.commit();
  }
  EXPECT_FALSE(std::filesystem::exists(path + "-wal"));
  EXPECT_FALSE(std::filesystem::exists(path + "-shm"));
  auto reader = Database::open(path, one_read);
  Transaction tx(*reader, Transaction::Kind::kRead);
  {
    auto writer = Database::open(path);
    writer->exec("INSERT INTO units (name, abbreviation) VALUES ('During', 'd1')");
  }
  try {
    tx.commit();
    ADD_FAILURE() << "a read that missed a commit was accepted";
  } catch (const DatabaseError& e) {
    EXPECT_EQ(e.kind(), DatabaseError::Kind::kBusy);
  }
}

class LockDeadline : public ::testing::TestWithParam<Backend> {
 protected:
  testing::TestCatalog catalog_{GetParam()};
};

// One write transaction; the kind of error it failed with, if any.
std::optional<DatabaseError::Kind> try_write(Database& db, const std::string& name) {
  try {
    Transaction tx(db, Transaction::Kind::kWrite);
    auto insert = db.prepare("INSERT INTO units (name, abbreviation) VALUES (?1, ?2)");
    insert.bind(1, name).bind(2, name).run();
    tx.commit();
    return std::nullopt;
  } catch (const DatabaseError& e) {
    return e.kind();
  }
}

TEST_P(LockDeadline, AWaitForAHeldLockEndsAtTheDeadline) {
  { open_catalog(catalog_.location()); }
  testing::RawSql holder(catalog_.location());
  holder.exec(catalog_.postgres() ? "BEGIN; LOCK TABLE units IN EXCLUSIVE MODE" : "BEGIN EXCLUSIVE");
  auto db = Database::open(catalog_.location());

  const auto begin = std::chrono::steady_clock::now();
  db->set_lock_deadline(begin + 300ms);
  EXPECT_EQ(try_write(*db, "Locked"), DatabaseError::Kind::kBusy);
  const auto waited = std::chrono::steady_clock::now() - begin;
  EXPECT_GE(waited, 250ms);  // it did wait (PostgreSQL's timer is not exact to the ms)
  // The default wait is 5 s: the deadline, not the busy timeout, ended it.
  EXPECT_LT(waited, 300ms + 3s);

  // A deadline already passed: no wait at all, nothing written.
  db->set_lock_deadline(std::chrono::steady_clock::now() - 1s);
  EXPECT_EQ(try_write(*db, "Late"), DatabaseError::Kind::kBusy);

  holder.exec("ROLLBACK");
  db->set_lock_deadline(std::nullopt);
  EXPECT_EQ(try_write(*db, "Free"), std::nullopt);
  EXPECT_EQ(holder.scalar("SELECT COUNT(*) FROM units WHERE name IN ('Locked', 'Late', 'Free')"), 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, LockDeadline, testing::AllBackends(), testing::BackendName);

}  // namespace
}  // namespace cocktail::catalog

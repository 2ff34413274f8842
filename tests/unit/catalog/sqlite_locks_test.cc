// Another process closing the catalog file must never take this process's
// open connections for gone. SQLite's locks are POSIX locks, which belong to
// the process: a descriptor of the file opened and closed outside SQLite
// would release them all, and the other process, finding no lock, deletes the
// WAL this process is still writing to (every later commit is then lost and
// invisible). Opening a read-only connection (which looks at the file's
// header) is the case that once did this.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

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
  if (!std::filesystem::exists("/usr/bin/sqlite3")) GTEST_SKIP() << "needs the sqlite3 shell";
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

}  // namespace
}  // namespace cocktail::catalog

// Several processes write the same catalog file at once; a reader tails
// change_log the way the publisher does. Seqs must become visible in commit
// order: always a gapless prefix, never a lower seq after a higher one.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "cocktail/catalog/change_log.h"
#include "cocktail/catalog/repository.h"
#include "cocktail/catalog/schema.h"
#include "temp_catalog.h"

namespace cocktail::catalog {
namespace {

using testing::RawConnection;
using testing::TempDir;

constexpr int kWritesPerProcess = 300;

// The body of a writer process: its own connection, its own Repository.
// Exit status 0 when every write succeeded and its seqs kept increasing.
[[noreturn]] void run_writer(const std::string& path, int writer) {
  int status = 0;
  try {
    auto db = open_catalog(path);
    Repository repo(*db);
    std::int64_t last = 0;
    for (int i = 0; i < kWritesPerProcess; ++i) {
      std::string name =
          std::string("w").append(std::to_string(writer)).append("-").append(std::to_string(i));
      auto r = repo.create_ingredient({name, std::nullopt, std::nullopt, false});
      if (!r || r->catalog_seq <= last) {
        status = 2;
        break;
      }
      last = r->catalog_seq;
      // A client's think time: without it one process re-takes the lock
      // before the other's busy handler wakes, and the writes never interleave.
      usleep(200);
    }
  } catch (...) {
    status = 3;
  }
  _exit(status);
}

pid_t spawn(const std::function<void()>& body) {
  pid_t pid = fork();
  if (pid == 0) {
    body();
    _exit(0);
  }
  return pid;
}

TEST(CommitOrder, SeqsBecomeVisibleInCommitOrderAcrossWriterProcesses) {
  TempDir dir;
  const std::string path = dir.file("catalog.db");
  { open_catalog(path); }  // no connection may be open across fork()

  const bool have_shell = std::filesystem::exists("/usr/bin/sqlite3");
  constexpr int kShellWrites = 50;
  std::vector<pid_t> writers;
  writers.reserve(2);
  for (int w = 0; w < 2; ++w) {
    writers.push_back(spawn([&] { run_writer(path, w); }));
  }
  if (have_shell) {
    // The sqlite3 shell as a third writer: one autocommit transaction per statement.
    std::string sql;
    for (int i = 0; i < kShellWrites; ++i) {
      sql.append("INSERT INTO units(name) VALUES ('shell-").append(std::to_string(i)).append("');");
    }
    writers.push_back(spawn([&] {
      execl("/usr/bin/sqlite3", "sqlite3", "-cmd", ".timeout 10000", path.c_str(), sql.c_str(),
            static_cast<char*>(nullptr));
      _exit(127);
    }));
  }

  auto db = open_catalog(path);
  ChangeLog log(*db);
  std::int64_t last = 0;
  std::vector<Change> seen;
  std::size_t running = writers.size();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    // Reap first, read after: the last read then covers every commit.
    for (auto& pid : writers) {
      int status = 0;
      if (pid > 0 && waitpid(pid, &status, WNOHANG) == pid) {
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "writer status " << status;
        pid = -1;
        --running;
      }
    }
    bool finished = running == 0;
    for (const auto& c : log.read_after(last, 1000)) {
      ASSERT_EQ(c.seq, last + 1) << "a seq became visible out of commit order";
      last = c.seq;
      seen.push_back(c);
    }
    if (finished) {
      break;
    }
  }
  ASSERT_EQ(running, 0u) << "writers did not finish in time";
  const std::int64_t expected = 2 * kWritesPerProcess + (have_shell ? kShellWrites : 0);
  EXPECT_EQ(last, expected);
  EXPECT_EQ(log.latest_seq(), expected);

  // How much the writers interleaved depends on the scheduler (on a loaded
  // machine one may finish before the other starts), so it is recorded, not
  // asserted; the order check above holds either way.
  RawConnection raw(path);
  std::string order = raw.dump(
      "SELECT substr(i.name, 1, 2) FROM change_log AS c JOIN ingredients AS i ON i.id = c.row_id "
      "WHERE c.entity = 'ingredient' ORDER BY c.seq");
  int switches = 0;
  for (std::size_t i = 3; i < order.size(); i += 3) {
    switches += order.compare(i, 2, order, i - 3, 2) != 0;
  }
  RecordProperty("switches", switches);
  if (have_shell) {
    EXPECT_EQ(raw.scalar("SELECT COUNT(*) FROM change_log WHERE entity = 'unit' AND op = 'insert'"),
              kShellWrites);
  }
}

}  // namespace
}  // namespace cocktail::catalog

// catalog-api while another process holds the catalog's write lock (as a
// `BEGIN EXCLUSIVE` in the sqlite3 shell does): every write is answered with
// its real outcome — 201 and in the file, or 503 with Retry-After and not in
// the file, never the server's 503 "timeout" — and each answer comes within
// the documented bound (--write-wait-ms) of the request, not one busy
// timeout after another. The lock is held by this test process on its own
// connection: another process as far as the service is concerned.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "catalog_api_process.h"
#include "cocktail/testing/sqlite_lock.h"

namespace cocktail::catalog_api_test {
namespace {

struct Answer {
  std::string name;
  int status = 0;
  std::string body;
  std::string retry_after;
  std::chrono::milliseconds took{0};
};

// Sends `count` creates, one every `every`, each from its own connection.
std::vector<Answer> send_writes(const CatalogApiProcess& api, const std::string& prefix, int count,
                                std::chrono::milliseconds every) {
  std::vector<Answer> answers(static_cast<std::size_t>(count));
  std::vector<std::thread> threads;
  for (int i = 0; i < count; ++i) {
    threads.emplace_back([&, i] {
      Answer& a = answers[static_cast<std::size_t>(i)];
      a.name = prefix + " " + std::to_string(i);
      HttpClient client(api.http_port(), 30s);
      const auto begin = std::chrono::steady_clock::now();
      try {
        auto r = client.post("/api/v1/ingredients", R"({"name": ")" + a.name + "\"}", auth());
        a.status = r.status;
        a.body = r.body;
        a.retry_after = r.header("Retry-After");
      } catch (const testing::HttpClientError& e) {
        a.body = e.what();
      }
      a.took =
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - begin);
    });
    std::this_thread::sleep_for(every);
  }
  for (auto& t : threads) {
    t.join();
  }
  return answers;
}

// Holds the lock for `hold` while `count` writes are sent, one every `every`.
std::vector<Answer> writes_while_locked(const CatalogApiProcess& api, std::chrono::milliseconds hold,
                                        const std::string& prefix, int count,
                                        std::chrono::milliseconds every) {
  testing::SqliteWriteLock lock(api.db_path());
  std::thread release([&] {
    std::this_thread::sleep_for(hold);
    lock.release();
  });
  auto answers = send_writes(api, prefix, count, every);
  release.join();
  return answers;
}

std::int64_t rows_named(const std::string& db, const std::string& name) {
  // Names are test-made ASCII without quotes.
  return query_int(db, "SELECT COUNT(*) FROM ingredients WHERE name = '" + name + "'");
}

constexpr auto kBound = 1000ms;
// What a loaded 2-core machine may add to the bound (threads, HTTP, fsync).
constexpr auto kSlack = 2500ms;

class LockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CatalogApiProcess::Settings settings;
    settings.extra_args = {"--write-wait-ms", std::to_string(kBound.count())};
    ASSERT_TRUE(api_.start(settings));
  }
  // Every answer is the truth about the file, and came within the bound.
  void expect_truthful(const std::vector<Answer>& answers) {
    for (const auto& a : answers) {
      SCOPED_TRACE(a.name + ": " + std::to_string(a.status) + " " + a.body);
      EXPECT_TRUE(a.status == 201 || a.status == 503);
      EXPECT_EQ(rows_named(api_.db_path(), a.name), a.status == 201 ? 1 : 0);
      if (a.status == 503) {
        EXPECT_EQ(a.body.find("\"timeout\""), std::string::npos);
        EXPECT_NE(a.body.find("\"committed\":false"), std::string::npos);
        EXPECT_EQ(a.retry_after, "1");
      }
      EXPECT_LT(a.took, kBound + kSlack);
    }
  }
  CatalogApiProcess api_;
};

TEST_F(LockTest, WritesBehindALongLockFailTogetherWithinTheBoundAndAreNotWritten) {
  const auto seq_before = latest_seq(api_.db_path());
  // Eight writes within 0.4 s; the lock outlives all of their deadlines.
  const auto answers = writes_while_locked(api_, kBound * 3, "Behind the lock", 8, 50ms);
  for (const auto& a : answers) {
    EXPECT_EQ(a.status, 503) << a.name << ": " << a.body;
  }
  expect_truthful(answers);
  EXPECT_EQ(latest_seq(api_.db_path()), seq_before);
  // Once the lock is gone, writes go through.
  auto client = api_.client();
  EXPECT_EQ(client.post("/api/v1/ingredients", R"({"name": "After the lock"})", auth()).status, 201);
}

TEST_F(LockTest, AsTheLockEndsEachWriteIsAnsweredWithItsRealOutcome) {
  // Writes keep arriving before, around and after the release.
  const auto answers = writes_while_locked(api_, kBound * 2, "Around the release", 16, 200ms);
  expect_truthful(answers);
  EXPECT_EQ(answers.front().status, 503);  // it waited its whole bound under the lock
  EXPECT_EQ(answers.back().status, 201);   // sent after the release
}

TEST_F(LockTest, AShortLockIsWaitedFor) {
  const auto answers = writes_while_locked(api_, kBound / 5, "Short lock", 4, 10ms);
  expect_truthful(answers);
  for (const auto& a : answers) {
    EXPECT_EQ(a.status, 201) << a.name << ": " << a.body;
  }
}

}  // namespace
}  // namespace cocktail::catalog_api_test

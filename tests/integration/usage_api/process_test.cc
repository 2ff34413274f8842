// usage-api and usage-admin as real processes over loopback:
//   - SIGKILL under write load loses no acknowledged event: every event_id
//     answered 200 is in the database after the kill, the roll-ups still
//     equal a recount, and a restarted usage-api serves them;
//   - usage-admin backfill twice adds nothing the second time; stats.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <iostream>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cocktail/bus/curve.h"
#include "cocktail/bus/events.h"
#include "cocktail/core/time.h"
#include "cocktail/testing/child_process.h"
#include "cocktail/testing/http_client.h"
#include "cocktail/testing/ports.h"
#include "cocktail/testing/temp_dir.h"
#include "cocktail/testing/wait.h"
#include "cocktail/usage/usage_store.h"

namespace cocktail::usage {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::HttpClient;

const std::string kBin = COCKTAIL_BIN_DIR;

std::string numbered(std::string_view prefix, long long i) {
  std::string out(prefix);
  out.append(std::to_string(i));
  return out;
}

// Every event_id in a track answer: {"event_id": "..."} or {"event_ids": [...]}.
std::vector<std::string> ids_in(const std::string& body) {
  std::vector<std::string> out;
  for (std::size_t at = body.find("evt_"); at != std::string::npos; at = body.find("evt_", at + 1)) {
    out.push_back(body.substr(at, body.find('"', at) - at));
  }
  return out;
}

class UsageApiProcess : public ::testing::Test {
 protected:
  UsageApiProcess() {
    // usage.hour with CURVE, a subscriber's key authorized.
    EXPECT_TRUE(bus::write_key_files(dir_.path() / "usage-api", bus::generate_key_pair(), false).ok());
    EXPECT_TRUE(bus::write_key_files(dir_.path() / "reader", bus::generate_key_pair(), false).ok());
  }
  std::vector<std::string> args(std::uint16_t port, bool with_keys = true) const {
    std::vector<std::string> a{
        "--db",         db_,
        "--http",       "127.0.0.1:" + std::to_string(port),
        "--pub",        "tcp://127.0.0.1:" + std::to_string(testing::free_loopback_port()),
        "--access-log", "false"};
    if (with_keys) {
      a.insert(a.end(), {"--bus-key-file", dir_.file("usage-api.key_secret"), "--bus-authorized-keys",
                         dir_.file("reader.key")});
    }
    return a;
  }
  std::unique_ptr<ChildProcess> start(std::uint16_t port) {
    auto p = std::make_unique<ChildProcess>(kBin + "/usage-api", args(port));
    EXPECT_TRUE(p->wait_for_stderr("usage_api.ready", 15s)) << p->stderr_text();
    return p;
  }

  testing::TempDir dir_{"usage-process"};
  std::string db_ = dir_.file("usage.db");
};

TEST_F(UsageApiProcess, RefusesToPublishWithoutBusKeys) {
  ChildProcess refused(kBin + "/usage-api", args(testing::free_loopback_port(), false));
  auto status = refused.wait_for(15s);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->code, 2);
  EXPECT_NE(refused.stderr_text().find("--allow-anonymous-bus"), std::string::npos) << refused.stderr_text();
}

TEST_F(UsageApiProcess, SigkillUnderWriteLoadLosesNoAcknowledgedEvent) {
  const std::uint16_t port = testing::free_loopback_port();
  auto api = start(port);

  std::mutex mu;
  std::set<std::string> acknowledged;
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  clients.reserve(4);
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      HttpClient client(port, 5s);
      for (long long i = 0; !stop; ++i) {
        // Single events and batches of ten, from a few sessions.
        std::string body;
        if (i % 3 == 0) {
          body = "[";
          for (int k = 0; k < 10; ++k) {
            body += (k ? "," : "") +
                    std::string(R"({"event_type":"tool_used","tool_name":"FAAB","session_id":")") +
                    numbered("s", (t * 7 + k) % 23) + "\"}";
          }
          body += "]";
        } else {
          body = R"({"event_type":"page_view","session_id":")" + numbered("s", (t + i) % 23) +
                 R"(","properties":{"risk_mode":"protect"}})";
        }
        try {
          auto r = client.post("/api/analytics/track", body);
          if (r.status != 200) {
            continue;
          }
          std::lock_guard lock(mu);
          for (auto& id : ids_in(r.body)) {
            acknowledged.insert(id);
          }
        } catch (const testing::HttpClientError&) {
          return;  // killed
        }
      }
    });
  }
  // Kill in the middle of the load: once plenty was acknowledged.
  const bool loaded = testing::wait_until(
      [&] {
        std::lock_guard lock(mu);
        return acknowledged.size() >= 20000;
      },
      60s, 10ms);
  api->kill();
  stop = true;
  for (auto& c : clients) {
    c.join();
  }
  ASSERT_TRUE(loaded) << "the load did not get going";

  std::set<std::string> snapshot;
  {
    std::lock_guard lock(mu);
    snapshot = acknowledged;
  }
  // Every acknowledged id is in the file (opened after the crash, as a restart would).
  {
    auto db = catalog::Database::open(db_, {});
    auto find = db->prepare("SELECT COUNT(*) FROM usage_events WHERE id = ?1");
    std::size_t missing = 0;
    for (const auto& id : snapshot) {
      find.bind(1, id);
      find.step();
      if (find.column_int(0) != 1) {
        ++missing;
      }
      find.reset();
    }
    EXPECT_EQ(missing, 0u) << "of " << snapshot.size() << " acknowledged events";
    std::cout << snapshot.size() << " events acknowledged before SIGKILL, " << missing << " missing\n";
    // And the roll-ups agree with the events that survived.
    auto totals = db->prepare(
        "SELECT (SELECT COUNT(*) FROM usage_events), (SELECT COALESCE(SUM(total_events), 0) FROM "
        "usage_hourly_rollups), (SELECT COUNT(DISTINCT session_id) FROM usage_events), (SELECT "
        "COALESCE(SUM(sessions_ending), 0) FROM usage_hourly_rollups)");
    totals.step();
    EXPECT_GE(totals.column_int(0), static_cast<std::int64_t>(snapshot.size()));
    EXPECT_EQ(totals.column_int(1), totals.column_int(0));
    EXPECT_EQ(totals.column_int(3), totals.column_int(2));
  }
  // A restarted usage-api serves them.
  auto again = start(port);
  HttpClient client(port, 10s);
  auto r = client.get("/api/analytics/rollups?hours=2");
  ASSERT_EQ(r.status, 200) << r.body;
  const auto at = r.body.find("\"total_events\":");
  ASSERT_NE(at, std::string::npos);
  EXPECT_GE(std::stoll(r.body.substr(at + 15)), static_cast<long long>(snapshot.size()))
      << r.body.substr(0, 200);
  again->signal(SIGTERM);
  auto status = again->wait_for(20s);
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->success());
}

TEST_F(UsageApiProcess, AdminBackfillTwiceAddsNothingTheSecondTime) {
  const std::int64_t now = core::system_now_ms();
  std::string file = "[";
  for (int i = 0; i < 25; ++i) {
    file.append(i ? "," : "").append(R"({"event_type":"tool_used","session_id":")");
    file.append(numbered("s", i % 4)).append(R"(","tool_name":"Decisions","timestamp":")");
    file.append(bus::format_utc_timestamp(now - i * std::int64_t{600'000})).append("\"}");
  }
  file += "]";
  // The browser's localStorage value saved as it is: a JSON string of the array.
  std::string saved = "\"";
  for (char c : file) {
    if (c == '"') {
      saved += '\\';
    }
    saved += c;
  }
  saved += "\"";
  testing::write_file(dir_.file("events-backup.json"), saved);

  auto run = [&](std::vector<std::string> args) {
    ChildProcess admin(kBin + "/usage-admin", std::move(args));
    auto status = admin.wait_for(60s);
    EXPECT_TRUE(status && status->success()) << admin.stderr_text();
    return admin.stdout_text();
  };
  const std::string first = run({"backfill", dir_.file("events-backup.json"), "--db", db_});
  EXPECT_NE(first.find(R"("inserted":25)"), std::string::npos) << first;
  const std::string second = run({"backfill", dir_.file("events-backup.json"), "--db", db_});
  EXPECT_NE(second.find(R"("inserted":0)"), std::string::npos) << second;
  EXPECT_NE(second.find(R"("already_stored":25)"), std::string::npos) << second;
  const std::string stats = run({"stats", "--db", db_});
  EXPECT_NE(stats.find(R"("events":25)"), std::string::npos) << stats;
  EXPECT_NE(stats.find(R"("sessions":4)"), std::string::npos) << stats;

  // A file with one bad event imports nothing and says which.
  testing::write_file(dir_.file("bad.json"), R"([{"event_type":"t","session_id":"x","timestamp":")" +
                                                 bus::format_utc_timestamp(now) +
                                                 R"("},{"event_type":"t"}])");
  ChildProcess bad(kBin + "/usage-admin", {"backfill", dir_.file("bad.json"), "--db", db_});
  auto status = bad.wait_for(60s);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->code, 2);
  EXPECT_NE(bad.stderr_text().find("[1].session_id"), std::string::npos) << bad.stderr_text();
  EXPECT_NE(run({"stats", "--db", db_}).find(R"("events":25)"), std::string::npos);
}

}  // namespace
}  // namespace cocktail::usage

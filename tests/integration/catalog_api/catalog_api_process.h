// A catalog-api process for integration tests: the real binary on a fresh
// catalog file in a temporary directory, HTTP and ZeroMQ on free loopback
// ports, a write token in a file. Plus the small readers the tests share:
// JSON bodies (RapidJSON), the catalog file's latest seq and row counts read
// through a raw SQLite connection (as any other process would), and a
// subscriber that collects catalog events.
#pragma once

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <signal.h>
#include <sqlite3.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cocktail/bus/curve.h"
#include "cocktail/bus/security.h"
#include "cocktail/bus/subscriber.h"
#include "cocktail/testing/child_process.h"
#include "cocktail/testing/http_client.h"
#include "cocktail/testing/ports.h"
#include "cocktail/testing/temp_dir.h"
#include "cocktail/testing/wait.h"

namespace cocktail::catalog_api_test {

using namespace std::chrono_literals;
using testing::HttpClient;
using testing::HttpResponse;

inline constexpr const char* kToken = "s3cret-write-token";
inline constexpr auto kStartTimeout = 10s;

inline std::string binary() { return std::string(COCKTAIL_BIN_DIR) + "/catalog-api"; }

// Parses a JSON body; an empty document (and a test failure) when invalid.
inline rapidjson::Document json(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str(), text.size());
  EXPECT_FALSE(d.HasParseError()) << "not JSON: " << text;
  return d;
}

// One query against the catalog file over a raw read-only connection,
// returning the first column of the first row.
inline std::int64_t query_int(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  sqlite3_stmt* st = nullptr;
  std::int64_t value = -1;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
    value = sqlite3_column_int64(st, 0);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return value;
}

// Runs SQL on a raw read-write connection, as the sqlite3 shell would.
inline void exec_sql(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  char* error = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  EXPECT_EQ(rc, SQLITE_OK) << (error ? error : "") << " in " << sql;
  sqlite3_free(error);
  sqlite3_close(db);
}

inline std::int64_t latest_seq(const std::string& db_path) {
  return query_int(db_path,
                   "SELECT MAX(COALESCE((SELECT MAX(seq) FROM change_log), 0), "
                   "COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'change_log'), 0))");
}

class CatalogApiProcess {
 public:
  struct Settings {
    bool with_token = true;
    // CURVE on the bus: the service's key pair, with the test's subscriber
    // key authorized. false: no bus settings at all (extra_args decide).
    bool with_bus_keys = true;
    std::vector<std::string> extra_args;
  };

  // A fresh temporary directory with a token file and bus keys (the
  // service's, and one for the test's subscribers); not started.
  CatalogApiProcess() : db_path_(dir_.file("catalog.db")), token_path_(dir_.file("token")) {
    testing::write_file(token_path_, std::string(kToken) + "\n");
    http_port_ = testing::free_loopback_port();
    pub_port_ = testing::free_loopback_port();
    EXPECT_TRUE(bus::write_key_files(dir_.path() / "catalog-api", service_keys_, false).ok());
    EXPECT_TRUE(bus::write_key_files(dir_.path() / "subscriber", subscriber_keys_, false).ok());
  }

  // Starts the binary and waits until /health answers 200; false otherwise.
  bool start() { return start(Settings()); }
  bool start(const Settings& settings) {
    process_ = std::make_unique<testing::ChildProcess>(binary(), args(settings));
    const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
    while (std::chrono::steady_clock::now() < deadline && process_->running()) {
      try {
        HttpClient probe(http_port_, 1s);
        if (probe.get("/health").status == 200) {
          return true;
        }
      } catch (const testing::HttpClientError&) {
      }
      std::this_thread::sleep_for(20ms);
    }
    ADD_FAILURE() << "catalog-api did not become ready; stderr:\n" << process_->stderr_text();
    return false;
  }

  std::vector<std::string> args(const Settings& settings) const {
    std::vector<std::string> a = {
        "--db",        db_path_,       "--http",         "127.0.0.1:" + std::to_string(http_port_),
        "--pub",       pub_endpoint(), "--heartbeat-ms", "100",
        "--log-level", "warn"};
    if (settings.with_token) {
      a.push_back("--token-file");
      a.push_back(token_path_);
    }
    if (settings.with_bus_keys) {
      a.insert(a.end(), {"--bus-key-file", dir_.file("catalog-api.key_secret"), "--bus-authorized-keys",
                         dir_.file("subscriber.key")});
    }
    a.insert(a.end(), settings.extra_args.begin(), settings.extra_args.end());
    return a;
  }

  // SIGTERM and wait; the exit status (nullopt when it did not stop).
  std::optional<testing::ExitStatus> terminate(std::chrono::milliseconds timeout = 10s) {
    process_->signal(SIGTERM);
    return process_->wait_for(timeout);
  }
  testing::ExitStatus kill() { return process_->kill(); }

  HttpClient client() const { return HttpClient(http_port_, 10s); }
  std::uint16_t http_port() const { return http_port_; }
  std::string pub_endpoint() const { return "tcp://127.0.0.1:" + std::to_string(pub_port_); }
  const std::string& db_path() const { return db_path_; }
  // What a subscriber of this service's events needs (its authorized key).
  bus::BusSecurity subscriber_security() const {
    bus::BusSecurity s;
    s.keys = subscriber_keys_;
    s.server_keys = {service_keys_.public_key};
    return s;
  }
  const bus::CurveKeyPair& service_keys() const { return service_keys_; }
  testing::ChildProcess& process() { return *process_; }
  testing::TempDir& dir() { return dir_; }

 private:
  testing::TempDir dir_{"catalog-api-test"};
  std::string db_path_;
  std::string token_path_;
  std::uint16_t http_port_ = 0;
  std::uint16_t pub_port_ = 0;
  bus::CurveKeyPair service_keys_ = bus::generate_key_pair();
  bus::CurveKeyPair subscriber_keys_ = bus::generate_key_pair();
  std::unique_ptr<testing::ChildProcess> process_;
};

inline testing::Headers auth() { return {{"Authorization", std::string("Bearer ") + kToken}}; }

// Collects catalog.change and catalog.heartbeat events on its own thread.
class EventLog {
 public:
  explicit EventLog(const std::string& endpoint, bus::BusSecurity security = {}) {
    bus::SubscriberOptions options;
    options.endpoints = {endpoint};
    options.security = std::move(security);
    options.topics = {"catalog."};
    // Retry often: a test connects before the service binds (restarts).
    options.reconnect_interval_max = 100ms;
    subscriber_ = std::make_unique<bus::Subscriber>(
        options, bus::SubscriberHandlers{[this](const bus::Event& e) {
                                           std::lock_guard lock(mu_);
                                           if (auto* c = std::get_if<bus::CatalogChange>(&e)) {
                                             changes_.push_back(*c);
                                           }
                                           if (auto* h = std::get_if<bus::CatalogHeartbeat>(&e)) {
                                             heartbeats_.push_back(*h);
                                           }
                                           cv_.notify_all();
                                         },
                                         [this](std::string_view, const core::Error&) {
                                           std::lock_guard lock(mu_);
                                           ++malformed_;
                                         }});
    subscriber_->start();
  }
  ~EventLog() { subscriber_->stop(); }

  // True once a heartbeat arrived: the subscription reached the publisher.
  bool wait_connected(std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return !heartbeats_.empty(); });
  }
  // Waits until a change with seq >= `seq` arrived.
  bool wait_for_seq(std::int64_t seq, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] {
      for (const auto& c : changes_) {
        if (c.seq >= seq) {
          return true;
        }
      }
      return false;
    });
  }
  bool wait_for_heartbeat(std::int64_t seq, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return !heartbeats_.empty() && heartbeats_.back().seq >= seq; });
  }
  std::vector<bus::CatalogChange> changes() {
    std::lock_guard lock(mu_);
    return changes_;
  }
  std::vector<std::int64_t> seqs() {
    std::lock_guard lock(mu_);
    std::vector<std::int64_t> out;
    for (const auto& c : changes_) {
      out.push_back(c.seq);
    }
    return out;
  }
  int malformed() {
    std::lock_guard lock(mu_);
    return malformed_;
  }
  bus::SubscriberStats stats() const { return subscriber_->stats(); }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<bus::CatalogChange> changes_;
  std::vector<bus::CatalogHeartbeat> heartbeats_;
  int malformed_ = 0;
  std::unique_ptr<bus::Subscriber> subscriber_;
};

inline std::vector<std::int64_t> seq_range(std::int64_t from, std::int64_t to) {
  std::vector<std::int64_t> out;
  for (auto s = from; s <= to; ++s) {
    out.push_back(s);
  }
  return out;
}

}  // namespace cocktail::catalog_api_test

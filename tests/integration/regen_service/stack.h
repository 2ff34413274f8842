// The real processes for analytics-regen's integration tests: catalog-api
// on a catalog file in a temporary directory, and analytics-regen on that
// catalog with its snapshot directory beside it, each on free loopback
// ports, plus the small clients the tests share. The bus runs without CURVE
// here (--allow-anonymous-bus): these tests are about regeneration; CURVE
// between the real processes is the e2e stack's.
#pragma once

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <signal.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "analytics_inbox.h"
#include "cocktail/testing/child_process.h"
#include "cocktail/testing/http_client.h"
#include "cocktail/testing/ports.h"
#include "cocktail/testing/temp_dir.h"
#include "cocktail/testing/wait.h"

namespace cocktail::regen_service {

using testing::HttpClient;

inline constexpr const char* kToken = "regen-test-token";

inline std::string endpoint(std::uint16_t port) { return "tcp://127.0.0.1:" + std::to_string(port); }

inline rapidjson::Document parse_json(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str(), text.size());
  EXPECT_FALSE(d.HasParseError()) << "not JSON: " << text;
  return d;
}

// Waits until GET /health on `port` answers 200 (or the process ends).
inline bool wait_healthy(testing::ChildProcess& process, std::uint16_t port,
                         std::chrono::milliseconds timeout) {
  return testing::wait_until(
             [&] {
               if (!process.running()) {
                 return true;
               }
               try {
                 HttpClient probe(port, 1s);
                 return probe.get("/health").status == 200;
               } catch (const testing::HttpClientError&) {
                 return false;
               }
             },
             timeout, 20ms) &&
         process.running();
}

class CatalogApi {
 public:
  explicit CatalogApi(testing::TempDir& dir)
      : db_path_(dir.file("catalog.db")),
        token_path_(dir.file("token")),
        http_port_(testing::free_loopback_port()),
        pub_port_(testing::free_loopback_port()) {
    testing::write_file(token_path_, std::string(kToken) + "\n");
  }

  bool start() {
    process_ = std::make_unique<testing::ChildProcess>(
        std::string(COCKTAIL_BIN_DIR) + "/catalog-api",
        std::vector<std::string>{"--db", db_path_, "--http", "127.0.0.1:" + std::to_string(http_port_),
                                 "--pub", pub_endpoint(), "--token-file", token_path_, "--heartbeat-ms",
                                 "200", "--publish-start-delay-ms", "100", "--log-level", "warn",
                                 "--access-log=false", "--allow-anonymous-bus"});
    if (wait_healthy(*process_, http_port_, 10s)) {
      return true;
    }
    ADD_FAILURE() << "catalog-api did not become ready:\n" << process_->stderr_text();
    return false;
  }

  // Creates an ingredient; returns the catalog_seq of the commit.
  std::int64_t add_ingredient(HttpClient& client, const std::string& name) {
    auto r = client.post("/api/v1/ingredients", R"({"name":")" + name + R"("})", auth());
    EXPECT_EQ(r.status, 201) << r.body;
    auto doc = parse_json(r.body);
    return doc.IsObject() && doc.HasMember("catalog_seq") ? doc["catalog_seq"].GetInt64() : -1;
  }

  static testing::Headers auth() { return {{"Authorization", std::string("Bearer ") + kToken}}; }
  HttpClient client() const { return HttpClient(http_port_, 10s); }
  std::string pub_endpoint() const { return endpoint(pub_port_); }
  const std::string& db_path() const { return db_path_; }
  const std::string& token_path() const { return token_path_; }
  testing::ChildProcess& process() { return *process_; }

 private:
  std::string db_path_;
  std::string token_path_;
  std::uint16_t http_port_;
  std::uint16_t pub_port_;
  std::unique_ptr<testing::ChildProcess> process_;
};

class RegenProcess {
 public:
  RegenProcess(testing::TempDir& dir, std::string db_path, std::string token_path)
      : db_path_(std::move(db_path)),
        token_path_(std::move(token_path)),
        analytics_path_(dir.file("analytics")),
        http_port_(testing::free_loopback_port()),
        pub_port_(testing::free_loopback_port()) {}

  // Starts analytics-regen subscribed to `sub` and waits for /health 200.
  bool start(const std::string& sub, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--db",
                                     db_path_,
                                     "--analytics-path",
                                     analytics_path_,
                                     "--http",
                                     "127.0.0.1:" + std::to_string(http_port_),
                                     "--sub",
                                     sub,
                                     "--pub",
                                     pub_endpoint(),
                                     "--token-file",
                                     token_path_,
                                     "--heartbeat-ms",
                                     "100",
                                     "--log-level",
                                     "info",
                                     "--allow-anonymous-bus"};
    args.insert(args.end(), extra.begin(), extra.end());
    process_ =
        std::make_unique<testing::ChildProcess>(std::string(COCKTAIL_BIN_DIR) + "/analytics-regen", args);
    if (wait_healthy(*process_, http_port_, 10s)) {
      return true;
    }
    ADD_FAILURE() << "analytics-regen did not become ready:\n" << process_->stderr_text();
    return false;
  }

  rapidjson::Document health() {
    HttpClient client(http_port_, 5s);
    return parse_json(client.get("/health").body);
  }
  std::string metrics() {
    HttpClient client(http_port_, 5s);
    return client.get("/metrics").body;
  }
  double metric(const std::string& series) { return sample(metrics(), series); }
  double successes() { return metric(R"(cocktail_regen_runs_total{result="success"})"); }
  double failures() { return metric(R"(cocktail_regen_runs_total{result="failure"})"); }

  // The catalog_seq of the current generation, by /health.
  std::int64_t covered_seq() {
    auto h = health();
    return h.IsObject() ? h["catalog_seq"].GetInt64() : -1;
  }
  bool wait_covered(std::int64_t seq, std::chrono::milliseconds timeout) {
    return testing::wait_until([&] { return covered_seq() >= seq; }, timeout, 20ms);
  }
  // True once the service received a catalog event (its subscription is through).
  bool wait_subscribed(std::chrono::milliseconds timeout = 10s) {
    return testing::wait_until(
        [&] {
          auto h = health();
          return h.IsObject() && !h["last_event_age_seconds"].IsNull();
        },
        timeout, 20ms);
  }
  // Waits until nothing is running or pending.
  bool wait_idle(std::chrono::milliseconds timeout = 10s) {
    return testing::wait_until(
        [&] {
          auto h = health();
          return h.IsObject() && !h["running"].GetBool() && !h["pending"].GetBool();
        },
        timeout, 20ms);
  }
  // Waits until neither lane is running or has work waiting.
  bool wait_both_lanes_idle(std::chrono::milliseconds timeout = 10s) {
    return testing::wait_until(
        [&] {
          auto h = health();
          return h.IsObject() && !h["running"].GetBool() && !h["pending"].GetBool() && h.HasMember("slow") &&
                 !h["slow"]["running"].GetBool() && !h["slow"]["pending"].GetBool();
        },
        timeout, 20ms);
  }

  std::optional<testing::ExitStatus> terminate(std::chrono::milliseconds timeout) {
    process_->signal(SIGTERM);
    return process_->wait_for(timeout);
  }

  HttpClient client() const { return HttpClient(http_port_, 10s); }
  std::string pub_endpoint() const { return endpoint(pub_port_); }
  const std::string& analytics_path() const { return analytics_path_; }
  testing::ChildProcess& process() { return *process_; }

 private:
  std::string db_path_;
  std::string token_path_;
  std::string analytics_path_;
  std::uint16_t http_port_;
  std::uint16_t pub_port_;
  std::unique_ptr<testing::ChildProcess> process_;
};

}  // namespace cocktail::regen_service

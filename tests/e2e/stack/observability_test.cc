// What an operator sees of the running system: every /metrics body passes
// `promtool check metrics` (format and naming lint), the alert rules name
// metrics the services export, and a real Prometheus, given the project's
// alert rules, scrapes all four services and evaluates every rule.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <regex>
#include <set>

#include "api_calls.h"
#include "cocktail/testing/ports.h"
#include "cocktail/testing/wait.h"
#include "stack.h"

namespace cocktail::e2e {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr const char* kPromtool = "/usr/bin/promtool";
constexpr const char* kPrometheus = "/usr/bin/prometheus";

// Runs a shell command line; its exit code and everything it printed.
std::pair<int, std::string> run(const std::string& command) {
  std::string output;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) {
    return {-1, "popen failed"};
  }
  char buffer[4096];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) {
    output.append(buffer, n);
  }
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

std::string alerts_path() { return std::string(COCKTAIL_SOURCE_DIR) + "/compose/prometheus/alerts.yml"; }

// The alert names and the cocktail_* metric names the rules use.
std::set<std::string> alert_names() {
  std::set<std::string> names;
  const std::string text = testing::read_file(alerts_path());
  const std::regex alert(R"(-\s*alert:\s*([A-Za-z0-9_]+))");
  for (std::sregex_iterator it(text.begin(), text.end(), alert), end; it != end; ++it) {
    names.insert((*it)[1]);
  }
  return names;
}
std::set<std::string> metrics_in_rules() {
  std::set<std::string> names;
  const std::string text = testing::read_file(alerts_path());
  const std::regex metric(R"(\bcocktail_[a-z0-9_]+)");
  for (std::sregex_iterator it(text.begin(), text.end(), metric), end; it != end; ++it) {
    names.insert(it->str());
  }
  return names;
}

class Observability : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    stack_ = std::make_unique<Stack>();
    if (auto started = stack_->start(); !started) {
      start_failure_ = started.message();
    }
  }
  static void TearDownTestSuite() {
    stack_.reset();
    start_failure_.reset();
  }
  void SetUp() override { ASSERT_FALSE(start_failure_.has_value()) << *start_failure_; }

  // Some traffic so that every labelled family has samples: a write, a
  // read-your-writes read, a 404 and a 401.
  static void exercise() {
    auto catalog = stack_->client(Service::kCatalogApi);
    Written w = write(catalog, *stack_, "POST", "/api/v1/ingredients",
                      R"({"name":"E2E Metrics )" + std::to_string(++writes_) + R"("})");
    ASSERT_EQ(w.status, 201) << w.raw;
    EXPECT_EQ(catalog.post("/api/v1/ingredients", R"({"name":"E2E Nobody"})").status, 401);
    auto analytics = stack_->client(Service::kAnalyticsApi);
    read_analytics(analytics, "/api/v1/analytics/ingredient-usage", w.catalog_seq);
    EXPECT_EQ(analytics.get("/api/v1/analytics/no-such-type").status, 404);
    auto regen = stack_->client(Service::kAnalyticsRegen);
    EXPECT_EQ(regen.get("/health").status, 200);
    auto usage = stack_->client(Service::kUsageApi);
    EXPECT_EQ(usage.post("/api/analytics/track", R"({"event_type":"page_view","session_id":"e2e"})").status,
              200);
    EXPECT_EQ(usage.post("/api/analytics/track", R"({"event_type":"page_view"})").status, 400);
  }

  static std::unique_ptr<Stack> stack_;
  static std::optional<std::string> start_failure_;
  static int writes_;
};

std::unique_ptr<Stack> Observability::stack_;
std::optional<std::string> Observability::start_failure_;
int Observability::writes_ = 0;

TEST_F(Observability, EveryMetricsEndpointPassesPromtoolLint) {
  if (!fs::exists(kPromtool)) {
    GTEST_SKIP() << kPromtool << " is missing (Debian package prometheus)";
  }
  exercise();
  std::string all_bodies;
  for (Service s : kAllServices) {
    auto client = stack_->client(s);
    auto r = client.get("/metrics");
    ASSERT_EQ(r.status, 200) << service_name(s);
    EXPECT_NE(r.header("Content-Type").find("text/plain"), std::string::npos) << r.header("Content-Type");
    const std::string file = (stack_->dir() / (std::string(service_name(s)) + ".metrics")).string();
    testing::write_file(file, r.body);
    // Lint problems (names, suffixes, units, help) exit non-zero and print
    // one line each; a clean body prints nothing.
    auto [code, output] = run(std::string(kPromtool) + " check metrics < " + file);
    EXPECT_EQ(code, 0) << service_name(s) << ":\n" << output;
    EXPECT_EQ(output, "") << service_name(s);
    all_bodies += r.body;
  }
  // The alert rules only name metrics the services export.
  for (const std::string& metric : metrics_in_rules()) {
    EXPECT_NE(all_bodies.find("\n" + metric), std::string::npos)
        << "compose/prometheus/alerts.yml uses " << metric << ", which no service exports";
  }
}

TEST_F(Observability, PrometheusScrapesTheFourServicesAndEvaluatesTheAlertRules) {
  if (!fs::exists(kPrometheus)) {
    GTEST_SKIP() << kPrometheus << " is missing (Debian package prometheus)";
  }
  exercise();
  const std::uint16_t port = testing::free_loopback_port();
  const fs::path dir = stack_->dir() / "prometheus";
  fs::create_directories(dir / "data");
  std::string config =
      "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
      "rule_files:\n  - " +
      alerts_path() + "\nscrape_configs:\n";
  for (Service s : kAllServices) {
    config += std::string("  - job_name: ") + service_name(s) +
              "\n    static_configs:\n      - targets: [\"127.0.0.1:" + std::to_string(stack_->http_port(s)) +
              "\"]\n";
  }
  testing::write_file(dir / "prometheus.yml", config);
  if (fs::exists(kPromtool)) {
    auto [code, output] = run(std::string(kPromtool) + " check config " + (dir / "prometheus.yml").string());
    ASSERT_EQ(code, 0) << output << "\n" << config;
  }

  testing::ChildOptions options;
  options.stderr_path = (dir / "prometheus.log").string();
  testing::ChildProcess prometheus(
      kPrometheus,
      {"--config.file=" + (dir / "prometheus.yml").string(), "--storage.tsdb.path=" + (dir / "data").string(),
       "--web.listen-address=127.0.0.1:" + std::to_string(port)},
      options);

  // Every target up: the four jobs, each scraped successfully at least once.
  std::string last;
  const bool up = testing::wait_until(
      [&] {
        if (!prometheus.running()) {
          return true;
        }
        try {
          testing::HttpClient client(port, 2s);
          auto r = client.get("/api/v1/targets?state=active");
          last = r.body;
          auto d = parse_json(r.body);
          if (r.status != 200 || d.HasParseError() || !d.HasMember("data")) {
            return false;
          }
          std::set<std::string> jobs;
          for (const auto& t : d["data"]["activeTargets"].GetArray()) {
            if (std::string(t["health"].GetString()) != "up") {
              return false;
            }
            jobs.insert(t["labels"]["job"].GetString());
          }
          return jobs ==
                 std::set<std::string>{"catalog-api", "analytics-regen", "analytics-api", "usage-api"};
        } catch (const testing::HttpClientError&) {
          return false;
        }
      },
      60s, 200ms);
  ASSERT_TRUE(up && prometheus.running()) << "targets: " << last << "\nprometheus log:\n"
                                          << prometheus.stderr_text().substr(0, 4000);

  // The project's rules loaded, and each evaluated without error.
  const std::set<std::string> expected = alert_names();
  ASSERT_GE(expected.size(), 5u) << "alerts.yml has too few rules";
  std::set<std::string> loaded, healthy;
  const bool evaluated = testing::wait_until(
      [&] {
        try {
          testing::HttpClient client(port, 2s);
          auto r = client.get("/api/v1/rules?type=alert");
          last = r.body;
          auto d = parse_json(r.body);
          if (r.status != 200 || d.HasParseError() || !d.HasMember("data")) {
            return false;
          }
          loaded.clear();
          healthy.clear();
          for (const auto& group : d["data"]["groups"].GetArray()) {
            for (const auto& rule : group["rules"].GetArray()) {
              loaded.insert(rule["name"].GetString());
              if (std::string(rule["health"].GetString()) == "ok") {
                healthy.insert(rule["name"].GetString());
              }
            }
          }
          return healthy == expected;
        } catch (const testing::HttpClientError&) {
          return false;
        }
      },
      30s, 200ms);
  EXPECT_EQ(loaded, expected) << last;
  EXPECT_TRUE(evaluated) << "rules not all evaluated with health ok: " << last;

  // And the samples arrive: the catalog's seq as Prometheus stored it.
  bool sampled = testing::wait_until(
      [&] {
        try {
          testing::HttpClient client(port, 2s);
          auto r = client.get("/api/v1/query?query=cocktail_catalog_seq");
          auto d = parse_json(r.body);
          last = r.body;
          return r.status == 200 && !d.HasParseError() && d["data"]["result"].Size() == 1;
        } catch (const testing::HttpClientError&) {
          return false;
        }
      },
      10s, 200ms);
  EXPECT_TRUE(sampled) << last;

  prometheus.signal(SIGTERM);
  auto status = prometheus.wait_for(20s);
  ASSERT_TRUE(status.has_value()) << "prometheus did not stop on SIGTERM";
  EXPECT_TRUE(status->success()) << prometheus.stderr_text().substr(0, 4000);
}

}  // namespace
}  // namespace cocktail::e2e

// The analytics-api binary as a real process: settings from flags and the
// environment, new generations announced on a real ZeroMQ publisher,
// malformed messages counted and dropped, graceful SIGTERM.
#include <gtest/gtest.h>
#include <signal.h>

#include "cocktail/bus/events.h"
#include "cocktail/bus/publisher.h"
#include "cocktail/read_service/representation.h"
#include "cocktail/testing/child_process.h"
#include "cocktail/testing/http_client.h"
#include "cocktail/testing/ports.h"
#include "cocktail/testing/temp_dir.h"
#include "cocktail/testing/wait.h"
#include "engine_fixture.h"

namespace cocktail::read_service {
namespace {

using namespace std::chrono_literals;

std::int64_t served_generation(std::uint16_t port) {
  try {
    testing::HttpClient c(port, 1s);
    auto r = c.get("/api/v1/analytics/recipe-complexity");
    if (r.status != 200) return 0;
    return std::stoll(r.header("X-Analytics-Generation"));
  } catch (const std::exception&) {
    return 0;
  }
}

TEST(AnalyticsApiProcess, FollowsAnnouncementsAndStopsOnSigterm) {
  read_test::Engine engine;
  const auto first = engine.regenerate();
  bus::PublisherOptions po;
  po.endpoint = "tcp://127.0.0.1:0";
  bus::Publisher publisher(po);
  const std::uint16_t port = testing::free_loopback_port();

  testing::ChildOptions co;
  co.env = {{"ANALYTICS_PATH", engine.analytics_path()}, {"LOG_LEVEL", "info"}};
  // A periodic check far beyond the test: only the announcement can make it load.
  testing::ChildProcess api(COCKTAIL_BIN_DIR "/analytics-api",
                            {"--http", "127.0.0.1:" + std::to_string(port), "--sub", publisher.endpoint(),
                             "--check-interval-ms", "600000", "--access-log=false"},
                            co);
  ASSERT_TRUE(api.wait_for_stderr("http.listening", 10s)) << api.stderr_text();
  EXPECT_EQ(served_generation(port), first.generation);

  const auto second = engine.change_and_regenerate();
  bus::AnalyticsSnapshot event;
  event.generation = second.generation;
  event.catalog_seq = second.catalog_seq;
  event.generated_at_ms = second.generated_at_ms;
  for (const auto& [name, f] : second.manifest.files) event.files[name] = {f.sha256, f.bytes};
  // PUB/SUB drops what is sent before the subscription is in place: repeat
  // the announcement (as the regen's heartbeats would) until it is served.
  EXPECT_TRUE(testing::wait_until(
      [&] {
        publisher.publish(event);
        return served_generation(port) == second.generation;
      },
      10s, 50ms))
      << api.stderr_text();

  publisher.publish_encoded(bus::kAnalyticsSnapshotTopic, "{\"v\":1,\"generation\":\"x\"}");
  EXPECT_TRUE(testing::wait_until(
      [&] {
        testing::HttpClient c(port, 1s);
        return c.get("/metrics").body.find("cocktail_events_malformed_total 1") != std::string::npos;
      },
      5s, 50ms));
  testing::HttpClient c(port, 1s);
  const std::string metrics = c.get("/metrics").body;
  EXPECT_NE(metrics.find("cocktail_events_received_total{topic=\"analytics.snapshot\"}"), std::string::npos);
  EXPECT_EQ(served_generation(port), second.generation);  // the malformed message changed nothing

  api.signal(SIGTERM);
  auto status = api.wait_for(10s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(status->success()) << api.stderr_text();
  EXPECT_NE(api.stderr_text().find("analytics_api.stopped"), std::string::npos);
}

TEST(AnalyticsApiProcess, BadSettingsAreRefusedWithAUsageError) {
  testing::ChildProcess bad(COCKTAIL_BIN_DIR "/analytics-api", {"--http", "localhost:notaport"});
  auto s = bad.wait_for(10s);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->code, 2);
  testing::ChildProcess help(COCKTAIL_BIN_DIR "/analytics-api", {"--help"});
  ASSERT_TRUE(help.wait_for(10s).has_value());
  for (const char* flag :
       {"--analytics-path", "ANALYTICS_PATH", "--db", "CATALOG_DB", "--http", "HTTP_LISTEN", "--sub",
        "SUB_ENDPOINTS", "--io-threads", "--check-interval-ms", "--cors-origins", "--max-wait-ms",
        "--log-level", "--dashboard", "DASHBOARD", "--usage-api-url", "USAGE_API_URL"}) {
    EXPECT_NE(help.stdout_text().find(flag), std::string::npos) << flag;
  }
  testing::ChildProcess bad_url(COCKTAIL_BIN_DIR "/analytics-api", {"--usage-api-url", "127.0.0.1:8083"});
  s = bad_url.wait_for(10s);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->code, 2);
  EXPECT_NE(bad_url.stderr_text().find("--usage-api-url"), std::string::npos) << bad_url.stderr_text();
}

// Every URL the page names (stylesheet, scripts, the import map's modules,
// D3) is served by the binary itself, from the files compiled into it.
TEST(AnalyticsApiProcess, ServesTheDashboardCompiledIntoIt) {
  testing::TempDir dir("api-dashboard");
  const std::uint16_t port = testing::free_loopback_port();
  testing::ChildOptions co;
  co.env = {{"USAGE_API_URL", "http://127.0.0.1:8083"}};
  testing::ChildProcess api(COCKTAIL_BIN_DIR "/analytics-api",
                            {"--analytics-path", dir.file("analytics"), "--http",
                             "127.0.0.1:" + std::to_string(port), "--sub", "", "--access-log=false"},
                            co);
  ASSERT_TRUE(api.wait_for_stderr("http.listening", 10s)) << api.stderr_text();
  testing::HttpClient c(port, 5s);
  auto page = c.get("/");
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_NE(page.header("Content-Security-Policy").find("http://127.0.0.1:8083"), std::string::npos);
  std::vector<std::string> urls;
  for (std::size_t at = page.body.find("/dashboard/assets/"); at != std::string::npos;
       at = page.body.find("/dashboard/assets/", at + 1)) {
    urls.push_back(page.body.substr(at, page.body.find_first_of("\"\\", at) - at));
  }
  ASSERT_GE(urls.size(), 10u) << page.body;
  bool d3 = false;
  for (const auto& url : urls) {
    auto r = c.get(url, {{"Accept-Encoding", "gzip"}});
    EXPECT_EQ(r.status, 200) << url;
    if (url.find("vendor/d3.min.") != std::string::npos && r.status == 200) {
      d3 = true;
      EXPECT_EQ(r.header("Content-Encoding"), "gzip");
      EXPECT_NE(gzip_decompress(r.body).find("d3js.org v5"), std::string::npos);
    }
  }
  EXPECT_TRUE(d3) << "the page does not load D3";
  EXPECT_NE(c.get("/dashboard/config.json").body.find("\"usage_api\":\"http://127.0.0.1:8083\""),
            std::string::npos);
  // No snapshot yet: the page is served all the same, the data routes say 503.
  EXPECT_EQ(c.get("/api/v1/analytics/cocktail-space").status, 503);

  const std::uint16_t off_port = testing::free_loopback_port();
  testing::ChildProcess off(
      COCKTAIL_BIN_DIR "/analytics-api",
      {"--analytics-path", dir.file("analytics"), "--http", "127.0.0.1:" + std::to_string(off_port), "--sub",
       "", "--dashboard=false", "--access-log=false"});
  ASSERT_TRUE(off.wait_for_stderr("http.listening", 10s)) << off.stderr_text();
  testing::HttpClient api_only(off_port, 5s);
  EXPECT_EQ(api_only.get("/").status, 404);
  EXPECT_EQ(api_only.get("/dashboard/").status, 404);
  EXPECT_EQ(api_only.get("/api/v1/analytics/status").status, 200);
}

}  // namespace
}  // namespace cocktail::read_service

// The analytics-api binary as a real process: settings from flags and the
// environment, new generations announced on a real ZeroMQ publisher with
// CURVE, malformed and oversized messages counted and dropped (the
// subscription goes on), a forged heartbeat that never holds the staleness
// gauge, graceful SIGTERM.
#include <gtest/gtest.h>
#include <signal.h>

#include <zmq.hpp>

#include "cocktail/bus/curve.h"
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

// The keys of a regen-like publisher and of analytics-api, in files.
struct BusKeys {
  testing::TempDir dir{"analytics-api-keys"};
  bus::CurveKeyPair publisher = bus::generate_key_pair();
  bus::CurveKeyPair api = bus::generate_key_pair();

  BusKeys() {
    EXPECT_TRUE(bus::write_key_files(dir.path() / "analytics-regen", publisher, false).ok());
    EXPECT_TRUE(bus::write_key_files(dir.path() / "analytics-api", api, false).ok());
  }
  bus::PublisherOptions publisher_options() const {
    bus::PublisherOptions po;
    po.endpoint = "tcp://127.0.0.1:0";
    po.security.keys = publisher;
    po.security.authorized_keys = {api.public_key};
    return po;
  }
  std::vector<std::string> api_args() const {
    return {"--bus-key-file", dir.file("analytics-api.key_secret"), "--bus-server-key",
            dir.file("analytics-regen.key")};
  }
};

std::vector<std::string> concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::string metrics_of(std::uint16_t port) {
  try {
    testing::HttpClient c(port, 1s);
    return c.get("/metrics").body;
  } catch (const std::exception&) {
    return {};
  }
}

bus::AnalyticsSnapshot announcement(const regen_service::RegenSummary& summary) {
  bus::AnalyticsSnapshot event;
  event.generation = summary.generation;
  event.catalog_seq = summary.catalog_seq;
  event.generated_at_ms = summary.generated_at_ms;
  for (const auto& [name, f] : summary.manifest.files) {
    event.files[name] = {f.sha256, f.bytes};
  }
  return event;
}

std::int64_t served_generation(std::uint16_t port) {
  try {
    testing::HttpClient c(port, 1s);
    auto r = c.get("/api/v1/analytics/recipe-complexity");
    if (r.status != 200) {
      return 0;
    }
    return std::stoll(r.header("X-Analytics-Generation"));
  } catch (const std::exception&) {
    return 0;
  }
}

// analytics-api on `engine`'s snapshot directory, on `port`, subscribed to
// `sub` with the given bus settings; the periodic check far beyond any test,
// so that only announcements make it load. Waits until it listens.
std::unique_ptr<testing::ChildProcess> start_api(read_test::Engine& engine, std::uint16_t port,
                                                 const std::string& sub,
                                                 const std::vector<std::string>& bus_args) {
  testing::ChildOptions co;
  co.env = {{"ANALYTICS_PATH", engine.analytics_path()}, {"LOG_LEVEL", "info"}};
  auto api = std::make_unique<testing::ChildProcess>(
      COCKTAIL_BIN_DIR "/analytics-api",
      concat({"--http", "127.0.0.1:" + std::to_string(port), "--sub", sub, "--check-interval-ms", "600000",
              "--access-log=false"},
             bus_args),
      co);
  EXPECT_TRUE(api->wait_for_stderr("http.listening", 10s)) << api->stderr_text();
  return api;
}

TEST(AnalyticsApiProcess, FollowsAnnouncementsAndStopsOnSigterm) {
  read_test::Engine engine;
  const auto first = engine.regenerate();
  BusKeys keys;
  bus::Publisher publisher(keys.publisher_options());
  const std::uint16_t port = testing::free_loopback_port();

  auto api_process = start_api(engine, port, publisher.endpoint(), keys.api_args());
  auto& api = *api_process;
  EXPECT_EQ(served_generation(port), first.generation);

  const auto second = engine.change_and_regenerate();
  const auto event = announcement(second);
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

TEST(AnalyticsApiProcess, AForgedHeartbeatNeverHoldsTheStalenessGauge) {
  read_test::Engine engine;
  const auto first = engine.regenerate();
  BusKeys keys;
  // The publisher is authorized: what it says is still only a hint.
  bus::Publisher publisher(keys.publisher_options());
  const std::uint16_t port = testing::free_loopback_port();
  auto api_process = start_api(engine, port, publisher.endpoint(), keys.api_args());
  auto& api = *api_process;
  ASSERT_EQ(served_generation(port), first.generation);

  const bus::AnalyticsHeartbeat forged{std::int64_t{1} << 62, 1, 1795514400123};
  ASSERT_TRUE(testing::wait_until(
      [&] {
        publisher.publish(forged);
        return metrics_of(port).find("cocktail_snapshot_unverified_announcements_total 0") ==
               std::string::npos;
      },
      10s, 50ms))
      << api.stderr_text();
  // Keep forging for two seconds: the gauge (refreshed every second) stays 0.
  const auto until = std::chrono::steady_clock::now() + 2s;
  while (std::chrono::steady_clock::now() < until) {
    publisher.publish(forged);
    std::this_thread::sleep_for(100ms);
  }
  const std::string metrics = metrics_of(port);
  EXPECT_NE(metrics.find("cocktail_snapshot_staleness_seconds 0\n"), std::string::npos) << metrics;
  testing::HttpClient c(port, 1s);
  EXPECT_NE(c.get("/api/v1/analytics/status").body.find("\"staleness_seconds\":0"), std::string::npos);
  EXPECT_EQ(served_generation(port), first.generation);

  // A real announcement is still followed.
  const auto second = engine.change_and_regenerate();
  EXPECT_TRUE(testing::wait_until(
      [&] {
        publisher.publish(announcement(second));
        return served_generation(port) == second.generation;
      },
      10s, 50ms));
}

TEST(AnalyticsApiProcess, AnOversizedMessageDoesNotEndTheSubscription) {
  read_test::Engine engine;
  const auto first = engine.regenerate();
  // A raw publisher without CURVE (the service is told to allow it).
  zmq::context_t context;
  zmq::socket_t raw(context, zmq::socket_type::pub);
  raw.set(zmq::sockopt::linger, 0);
  raw.bind("tcp://127.0.0.1:0");
  const std::string endpoint = raw.get(zmq::sockopt::last_endpoint);
  auto send = [&](std::string_view topic, const std::string& body) {
    raw.send(zmq::buffer(topic), zmq::send_flags::sndmore);
    raw.send(zmq::buffer(body), zmq::send_flags::none);
  };
  const std::uint16_t port = testing::free_loopback_port();
  auto api_process = start_api(engine, port, endpoint, {"--allow-anonymous-bus"});
  auto& api = *api_process;
  ASSERT_EQ(served_generation(port), first.generation);
  // Connected once a heartbeat was taken.
  const auto heartbeat = bus::encode_body(bus::AnalyticsHeartbeat{first.generation, first.catalog_seq, 1});
  ASSERT_TRUE(testing::wait_until(
      [&] {
        send(bus::kAnalyticsHeartbeatTopic, heartbeat);
        return metrics_of(port).find("cocktail_events_received_total{topic=\"analytics.heartbeat\"} 0") ==
               std::string::npos;
      },
      10s, 50ms));

  send(bus::kAnalyticsSnapshotTopic, std::string(1'100'000, 'x'));  // 1.1 MB: over the 1 MiB limit
  EXPECT_TRUE(testing::wait_until(
      [&] { return metrics_of(port).find("cocktail_events_malformed_total 1") != std::string::npos; }, 10s,
      50ms))
      << metrics_of(port);

  // Still subscribed: the next generation's announcement is followed.
  const auto second = engine.change_and_regenerate();
  const auto next = bus::encode_body(announcement(second));
  EXPECT_TRUE(testing::wait_until(
      [&] {
        send(bus::kAnalyticsSnapshotTopic, next);
        return served_generation(port) == second.generation;
      },
      10s, 50ms))
      << api.stderr_text();
  EXPECT_NE(metrics_of(port).find("cocktail_bus_reconnects_total{reason=\"dropped\"} 1"), std::string::npos);
}

TEST(AnalyticsApiProcess, AFloodOfMalformedMessagesIsCountedNotLoggedLineByLine) {
  read_test::Engine engine;
  engine.regenerate();
  zmq::context_t context;
  zmq::socket_t raw(context, zmq::socket_type::pub);
  raw.set(zmq::sockopt::linger, 0);
  raw.set(zmq::sockopt::sndhwm, 0);  // queue everything: the flood must arrive
  raw.bind("tcp://127.0.0.1:0");
  const std::string endpoint = raw.get(zmq::sockopt::last_endpoint);
  const std::uint16_t port = testing::free_loopback_port();
  auto api_process = start_api(engine, port, endpoint, {"--allow-anonymous-bus"});
  auto& api = *api_process;
  auto garbage = [&] {
    raw.send(zmq::str_buffer("analytics.heartbeat"), zmq::send_flags::sndmore);
    raw.send(zmq::str_buffer("{not json"), zmq::send_flags::none);
  };
  ASSERT_TRUE(testing::wait_until(
      [&] {
        garbage();
        return metrics_of(port).find("cocktail_events_malformed_total 0") == std::string::npos;
      },
      10s, 20ms));
  const auto begin = std::chrono::steady_clock::now();
  constexpr int kFlood = 20000;
  for (int i = 0; i < kFlood; ++i) {
    garbage();
    if (i % 1000 == 999) {
      std::this_thread::sleep_for(20ms);  // under the subscriber's high-water mark
    }
  }
  ASSERT_TRUE(testing::wait_until(
      [&] {
        const auto m = metrics_of(port);
        const std::string series = "\ncocktail_events_malformed_total ";
        const auto at = m.find(series);
        return at != std::string::npos && std::stod(m.substr(at + series.size())) >= kFlood / 2.0;
      },
      20s, 100ms));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  const std::string log = api.stderr_text();
  std::size_t lines = 0;
  for (auto at = log.find("event=bus.malformed"); at != std::string::npos;
       at = log.find("event=bus.malformed", at + 1)) {
    ++lines;
  }
  // A burst of 20, then about one a second.
  EXPECT_LE(lines, 20 + static_cast<std::size_t>(seconds) + 2) << "over " << seconds << " s";
  EXPECT_NE(metrics_of(port).find("cocktail_log_suppressed_total{event=\"bus.malformed\"}"),
            std::string::npos);
}

TEST(AnalyticsApiProcess, RefusesToSubscribeWithoutBusKeys) {
  read_test::Engine engine;
  testing::ChildOptions co;
  co.env = {{"ANALYTICS_PATH", engine.analytics_path()}};
  testing::ChildProcess refused(COCKTAIL_BIN_DIR "/analytics-api",
                                {"--http", "127.0.0.1:0", "--sub", "tcp://127.0.0.1:1"}, co);
  auto s = refused.wait_for(10s);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->code, 2);
  EXPECT_NE(refused.stderr_text().find("--allow-anonymous-bus"), std::string::npos) << refused.stderr_text();
  // Without a subscription (CURRENT polled only) no key is needed.
  const std::uint16_t port = testing::free_loopback_port();
  testing::ChildProcess polling(COCKTAIL_BIN_DIR "/analytics-api",
                                {"--http", "127.0.0.1:" + std::to_string(port), "--sub", ""}, co);
  EXPECT_TRUE(polling.wait_for_stderr("http.listening", 10s)) << polling.stderr_text();
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

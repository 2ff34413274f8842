// UsageService in-process over real sockets: usage.hour is published after
// writes are durable, with the committed totals, at most once per hour and
// interval however many events arrive.
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "cocktail/bus/subscriber.h"
#include "cocktail/testing/http_client.h"
#include "cocktail/testing/temp_dir.h"
#include "cocktail/testing/wait.h"
#include "cocktail/usage/usage_service.h"

namespace cocktail::usage {
namespace {

using namespace std::chrono_literals;

TEST(UsageService, PublishesUsageHourWithTheCommittedTotalsRateLimited) {
  testing::TempDir dir("usage-service");
  metrics::MetricsRegistry registry;
  UsageServiceOptions options;
  options.db_path = dir.file("usage.db");
  options.pub_endpoint = "tcp://127.0.0.1:0";
  options.publish_interval = 200ms;
  options.http.access_log = false;
  UsageService service(options, registry);
  service.start();

  std::mutex mu;
  std::condition_variable cv;
  std::vector<bus::UsageHour> received;
  bus::SubscriberOptions sub_options;
  sub_options.endpoints = {service.pub_endpoint()};
  sub_options.topics = {std::string(bus::kUsageHourTopic)};
  bus::Subscriber subscriber(sub_options, {[&](const bus::Event& e) {
                                             if (auto* h = std::get_if<bus::UsageHour>(&e)) {
                                               std::lock_guard lock(mu);
                                               received.push_back(*h);
                                               cv.notify_all();
                                             }
                                           },
                                           [](std::string_view, const core::Error&) {}});
  subscriber.start();

  testing::HttpClient client(service.http_port());
  auto post = [&](int session) {
    auto r = client.post("/api/analytics/track",
                         R"({"event_type":"tool_used","session_id":"s)" + std::to_string(session) + "\"}");
    ASSERT_EQ(r.status, 200) << r.body;
  };
  // PUB/SUB connects in the background: write until the first message arrives.
  int sent = 0;
  ASSERT_TRUE(testing::wait_until(
      [&] {
        post(sent++ % 3);
        std::lock_guard lock(mu);
        return !received.empty();
      },
      10s, 50ms));

  // A burst: many events, few messages, the last one with every event.
  const auto burst_start = std::chrono::steady_clock::now();
  std::size_t before;
  {
    std::lock_guard lock(mu);
    before = received.size();
  }
  for (int i = 0; i < 300; ++i) {
    post(sent++ % 3);
  }
  const int total = sent;
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return received.back().total_events == total; }))
      << "last announced " << received.back().total_events << " of " << total;
  const double elapsed_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - burst_start).count();
  const auto messages = received.size() - before;
  EXPECT_LE(static_cast<double>(messages), elapsed_s / 0.2 + 2)
      << messages << " messages in " << elapsed_s << " s";
  EXPECT_LT(messages, 300u);
  EXPECT_EQ(received.back().unique_sessions, 3);
  EXPECT_EQ(received.back().hour_ms % kHourMs, 0);
  lock.unlock();
  subscriber.stop();
  service.stop();
}

}  // namespace
}  // namespace cocktail::usage

// analytics-api under hostile load: a thousand idle connections, a reader
// that never reads, many parked waiters and stream clients — others are
// still served, and resources stay bounded.
#include <sys/resource.h>

#include <atomic>
#include <thread>

#include "api_fixture.h"
#include "cocktail/testing/wait.h"

namespace cocktail::read_service {
namespace {

using namespace std::chrono_literals;
using testing::HttpClient;
using testing::RawConnection;

constexpr const char* kApi = "/api/v1/analytics/";

TEST_F(AnalyticsApiTest, AThousandIdleConnectionsAndASlowReaderDoNotStallOthers) {
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  if (lim.rlim_cur < 2300 && lim.rlim_max >= 2300) {
    lim.rlim_cur = 2300;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
  getrlimit(RLIMIT_NOFILE, &lim);
  if (lim.rlim_cur < 2300) {
    GTEST_SKIP() << "needs 2300 file descriptors";
  }
  engine_.regenerate();
  auto o = options();
  o.http.write_timeout = 500ms;
  start(o);

  std::vector<std::unique_ptr<RawConnection>> idle;
  idle.reserve(1000);
  for (int i = 0; i < 1000; ++i) {
    idle.push_back(std::make_unique<RawConnection>(port()));
  }
  ASSERT_TRUE(testing::wait_until([&] { return service_->server().open_connections() == 1000; }, 5s));

  // A client asking for the largest body over and over without reading.
  RawConnection slow(port());
  slow.set_receive_buffer(4096);
  std::string pipelined;
  for (int i = 0; i < 200; ++i) {
    pipelined += std::string("GET ") + kApi + "recipe-similar HTTP/1.1\r\nHost: x\r\n\r\n";
  }
  slow.send(pipelined, 1s);

  HttpClient c(port(), 2s);
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(c.get(std::string(kApi) + (i % 2 ? "recipe-complexity" : "ingredient-usage?level=1")).status,
              200);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);  // catches a stall, not a slowdown
  // The slow reader is cut at the write timeout; the idle ones go when closed.
  EXPECT_TRUE(slow.wait_closed(5s));
  idle.clear();
  EXPECT_TRUE(testing::wait_until([&] { return service_->server().open_connections() <= 1; }, 5s));
}

TEST_F(AnalyticsApiTest, ParkedWaitersAndStreamsAreBounded) {
  engine_.regenerate();
  auto o = options();
  o.max_waiters = 3;
  o.max_stream_clients = 2;
  start(o);
  const std::string far = std::string(kApi) + "recipe-complexity?min_seq=1000000&wait_ms=5000";
  std::vector<std::unique_ptr<RawConnection>> parked;
  for (int i = 0; i < 3; ++i) {
    parked.push_back(std::make_unique<RawConnection>(port()));
    parked.back()->send("GET " + far + " HTTP/1.1\r\nHost: x\r\n\r\n");
  }
  ASSERT_TRUE(testing::wait_until([&] { return service_->waiters().waiting() == 3; }, 5s));
  auto c = client();
  auto full = c.get(far);
  EXPECT_EQ(full.status, 503);
  EXPECT_NE(full.body.find("too many requests waiting"), std::string::npos);
  EXPECT_EQ(c.get(std::string(kApi) + "recipe-complexity").status, 200);

  testing::EventStreamClient s1(port(), std::string(kApi) + "stream");
  testing::EventStreamClient s2(port(), std::string(kApi) + "stream");
  ASSERT_TRUE(testing::wait_until([&] { return service_->announcer().clients() == 2; }, 3s));
  EXPECT_EQ(c.get(std::string(kApi) + "stream").status, 503);

  // Stopping answers the parked requests at once (503) instead of holding the drain.
  const auto t0 = std::chrono::steady_clock::now();
  service_->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  for (auto& p : parked) {
    EXPECT_NE(p->read_until("\r\n\r\n", 2s).find("503"), std::string::npos);
  }
}

}  // namespace
}  // namespace cocktail::read_service

// An in-process ReadService on 127.0.0.1 (ephemeral port, short timeouts)
// over a snapshot directory written by the engine (read_test::Engine).
#pragma once

#include <gtest/gtest.h>
#include <simdjson.h>

#include <functional>
#include <memory>
#include <string>

#include "cocktail/metrics/registry.h"
#include "cocktail/read_service/read_service.h"
#include "cocktail/snapshot/sha256.h"
#include "cocktail/testing/http_client.h"
#include "engine_fixture.h"

namespace cocktail::read_service {

class AnalyticsApiTest : public ::testing::Test {
 protected:
  ReadServiceOptions options() const {
    ReadServiceOptions o;
    o.http.host = "127.0.0.1";
    o.http.port = 0;
    o.http.io_threads = 2;
    o.http.access_log = false;
    o.http.idle_timeout = std::chrono::seconds(10);
    o.http.write_timeout = std::chrono::seconds(5);
    o.http.shutdown_timeout = std::chrono::seconds(2);
    o.analytics_path = engine_.analytics_path();
    o.check_interval = std::chrono::hours(1);  // tests refresh explicitly unless they say otherwise
    return o;
  }

  // Builds and starts the service; `before_start` may add cache listeners.
  void start(ReadServiceOptions o, const std::function<void(ReadService&)>& before_start = {}) {
    service_ = std::make_unique<ReadService>(std::move(o), registry_);
    if (before_start) {
      before_start(*service_);
    }
    service_->start();
    ASSERT_NE(service_->port(), 0);
  }
  void start() { start(options()); }

  std::uint16_t port() const { return service_->port(); }
  testing::HttpClient client(std::chrono::milliseconds timeout = std::chrono::seconds(5)) const {
    return testing::HttpClient(port(), timeout);
  }
  // A new generation on disk, loaded by the service before returning.
  regen_service::RegenSummary publish_change() {
    auto s = engine_.change_and_regenerate();
    service_->cache().refresh();
    return s;
  }

  void TearDown() override {
    if (service_) {
      service_->stop();
    }
  }

  static std::int64_t header_int(const testing::HttpResponse& r, const std::string& name) {
    const std::string v = r.header(name);
    return v.empty() ? -1 : std::stoll(v);
  }

  read_test::Engine engine_;
  metrics::MetricsRegistry registry_;
  std::unique_ptr<ReadService> service_;
};

}  // namespace cocktail::read_service

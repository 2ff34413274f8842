// A Server on 127.0.0.1 with an ephemeral port and short timeouts, for tests.
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "cocktail/http/server.h"
#include "cocktail/metrics/registry.h"
#include "cocktail/testing/http_client.h"

namespace cocktail::http {

class ServerTest : public ::testing::Test {
 protected:
  static ServerOptions test_options() {
    ServerOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.io_threads = 2;
    o.access_log = false;
    o.idle_timeout = std::chrono::seconds(10);
    o.read_timeout = std::chrono::seconds(5);
    o.write_timeout = std::chrono::seconds(5);
    o.shutdown_timeout = std::chrono::seconds(2);
    return o;
  }

  // Builds the server; add routes through router() before start().
  Server& make(ServerOptions options = test_options()) {
    server_ = std::make_unique<Server>(std::move(options), registry_);
    return *server_;
  }
  Router& router() { return server_->router(); }
  void start() {
    server_->start();
    ASSERT_NE(server_->port(), 0);
  }
  std::uint16_t port() const { return server_->port(); }
  testing::HttpClient client(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    return testing::HttpClient(port(), timeout);
  }

  void TearDown() override {
    if (server_) {
      server_->stop();
    }
  }

  metrics::MetricsRegistry registry_;
  std::unique_ptr<Server> server_;
};

}  // namespace cocktail::http

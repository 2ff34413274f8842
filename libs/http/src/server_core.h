// ServerCore: the state shared by the Server handle and its sessions: the
// options, router, metrics, the I/O contexts and threads, the acceptor and
// the registry of open sessions (for shutdown). Sessions hold it by
// shared_ptr; Server::stop() drains every session so that none outlives it.
#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cocktail/http/cors.h"
#include "cocktail/http/router.h"
#include "cocktail/http/server.h"
#include "http_metrics.h"

namespace cocktail::http::detail {

class Session;

class ServerCore : public std::enable_shared_from_this<ServerCore> {
 public:
  ServerCore(ServerOptions options, metrics::MetricsRegistry& registry);
  ~ServerCore();

  void start();
  void stop();

  // Session registry (any thread).
  void add_session(std::uint64_t id, const std::shared_ptr<Session>& session);
  void remove_session(std::uint64_t id);
  std::size_t session_count() const;

  const ServerOptions options;
  metrics::MetricsRegistry& registry;
  Router router;
  ReadinessCheck readiness;
  HttpMetrics metrics;
  const CorsPolicy cors;

  // Filled by start(): series per route id, and for unmatched requests.
  std::vector<HttpMetrics::RouteSeries*> route_series;
  HttpMetrics::RouteSeries* unmatched_series = nullptr;
  // The largest body any route accepts (the parser's limit while reading headers).
  std::size_t max_route_body = 0;

  std::atomic<bool> stopping{false};
  // Set once the I/O threads were joined: late responses are dropped.
  std::atomic<bool> io_stopped{false};
  std::atomic<std::uint16_t> port{0};

 private:
  void add_builtin_routes();
  void do_accept();
  void on_accept(
      boost::system::error_code ec,
      boost::asio::basic_stream_socket<boost::asio::ip::tcp, boost::asio::io_context::executor_type> socket);

  using WorkGuard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<WorkGuard> guards_;
  std::vector<std::thread> threads_;
  std::optional<boost::asio::ip::tcp::acceptor> acceptor_;
  std::optional<boost::asio::steady_timer> accept_retry_;
  std::size_t next_context_ = 0;  // touched by the acceptor's thread only
  std::uint64_t next_session_id_ = 1;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<std::uint64_t, std::weak_ptr<Session>> sessions_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace cocktail::http::detail

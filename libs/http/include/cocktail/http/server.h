// Server: the asynchronous HTTP/1.1 server every service runs (Boost.Beast).
//
// I/O threads each run their own io_context; every connection is a session
// bound to one of them, so a session's state is only touched by its thread
// and nothing on an I/O thread blocks. Handlers answer through a Responder,
// synchronously or later from any thread (responder.h); blocking work goes
// to a BlockingExecutor.
//
// Hard limits (ServerOptions) keep any client from hurting others: header
// and body sizes, query length, read, idle and write timeouts, the number of
// connections, the buffer of each event stream. Every request gets a request
// id, one access-log line ("http.request") and the metrics
// cocktail_http_requests_total{route,method,status},
// cocktail_http_request_duration_seconds{route} and
// cocktail_http_requests_in_flight. Built in: GET /metrics (the registry in
// the Prometheus text format) and GET /health (liveness and readiness).
//
//   metrics::MetricsRegistry registry;
//   Server server(options, registry);
//   server.router().add(Method::get, "/api/v1/x/{id}", handler);
//   server.set_readiness([&] { return Readiness{store.loaded(), "{}"}; });
//   server.start();            // binds; server.port() is the bound port
//   ...
//   server.stop();             // graceful, bounded by shutdown_timeout
//
// Lifetime: the Server must outlive every Request and Responder it handed
// out (stop executors that hold responders before destroying the server).
// router() and set_readiness() are for set-up before start(); start(),
// stop() and port() may be called from any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "cocktail/core/result.h"
#include "cocktail/http/cors.h"
#include "cocktail/http/router.h"
#include "cocktail/metrics/registry.h"

namespace cocktail::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;  // 0: any free port, see Server::port()
  int io_threads = 2;

  std::size_t max_header_bytes = std::size_t{16} * 1024;  // request line + headers; beyond: 431
  std::size_t max_body_bytes = std::size_t{1024} * 1024;  // default per route; beyond: 413
  std::size_t max_query_bytes = 4096;                     // raw query string; beyond: 414
  std::size_t max_connections = 10000;                    // beyond: new connections are closed at once

  // Keep-alive: how long a connection may sit between requests.
  std::chrono::milliseconds idle_timeout{60'000};
  // From the first byte of a request to its last (slow senders).
  std::chrono::milliseconds read_timeout{15'000};
  // For writing one response (slow readers are disconnected).
  std::chrono::milliseconds write_timeout{15'000};
  // A handler that has not answered by then gets 503 sent for it.
  std::chrono::milliseconds response_timeout{30'000};
  // stop(): how long in-flight requests may take to finish.
  std::chrono::milliseconds shutdown_timeout{5'000};

  // Events queued but not yet written per stream; beyond: the client is dropped.
  std::size_t max_stream_buffer_bytes = std::size_t{1024} * 1024;
  // A comment is sent on idle streams this often (detects dead clients).
  std::chrono::milliseconds stream_ping_interval{15'000};

  CorsOptions cors;
  bool access_log = true;
  std::string server_header = "cocktail";  // empty: no Server header
};

// "127.0.0.1:8080" -> {"127.0.0.1", 8080}; "[::1]:80" -> {"::1", 80}. The
// host must be an IP address; an error naming `field` otherwise.
core::Result<std::pair<std::string, std::uint16_t>> parse_listen_address(std::string_view text,
                                                                         std::string_view field = "http");

struct Readiness {
  bool ready = true;
  std::string details_json = "{}";  // a JSON object, shown under "details"
  // Ready, but not as it should be (serving something older than it should):
  // "status" says "degraded", still 200.
  bool degraded = false;
};
// Called on an I/O thread for every GET /health: keep it cheap (read state
// kept up to date elsewhere).
using ReadinessCheck = std::function<Readiness()>;

namespace detail {
class ServerCore;
}

class Server {
 public:
  Server(ServerOptions options, metrics::MetricsRegistry& registry);
  ~Server();  // stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  Router& router();
  void set_readiness(ReadinessCheck check);

  // Binds, listens and starts the I/O threads. Throws
  // boost::system::system_error (a std::runtime_error) when the address cannot
  // be bound, std::logic_error when called twice.
  void start();
  // The bound port (after start()).
  std::uint16_t port() const;
  // Stops accepting, closes idle connections and streams, lets in-flight
  // requests finish for up to shutdown_timeout, then closes everything and
  // joins the I/O threads. Idempotent.
  void stop();

  std::size_t open_connections() const;
  const ServerOptions& options() const;

 private:
  std::shared_ptr<detail::ServerCore> core_;
};

}  // namespace cocktail::http

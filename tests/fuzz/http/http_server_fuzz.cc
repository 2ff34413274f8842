// Fuzzes the HTTP server end to end: the input is what a client sends on one
// connection (one request, several pipelined ones, or garbage), written to a
// real cocktail::http::Server over loopback; then the client half-closes and
// reads until the server closes. This runs Beast's parser under our limits,
// the session's state machine (header-first limits, 100-continue, chunked
// bodies, pipelining, early answers, rejects, event streams, lingering
// close), routing, query parsing, handlers answering now, later from another
// thread, never (the 500 safety net) or by throwing, and CORS.
//
// Properties: the server never crashes (sanitizers watch its threads); every
// connection ends (a half-closed client is answered and closed, so a hang is
// a finding: the read below gives up after kCloseDeadline and aborts); what
// it sends back is HTTP/1.x responses, never a stray byte, and valid UTF-8
// whatever bytes the request held (every route here answers JSON).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "cocktail/core/log.h"
#include "cocktail/core/utf8.h"
#include "cocktail/http/bearer_token.h"
#include "cocktail/http/blocking_executor.h"
#include "cocktail/http/errors.h"
#include "cocktail/http/event_stream.h"
#include "cocktail/http/negotiation.h"
#include "cocktail/http/server.h"
#include "cocktail/metrics/registry.h"
#include "fuzz_input.h"

namespace {

using namespace cocktail;
using namespace std::chrono_literals;
using http::Method;
using http::Request;
using http::Responder;
using http::Response;
using http::Status;

// Far above every server timeout below: only a connection the server
// forgot stays open this long.
constexpr std::chrono::milliseconds kCloseDeadline = 20s;

http::ServerOptions options() {
  http::ServerOptions o;
  o.io_threads = 2;
  o.max_header_bytes = 2048;
  o.max_body_bytes = 4096;
  o.max_query_bytes = 256;
  o.idle_timeout = 2s;
  o.read_timeout = 2s;
  o.write_timeout = 2s;
  o.response_timeout = 2s;
  o.shutdown_timeout = 1s;
  o.cors.allowed_origins = {"https://dash.example.org"};
  o.access_log = false;
  return o;
}

// Routes in the shapes the services use. Never destroyed: the I/O threads
// run until the process exits.
class ServerFixture {
 public:
  ServerFixture() : executor_("fuzz", 1, 64), token_("s3cret-token"), server_(options(), registry_) {
    auto& r = server_.router();
    r.add(Method::get, "/api/v1/items", [](const Request& req) {
      auto limit = req.query_int("limit", 1, 1000);
      if (!limit.ok()) {
        return http::error_response(limit.error());
      }
      const std::string etag = "\"v" + std::to_string(limit->value_or(100)) + "\"";
      if (http::etag_matches(req.header(http::Field::if_none_match), etag)) {
        return Response::empty(Status::not_modified).set_header(http::Field::etag, etag);
      }
      const bool gzip = http::accepts_encoding(req.header(http::Field::accept_encoding), "gzip");
      return Response::json(Status::ok, gzip ? R"({"gzip":true})" : R"({"gzip":false})")
          .set_header(http::Field::etag, etag);
    });
    r.add(Method::get, "/api/v1/items/bulk", [](const Request&) { return Response::json(Status::ok, "[]"); });
    r.add(Method::get, "/api/v1/items/{id}", [](const Request& req) {
      auto id = req.path_int("id", 1);
      if (!id.ok()) {
        return http::error_response(id.error());
      }
      return Response::json(Status::ok, R"({"id":)" + std::to_string(*id) + "}");
    });
    r.add(
        Method::post, "/api/v1/items",
        [this](const Request& req) {
          if (auto refusal = token_.reject(req)) {
            return std::move(*refusal);
          }
          return Response::json(Status::created, R"({"bytes":)" + std::to_string(req.body().size()) + "}");
        },
        http::RouteOptions{1024});
    r.add(Method::put, "/api/v1/items/{id}/tags/{tag}", [](const Request& req) {
      return Response::json(Status::ok, http::json_quote(req.path_param("tag")));
    });
    // Answered later, from the executor's thread.
    r.add(Method::delete_, "/api/v1/items/{id}", [this](const Request&, Responder responder) {
      executor_.respond(std::move(responder), [](const Request& req) {
        auto id = req.path_int("id", 1);
        return id.ok() ? Response::empty(Status::no_content) : http::error_response(id.error());
      });
    });
    // Never answered: the server's safety net answers 500.
    // NOLINTNEXTLINE(performance-unnecessary-value-param): the handler owns the responder and drops it
    r.add(Method::get, "/api/v1/dropped", [](const Request&, Responder) {});
    r.add(Method::get, "/api/v1/throws",
          // NOLINTNEXTLINE(performance-unnecessary-value-param): it throws before answering
          [](const Request&, Responder) -> void { throw std::runtime_error("handler failed"); });
    // An event stream: one event, then the end of the stream.
    r.add(Method::get, "/api/v1/events", [](const Request& req, Responder responder) {
      http::EventStream stream = responder.open_stream();
      stream.send("hello", http::json_quote(req.header("Last-Event-ID")), "1");
      stream.close();
    });
    server_.start();
  }

  std::uint16_t port() const { return server_.port(); }

 private:
  metrics::MetricsRegistry registry_;
  http::BlockingExecutor executor_;
  http::BearerToken token_;
  http::Server server_;
};

[[noreturn]] void sys_fail(const char* what) {
  cocktail::fuzz::fail(__FILE__, __LINE__, what, strerror(errno));
}

// Sends `input` on a fresh connection, half-closes, returns what came back.
std::string exchange(std::uint16_t port, std::string_view input) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    sys_fail("socket");
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    sys_fail("connect");
  }
  // The server may answer and close before reading everything (a rejected
  // header): a failed send then is expected, not a finding.
  std::size_t sent = 0;
  while (sent < input.size()) {
    const ssize_t n = ::send(fd, input.data() + sent, input.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      break;
    }
    sent += static_cast<std::size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + kCloseDeadline;
  char buf[4096];
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left <= 0ms) {
      ::close(fd);
      cocktail::fuzz::fail(__FILE__, __LINE__, "the server closes a half-closed connection", out);
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) < 0 && errno != EINTR) {
      sys_fail("poll");
    }
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      out.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      break;  // closed (or reset after a reject: the client had sent more)
    }
  }
  ::close(fd);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  core::log::set_level(core::log::Level::kError);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static auto* server = new ServerFixture();  // lives until exit: its threads do
  const std::string reply = exchange(server->port(), cocktail::fuzz::as_text(data, size));
  const std::string_view head = std::string_view(reply).substr(0, 9);
  COCKTAIL_FUZZ_CHECK(reply.empty() || head == "HTTP/1.1 " || head == "HTTP/1.0 ", reply);
  // Every route answers JSON (or nothing), the server's own answers too, and
  // no header echoes raw bytes: whatever was sent, the reply is UTF-8.
  COCKTAIL_FUZZ_CHECK(core::utf8::valid(reply), reply);
  return 0;
}

#include "cocktail/testing/http_client.h"

#include <strings.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

namespace cocktail::testing {
namespace net = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using boost::system::error_code;

namespace {

// Runs the asynchronous operation started by `start` on `ioc` for at most
// `timeout`. On timeout the socket is closed (which aborts the operation) and
// the aborted handler is drained before returning, so that nothing refers to
// this frame afterwards. Returns the operation's error, or timed_out.
template <typename Start>
error_code run_with_deadline(net::io_context& ioc, tcp::socket& socket, std::chrono::milliseconds timeout,
                             Start start) {
  bool done = false;
  error_code result;
  start([&](error_code ec, auto&&...) {
    result = ec;
    done = true;
  });
  ioc.restart();
  ioc.run_for(timeout);
  if (!done) {
    error_code ignored;
    socket.close(ignored);
    ioc.restart();
    ioc.run();
    return net::error::timed_out;
  }
  return result;
}

void connect_socket(net::io_context& ioc, tcp::socket& socket, const std::string& host, std::uint16_t port,
                    std::chrono::milliseconds timeout) {
  tcp::endpoint ep(net::ip::make_address(host), port);
  error_code ec =
      run_with_deadline(ioc, socket, timeout, [&](auto handler) { socket.async_connect(ep, handler); });
  if (ec) {
    throw HttpClientError("connect " + host + ":" + std::to_string(port) + ": " + ec.message());
  }
  socket.set_option(tcp::no_delay(true));
}

template <typename Fields>
void copy_headers(const Fields& fields, HeaderMap& out) {
  for (const auto& f : fields) {
    out.emplace(std::string(f.name_string()), std::string(f.value()));
  }
}

}  // namespace

bool HeaderNameLess::operator()(const std::string& a, const std::string& b) const {
  return ::strcasecmp(a.c_str(), b.c_str()) < 0;
}

std::string HttpResponse::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

// ---- HttpClient

struct HttpClient::Impl {
  net::io_context ioc{1};
  tcp::socket socket{ioc};
  boost::beast::flat_buffer buffer;
  bool reusable = false;  // the last response allowed keep-alive
};

HttpClient::HttpClient(std::uint16_t port, std::chrono::milliseconds timeout, std::string host)
    : impl_(std::make_unique<Impl>()), host_(std::move(host)), port_(port), timeout_(timeout) {}

HttpClient::~HttpClient() = default;

bool HttpClient::connected() const { return impl_->socket.is_open(); }

void HttpClient::close() {
  error_code ignored;
  impl_->socket.shutdown(tcp::socket::shutdown_both, ignored);
  impl_->socket.close(ignored);
  impl_->buffer.clear();
  impl_->reusable = false;
}

void HttpClient::connect() {
  close();
  impl_->socket = tcp::socket(impl_->ioc);
  connect_socket(impl_->ioc, impl_->socket, host_, port_, timeout_);
  ++connections_opened_;
}

HttpResponse HttpClient::get(const std::string& target, const Headers& headers) {
  return request("GET", target, {}, headers);
}
HttpResponse HttpClient::head(const std::string& target, const Headers& headers) {
  return request("HEAD", target, {}, headers);
}
HttpResponse HttpClient::del(const std::string& target, const Headers& headers) {
  return request("DELETE", target, {}, headers);
}
HttpResponse HttpClient::post(const std::string& target, std::string body, const Headers& headers,
                              const std::string& content_type) {
  Headers h = headers;
  h.emplace_back("Content-Type", content_type);
  return request("POST", target, std::move(body), h);
}
HttpResponse HttpClient::put(const std::string& target, std::string body, const Headers& headers,
                             const std::string& content_type) {
  Headers h = headers;
  h.emplace_back("Content-Type", content_type);
  return request("PUT", target, std::move(body), h);
}

HttpResponse HttpClient::request(const std::string& method, const std::string& target, std::string body,
                                 const Headers& headers) {
  bhttp::request<bhttp::string_body> req;
  req.method_string(method);
  req.target(target);
  req.version(11);
  req.set(bhttp::field::host, host_ + ":" + std::to_string(port_));
  req.set(bhttp::field::user_agent, "cocktail-test");
  for (const auto& [k, v] : headers) {
    req.insert(k, v);
  }
  const bool has_body = !body.empty() || method == "POST" || method == "PUT";
  req.body() = std::move(body);
  if (has_body) {
    req.prepare_payload();
  }

  // A kept-alive connection may have been closed by the server meanwhile; such
  // a stale connection is retried once on a fresh one.
  for (int attempt = 0;; ++attempt) {
    const bool reused = impl_->socket.is_open() && impl_->reusable;
    if (!reused) {
      connect();
    }
    error_code ec = run_with_deadline(impl_->ioc, impl_->socket, timeout_,
                                      [&](auto handler) { bhttp::async_write(impl_->socket, req, handler); });
    bhttp::response_parser<bhttp::string_body> parser;
    parser.header_limit(64 * 1024);
    parser.body_limit(256ull * 1024 * 1024);
    if (method == "HEAD") {
      parser.skip(true);
    }
    if (!ec) {
      ec = run_with_deadline(impl_->ioc, impl_->socket, timeout_, [&](auto handler) {
        bhttp::async_read(impl_->socket, impl_->buffer, parser, handler);
      });
    }
    if (ec) {
      const bool stale = reused && attempt == 0 && ec != net::error::timed_out &&
                         (ec == bhttp::error::end_of_stream || ec == net::error::eof ||
                          ec == net::error::connection_reset || ec == net::error::broken_pipe);
      close();
      if (stale) {
        continue;
      }
      throw HttpClientError(std::string(method).append(" ").append(target).append(": ").append(ec.message()));
    }
    auto msg = parser.release();
    HttpResponse out;
    out.status = static_cast<int>(msg.result_int());
    copy_headers(msg.base(), out.headers);
    out.body = std::move(msg.body());
    out.keep_alive = msg.keep_alive();
    impl_->reusable = out.keep_alive;
    if (!out.keep_alive) {
      close();
    }
    return out;
  }
}

// ---- EventStreamClient

struct EventStreamClient::Impl {
  net::io_context ioc{1};
  tcp::socket socket{ioc};
  boost::beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::buffer_body> parser;
  std::string text;  // body bytes not yet split into events
};

EventStreamClient::EventStreamClient(std::uint16_t port, const std::string& target, const Headers& headers,
                                     std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  connect_socket(impl_->ioc, impl_->socket, "127.0.0.1", port, timeout);
  bhttp::request<bhttp::empty_body> req{bhttp::verb::get, target, 11};
  req.set(bhttp::field::host, "127.0.0.1:" + std::to_string(port));
  req.set(bhttp::field::accept, "text/event-stream");
  for (const auto& [k, v] : headers) {
    req.insert(k, v);
  }
  error_code ec = run_with_deadline(impl_->ioc, impl_->socket, timeout,
                                    [&](auto handler) { bhttp::async_write(impl_->socket, req, handler); });
  if (!ec) {
    impl_->parser.body_limit(boost::none);
    ec = run_with_deadline(impl_->ioc, impl_->socket, timeout, [&](auto handler) {
      bhttp::async_read_header(impl_->socket, impl_->buffer, impl_->parser, handler);
    });
  }
  if (ec) {
    throw HttpClientError("event stream " + target + ": " + ec.message());
  }
  status_ = static_cast<int>(impl_->parser.get().result_int());
  copy_headers(impl_->parser.get().base(), headers_);
}

EventStreamClient::~EventStreamClient() = default;

void EventStreamClient::close() {
  error_code ignored;
  impl_->socket.shutdown(tcp::socket::shutdown_both, ignored);
  impl_->socket.close(ignored);
}

std::optional<SseEvent> EventStreamClient::next(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    // One event ends at a blank line.
    for (;;) {
      auto end = impl_->text.find("\n\n");
      if (end == std::string::npos) {
        break;
      }
      std::string block = impl_->text.substr(0, end);
      impl_->text.erase(0, end + 2);
      SseEvent ev;
      bool any = false;
      bool has_data = false;
      size_t pos = 0;
      while (pos <= block.size()) {
        size_t nl = block.find('\n', pos);
        if (nl == std::string::npos) {
          nl = block.size();
        }
        std::string_view line(block.data() + pos, nl - pos);
        pos = nl + 1;
        if (line.empty() || line[0] == ':') {
          continue;
        }
        auto colon = line.find(':');
        std::string_view field = line.substr(0, colon);
        std::string_view value =
            colon == std::string_view::npos ? std::string_view() : line.substr(colon + 1);
        if (!value.empty() && value[0] == ' ') {
          value.remove_prefix(1);
        }
        if (field == "event") {
          ev.event = value;
          any = true;
        } else if (field == "data") {
          if (has_data) {
            ev.data += '\n';
          }
          ev.data += value;
          has_data = true;
          any = true;
        } else if (field == "id") {
          ev.id = value;
          any = true;
        }
      }
      if (any) {
        return ev;
      }
    }
    if (ended_ || impl_->parser.is_done()) {
      ended_ = true;
      return std::nullopt;
    }
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      return std::nullopt;
    }
    char buf[8192];
    impl_->parser.get().body().data = buf;
    impl_->parser.get().body().size = sizeof buf;
    bool done = false;
    error_code ec;
    bhttp::async_read_some(impl_->socket, impl_->buffer, impl_->parser, [&](error_code e, std::size_t) {
      ec = e;
      done = true;
    });
    impl_->ioc.restart();
    impl_->ioc.run_for(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now));
    if (!done) {
      // Cancel without closing: the parser and buffer stay usable.
      impl_->socket.cancel();
      impl_->ioc.restart();
      impl_->ioc.run();
    }
    impl_->text.append(buf, sizeof buf - impl_->parser.get().body().size);
    if (ec == bhttp::error::need_buffer) {
      ec = {};
    }
    if (ec == net::error::operation_aborted) {
      ec = {};
    }
    if (ec) {
      ended_ = true;
    }
  }
}

// ---- RawConnection

struct RawConnection::Impl {
  net::io_context ioc{1};
  tcp::socket socket{ioc};
};

RawConnection::RawConnection(std::uint16_t port, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  connect_socket(impl_->ioc, impl_->socket, "127.0.0.1", port, timeout);
}

RawConnection::~RawConnection() = default;

void RawConnection::close() {
  error_code ignored;
  impl_->socket.close(ignored);
}

void RawConnection::set_receive_buffer(int bytes) {
  impl_->socket.set_option(net::socket_base::receive_buffer_size(bytes));
}

bool RawConnection::send(std::string_view bytes, std::chrono::milliseconds timeout) {
  if (!impl_->socket.is_open()) {
    return false;
  }
  error_code ec = run_with_deadline(impl_->ioc, impl_->socket, timeout, [&](auto handler) {
    net::async_write(impl_->socket, net::buffer(bytes.data(), bytes.size()), handler);
  });
  return !ec;
}

std::string RawConnection::read_until(std::string_view needle, std::chrono::milliseconds timeout) {
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[16384];
  while (impl_->socket.is_open()) {
    if (!needle.empty() && out.find(needle) != std::string::npos) {
      break;
    }
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      break;
    }
    std::size_t n = 0;
    bool done = false;
    error_code ec;
    impl_->socket.async_read_some(net::buffer(buf), [&](error_code e, std::size_t got) {
      ec = e;
      n = got;
      done = true;
    });
    impl_->ioc.restart();
    impl_->ioc.run_for(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now));
    if (!done) {
      impl_->socket.cancel();
      impl_->ioc.restart();
      impl_->ioc.run();
    }
    out.append(buf, n);
    if (ec && ec != net::error::operation_aborted) {
      close();
      break;
    }
  }
  return out;
}

std::string RawConnection::read_until_close(std::chrono::milliseconds timeout) {
  return read_until({}, timeout);
}

bool RawConnection::wait_closed(std::chrono::milliseconds timeout) {
  read_until({}, timeout);
  return !impl_->socket.is_open();
}

}  // namespace cocktail::testing

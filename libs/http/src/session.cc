#include "session.h"

#include <sys/sendfile.h>

#include <algorithm>
#include <array>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <cerrno>
#include <charconv>
#include <random>
#include <thread>

#include "cocktail/core/log.h"
#include "cocktail/http/errors.h"
#include "cocktail/http/responder.h"
#include "exchange.h"
#include "server_core.h"
#include "stream_state.h"
#include "string_view.h"

namespace cocktail::http::detail {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using boost::system::error_code;
using tcp = net::ip::tcp;
using namespace std::string_view_literals;

namespace {

constexpr std::size_t kFirstRead = 4096;
// How long a closing connection waits for the client's end (shorter when the
// server stops, so that shutdown is not held up by clients that stay).
constexpr std::chrono::milliseconds kLinger{1000};
constexpr std::chrono::milliseconds kLingerStopping{100};
constexpr std::size_t kMaxLoggedPath = 256;
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr std::string_view kLastChunk = "0\r\n\r\n";

bool is_disconnect(const error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == net::error::eof || ec == beast::error::timeout ||
         ec == net::error::operation_aborted || ec == net::error::connection_reset ||
         ec == net::error::broken_pipe || ec == bhttp::error::partial_message;
}

// The path of a request target: the absolute form ("http://host/path", sent
// to proxies) names the same resource as the origin form ("/path").
std::string_view origin_form(std::string_view target) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (target.substr(0, scheme.size()) == scheme) {
      auto slash = target.find('/', scheme.size());
      return slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
    }
  }
  return target;
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

// Message framing the server refuses (RFC 9112 §6.1, §6.3), decided from the
// header alone. Beast would read a request whose Transfer-Encoding does not
// end in chunked as having no body, so that the bytes of its body become the
// next request: a smuggling primitive behind any proxy that frames it
// differently. Such a request gets 400 and the connection is closed; a chunked
// body under another transfer coding ("gzip, chunked") gets 501, as this
// server decodes none. Several Authorization or Host fields are refused too:
// which one a component honours would be a guess.
std::optional<Response> framing_error(const bhttp::request_parser<bhttp::string_body>::value_type& req) {
  for (auto field : {bhttp::field::authorization, bhttp::field::host}) {
    if (req.count(field) > 1) {
      return error_response(Status::bad_request, kBadRequest,
                            "more than one " + std::string(to_std(bhttp::to_string(field))) + " header");
    }
  }
  if (req.count(bhttp::field::transfer_encoding) == 0) {
    return std::nullopt;
  }
  if (req.version() < 11) {
    return error_response(Status::bad_request, kBadRequest, "Transfer-Encoding in an HTTP/1.0 request");
  }
  std::vector<std::string_view> codings;
  for (auto it = req.find(bhttp::field::transfer_encoding);
       it != req.end() && it->name() == bhttp::field::transfer_encoding; ++it) {
    std::string_view list = to_std(it->value());
    while (!list.empty()) {
      const auto comma = list.find(',');
      const std::string_view item = trim_ows(list.substr(0, comma));
      list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
      if (!item.empty()) {
        codings.push_back(item);
      }
    }
  }
  const auto is_chunked = [](std::string_view coding) { return beast::iequals(to_beast(coding), "chunked"); };
  if (codings.empty() || !is_chunked(codings.back())) {
    return error_response(Status::bad_request, kBadRequest,
                          "Transfer-Encoding must end with chunked (RFC 9112, section 6.3)");
  }
  codings.pop_back();
  for (std::string_view coding : codings) {
    if (is_chunked(coding)) {
      return error_response(Status::bad_request, kBadRequest, "chunked is applied more than once");
    }
  }
  if (!codings.empty()) {
    return error_response(Status::not_implemented, kNotImplemented,
                          "transfer coding '" + std::string(codings.front()) + "' is not supported");
  }
  return std::nullopt;
}

bool sane_request_id_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.' || c == ':';
}

}  // namespace

std::string make_request_id(std::string_view client_value) {
  if (!client_value.empty() && client_value.size() <= 128 &&
      std::all_of(client_value.begin(), client_value.end(), sane_request_id_char)) {
    return std::string(client_value);
  }
  thread_local std::mt19937_64 rng([] {
    std::random_device rd;
    return (static_cast<std::uint64_t>(rd()) << 32) ^ rd() ^
           std::hash<std::thread::id>()(std::this_thread::get_id());
  }());
  std::uint64_t x = rng();
  static const char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, x >>= 4) {
    out[static_cast<std::size_t>(i)] = kHex[x & 0xf];
  }
  return out;
}

Session::Session(std::shared_ptr<ServerCore> core, Socket socket, std::uint64_t id)
    : core_(std::move(core)),
      id_(id),
      stream_(std::move(socket)),
      buffer_(core_->options.max_header_bytes + std::size_t{64} * 1024),
      timer_(stream_.get_executor()) {
  core_->metrics.connections_open.Increment();
}

Session::~Session() {
  core_->metrics.connections_open.Decrement();
  core_->remove_session(id_);
}

std::size_t Session::stream_buffer_limit() const { return core_->options.max_stream_buffer_bytes; }

void Session::start() {
  error_code ec;
  // Responses are written whole; Nagle would only delay their last segment.
  stream_.socket().set_option(tcp::no_delay(true), ec);
  read_request();
}

// ---- Reading a request

void Session::read_request() {
  if (draining_ || core_->stopping.load(std::memory_order_relaxed)) {
    close_now();
    return;
  }
  state_ = State::kIdle;
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(core_->options.max_header_bytes));
  // While the header is read the route is unknown: accept what the most
  // generous route would; the route's own limit is applied in on_header().
  parser_->body_limit(core_->max_route_body);
  if (buffer_.size() > 0) {  // pipelined bytes already here
    read_header();
    return;
  }
  // Waiting for the next request is bounded by the idle timeout; once its
  // first bytes arrived, the read timeout applies.
  stream_.expires_after(core_->options.idle_timeout);
  stream_.async_read_some(buffer_.prepare(kFirstRead),
                          [self = shared_from_this()](error_code ec, std::size_t n) {
                            if (ec || self->state_ != State::kIdle) {
                              self->close_now();
                              return;
                            }
                            self->buffer_.commit(n);
                            self->read_header();
                          });
}

void Session::read_header() {
  state_ = State::kReading;
  read_deadline_ = std::chrono::steady_clock::now() + core_->options.read_timeout;
  stream_.expires_at(read_deadline_);
  bhttp::async_read_header(stream_, buffer_, *parser_,
                           [self = shared_from_this()](error_code ec, std::size_t) { self->on_header(ec); });
}

std::size_t Session::body_limit_of(const Route* route) const {
  return route != nullptr && route->options.max_body_bytes > 0 ? route->options.max_body_bytes
                                                               : core_->options.max_body_bytes;
}

std::string Session::path_of(std::string_view target) {
  const std::string_view path = origin_form(target);
  return std::string(path.substr(0, path.find('?')));
}

void Session::open_request() {
  started_ = std::chrono::steady_clock::now();
  request_open_ = true;
  core_->metrics.in_flight.Increment();
  series_ = core_->unmatched_series;
  route_ = nullptr;
  early_.reset();
  params_.clear();
  allow_.clear();
  origin_.clear();
  path_.clear();
  query_.clear();
  close_after_ = false;
  method_ = bhttp::verb::unknown;
  version_ = 11;
  keep_alive_ = false;
  request_id_.clear();
}

void Session::on_header(error_code ec) {
  if (state_ != State::kReading) {
    return;
  }
  if (ec) {
    if (is_disconnect(ec)) {
      close_now();
    } else if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
      reject(error_response(
          Status::request_header_fields_too_large, kHeaderTooLarge,
          "request header exceeds " + std::to_string(core_->options.max_header_bytes) + " bytes",
          R"({"limit_bytes":)" + std::to_string(core_->options.max_header_bytes) + "}"));
    } else if (ec == bhttp::error::body_limit) {
      // Content-Length above what any route takes: the request line is
      // parsed, so the answer names the limit of the route it was for.
      const auto& req = parser_->get();
      const auto m = core_->router.match(req.method(), path_of(to_std(req.target())));
      const auto limit = body_limit_of(m.kind == Router::Match::Kind::kFound ? m.route : nullptr);
      reject(error_response(Status::payload_too_large, kTooLarge,
                            "request body exceeds " + std::to_string(limit) + " bytes",
                            R"({"limit_bytes":)" + std::to_string(limit) + "}"));
    } else {
      reject(error_response(Status::bad_request, kBadRequest, "malformed request: " + ec.message()));
    }
    return;
  }

  auto& req = parser_->get();
  open_request();
  method_ = req.method();
  version_ = req.version();
  keep_alive_ = req.keep_alive();
  request_id_ = make_request_id(to_std(req["X-Request-Id"]));
  if (core_->cors.enabled()) {
    origin_ = to_std(req[bhttp::field::origin]);
  }
  if (auto refused = framing_error(req)) {
    reject(std::move(*refused));
    return;
  }

  const std::string_view target = origin_form(to_std(req.target()));
  const auto& opts = core_->options;
  if (target.empty() || target[0] != '/') {
    close_after_ = true;  // a client this confused is not worth keeping
    early_ = error_response(Status::bad_request, kBadRequest, "request target must be an absolute path");
  } else {
    const auto q = target.find('?');
    path_.assign(target.substr(0, q));
    if (q != std::string_view::npos) {
      query_.assign(target.substr(q + 1));
    }
    auto m = core_->router.match(method_, path_);
    if (m.path_route != nullptr) {
      series_ = core_->route_series[m.path_route->id];
    }
    allow_ = std::move(m.allow);
    if (query_.size() > opts.max_query_bytes) {
      early_ = error_response(Status::uri_too_long, kUriTooLong,
                              "query string exceeds " + std::to_string(opts.max_query_bytes) + " bytes",
                              R"({"limit_bytes":)" + std::to_string(opts.max_query_bytes) + "}");
    } else if (!m.error.empty()) {
      early_ = error_response(Status::bad_request, kBadRequest, m.error);
    } else if (m.kind == Router::Match::Kind::kFound) {
      route_ = m.route;
      series_ = core_->route_series[route_->id];
      params_ = std::move(m.params);
    } else if (m.kind == Router::Match::Kind::kMethodNotAllowed && method_ == bhttp::verb::options) {
      if (!origin_.empty() && !req[bhttp::field::access_control_request_method].empty()) {
        early_ = core_->cors.preflight(origin_, allow_);
      } else {
        early_ = Response::empty(Status::no_content);
        early_->set_header(Field::allow, allow_);
      }
    } else if (m.kind == Router::Match::Kind::kMethodNotAllowed) {
      early_ = error_response(Status::method_not_allowed, kMethodNotAllowed,
                              std::string(to_std(req.method_string())) + " is not allowed on " + path_,
                              R"({"allow":)" + json_quote(allow_) + "}");
      early_->set_header(Field::allow, allow_);
    } else {
      early_ = error_response(Status::not_found, kNotFound, "no route for " + path_);
    }
  }

  const std::size_t limit = body_limit_of(route_);
  if (auto length = parser_->content_length(); length && *length > limit) {
    reject(error_response(
        Status::payload_too_large, kTooLarge,
        "request body of " + std::to_string(*length) + " bytes exceeds " + std::to_string(limit),
        R"({"limit_bytes":)" + std::to_string(limit) + "}"));
    return;
  }
  parser_->body_limit(limit);
  if (parser_->is_done()) {
    dispatch();
    return;
  }
  if (beast::iequals(req[bhttp::field::expect], "100-continue")) {
    stream_.expires_after(opts.write_timeout);
    net::async_write(stream_, net::buffer(kContinue.data(), kContinue.size()),
                     [self = shared_from_this()](error_code ec, std::size_t) {
                       if (ec || self->state_ != State::kReading) {
                         self->close_now();
                         return;
                       }
                       self->read_body();
                     });
    return;
  }
  read_body();
}

void Session::read_body() {
  stream_.expires_at(read_deadline_);
  bhttp::async_read(stream_, buffer_, *parser_,
                    [self = shared_from_this()](error_code ec, std::size_t) { self->on_body(ec); });
}

void Session::on_body(error_code ec) {
  if (state_ != State::kReading) {
    return;
  }
  if (ec == bhttp::error::body_limit) {
    // A chunked body that grew past the route's limit.
    const auto limit = body_limit_of(route_);
    reject(error_response(Status::payload_too_large, kTooLarge,
                          "request body exceeds " + std::to_string(limit) + " bytes",
                          R"({"limit_bytes":)" + std::to_string(limit) + "}"));
    return;
  }
  if (ec) {
    if (is_disconnect(ec)) {
      close_now();
    } else {
      reject(error_response(Status::bad_request, kBadRequest, "malformed request body: " + ec.message()));
    }
    return;
  }
  dispatch();
}

// ---- Handling

void Session::dispatch() {
  state_ = State::kHandling;
  if (early_) {
    Response r = std::move(*early_);
    early_.reset();
    write_response(std::move(r));
    return;
  }
  auto query = parse_query(query_);
  if (!query.ok()) {
    write_response(error_response(query.error()));
    return;
  }
  {
    auto exchange = std::make_shared<Exchange>(
        weak_from_this(), Request(parser_->release(), path_, std::move(*query), std::move(params_),
                                  request_id_, route_->pattern));
    exchange_ = exchange;
    try {
      route_->handler(exchange->request, Responder(exchange));
    } catch (const std::exception& e) {
      core::log::error("http.handler_failed",
                       {{"route", route_->pattern}, {"request_id", request_id_}, {"error", e.what()}});
      if (exchange->try_complete()) {
        write_response(error_response(Status::internal_server_error, kInternal, "internal error"));
      }
    } catch (...) {
      core::log::error("http.handler_failed", {{"route", route_->pattern}, {"request_id", request_id_}});
      if (exchange->try_complete()) {
        write_response(error_response(Status::internal_server_error, kInternal, "internal error"));
      }
    }
  }
  const auto timeout = route_->options.response_timeout.count() == 0 ? core_->options.response_timeout
                                                                     : route_->options.response_timeout;
  if (state_ == State::kHandling) {
    // Answered later, from another thread or another event: bound the wait
    // (the pending wait is also what keeps the session alive meanwhile).
    if (timeout == kNoResponseTimeout) {
      timer_.expires_at(Timer::time_point::max());
    } else {
      timer_.expires_after(timeout);
    }
    timer_.async_wait([self = shared_from_this(), weak = exchange_](error_code ec) {
      if (ec || self->state_ != State::kHandling) {
        return;
      }
      auto exchange = weak.lock();
      if (exchange && exchange->try_complete()) {
        core::log::warn("http.response_timeout", {{"request_id", self->request_id_}});
        self->write_response(error_response(Status::service_unavailable, kTimeout, "the request timed out"));
      }
    });
  }
}

void Session::deliver(Response response) {
  if (core_->io_stopped.load(std::memory_order_acquire)) {
    return;
  }
  net::dispatch(stream_.get_executor(), [self = shared_from_this(), r = std::move(response)]() mutable {
    self->write_response(std::move(r));
  });
}

void Session::deliver_all(std::vector<std::pair<std::shared_ptr<Session>, Response>> responses) {
  if (responses.empty() || responses.front().first->core_->io_stopped.load(std::memory_order_acquire)) {
    return;
  }
  const auto executor = responses.front().first->executor();
  net::dispatch(executor, [responses = std::move(responses)]() mutable {
    for (auto& [session, response] : responses) {
      session->write_response(std::move(response));
    }
  });
}

void Session::write_response(Response response) {
  if (state_ != State::kHandling) {
    return;
  }
  timer_.cancel();
  auto& m = response.message();
  if (!origin_.empty()) {
    core_->cors.apply(origin_, response);
  }
  const bool keep =
      keep_alive_ && !close_after_ && !draining_ && !core_->stopping.load(std::memory_order_relaxed);
  close_after_ = !keep;
  status_ = m.result_int();
  const bool bodiless = status_ == 204 || status_ == 304 || status_ < 200;
  const std::size_t length = bodiless ? 0 : m.body().size();
  body_ = bodiless || method_ == bhttp::verb::head ? nullptr : std::move(m.body().bytes);
  sealed_ = body_ ? std::move(m.body().sealed) : nullptr;
  serialize_head(m, bodiless ? std::optional<std::size_t>() : length, keep);
  state_ = State::kWriting;
  stream_.expires_after(core_->options.write_timeout);
  if (sealed_) {
    // The header from memory, then the body by sendfile (no copy of it
    // into the socket: see SealedBytes).
    sealed_sent_ = 0;
    net::async_write(stream_, net::buffer(head_), [self = shared_from_this()](error_code ec, std::size_t) {
      if (ec) {
        self->on_write(ec, 0);
      } else {
        self->send_sealed();
      }
    });
    return;
  }
  // The header is serialised by hand and written with the shared body in one
  // gathered write: Beast's generic serializer cost about a quarter of the
  // instructions per request (callgrind, 1 KiB bodies), for no added value
  // with bodies that are always one contiguous buffer.
  std::array<net::const_buffer, 2> buffers{net::buffer(head_),
                                           body_ ? net::buffer(*body_) : net::const_buffer()};
  net::async_write(stream_, buffers,
                   [self = shared_from_this()](error_code ec, std::size_t n) { self->on_write(ec, n); });
}

void Session::send_sealed() {
  if (state_ != State::kWriting) {
    return;
  }
  auto& socket = stream_.socket();
  const int out = socket.native_handle();
  while (sealed_sent_ < sealed_->size()) {
    off_t offset = static_cast<off_t>(sealed_sent_);
    const ssize_t n = ::sendfile(out, sealed_->fd(), &offset, sealed_->size() - sealed_sent_);
    if (n > 0) {
      sealed_sent_ += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      // Full: wait until writable, bounded by the write timeout (the timer
      // closes the socket, which ends the wait with an error).
      timer_.expires_after(core_->options.write_timeout);
      timer_.async_wait([weak = weak_from_this()](error_code ec) {
        if (ec) {
          return;
        }
        if (auto self = weak.lock(); self && self->state_ == State::kWriting) {
          self->close_now();
        }
      });
      socket.async_wait(net::socket_base::wait_write, [self = shared_from_this()](error_code ec) {
        self->timer_.cancel();
        if (ec) {
          self->on_write(ec, 0);
        } else {
          self->send_sealed();
        }
      });
      return;
    }
    on_write(n < 0 ? error_code(errno, boost::system::system_category()) : net::error::eof, 0);
    return;
  }
  on_write({}, head_.size() + sealed_->size());
}

void Session::serialize_head(const Response::Message& m, std::optional<std::size_t> content_length,
                             bool keep) {
  head_.clear();
  head_.append(version_ == 10 ? "HTTP/1.0 "sv : "HTTP/1.1 "sv);
  char number[24];
  auto [end, ec] = std::to_chars(number, number + sizeof number, m.result_int());
  (void)ec;
  head_.append(number, static_cast<std::size_t>(end - number)).push_back(' ');
  head_.append(to_std(bhttp::obsolete_reason(m.result()))).append("\r\n"sv);
  bool has_server = false;
  for (const auto& f : m) {
    // Framing headers are the server's to decide.
    const auto name = f.name();
    if (name == bhttp::field::content_length || name == bhttp::field::connection ||
        name == bhttp::field::transfer_encoding || name == bhttp::field::keep_alive) {
      continue;
    }
    has_server = has_server || name == bhttp::field::server;
    head_.append(to_std(f.name_string())).append(": "sv).append(to_std(f.value())).append("\r\n"sv);
  }
  // Added here rather than as fields of the message: each field is an
  // allocation, and these are on every response.
  if (content_length) {
    auto [e, ec2] = std::to_chars(number, number + sizeof number, *content_length);
    (void)ec2;
    head_.append("Content-Length: "sv).append(number, static_cast<std::size_t>(e - number)).append("\r\n"sv);
  }
  if (!keep) {
    head_.append("Connection: close\r\n"sv);
  } else if (version_ == 10) {
    head_.append("Connection: keep-alive\r\n"sv);
  }
  head_.append("X-Request-Id: "sv).append(request_id_).append("\r\n"sv);
  if (!has_server && !core_->options.server_header.empty()) {
    head_.append("Server: "sv).append(core_->options.server_header).append("\r\n"sv);
  }
  head_.append("\r\n"sv);
}

void Session::on_write(error_code ec, std::size_t bytes) {
  finish_request(status_, ec ? 0 : bytes);
  body_.reset();
  sealed_.reset();
  if (ec || state_ != State::kWriting) {
    close_now();
    return;
  }
  if (close_after_) {
    linger_close();
    return;
  }
  read_request();
}

void Session::finish_request(unsigned status, std::size_t bytes) {
  if (!request_open_) {
    return;
  }
  request_open_ = false;
  core_->metrics.in_flight.Decrement();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  if (series_ != nullptr) {
    series_->observe(method_, status, seconds);
  }
  if (core_->options.access_log) {
    // Milliseconds with three decimals, formatted without printf (which was a
    // visible share of the cost of a small request).
    const auto micros = static_cast<std::uint64_t>(seconds * 1e6);
    char ms[32];
    auto [end, ec] = std::to_chars(ms, ms + 20, micros / 1000);
    (void)ec;
    const auto frac = static_cast<unsigned>(micros % 1000);
    *end++ = '.';
    *end++ = static_cast<char>('0' + frac / 100);
    *end++ = static_cast<char>('0' + frac / 10 % 10);
    *end++ = static_cast<char>('0' + frac % 10);
    const auto ms_len = static_cast<std::size_t>(end - ms);
    std::string_view path = path_;
    if (path.size() > kMaxLoggedPath) {
      path = path.substr(0, kMaxLoggedPath);
    }
    core::log::info("http.request", {{"method", method_label(method_)},
                                     {"route", series_ != nullptr ? series_->route() : "unmatched"},
                                     {"path", path},
                                     {"status", status},
                                     {"bytes", bytes},
                                     {"duration_ms", std::string_view(ms, ms_len)},
                                     {"request_id", request_id_}});
  }
}

void Session::reject(Response response) {
  if (!request_open_) {
    open_request();
    if (parser_) {
      method_ = parser_->get().method();
      version_ = parser_->get().version() == 10 ? 10 : 11;
    }
    request_id_ = make_request_id({});
  }
  close_after_ = true;
  state_ = State::kHandling;
  write_response(std::move(response));
}

// ---- Event streams

void Session::deliver_stream(std::shared_ptr<StreamState> state, Response headers) {
  if (core_->io_stopped.load(std::memory_order_acquire)) {
    state->finish();
    return;
  }
  net::dispatch(stream_.get_executor(),
                [self = shared_from_this(), st = std::move(state), h = std::move(headers)]() mutable {
                  self->start_stream(std::move(st), std::move(h));
                });
}

void Session::post_stream_flush() {
  net::post(stream_.get_executor(), [self = shared_from_this()] { self->flush_stream(); });
}

void Session::start_stream(std::shared_ptr<StreamState> state, Response headers) {
  if (state_ != State::kHandling) {
    state->finish();
    return;
  }
  if (version_ < 11) {
    state->finish();
    close_after_ = true;
    write_response(error_response(Status::bad_request, kBadRequest, "event streams need HTTP/1.1"));
    return;
  }
  timer_.cancel();
  auto& m = headers.message();
  m.result(Status::ok);
  m.body().bytes.reset();
  if (m[bhttp::field::content_type].empty()) {
    m.set(bhttp::field::content_type, "text/event-stream");
  }
  if (m[bhttp::field::cache_control].empty()) {
    m.set(bhttp::field::cache_control, "no-cache");
  }
  m.set("X-Accel-Buffering", "no");  // tells reverse proxies not to buffer the stream
  m.set("X-Request-Id", request_id_);
  if (!core_->options.server_header.empty()) {
    m.set(bhttp::field::server, core_->options.server_header);
  }
  if (!origin_.empty()) {
    core_->cors.apply(origin_, headers);
  }
  m.erase(bhttp::field::content_length);
  m.set(bhttp::field::transfer_encoding, "chunked");
  m.set(bhttp::field::connection, "close");

  stream_header_ = "HTTP/1.1 200 OK\r\n";
  for (const auto& f : m) {
    stream_header_.append(to_std(f.name_string())).append(": ").append(to_std(f.value())).append("\r\n");
  }
  stream_header_.append("\r\n");

  state_ = State::kStreaming;
  stream_state_ = std::move(state);
  core_->metrics.streams_open.Increment();
  finish_request(200, stream_header_.size());
  watch_stream_peer();
  schedule_ping();
  flush_stream();
}

void Session::watch_stream_peer() {
  // A client sends nothing on an event stream; what it sends is discarded,
  // and the end of its side ends the stream. Only one read is ever pending:
  // linger_close() reuses this one.
  peer_read_pending_ = true;
  stream_.socket().async_read_some(net::buffer(discard_),
                                   [self = shared_from_this()](error_code ec, std::size_t n) {
                                     self->peer_read_pending_ = false;
                                     self->on_peer_read(ec, n);
                                   });
}

void Session::on_peer_read(error_code ec, std::size_t n) {
  if (state_ != State::kStreaming && state_ != State::kClosing) {
    return;
  }
  if (ec || n == 0) {
    close_now();
    return;
  }
  watch_stream_peer();
}

void Session::schedule_ping() {
  timer_.expires_after(core_->options.stream_ping_interval);
  timer_.async_wait([self = shared_from_this()](error_code ec) {
    if (ec || self->state_ != State::kStreaming || !self->stream_state_) {
      return;
    }
    EventStream(self->stream_state_).send_comment("ping");
    self->schedule_ping();
  });
}

void Session::flush_stream() {
  if (state_ != State::kStreaming || stream_writing_ || !stream_state_) {
    return;
  }
  bool end = false;
  bool overflow = false;
  {
    std::lock_guard<std::mutex> lock(stream_state_->mu);
    stream_state_->flush_posted = false;
    stream_batch_.swap(stream_state_->queue);
    end = stream_state_->close_requested;
    overflow = stream_state_->overflowed;
  }
  if (overflow) {
    core_->metrics.streams_dropped.Increment();
    core::log::warn("http.stream_dropped",
                    {{"request_id", request_id_}, {"reason", "client reads too slowly"}});
    close_now();
    return;
  }
  std::vector<net::const_buffer> buffers;
  buffers.reserve(stream_batch_.size() + 2);
  if (!stream_header_.empty()) {
    buffers.push_back(net::buffer(stream_header_));
  }
  stream_batch_bytes_ = 0;
  for (const auto& s : stream_batch_) {
    buffers.push_back(net::buffer(s));
    stream_batch_bytes_ += s.size();
  }
  if (end) {
    stream_ending_ = true;
    buffers.push_back(net::buffer(kLastChunk.data(), kLastChunk.size()));
  }
  if (buffers.empty()) {
    return;
  }
  stream_writing_ = true;
  stream_.expires_after(core_->options.write_timeout);
  net::async_write(stream_, buffers, [self = shared_from_this()](error_code ec, std::size_t) {
    self->stream_writing_ = false;
    if (ec || self->state_ != State::kStreaming) {
      self->close_now();
      return;
    }
    self->stream_header_.clear();
    self->stream_batch_.clear();
    {
      std::lock_guard<std::mutex> lock(self->stream_state_->mu);
      self->stream_state_->queued_bytes -= self->stream_batch_bytes_;
    }
    if (self->stream_ending_) {
      self->linger_close();
      return;
    }
    self->flush_stream();
  });
}

// ---- Closing

void Session::post_shutdown(bool force) {
  net::post(stream_.get_executor(), [self = shared_from_this(), force] { self->shutdown(force); });
}

void Session::shutdown(bool force) {
  if (force) {
    close_now();
    return;
  }
  draining_ = true;
  switch (state_) {
    case State::kIdle:
    case State::kReading: close_now(); break;
    case State::kStreaming:
      if (stream_state_) {
        stream_state_->request_close();
      }
      break;
    default: break;  // the current response is written with Connection: close
  }
}

void Session::linger_close() {
  if (state_ == State::kClosed) {
    return;
  }
  if (stream_state_) {
    core_->metrics.streams_open.Decrement();
    auto st = std::move(stream_state_);
    st->finish();
  }
  state_ = State::kClosing;
  error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (ec) {
    close_now();
    return;
  }
  timer_.expires_after(core_->stopping.load(std::memory_order_relaxed) ? kLingerStopping : kLinger);
  timer_.async_wait([self = shared_from_this()](error_code e) {
    if (!e && self->state_ == State::kClosing) {
      self->close_now();
    }
  });
  if (!peer_read_pending_) {
    watch_stream_peer();
  }
}

void Session::close_now() {
  if (state_ == State::kClosed) {
    return;
  }
  state_ = State::kClosed;
  if (request_open_) {
    request_open_ = false;
    core_->metrics.in_flight.Decrement();
    if (core_->options.access_log && !request_id_.empty()) {
      core::log::info("http.request_aborted", {{"method", method_label(method_)},
                                               {"route", series_ != nullptr ? series_->route() : "unmatched"},
                                               {"request_id", request_id_}});
    }
  }
  timer_.cancel();
  error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
  stream_.close();
  if (stream_state_) {
    core_->metrics.streams_open.Decrement();
    auto st = std::move(stream_state_);
    st->finish();
  }
}

}  // namespace cocktail::http::detail

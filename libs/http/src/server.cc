#include "cocktail/http/server.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <exception>

#include "cocktail/core/log.h"
#include "cocktail/http/errors.h"
#include "server_core.h"
#include "session.h"

namespace cocktail::http {
namespace net = boost::asio;
using tcp = net::ip::tcp;
using boost::system::error_code;

core::Result<std::pair<std::string, std::uint16_t>> parse_listen_address(std::string_view text,
                                                                         std::string_view field) {
  auto bad = [&](const std::string& why) {
    return core::Error::invalid(
        std::string(field), std::string(field) + " must be host:port (" + why + "): " + std::string(text));
  };
  std::string host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return bad("bad IPv6 form");
    }
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return bad("no port");
    }
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  if (host.empty()) {
    return bad("no host");
  }
  error_code ec;
  net::ip::make_address(host, ec);
  if (ec) {
    return bad("host is not an IP address");
  }
  auto port = parse_int(port_text, field, 0, 65535);
  if (!port.ok()) {
    return bad("port must be 0..65535");
  }
  return std::make_pair(host, static_cast<std::uint16_t>(*port));
}

namespace detail {

ServerCore::ServerCore(ServerOptions o, metrics::MetricsRegistry& r)
    : options(std::move(o)), registry(r), metrics(r), cors(options.cors) {}

ServerCore::~ServerCore() = default;

void ServerCore::add_builtin_routes() {
  if (!router.has(Method::get, "/metrics")) {
    router.add(Method::get, "/metrics", SyncHandler([this](const Request&) {
                 return Response::text(Status::ok, registry.serialize_text(), metrics::kTextContentType)
                     .set_header(Field::cache_control, "no-store");
               }));
  }
  if (!router.has(Method::get, "/health")) {
    router.add(Method::get, "/health", SyncHandler([this](const Request&) {
                 Readiness r = readiness ? readiness() : Readiness{};
                 std::string body = R"({"status":")";
                 body += !r.ready ? "not_ready" : (r.degraded ? "degraded" : "ok");
                 body += R"(","live":true,"ready":)";
                 body += r.ready ? "true" : "false";
                 body += R"(,"details":)";
                 body += r.details_json.empty() ? "{}" : r.details_json;
                 body += "}";
                 return Response::json(r.ready ? Status::ok : Status::service_unavailable, std::move(body))
                     .set_header(Field::cache_control, "no-store");
               }));
  }
}

void ServerCore::start() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (started_) {
      throw std::logic_error("Server::start() called twice");
    }
    started_ = true;
  }
  add_builtin_routes();
  max_route_body = options.max_body_bytes;
  route_series.resize(router.routes().size());
  for (const auto& r : router.routes()) {
    route_series[r->id] = metrics.add_route(r->pattern);
    max_route_body = std::max(max_route_body, r->options.max_body_bytes);
  }
  unmatched_series = metrics.add_route("unmatched");

  const int n = std::max(1, options.io_threads);
  for (int i = 0; i < n; ++i) {
    contexts_.push_back(std::make_unique<net::io_context>(1));
    guards_.push_back(net::make_work_guard(*contexts_.back()));
  }
  try {
    tcp::endpoint endpoint(net::ip::make_address(options.host), options.port);
    acceptor_.emplace(*contexts_[0]);
    acceptor_->open(endpoint.protocol());
    acceptor_->set_option(net::socket_base::reuse_address(true));
    acceptor_->bind(endpoint);
    acceptor_->listen(net::socket_base::max_listen_connections);
  } catch (...) {
    acceptor_.reset();
    guards_.clear();
    contexts_.clear();
    std::lock_guard<std::mutex> lock(mu_);
    started_ = false;
    throw;
  }
  port = acceptor_->local_endpoint().port();
  accept_retry_.emplace(*contexts_[0]);
  do_accept();
  for (auto& c : contexts_) {
    threads_.emplace_back([ctx = c.get()] {
      for (;;) {
        try {
          ctx->run();
          return;
        } catch (const std::exception& e) {
          // Handlers catch their own errors; this is a last resort that keeps
          // the thread serving.
          core::log::error("http.io_thread_error", {{"error", e.what()}});
        }
      }
    });
  }
  core::log::info("http.listening", {{"host", options.host},
                                     {"port", static_cast<int>(port.load())},
                                     {"io_threads", n},
                                     {"routes", static_cast<std::int64_t>(router.routes().size())}});
}

void ServerCore::do_accept() {
  auto& ctx = *contexts_[next_context_++ % contexts_.size()];
  acceptor_->async_accept(ctx, [self = shared_from_this()](error_code ec, Socket socket) {
    self->on_accept(ec, std::move(socket));
  });
}

void ServerCore::on_accept(error_code ec, Socket socket) {
  if (stopping.load()) {
    return;
  }
  if (ec) {
    if (ec == net::error::operation_aborted) {
      return;
    }
    // Typically EMFILE: back off briefly instead of spinning.
    core::log::warn("http.accept_failed", {{"error", ec.message()}});
    accept_retry_->expires_after(std::chrono::milliseconds(50));
    accept_retry_->async_wait([self = shared_from_this()](error_code e) {
      if (!e && !self->stopping.load()) {
        self->do_accept();
      }
    });
    return;
  }
  metrics.connections_accepted.Increment();
  if (session_count() >= options.max_connections) {
    metrics.connections_rejected.Increment();
    error_code ignored;
    socket.close(ignored);
  } else {
    const std::uint64_t id = next_session_id_++;
    auto session = std::make_shared<Session>(shared_from_this(), std::move(socket), id);
    add_session(id, session);
    auto executor = session->executor();
    net::post(executor, [session] { session->start(); });
  }
  do_accept();
}

void ServerCore::add_session(std::uint64_t id, const std::shared_ptr<Session>& session) {
  std::lock_guard<std::mutex> lock(mu_);
  sessions_.emplace(id, session);
}

void ServerCore::remove_session(std::uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  sessions_.erase(id);
  if (sessions_.empty()) {
    cv_.notify_all();
  }
}

std::size_t ServerCore::session_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sessions_.size();
}

void ServerCore::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!started_ || stopped_) {
      return;
    }
    stopped_ = true;
  }
  const auto began = std::chrono::steady_clock::now();
  stopping = true;
  net::post(*contexts_[0], [self = shared_from_this()] {
    error_code ignored;
    self->acceptor_->close(ignored);
    self->accept_retry_->cancel();
  });
  auto signal_sessions = [this](bool force) {
    std::vector<std::shared_ptr<Session>> live;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& [id, weak] : sessions_) {
        if (auto s = weak.lock()) {
          live.push_back(std::move(s));
        }
      }
    }
    for (auto& s : live) {
      s->post_shutdown(force);
    }
  };
  signal_sessions(false);
  std::size_t left = 0;
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, options.shutdown_timeout, [this] { return sessions_.empty(); });
    left = sessions_.size();
  }
  if (left > 0) {
    core::log::warn("http.shutdown_forced", {{"connections", static_cast<std::int64_t>(left)}});
    signal_sessions(true);
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(1), [this] { return sessions_.empty(); });
  }
  for (auto& g : guards_) {
    g.reset();
  }
  for (auto& c : contexts_) {
    c->stop();
  }
  for (auto& t : threads_) {
    if (t.joinable()) {
      t.join();
    }
  }
  io_stopped = true;
  // Run what the stopped contexts still hold (completions of closed sockets)
  // so that no handler keeps a session, and through it this core, alive.
  for (int round = 0; round < 100; ++round) {
    std::size_t ran = 0;
    for (auto& c : contexts_) {
      c->restart();
      ran += c->poll();
    }
    if (ran == 0) {
      break;
    }
  }
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - began).count();
  core::log::info("http.stopped", {{"port", static_cast<int>(port.load())}, {"duration_ms", ms}});
}

}  // namespace detail

Server::Server(ServerOptions options, metrics::MetricsRegistry& registry)
    : core_(std::make_shared<detail::ServerCore>(std::move(options), registry)) {}

Server::~Server() {
  // A failure to stop (a thread that cannot be joined) leaves nothing safe to
  // do; it is logged rather than escaping the destructor unexplained.
  try {
    stop();
  } catch (const std::exception& e) {
    core::log::error("http.stop_failed", {{"error", e.what()}});
    std::terminate();
  }
}

Router& Server::router() { return core_->router; }
void Server::set_readiness(ReadinessCheck check) { core_->readiness = std::move(check); }
void Server::start() { core_->start(); }
std::uint16_t Server::port() const { return core_->port.load(); }
void Server::stop() { core_->stop(); }
std::size_t Server::open_connections() const { return core_->session_count(); }
const ServerOptions& Server::options() const { return core_->options; }

}  // namespace cocktail::http

#include "cocktail/bus/proxy.h"

#include <exception>
#include <stdexcept>
#include <thread>
#include <zmq.hpp>

#include "cocktail/core/log.h"
#include "curve_guard.h"

namespace cocktail::bus {
namespace {
constexpr const char* kControlEndpoint = "inproc://cocktail-bus-proxy-control";
}  // namespace

// Member order is destruction order backwards: the sockets close before the
// guard stops checking keys.
struct Proxy::State {
  ProxyOptions options;
  zmq::context_t context{1};
  std::unique_ptr<detail::CurveGuard> guard;
  zmq::socket_t frontend{context, zmq::socket_type::xsub};  // towards publishers
  zmq::socket_t backend{context, zmq::socket_type::xpub};   // towards subscribers
  zmq::socket_t control_rx{context, zmq::socket_type::pair};
  zmq::socket_t control_tx{context, zmq::socket_type::pair};
  std::string downstream;
  std::thread thread;
};

Proxy::Proxy(ProxyOptions options) : state_(std::make_unique<State>()) {
  state_->options = std::move(options);
  auto& s = *state_;
  const int linger = static_cast<int>(s.options.linger.count());
  for (auto* socket : {&s.frontend, &s.backend}) {
    socket->set(zmq::sockopt::sndhwm, s.options.hwm);
    socket->set(zmq::sockopt::rcvhwm, s.options.hwm);
    socket->set(zmq::sockopt::linger, linger);
  }
  const auto& security = s.options.security;
  if (security.curve()) {
    if (security.server_keys.size() != 1 && security.server_keys.size() != s.options.upstream.size()) {
      throw std::invalid_argument("a CURVE proxy needs one publisher key for all upstreams or one each");
    }
    s.frontend.set(zmq::sockopt::curve_publickey, security.keys->public_key);
    s.frontend.set(zmq::sockopt::curve_secretkey, security.keys->secret_key);
    s.guard = std::make_unique<detail::CurveGuard>(s.context, s.backend, security.keys->secret_key,
                                                   security.authorized_keys, s.options.metrics,
                                                   s.options.downstream);
  }
  for (std::size_t i = 0; i < s.options.upstream.size(); ++i) {
    const auto& endpoint = s.options.upstream[i];
    if (security.curve()) {
      s.frontend.set(zmq::sockopt::curve_serverkey, security.server_keys.size() == 1
                                                        ? security.server_keys.front()
                                                        : security.server_keys[i]);
    }
    try {
      s.frontend.connect(endpoint);
    } catch (const zmq::error_t& e) {
      throw std::runtime_error("cannot connect proxy to " + endpoint + ": " + e.what());
    }
  }
  try {
    s.backend.bind(s.options.downstream);
  } catch (const zmq::error_t& e) {
    throw std::runtime_error("cannot bind proxy to " + s.options.downstream + ": " + e.what());
  }
  s.downstream = s.backend.get(zmq::sockopt::last_endpoint);
  s.control_rx.bind(kControlEndpoint);
  s.control_tx.connect(kControlEndpoint);

  // The sockets move to the forwarding thread here; thread creation is the
  // memory barrier ZeroMQ requires for that hand-over.
  s.thread = std::thread([state = state_.get()] {
    try {
      zmq::proxy_steerable(state->frontend, state->backend, zmq::socket_ref(), state->control_rx);
    } catch (const zmq::error_t& e) {
      if (e.num() != ETERM) {
        core::log::error("bus.proxy_error", {{"error", e.what()}});
      }
    }
  });
}

Proxy::~Proxy() {
  // A failure to stop (the control socket refusing TERMINATE, a thread that
  // cannot be joined) leaves nothing safe to do; it is logged rather than
  // escaping the destructor unexplained.
  try {
    stop();
  } catch (const std::exception& e) {
    core::log::error("bus.proxy_stop_failed", {{"error", e.what()}});
    std::terminate();
  }
}

const std::string& Proxy::downstream_endpoint() const { return state_->downstream; }

void Proxy::stop() {
  if (!state_->thread.joinable()) {
    return;
  }
  state_->control_tx.send(zmq::str_buffer("TERMINATE"), zmq::send_flags::none);
  state_->thread.join();
}

}  // namespace cocktail::bus

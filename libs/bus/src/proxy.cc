#include "cocktail/bus/proxy.h"

#include <stdexcept>
#include <thread>
#include <zmq.hpp>

#include "cocktail/core/log.h"

namespace cocktail::bus {
namespace {
constexpr const char* kControlEndpoint = "inproc://cocktail-bus-proxy-control";
}  // namespace

struct Proxy::State {
  ProxyOptions options;
  zmq::context_t context{1};
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
  for (const auto& endpoint : s.options.upstream) {
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
      if (e.num() != ETERM) core::log::error("bus.proxy_error", {{"error", e.what()}});
    }
  });
}

Proxy::~Proxy() { stop(); }

const std::string& Proxy::downstream_endpoint() const { return state_->downstream; }

void Proxy::stop() {
  if (!state_->thread.joinable()) return;
  state_->control_tx.send(zmq::str_buffer("TERMINATE"), zmq::send_flags::none);
  state_->thread.join();
}

}  // namespace cocktail::bus

#include "cocktail/bus/publisher.h"

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <zmq.hpp>

#include "curve_guard.h"

namespace cocktail::bus {

// Member order is destruction order backwards: the socket closes before the
// guard stops checking keys, and both before the context ends.
struct Publisher::State {
  PublisherOptions options;
  zmq::context_t context{1};
  std::unique_ptr<detail::CurveGuard> guard;
  std::mutex mutex;  // guards socket: ZeroMQ sockets are not thread-safe
  zmq::socket_t socket{context, zmq::socket_type::pub};
  std::string endpoint;
  std::atomic<std::uint64_t> sent{0};
};

Publisher::Publisher(PublisherOptions options) : state_(std::make_unique<State>()) {
  state_->options = std::move(options);
  auto& socket = state_->socket;
  socket.set(zmq::sockopt::sndhwm, state_->options.send_hwm);
  socket.set(zmq::sockopt::linger, static_cast<int>(state_->options.linger.count()));
  const auto& security = state_->options.security;
  if (security.curve()) {
    state_->guard = std::make_unique<detail::CurveGuard>(state_->context, socket, security.keys->secret_key,
                                                         security.authorized_keys, state_->options.metrics,
                                                         state_->options.endpoint);
  }
  try {
    socket.bind(state_->options.endpoint);
  } catch (const zmq::error_t& e) {
    throw std::runtime_error("cannot bind publisher to " + state_->options.endpoint + ": " + e.what());
  }
  state_->endpoint = socket.get(zmq::sockopt::last_endpoint);
}

Publisher::~Publisher() = default;

const std::string& Publisher::endpoint() const { return state_->endpoint; }

core::Status Publisher::publish(const Event& event) {
  return publish_encoded(topic_of(event), encode_body(event));
}

core::Status Publisher::publish_encoded(std::string_view topic, std::string_view body) {
  {
    std::lock_guard lock(state_->mutex);
    try {
      // A PUB socket never blocks: at the high-water mark it drops the
      // message for that subscriber, and a multipart message is all or nothing.
      state_->socket.send(zmq::buffer(topic), zmq::send_flags::sndmore);
      state_->socket.send(zmq::buffer(body), zmq::send_flags::none);
    } catch (const zmq::error_t& e) {
      return core::Error{core::ErrorCode::kUnavailable, "", std::string("publish failed: ") + e.what(), {}};
    }
  }
  state_->sent.fetch_add(1, std::memory_order_relaxed);
  if (state_->options.on_sent) {
    state_->options.on_sent(topic);
  }
  return core::Ok{};
}

std::uint64_t Publisher::sent_count() const { return state_->sent.load(std::memory_order_relaxed); }

PublisherStats Publisher::stats() const {
  PublisherStats s;
  s.sent = sent_count();
  if (state_->guard) {
    const auto g = state_->guard->stats();
    s.accepted = g.accepted;
    s.refused_unknown_key = g.refused_unknown_key;
    s.refused_handshake = g.refused_handshake;
  }
  return s;
}

}  // namespace cocktail::bus

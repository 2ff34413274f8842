#include "cocktail/bus/publisher.h"

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <zmq.hpp>

namespace cocktail::bus {

struct Publisher::State {
  PublisherOptions options;
  zmq::context_t context{1};
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
  if (state_->options.on_sent) state_->options.on_sent(topic);
  return core::Ok{};
}

std::uint64_t Publisher::sent_count() const { return state_->sent.load(std::memory_order_relaxed); }

}  // namespace cocktail::bus

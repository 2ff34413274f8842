#include "cocktail/bus/subscriber.h"

#include <atomic>
#include <limits>
#include <stdexcept>
#include <thread>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "cocktail/core/log.h"

namespace cocktail::bus {
namespace {

// The wake socket's name only needs to be unique within the Subscriber's own context.
constexpr const char* kWakeEndpoint = "inproc://cocktail-bus-subscriber-wake";
// Messages handled per wake-up before the loop looks at the stop flag again.
constexpr std::size_t kDrainBatch = 1024;
// Upper bound on how long the receive thread sleeps in poll, should a wake
// message ever be lost; stop() normally wakes it at once.
constexpr std::chrono::milliseconds kReceiveTick{500};
constexpr std::size_t kTopicEcho = 64;

const core::SteadyClock kSteadyClock;

}  // namespace

struct Subscriber::State {
  SubscriberOptions options;
  SubscriberHandlers handlers;
  const core::Clock* clock = &kSteadyClock;

  zmq::context_t context{1};
  zmq::socket_t socket{context, zmq::socket_type::sub};
  zmq::socket_t wake_rx{context, zmq::socket_type::pair};  // used by the receive thread
  zmq::socket_t wake_tx{context, zmq::socket_type::pair};  // used by stop()

  std::thread thread;
  std::atomic<bool> stopping{false};

  std::atomic<std::uint64_t> received{0};
  std::atomic<std::uint64_t> malformed{0};
  std::atomic<std::uint64_t> handler_errors{0};
  // Clock ticks since its epoch; kNever until the first valid event.
  static constexpr core::Clock::duration::rep kNever = std::numeric_limits<core::Clock::duration::rep>::min();
  std::atomic<core::Clock::duration::rep> last_receive{kNever};

  // Receives and dispatches every message already queued, up to `limit`.
  std::size_t drain(std::size_t limit);
  void dispatch(std::vector<zmq::message_t>& parts);
  void report_malformed(std::string_view topic, const core::Error& error);
  void run();
};

void Subscriber::State::report_malformed(std::string_view topic, const core::Error& error) {
  malformed.fetch_add(1, std::memory_order_relaxed);
  if (!handlers.on_malformed) return;
  try {
    handlers.on_malformed(topic.substr(0, kTopicEcho), error);
  } catch (const std::exception& e) {
    handler_errors.fetch_add(1, std::memory_order_relaxed);
    core::log::error("bus.handler_error", {{"handler", "on_malformed"}, {"error", e.what()}});
  }
}

void Subscriber::State::dispatch(std::vector<zmq::message_t>& parts) {
  if (parts.size() != 2) {
    std::string_view topic = parts.empty() ? std::string_view() : parts[0].to_string_view();
    report_malformed(topic, core::Error::invalid("frames", "expected 2 frames [topic, json], got " +
                                                               std::to_string(parts.size())));
    return;
  }
  const std::string_view topic = parts[0].to_string_view();
  auto event = decode(topic, parts[1].to_string_view());
  if (!event) {
    report_malformed(topic, event.error());
    return;
  }
  received.fetch_add(1, std::memory_order_relaxed);
  last_receive.store(clock->now().time_since_epoch().count(), std::memory_order_relaxed);
  if (!handlers.on_event) return;
  try {
    handlers.on_event(*event);
  } catch (const std::exception& e) {
    handler_errors.fetch_add(1, std::memory_order_relaxed);
    core::log::error("bus.handler_error", {{"handler", "on_event"}, {"topic", topic}, {"error", e.what()}});
  }
}

std::size_t Subscriber::State::drain(std::size_t limit) {
  std::size_t handled = 0;
  std::vector<zmq::message_t> parts;
  while (handled < limit) {
    parts.clear();
    auto got = zmq::recv_multipart(socket, std::back_inserter(parts), zmq::recv_flags::dontwait);
    if (!got) break;  // nothing more queued
    dispatch(parts);
    ++handled;
  }
  return handled;
}

void Subscriber::State::run() {
  zmq::pollitem_t items[] = {{socket.handle(), 0, ZMQ_POLLIN, 0}, {wake_rx.handle(), 0, ZMQ_POLLIN, 0}};
  while (!stopping.load(std::memory_order_acquire)) {
    try {
      zmq::poll(items, 2, kReceiveTick);
      if (items[1].revents & ZMQ_POLLIN) break;
      if (items[0].revents & ZMQ_POLLIN) drain(kDrainBatch);
    } catch (const zmq::error_t& e) {
      // Only a context shutting down is expected here; anything else is
      // logged and retried after a tick rather than ending the thread.
      if (e.num() == ETERM) break;
      core::log::error("bus.receive_error", {{"error", e.what()}});
      std::this_thread::sleep_for(kReceiveTick);
    }
  }
}

Subscriber::Subscriber(SubscriberOptions options, SubscriberHandlers handlers)
    : state_(std::make_unique<State>()) {
  if (options.endpoints.empty()) throw std::invalid_argument("a subscriber needs at least one endpoint");
  state_->options = std::move(options);
  state_->handlers = std::move(handlers);
  if (state_->options.clock) state_->clock = state_->options.clock;

  auto& socket = state_->socket;
  const auto& o = state_->options;
  socket.set(zmq::sockopt::rcvhwm, o.receive_hwm);
  socket.set(zmq::sockopt::maxmsgsize, o.max_message_bytes);
  socket.set(zmq::sockopt::reconnect_ivl, static_cast<int>(o.reconnect_interval.count()));
  socket.set(zmq::sockopt::reconnect_ivl_max, static_cast<int>(o.reconnect_interval_max.count()));
  socket.set(zmq::sockopt::linger, 0);  // nothing is ever sent but subscriptions
  if (o.topics.empty()) {
    socket.set(zmq::sockopt::subscribe, "");
  } else {
    for (const auto& topic : o.topics) socket.set(zmq::sockopt::subscribe, topic);
  }
  for (const auto& endpoint : o.endpoints) {
    try {
      socket.connect(endpoint);
    } catch (const zmq::error_t& e) {
      throw std::runtime_error("cannot connect subscriber to " + endpoint + ": " + e.what());
    }
  }
  state_->wake_rx.bind(kWakeEndpoint);
  state_->wake_tx.connect(kWakeEndpoint);
}

Subscriber::~Subscriber() { stop(); }

void Subscriber::start() {
  if (state_->thread.joinable()) throw std::logic_error("subscriber already started");
  state_->stopping.store(false, std::memory_order_release);
  state_->thread = std::thread([state = state_.get()] { state->run(); });
}

void Subscriber::stop() {
  if (!state_->thread.joinable()) return;
  state_->stopping.store(true, std::memory_order_release);
  try {
    state_->wake_tx.send(zmq::str_buffer("stop"), zmq::send_flags::dontwait);
  } catch (const zmq::error_t&) {
    // The flag alone still stops the thread within one receive tick.
  }
  state_->thread.join();
  // Drop a wake message the thread did not consume, so a restart is not woken at once.
  zmq::message_t leftover;
  while (state_->wake_rx.recv(leftover, zmq::recv_flags::dontwait)) {
  }
}

std::size_t Subscriber::poll(std::chrono::milliseconds timeout) {
  if (state_->thread.joinable()) throw std::logic_error("poll() while the receive thread runs");
  zmq::pollitem_t items[] = {{state_->socket.handle(), 0, ZMQ_POLLIN, 0}};
  zmq::poll(items, 1, timeout);
  if (!(items[0].revents & ZMQ_POLLIN)) return 0;
  return state_->drain(kDrainBatch);
}

std::optional<core::Clock::time_point> Subscriber::last_receive() const {
  auto ticks = state_->last_receive.load(std::memory_order_relaxed);
  if (ticks == State::kNever) return std::nullopt;
  return core::Clock::time_point(core::Clock::duration(ticks));
}

SubscriberStats Subscriber::stats() const {
  return {state_->received.load(std::memory_order_relaxed), state_->malformed.load(std::memory_order_relaxed),
          state_->handler_errors.load(std::memory_order_relaxed)};
}

}  // namespace cocktail::bus

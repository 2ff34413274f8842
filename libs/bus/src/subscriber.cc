#include "cocktail/bus/subscriber.h"

#include <algorithm>
#include <atomic>
#include <limits>
#include <stdexcept>
#include <thread>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "bus_metrics.h"
#include "cocktail/core/log.h"
#include "curve_guard.h"

namespace cocktail::bus {
namespace {

// The inproc names only need to be unique within the Subscriber's own context.
constexpr const char* kWakeEndpoint = "inproc://cocktail-bus-subscriber-wake";
constexpr const char* kMonitorEndpoint = "inproc://cocktail-bus-subscriber-monitor";
// Messages handled per wake-up before the loop looks at the stop flag again.
constexpr std::size_t kDrainBatch = 1024;
// Upper bound on how long the receive thread sleeps in poll, should a wake
// message ever be lost; stop() normally wakes it at once.
constexpr std::chrono::milliseconds kReceiveTick{500};
constexpr std::size_t kTopicEcho = 64;

constexpr int kMonitoredEvents = ZMQ_EVENT_CONNECTED | ZMQ_EVENT_CONNECT_DELAYED | ZMQ_EVENT_CONNECT_RETRIED |
                                 ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                                 ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                 ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;

const core::SteadyClock kSteadyClock;

using SteadyTime = std::chrono::steady_clock::time_point;

// The part of "tcp://host:port" after the last colon.
std::string_view port_of(std::string_view endpoint) {
  const auto colon = endpoint.rfind(':');
  return colon == std::string_view::npos ? std::string_view() : endpoint.substr(colon + 1);
}

}  // namespace

struct Subscriber::State {
  // One configured endpoint and what the monitor said about it.
  struct Endpoint {
    std::string address;
    std::string server_key;              // Z85; empty when anonymous
    std::optional<SteadyTime> ended_at;  // disconnected, and ZeroMQ has not scheduled a reconnection
    bool handshake_failed = false;       // since the last successful handshake
    std::optional<SteadyTime> reset_at;  // a reset is due then
    std::chrono::milliseconds backoff{0};
  };

  SubscriberOptions options;
  SubscriberHandlers handlers;
  const core::Clock* clock = &kSteadyClock;
  std::unique_ptr<detail::SubscriberBusMetrics> metrics;
  std::vector<Endpoint> endpoints;

  zmq::context_t context{1};
  zmq::socket_t socket{context, zmq::socket_type::sub};
  zmq::socket_t monitor{context, zmq::socket_type::pair};  // events of `socket`
  zmq::socket_t wake_rx{context, zmq::socket_type::pair};  // used by the receive thread
  zmq::socket_t wake_tx{context, zmq::socket_type::pair};  // used by stop()

  std::thread thread;
  std::atomic<bool> stopping{false};

  std::atomic<std::uint64_t> received{0};
  std::atomic<std::uint64_t> malformed{0};
  std::atomic<std::uint64_t> handler_errors{0};
  std::atomic<std::uint64_t> dropped{0};
  std::atomic<std::uint64_t> refused{0};
  std::atomic<std::uint64_t> resets{0};
  bool valid_since_reset = false;  // receiving thread only
  // Clock ticks since its epoch; kNever until the first valid event.
  static constexpr core::Clock::duration::rep kNever = std::numeric_limits<core::Clock::duration::rep>::min();
  std::atomic<core::Clock::duration::rep> last_receive{kNever};

  void connect(Endpoint& endpoint);
  // Receives and dispatches every message already queued, up to `limit`.
  std::size_t drain(std::size_t limit);
  void dispatch(std::vector<zmq::message_t>& parts);
  void report_malformed(std::string_view topic, const core::Error& error);
  // Handles the socket monitor's events and resets the connections due.
  void watch_connections();
  void on_monitor_event(const detail::MonitorEvent& event, SteadyTime now);
  Endpoint* find_endpoint(std::string_view address, bool by_port);
  void reset(Endpoint& endpoint);
  // How long poll may sleep before a connection needs looking at.
  std::chrono::milliseconds next_wake(std::chrono::milliseconds limit) const;
  void run();
};

void Subscriber::State::connect(Endpoint& endpoint) {
  if (options.security.curve()) {
    // Options are copied into each connection when it is made: every
    // endpoint gets its own publisher's key.
    socket.set(zmq::sockopt::curve_serverkey, endpoint.server_key);
  }
  socket.connect(endpoint.address);
}

void Subscriber::State::report_malformed(std::string_view topic, const core::Error& error) {
  malformed.fetch_add(1, std::memory_order_relaxed);
  if (!handlers.on_malformed) {
    return;
  }
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
  valid_since_reset = true;
  if (!handlers.on_event) {
    return;
  }
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
    if (!got) {
      break;  // nothing more queued
    }
    dispatch(parts);
    ++handled;
  }
  return handled;
}

// Monitor events name the endpoint as it was given, except the reconnection
// events, which carry the resolved address ("tcp://localhost:5561" becomes
// "tcp://127.0.0.1:5561"): those are matched by port when that is unique.
Subscriber::State::Endpoint* Subscriber::State::find_endpoint(std::string_view address, bool by_port) {
  for (auto& e : endpoints) {
    if (e.address == address) {
      return &e;
    }
  }
  if (!by_port) {
    return nullptr;
  }
  Endpoint* found = nullptr;
  for (auto& e : endpoints) {
    if (port_of(e.address) == port_of(address)) {
      if (found != nullptr) {
        return nullptr;
      }
      found = &e;
    }
  }
  return found;
}

void Subscriber::State::on_monitor_event(const detail::MonitorEvent& event, SteadyTime now) {
  switch (event.event) {
    case ZMQ_EVENT_DISCONNECTED:
      if (auto* e = find_endpoint(event.address, true)) {
        e->ended_at = now;
      }
      break;
    case ZMQ_EVENT_CONNECT_RETRIED:
    case ZMQ_EVENT_CONNECT_DELAYED:
    case ZMQ_EVENT_CONNECTED:
      // ZeroMQ is on it: nothing for the subscriber to repair.
      if (auto* e = find_endpoint(event.address, true)) {
        e->ended_at.reset();
      }
      break;
    case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
      if (auto* e = find_endpoint(event.address, true)) {
        e->handshake_failed = false;
      }
      break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
    case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
    case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
      refused.fetch_add(1, std::memory_order_relaxed);
      if (auto* e = find_endpoint(event.address, true)) {
        e->handshake_failed = true;
      }
      core::log::warn("bus.handshake_failed",
                      {{"endpoint", event.address},
                       {"reason", event.event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
                                      ? "refused by the publisher (key not authorized)"
                                      : "not the expected publisher, or no CURVE"},
                       {"code", static_cast<std::int64_t>(event.value)}});
      break;
    default: break;
  }
}

void Subscriber::State::reset(Endpoint& e) {
  try {
    socket.disconnect(e.address);
  } catch (const zmq::error_t&) {
    // Already gone: ZeroMQ forgot the endpoint with its connection.
  }
  try {
    connect(e);
  } catch (const zmq::error_t& err) {
    core::log::error("bus.reconnect_failed", {{"endpoint", e.address}, {"error", err.what()}});
  }
  resets.fetch_add(1, std::memory_order_relaxed);
}

void Subscriber::State::watch_connections() {
  const auto now = std::chrono::steady_clock::now();
  detail::MonitorEvent event;
  while (detail::read_monitor_event(monitor, &event)) {
    on_monitor_event(event, now);
  }
  if (valid_since_reset) {
    for (auto& e : endpoints) {
      e.backoff = std::chrono::milliseconds(0);
    }
    valid_since_reset = false;
  }
  for (auto& e : endpoints) {
    if (e.ended_at && now - *e.ended_at >= options.drop_grace) {
      // The connection ended and ZeroMQ will not bring it back.
      e.ended_at.reset();
      const bool refused_at_handshake = e.handshake_failed;
      if (metrics) {
        metrics->reconnects.Add({{"reason", refused_at_handshake ? "refused" : "dropped"}}).Increment();
      }
      if (!refused_at_handshake) {
        dropped.fetch_add(1, std::memory_order_relaxed);
        report_malformed(
            "", core::Error::invalid("message", "the connection to " + e.address +
                                                    " was dropped over a message larger than " +
                                                    std::to_string(options.max_message_bytes) +
                                                    " bytes or not in ZeroMQ's format; reconnecting"));
      }
      e.reset_at = now + e.backoff;
      e.backoff = std::clamp(e.backoff * 2, options.reconnect_interval, options.reconnect_interval_max);
    }
    if (e.reset_at && now >= *e.reset_at) {
      e.reset_at.reset();
      core::log::info("bus.reconnect",
                      {{"endpoint", e.address}, {"reason", e.handshake_failed ? "refused" : "dropped"}});
      reset(e);
    }
  }
}

std::chrono::milliseconds Subscriber::State::next_wake(std::chrono::milliseconds limit) const {
  const auto now = std::chrono::steady_clock::now();
  auto wake = limit;
  auto consider = [&](SteadyTime at) {
    const auto in =
        std::chrono::duration_cast<std::chrono::milliseconds>(at - now) + std::chrono::milliseconds(1);
    wake = std::clamp(in, std::chrono::milliseconds(0), wake);
  };
  for (const auto& e : endpoints) {
    if (e.ended_at) {
      consider(*e.ended_at + options.drop_grace);
    }
    if (e.reset_at) {
      consider(*e.reset_at);
    }
  }
  return wake;
}

void Subscriber::State::run() {
  zmq::pollitem_t items[] = {{socket.handle(), 0, ZMQ_POLLIN, 0},
                             {wake_rx.handle(), 0, ZMQ_POLLIN, 0},
                             {monitor.handle(), 0, ZMQ_POLLIN, 0}};
  while (!stopping.load(std::memory_order_acquire)) {
    try {
      zmq::poll(items, 3, next_wake(kReceiveTick));
      if (items[1].revents & ZMQ_POLLIN) {
        break;
      }
      // Messages first: what arrived before a connection ended is still good.
      if (items[0].revents & ZMQ_POLLIN) {
        drain(kDrainBatch);
      }
      watch_connections();
    } catch (const zmq::error_t& e) {
      // Only a context shutting down is expected here; anything else is
      // logged and retried after a tick rather than ending the thread.
      if (e.num() == ETERM) {
        break;
      }
      core::log::error("bus.receive_error", {{"error", e.what()}});
      std::this_thread::sleep_for(kReceiveTick);
    }
  }
}

Subscriber::Subscriber(SubscriberOptions options, SubscriberHandlers handlers)
    : state_(std::make_unique<State>()) {
  if (options.endpoints.empty()) {
    throw std::invalid_argument("a subscriber needs at least one endpoint");
  }
  const auto& security = options.security;
  if (security.curve() && security.server_keys.size() != 1 &&
      security.server_keys.size() != options.endpoints.size()) {
    throw std::invalid_argument("a CURVE subscriber needs its publisher's key: one for all " +
                                std::to_string(options.endpoints.size()) + " endpoints or one each, got " +
                                std::to_string(security.server_keys.size()));
  }
  state_->options = std::move(options);
  state_->handlers = std::move(handlers);
  if (state_->options.clock) {
    state_->clock = state_->options.clock;
  }
  if (state_->options.metrics) {
    state_->metrics = std::make_unique<detail::SubscriberBusMetrics>(*state_->options.metrics);
  }

  auto& socket = state_->socket;
  const auto& o = state_->options;
  socket.set(zmq::sockopt::rcvhwm, o.receive_hwm);
  socket.set(zmq::sockopt::maxmsgsize, o.max_message_bytes);
  socket.set(zmq::sockopt::reconnect_ivl, static_cast<int>(o.reconnect_interval.count()));
  socket.set(zmq::sockopt::reconnect_ivl_max, static_cast<int>(o.reconnect_interval_max.count()));
  socket.set(zmq::sockopt::linger, 0);  // nothing is ever sent but subscriptions
  if (o.security.curve()) {
    for (const auto& key : o.security.server_keys) {
      if (!is_z85_key(key)) {
        throw std::invalid_argument("malformed CURVE server key '" + key + "'");
      }
    }
    socket.set(zmq::sockopt::curve_publickey, o.security.keys->public_key);
    socket.set(zmq::sockopt::curve_secretkey, o.security.keys->secret_key);
  }
  if (o.topics.empty()) {
    socket.set(zmq::sockopt::subscribe, "");
  } else {
    for (const auto& topic : o.topics) {
      socket.set(zmq::sockopt::subscribe, topic);
    }
  }
  // The monitor is connected before the first connection, so no event is missed.
  if (zmq_socket_monitor(socket.handle(), kMonitorEndpoint, kMonitoredEvents) != 0) {
    throw std::runtime_error(std::string("cannot monitor the subscriber socket: ") +
                             zmq_strerror(zmq_errno()));
  }
  state_->monitor.connect(kMonitorEndpoint);
  for (std::size_t i = 0; i < o.endpoints.size(); ++i) {
    State::Endpoint endpoint;
    endpoint.address = o.endpoints[i];
    if (o.security.curve()) {
      endpoint.server_key =
          o.security.server_keys.size() == 1 ? o.security.server_keys.front() : o.security.server_keys[i];
    }
    state_->endpoints.push_back(std::move(endpoint));
  }
  for (auto& endpoint : state_->endpoints) {
    try {
      state_->connect(endpoint);
    } catch (const zmq::error_t& e) {
      throw std::runtime_error("cannot connect subscriber to " + endpoint.address + ": " + e.what());
    }
  }
  state_->wake_rx.bind(kWakeEndpoint);
  state_->wake_tx.connect(kWakeEndpoint);
}

Subscriber::~Subscriber() { stop(); }

void Subscriber::start() {
  if (state_->thread.joinable()) {
    throw std::logic_error("subscriber already started");
  }
  state_->stopping.store(false, std::memory_order_release);
  state_->thread = std::thread([state = state_.get()] { state->run(); });
}

void Subscriber::stop() {
  if (!state_->thread.joinable()) {
    return;
  }
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
  if (state_->thread.joinable()) {
    throw std::logic_error("poll() while the receive thread runs");
  }
  zmq::pollitem_t items[] = {{state_->socket.handle(), 0, ZMQ_POLLIN, 0},
                             {state_->monitor.handle(), 0, ZMQ_POLLIN, 0}};
  zmq::poll(items, 2, state_->next_wake(timeout));
  std::size_t handled = 0;
  if (items[0].revents & ZMQ_POLLIN) {
    handled = state_->drain(kDrainBatch);
  }
  state_->watch_connections();
  return handled;
}

std::optional<core::Clock::time_point> Subscriber::last_receive() const {
  auto ticks = state_->last_receive.load(std::memory_order_relaxed);
  if (ticks == State::kNever) {
    return std::nullopt;
  }
  return core::Clock::time_point(core::Clock::duration(ticks));
}

SubscriberStats Subscriber::stats() const {
  SubscriberStats s;
  s.received = state_->received.load(std::memory_order_relaxed);
  s.malformed = state_->malformed.load(std::memory_order_relaxed);
  s.handler_errors = state_->handler_errors.load(std::memory_order_relaxed);
  s.dropped = state_->dropped.load(std::memory_order_relaxed);
  s.refused = state_->refused.load(std::memory_order_relaxed);
  s.resets = state_->resets.load(std::memory_order_relaxed);
  return s;
}

}  // namespace cocktail::bus

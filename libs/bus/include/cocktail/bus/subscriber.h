// Subscriber: the receiving side of the event bus, a ZeroMQ SUB socket
// connected to one or more publisher endpoints and subscribed to topic
// prefixes. Each message is decoded and handed to a callback; a malformed one
// (wrong number of frames, bad JSON, wrong types, unknown topic or version)
// goes to the malformed callback with the reason and the loop carries on.
//
// Two ways to run it, not to be mixed:
//  - start(): a receive thread owned by the Subscriber calls the handlers;
//    stop() wakes it through an inproc socket and joins it, so stopping takes
//    about as long as the handler running at that moment.
//  - poll(timeout): the caller's own loop receives and dispatches on its thread.
//
// Silence detection (a publisher that stopped sending heartbeats) is the
// consumer's job; last_receive() says when the last valid event arrived.
//
// The subscription outlives bad peers. ZeroMQ ends a connection for good
// when a message breaks its rules (larger than max_message_bytes, not
// ZeroMQ's framing) or when a CURVE handshake fails, and never reconnects
// it. The Subscriber watches its socket (a socket monitor): a connection
// that ended and that ZeroMQ is not re-establishing within drop_grace is
// reset (disconnected and connected again), at once the first time, then
// after a delay that doubles from reconnect_interval up to
// reconnect_interval_max until a valid event arrives. A connection dropped
// over a bad message counts as one malformed message (on_malformed, topic
// empty); one refused at the handshake counts in stats().refused. Either
// way the subscription goes on, and reaches a fresh publisher on the same
// endpoint as soon as one is there.
//
// With security keys (BusSecurity, security.h) the socket is a CURVE
// client: it only completes a connection with a publisher holding the
// secret key of the server key it was given, and presents its own key.
//
// Ownership: owns its ZeroMQ context and sockets; the destructor stops.
// Thread-safety: start/stop/poll from the owning thread; last_receive() and
// stats() from any thread. Handlers run on the receive thread (start) or the
// polling thread (poll), one at a time. An exception escaping a handler is
// caught, counted in stats().handler_errors and logged; the loop continues.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cocktail/bus/events.h"
#include "cocktail/bus/security.h"
#include "cocktail/core/result.h"
#include "cocktail/core/time.h"
#include "cocktail/metrics/registry.h"

namespace cocktail::bus {

struct SubscriberOptions {
  // Publisher endpoints to connect to, e.g. {"tcp://127.0.0.1:5561"}. At least one.
  std::vector<std::string> endpoints;
  // Topic prefixes, e.g. {"catalog.change", "catalog.heartbeat"}. Empty: everything.
  std::vector<std::string> topics;
  // Messages queued before ZeroMQ drops (a consumer that falls behind loses
  // events; heartbeats repair that).
  int receive_hwm = 10000;
  // A larger message is never allocated: ZeroMQ drops the connection it
  // came on (ZMQ_MAXMSGSIZE), and the subscriber counts it and reconnects.
  // Bytes.
  std::int64_t max_message_bytes = 1 << 20;
  // Reconnect delay after a publisher goes away, doubling up to the maximum.
  std::chrono::milliseconds reconnect_interval{100};
  std::chrono::milliseconds reconnect_interval_max{2000};
  // How long an ended connection is left to ZeroMQ's own reconnection
  // before the subscriber resets it (ZeroMQ schedules a reconnection within
  // microseconds when it means to).
  std::chrono::milliseconds drop_grace{500};
  // Clock for last_receive(); a SteadyClock when null. Must outlive the Subscriber.
  const core::Clock* clock = nullptr;
  // CURVE: keys and server_keys are used. Default: anonymous.
  BusSecurity security;
  // Where the bus's own metrics go (reconnects); none when null. Must
  // outlive the Subscriber.
  metrics::MetricsRegistry* metrics = nullptr;
};

struct SubscriberHandlers {
  // A decoded, valid event.
  std::function<void(const Event& event)> on_event;
  // A message that could not be decoded: the first frame (truncated to 64
  // bytes, empty when there was none) and the reason.
  std::function<void(std::string_view topic, const core::Error& error)> on_malformed;
};

struct SubscriberStats {
  std::uint64_t received = 0;        // valid events delivered
  std::uint64_t malformed = 0;       // messages dropped as malformed (a dropped connection counts one)
  std::uint64_t handler_errors = 0;  // exceptions caught from handlers
  std::uint64_t dropped = 0;         // connections ended by a bad message, then reset
  std::uint64_t refused = 0;         // handshakes that failed (key refused, or wrong publisher)
  std::uint64_t resets = 0;          // connections the subscriber re-established itself
};

class Subscriber {
 public:
  // Connects and subscribes (ZeroMQ connects in the background, so an absent
  // publisher is not an error). Throws std::invalid_argument without
  // endpoints, or with CURVE keys but not one server key (or one per
  // endpoint); std::runtime_error for a malformed endpoint.
  Subscriber(SubscriberOptions options, SubscriberHandlers handlers);
  ~Subscriber();
  Subscriber(const Subscriber&) = delete;
  Subscriber& operator=(const Subscriber&) = delete;

  // Starts the receive thread. Throws std::logic_error if already started.
  void start();
  // Stops the receive thread and waits for it. Idempotent.
  void stop();

  // Waits up to `timeout` for a message, then handles the messages already
  // queued (at most 1024, so that a busy bus cannot starve the caller's
  // loop); returns how many messages (valid or malformed) were handled.
  // Throws std::logic_error while the receive thread runs.
  std::size_t poll(std::chrono::milliseconds timeout);

  // When the last valid event was received (by the clock in the options).
  std::optional<core::Clock::time_point> last_receive() const;
  SubscriberStats stats() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace cocktail::bus

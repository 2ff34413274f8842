// Publisher: the sending side of the event bus, a ZeroMQ PUB socket bound to
// one endpoint, sending [topic, json] messages.
//
// PUB/SUB drops messages for subscribers that are late or slower than the
// send high-water mark; the system is built to tolerate that (events are
// hints, heartbeats and sequence numbers repair gaps: docs/events.md).
//
// Ownership: owns its ZeroMQ context and socket. Destruction closes the
// socket and waits at most `linger` for queued messages to be flushed.
// Thread-safety: publish() may be called from any thread; ZeroMQ sockets are
// not thread-safe, so sends are serialised by an internal mutex (a send on a
// PUB socket never blocks: at the high-water mark ZeroMQ drops the message
// for that subscriber).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "cocktail/bus/events.h"
#include "cocktail/core/result.h"

namespace cocktail::bus {

struct PublisherOptions {
  // Where to bind, e.g. "tcp://127.0.0.1:5561". Port 0 or "*" picks a free
  // port; endpoint() then reports the one chosen.
  std::string endpoint = "tcp://127.0.0.1:5561";
  // Messages queued per subscriber before ZeroMQ drops for that subscriber.
  // 10,000 covers a bulk import of a few thousand rows published at once.
  int send_hwm = 10000;
  // How long closing waits to flush queued messages; bounds shutdown.
  std::chrono::milliseconds linger{200};
  // Called after each message handed to ZeroMQ, on the publishing thread,
  // outside the internal lock (e.g. to count events published by topic).
  std::function<void(std::string_view topic)> on_sent;
};

class Publisher {
 public:
  // Binds. Throws std::runtime_error naming the endpoint when binding fails
  // (address in use, malformed endpoint).
  explicit Publisher(PublisherOptions options);
  ~Publisher();
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;

  // The endpoint actually bound (ZMQ_LAST_ENDPOINT), with the real port.
  const std::string& endpoint() const;

  // Encodes and sends one event under its topic. Throws std::invalid_argument
  // for an event that breaks the contract (see encode_body). An error result
  // means ZeroMQ refused the send (context shut down); nothing was sent.
  core::Status publish(const Event& event);

  // Sends an already-encoded body under a topic, for callers that encode once
  // and send many times. The body is sent as is: the caller vouches for it.
  core::Status publish_encoded(std::string_view topic, std::string_view body);

  // Messages handed to ZeroMQ since construction.
  std::uint64_t sent_count() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace cocktail::bus

// Publisher: the sending side of the event bus, a ZeroMQ PUB socket bound to
// one endpoint, sending [topic, json] messages.
//
// PUB/SUB drops messages for subscribers that are late or slower than the
// send high-water mark; the system is built to tolerate that (events are
// hints, heartbeats and sequence numbers repair gaps: docs/events.md).
//
// With security keys (BusSecurity, security.h) the socket is a CURVE server:
// only subscribers whose public keys are authorized get a connection (a ZAP
// handler on a thread of the publisher refuses and counts the others), and
// every message is encrypted.
//
// Ownership: owns its ZeroMQ context and socket (and, with CURVE, the ZAP
// handler's thread). Destruction closes the socket and waits at most
// `linger` for queued messages to be flushed.
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
#include "cocktail/bus/security.h"
#include "cocktail/core/result.h"
#include "cocktail/metrics/registry.h"

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
  // CURVE: keys and authorized_keys are used. Default: anonymous.
  BusSecurity security;
  // Where the bus's own metrics go (connections accepted and refused); none
  // when null. Must outlive the Publisher.
  metrics::MetricsRegistry* metrics = nullptr;
};

struct PublisherStats {
  std::uint64_t sent = 0;
  std::uint64_t accepted = 0;             // CURVE subscribers admitted
  std::uint64_t refused_unknown_key = 0;  // CURVE keys not authorized
  std::uint64_t refused_handshake = 0;    // peers without CURVE, or a failed handshake
};

class Publisher {
 public:
  // Binds. Throws std::runtime_error naming the endpoint when binding fails
  // (address in use, malformed endpoint), std::invalid_argument for CURVE
  // keys without an authorized subscriber key, or malformed keys.
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
  PublisherStats stats() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace cocktail::bus

// CurveGuard: makes one ZeroMQ socket that binds (a PUB, or a proxy's XPUB)
// a CURVE server that admits only authorized client keys.
//
// It binds the ZAP endpoint (RFC 27, "inproc://zeromq.zap.01") of the
// socket's context and answers ZeroMQ's authentication requests on a thread
// of its own: 200 for a CURVE client whose public key is in the authorized
// set, 400 for any other. It also watches the socket's handshakes (a socket
// monitor), so that peers that fail before reaching ZAP (no CURVE at all, a
// wrong server key) are counted too. Each refusal is logged (rate-limited
// with every other repeated warning) and counted.
//
// ZAP is enforced for the socket's domain, and the handler is bound before
// the socket binds and outlives it: there is no moment at which a client
// could be admitted without a check. So: construct the guard, then bind the
// socket; close the socket, then destroy the guard; both before the context.
//
// Thread-safety: constructed and destroyed by the socket's owner; stats()
// from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "bus_metrics.h"

namespace cocktail::bus::detail {

class CurveGuard {
 public:
  struct Stats {
    std::uint64_t accepted = 0;
    std::uint64_t refused_unknown_key = 0;
    std::uint64_t refused_handshake = 0;
  };

  // Configures `server` (CURVE server with `secret_key`, ZAP domain) and
  // starts the handler. `label` names the socket in logs. Throws
  // std::invalid_argument without authorized keys or with a malformed one.
  CurveGuard(zmq::context_t& context, zmq::socket_t& server, const std::string& secret_key,
             const std::vector<std::string>& authorized_keys, metrics::MetricsRegistry* registry,
             std::string label);
  ~CurveGuard();
  CurveGuard(const CurveGuard&) = delete;
  CurveGuard& operator=(const CurveGuard&) = delete;

  Stats stats() const;

 private:
  void run();
  void answer_zap();
  void read_monitor();

  std::set<std::string> authorized_;  // Z85
  std::unique_ptr<PublisherBusMetrics> metrics_;
  std::string label_;
  zmq::socket_t zap_;
  zmq::socket_t monitor_;
  zmq::socket_t wake_rx_;
  zmq::socket_t wake_tx_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> accepted_{0};
  std::atomic<std::uint64_t> refused_key_{0};
  std::atomic<std::uint64_t> refused_handshake_{0};
  std::thread thread_;
};

// The events of a socket monitor (ZeroMQ 4: [event u16 + value u32, address]).
struct MonitorEvent {
  std::uint16_t event = 0;
  std::uint32_t value = 0;
  std::string address;
};
// Reads one event without blocking; false when none is queued.
bool read_monitor_event(zmq::socket_t& monitor, MonitorEvent* out);

}  // namespace cocktail::bus::detail

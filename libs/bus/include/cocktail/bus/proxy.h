// Proxy: a forwarder between publishers and many subscribers (ZeroMQ's
// XSUB/XPUB proxy), so that any number of read replicas can subscribe
// through one well-known endpoint while each publisher serves a single peer.
// Subscriptions travel upstream, messages downstream; the proxy neither
// decodes nor filters bodies.
//
// With security keys (BusSecurity) the proxy is a CURVE client upstream
// (server_keys: the publishers' keys) and a CURVE server downstream
// (authorized_keys: its subscribers' keys, checked by a ZAP handler), with
// its own key pair for both.
//
// Ownership: owns its context, sockets and forwarding thread; the destructor
// stops it. Thread-safety: construct, stop and destroy from one thread;
// downstream_endpoint() from any.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "cocktail/bus/security.h"
#include "cocktail/metrics/registry.h"

namespace cocktail::bus {

struct ProxyOptions {
  // Publisher endpoints to connect to (they bind), e.g. {"tcp://127.0.0.1:5562"}.
  std::vector<std::string> upstream;
  // Where subscribers connect; port 0 or "*" picks a free port.
  std::string downstream = "tcp://127.0.0.1:5563";
  // Per-peer queue limit on both sides, messages.
  int hwm = 10000;
  // How long closing waits to flush queued messages.
  std::chrono::milliseconds linger{200};
  // CURVE on both sides. Default: anonymous.
  BusSecurity security;
  // Where the bus's own metrics go; none when null. Must outlive the Proxy.
  metrics::MetricsRegistry* metrics = nullptr;
};

class Proxy {
 public:
  // Connects upstream, binds downstream and starts forwarding on its own
  // thread. Throws std::runtime_error when an endpoint cannot be used.
  explicit Proxy(ProxyOptions options);
  ~Proxy();
  Proxy(const Proxy&) = delete;
  Proxy& operator=(const Proxy&) = delete;

  // The endpoint actually bound downstream, with the real port.
  const std::string& downstream_endpoint() const;

  // Stops forwarding and joins the thread. Idempotent.
  void stop();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace cocktail::bus

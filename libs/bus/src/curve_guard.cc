#include "curve_guard.h"

#include <array>
#include <cstring>
#include <stdexcept>
#include <zmq_addon.hpp>

#include "cocktail/bus/curve.h"
#include "cocktail/core/log.h"

namespace cocktail::bus::detail {
namespace {

constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";
constexpr const char* kMonitorEndpoint = "inproc://cocktail-bus-guard-monitor";
constexpr const char* kWakeEndpoint = "inproc://cocktail-bus-guard-wake";
constexpr const char* kZapDomain = "cocktail-bus";
// ZMQ_ZAP_ENFORCE_DOMAIN (libzmq 4.3, a draft option in its header): with it
// a missing handler refuses clients instead of letting them in. The guard's
// ordering already rules that out; this is the second lock on the door.
constexpr int kZapEnforceDomain = 93;
constexpr std::chrono::milliseconds kTick{500};

std::string z85(const zmq::message_t& key) {
  std::array<char, 41> text{};
  if (key.size() != 32 ||
      zmq_z85_encode(text.data(), static_cast<const std::uint8_t*>(key.data()), key.size()) == nullptr) {
    return {};
  }
  return std::string(text.data());
}

}  // namespace

bool read_monitor_event(zmq::socket_t& monitor, MonitorEvent* out) {
  zmq::message_t head;
  if (!monitor.recv(head, zmq::recv_flags::dontwait)) {
    return false;
  }
  zmq::message_t address;
  if (head.more()) {
    (void)monitor.recv(address);
  }
  if (head.size() >= 6) {
    std::memcpy(&out->event, head.data(), 2);
    std::memcpy(&out->value, static_cast<const char*>(head.data()) + 2, 4);
  } else {
    out->event = 0;
  }
  out->address = address.to_string();
  return true;
}

CurveGuard::CurveGuard(zmq::context_t& context, zmq::socket_t& server, const std::string& secret_key,
                       const std::vector<std::string>& authorized_keys, metrics::MetricsRegistry* registry,
                       std::string label)
    : metrics_(registry ? std::make_unique<PublisherBusMetrics>(*registry) : nullptr),
      label_(std::move(label)),
      zap_(context, zmq::socket_type::rep),
      monitor_(context, zmq::socket_type::pair),
      wake_rx_(context, zmq::socket_type::pair),
      wake_tx_(context, zmq::socket_type::pair) {
  if (authorized_keys.empty()) {
    throw std::invalid_argument("a CURVE publisher needs at least one authorized subscriber key");
  }
  for (const auto& key : authorized_keys) {
    if (!is_z85_key(key)) {
      throw std::invalid_argument("malformed authorized key '" + key + "'");
    }
    authorized_.insert(key);
  }
  if (!is_z85_key(secret_key)) {
    throw std::invalid_argument("malformed CURVE secret key");
  }
  zap_.set(zmq::sockopt::linger, 0);
  zap_.bind(kZapEndpoint);
  wake_rx_.bind(kWakeEndpoint);
  wake_tx_.connect(kWakeEndpoint);

  server.set(zmq::sockopt::curve_server, 1);
  server.set(zmq::sockopt::curve_secretkey, secret_key);
  server.set(zmq::sockopt::zap_domain, kZapDomain);
  const int enforce = 1;
  (void)zmq_setsockopt(server.handle(), kZapEnforceDomain, &enforce, sizeof enforce);
  const int events = ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                     ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
  if (zmq_socket_monitor(server.handle(), kMonitorEndpoint, events) != 0) {
    throw std::runtime_error(std::string("cannot monitor the bus socket: ") + zmq_strerror(zmq_errno()));
  }
  monitor_.connect(kMonitorEndpoint);
  // The sockets move to the guard's thread here; thread creation is the
  // memory barrier ZeroMQ requires for that hand-over.
  thread_ = std::thread([this] { run(); });
}

CurveGuard::~CurveGuard() {
  stopping_.store(true, std::memory_order_release);
  try {
    wake_tx_.send(zmq::str_buffer("stop"), zmq::send_flags::dontwait);
  } catch (const zmq::error_t&) {
    // The flag alone stops the thread within one tick.
  }
  if (thread_.joinable()) {
    thread_.join();
  }
}

CurveGuard::Stats CurveGuard::stats() const {
  return {accepted_.load(), refused_key_.load(), refused_handshake_.load()};
}

void CurveGuard::run() {
  zmq::pollitem_t items[] = {{zap_.handle(), 0, ZMQ_POLLIN, 0},
                             {monitor_.handle(), 0, ZMQ_POLLIN, 0},
                             {wake_rx_.handle(), 0, ZMQ_POLLIN, 0}};
  while (!stopping_.load(std::memory_order_acquire)) {
    try {
      zmq::poll(items, 3, kTick);
      if (items[2].revents & ZMQ_POLLIN) {
        break;
      }
      if (items[0].revents & ZMQ_POLLIN) {
        answer_zap();
      }
      if (items[1].revents & ZMQ_POLLIN) {
        read_monitor();
      }
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) {
        break;
      }
      core::log::error("bus.guard_error", {{"socket", label_}, {"error", e.what()}});
    }
  }
}

// One request: [version, request id, domain, address, routing id, mechanism,
// credentials...]; one reply: [version, request id, status, text, user id,
// metadata].
void CurveGuard::answer_zap() {
  std::vector<zmq::message_t> request;
  if (!zmq::recv_multipart(zap_, std::back_inserter(request), zmq::recv_flags::dontwait)) {
    return;
  }
  const std::string request_id = request.size() > 1 ? request[1].to_string() : std::string();
  std::string client_key;
  bool allowed = false;
  if (request.size() >= 7 && request[0].to_string_view() == "1.0" && request[5].to_string_view() == "CURVE") {
    client_key = z85(request[6]);
    allowed = !client_key.empty() && authorized_.count(client_key) > 0;
  }
  const std::string address = request.size() > 3 ? request[3].to_string() : std::string();
  if (allowed) {
    accepted_.fetch_add(1, std::memory_order_relaxed);
    if (metrics_) {
      metrics_->accepted.Increment();
    }
    core::log::debug("bus.peer_accepted", {{"socket", label_}, {"peer", address}, {"key", client_key}});
  } else {
    refused_key_.fetch_add(1, std::memory_order_relaxed);
    if (metrics_) {
      metrics_->refused.Add({{"reason", "unknown_key"}}).Increment();
    }
    core::log::warn("bus.peer_refused",
                    {{"socket", label_}, {"peer", address}, {"reason", "unknown_key"}, {"key", client_key}});
  }
  // The buffers below only point at their bytes: every string they name
  // must outlive send_multipart().
  const std::string user_id = allowed ? client_key : std::string();
  std::array<zmq::const_buffer, 6> reply{
      zmq::str_buffer("1.0"),
      zmq::buffer(request_id),
      allowed ? zmq::str_buffer("200") : zmq::str_buffer("400"),
      allowed ? zmq::str_buffer("OK") : zmq::str_buffer("key not authorized"),
      zmq::buffer(user_id),
      zmq::str_buffer("")};
  zmq::send_multipart(zap_, reply);
}

void CurveGuard::read_monitor() {
  MonitorEvent event;
  while (read_monitor_event(monitor_, &event)) {
    // An authentication failure is ZAP's refusal, already counted.
    if (event.event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL ||
        event.event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) {
      refused_handshake_.fetch_add(1, std::memory_order_relaxed);
      if (metrics_) {
        metrics_->refused.Add({{"reason", "handshake"}}).Increment();
      }
      core::log::warn("bus.peer_refused", {{"socket", label_},
                                           {"peer", event.address},
                                           {"reason", "handshake"},
                                           {"code", static_cast<std::int64_t>(event.value)}});
    }
  }
}

}  // namespace cocktail::bus::detail

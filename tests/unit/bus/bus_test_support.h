// Helpers of the bus tests: an inbox collecting what a subscriber's thread
// delivers, and join(), which publishes a probe until it arrives (PUB/SUB
// drops what is sent before a subscription reached the publisher: the
// "slow joiner"). Every wait is bounded.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "cocktail/bus/events.h"
#include "cocktail/bus/publisher.h"
#include "cocktail/bus/subscriber.h"

namespace cocktail::bus::testing {

using namespace std::chrono_literals;

inline constexpr auto kWait = 5s;  // upper bound for anything to arrive over loopback
inline constexpr std::int64_t kTs = 1795514400123;

inline const std::string kAnyPort = "tcp://127.0.0.1:0";

inline std::string sha(char c) { return std::string(64, c); }

// Events and malformed-message reports collected from a subscriber's thread.
class Inbox {
 public:
  SubscriberHandlers handlers() {
    return {[this](const Event& e) {
              std::lock_guard lock(mutex_);
              events_.push_back(e);
              changed_.notify_all();
            },
            [this](std::string_view topic, const core::Error& error) {
              std::lock_guard lock(mutex_);
              malformed_.emplace_back(std::string(topic), error.message);
              changed_.notify_all();
            }};
  }

  // Waits until pred() holds over the collected events; false on timeout.
  bool wait_for(const std::function<bool(const std::vector<Event>&)>& pred,
                std::chrono::milliseconds timeout = kWait) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return pred(events_); });
  }
  bool wait_for_malformed(std::size_t n) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kWait, [&] { return malformed_.size() >= n; });
  }
  std::vector<Event> events() {
    std::lock_guard lock(mutex_);
    return events_;
  }
  std::vector<std::pair<std::string, std::string>> malformed() {
    std::lock_guard lock(mutex_);
    return malformed_;
  }
  void clear() {
    std::lock_guard lock(mutex_);
    events_.clear();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Event> events_;
  std::vector<std::pair<std::string, std::string>> malformed_;
};

inline bool contains(const std::vector<Event>& events, const Event& wanted) {
  return std::find(events.begin(), events.end(), wanted) != events.end();
}

// Publishes `probe` every 20 ms until the inbox has it: the subscription is then live.
inline bool join(const std::function<void()>& send_probe, Inbox& inbox, const Event& probe) {
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (std::chrono::steady_clock::now() < deadline) {
    send_probe();
    if (inbox.wait_for([&](const auto& events) { return contains(events, probe); }, 20ms)) {
      return true;
    }
  }
  return false;
}

inline bool join(Publisher& pub, Inbox& inbox, const Event& probe) {
  return join([&] { ASSERT_TRUE(pub.publish(probe).ok()); }, inbox, probe);
}

inline SubscriberOptions subscribe_to(std::vector<std::string> endpoints,
                                      std::vector<std::string> topics = {}) {
  SubscriberOptions o;
  o.endpoints = std::move(endpoints);
  o.topics = std::move(topics);
  return o;
}

inline PublisherOptions bind_to(std::string endpoint) {
  PublisherOptions o;
  o.endpoint = std::move(endpoint);
  return o;
}

inline std::string port_of(const std::string& endpoint) { return endpoint.substr(endpoint.rfind(':') + 1); }

}  // namespace cocktail::bus::testing

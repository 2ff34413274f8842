// Test-side readers shared by the in-process and the process tests of
// analytics-regen: a subscriber collecting the analytics events, and a
// reader of single samples in the Prometheus text format.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cocktail/bus/subscriber.h"

namespace cocktail::regen_service {

using namespace std::chrono_literals;

// Collects analytics.snapshot and analytics.heartbeat events.
class AnalyticsInbox {
 public:
  explicit AnalyticsInbox(const std::string& endpoint) {
    bus::SubscriberOptions options;
    options.endpoints = {endpoint};
    options.topics = {"analytics."};
    subscriber_ = std::make_unique<bus::Subscriber>(
        options, bus::SubscriberHandlers{[this](const bus::Event& e) {
                                           std::lock_guard lock(mu_);
                                           if (auto* s = std::get_if<bus::AnalyticsSnapshot>(&e)) {
                                             snapshots_.push_back(*s);
                                           }
                                           if (auto* h = std::get_if<bus::AnalyticsHeartbeat>(&e)) {
                                             heartbeats_.push_back(*h);
                                           }
                                           cv_.notify_all();
                                         },
                                         {}});
    subscriber_->start();
  }
  ~AnalyticsInbox() { subscriber_->stop(); }

  bool wait_heartbeat(std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return !heartbeats_.empty(); });
  }
  // Waits for a snapshot event whose catalog_seq is at least `seq`.
  std::optional<bus::AnalyticsSnapshot> wait_snapshot(std::int64_t seq,
                                                      std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(mu_);
    std::optional<bus::AnalyticsSnapshot> found;
    cv_.wait_for(lock, timeout, [&] {
      for (const auto& s : snapshots_) {
        if (s.catalog_seq >= seq) {
          found = s;
          return true;
        }
      }
      return false;
    });
    return found;
  }
  std::vector<bus::AnalyticsSnapshot> snapshots() {
    std::lock_guard lock(mu_);
    return snapshots_;
  }
  std::vector<bus::AnalyticsHeartbeat> heartbeats() {
    std::lock_guard lock(mu_);
    return heartbeats_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<bus::AnalyticsSnapshot> snapshots_;
  std::vector<bus::AnalyticsHeartbeat> heartbeats_;
  std::unique_ptr<bus::Subscriber> subscriber_;
};

// The value of one sample in Prometheus text ("name" or "name{labels}");
// -1 when absent.
inline double sample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return -1;
}

}  // namespace cocktail::regen_service

// HourPublisher: announces on the bus the hours whose roll-ups changed
// (topic usage.hour, proto/events/usage.hour.schema.json), rate-limited.
//
// The writer marks the hours each durable batch changed; every `interval`
// (default 1 s) the publisher reads those hours' totals from its own read
// connection and sends one message per hour. So an hour is announced at
// most once per interval however many events it gets, and what is announced
// is committed. Messages are hints (PUB/SUB may drop them): a consumer reads
// GET /api/analytics/rollups for the data.
//
// Metrics: cocktail_events_published_total{topic="usage.hour"}.
// Ownership: borrows the publisher and the registry; owns its connection and
// thread. Thread-safety: mark() from any thread; start()/stop() from the owner.
#pragma once

#include <prometheus/registry.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "cocktail/bus/publisher.h"

namespace cocktail::usage {

struct HourPublisherOptions {
  std::string db_path;
  std::chrono::milliseconds interval{1000};
  std::function<std::int64_t()> now_ms;  // wall clock for `ts`
};

class HourPublisher {
 public:
  HourPublisher(bus::Publisher& publisher, prometheus::Registry& registry, HourPublisherOptions options);
  ~HourPublisher();  // stop()
  HourPublisher(const HourPublisher&) = delete;
  HourPublisher& operator=(const HourPublisher&) = delete;

  void mark(const std::set<std::int64_t>& hours);
  void start();
  // Publishes what is marked, then joins. Idempotent.
  void stop();
  // Publishes the marked hours now (the timer thread's work); how many were sent.
  std::size_t publish_marked();

 private:
  struct State;
  void run();
  std::unique_ptr<State> state_;
};

}  // namespace cocktail::usage

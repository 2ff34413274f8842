// What CURVE costs on the event bus: a Publisher and a Subscriber (the
// library's own classes) on 127.0.0.1, anonymous and with CURVE in
// alternating rounds of the same run:
//   - throughput: catalog.change events delivered per second, sender kept
//     at most `window` events ahead of the receiver (no high-water-mark drops);
//   - latency: one event at a time, publish to handler, p50 and p99;
//   - connect: subscriber created to first event handled (TCP, the CURVE
//     handshake and ZAP check, the subscription reaching the publisher).
// Prints medians over the rounds and the CURVE / anonymous ratios.
//
//   build/bin/bus-bench [--rounds 5] [--events 50000] [--samples 2000]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cocktail/bus/curve.h"
#include "cocktail/bus/publisher.h"
#include "cocktail/bus/subscriber.h"
#include "cocktail/core/options.h"

namespace {

using namespace cocktail;
using Clock = std::chrono::steady_clock;

struct Round {
  double events_per_second = 0;
  double p50_us = 0;
  double p99_us = 0;
  double connect_ms = 0;
};

struct Keys {
  bus::CurveKeyPair server = bus::generate_key_pair();
  bus::CurveKeyPair client = bus::generate_key_pair();
};

// Counts deliveries; wakes whoever waits for a count.
class Counter {
 public:
  void add() {
    {
      std::lock_guard lock(mu_);
      ++count_;
    }
    cv_.notify_all();
  }
  std::uint64_t get() {
    std::lock_guard lock(mu_);
    return count_;
  }
  bool wait_for(std::uint64_t n, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return count_ >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::uint64_t count_ = 0;
};

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
}

Round run(bool curve, const Keys& keys, std::int64_t events, int samples, std::int64_t window) {
  bus::PublisherOptions po;
  po.endpoint = "tcp://127.0.0.1:0";
  bus::SubscriberOptions so;
  if (curve) {
    po.security.keys = keys.server;
    po.security.authorized_keys = {keys.client.public_key};
    so.security.keys = keys.client;
    so.security.server_keys = {keys.server.public_key};
  }
  bus::Publisher pub(po);
  so.endpoints = {pub.endpoint()};
  Counter counter;
  const auto begin_connect = Clock::now();
  bus::Subscriber sub(so, {[&](const bus::Event&) { counter.add(); }, {}});
  sub.start();
  Round r;
  // Connect: publish probes until one arrives.
  while (!counter.wait_for(1, std::chrono::milliseconds(1))) {
    (void)pub.publish(bus::CatalogHeartbeat{0, 0});
  }
  r.connect_ms = std::chrono::duration<double, std::milli>(Clock::now() - begin_connect).count();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // late probes drain
  const std::uint64_t base = counter.get();

  // Throughput.
  const auto begin = Clock::now();
  for (std::int64_t i = 1; i <= events; ++i) {
    while (static_cast<std::int64_t>(counter.get() - base) < i - window) {
      std::this_thread::yield();
    }
    (void)pub.publish(bus::CatalogChange{i, 1795514400123, bus::Entity::kRecipe, bus::Op::kInsert, i});
  }
  counter.wait_for(base + static_cast<std::uint64_t>(events), std::chrono::seconds(60));
  const double seconds = std::chrono::duration<double>(Clock::now() - begin).count();
  r.events_per_second = static_cast<double>(counter.get() - base) / seconds;

  // Latency, one event in flight.
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(samples));
  for (int i = 0; i < samples; ++i) {
    const auto want = counter.get() + 1;
    const auto t0 = Clock::now();
    (void)pub.publish(
        bus::CatalogChange{events + i + 1, 1795514400123, bus::Entity::kRecipe, bus::Op::kUpdate, i});
    if (!counter.wait_for(want, std::chrono::seconds(5))) {
      break;
    }
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  r.p50_us = percentile(us, 0.5);
  r.p99_us = percentile(us, 0.99);
  sub.stop();
  return r;
}

double median(std::vector<double> v) { return percentile(std::move(v), 0.5); }

}  // namespace

int main(int argc, char** argv) {
  core::Options o("bus-bench", "The event bus with and without CURVE, in alternating rounds.");
  o.add_int("--rounds", "", 5, "rounds of each mode")
      .add_int("--events", "", 50000, "events per throughput measurement")
      .add_int("--samples", "", 2000, "one-at-a-time events per latency measurement")
      .add_int("--window", "", 1000, "events the sender may be ahead of the receiver");
  o.parse_or_exit(argc, argv);
  const Keys keys;
  std::vector<Round> plain, curve;
  for (int i = 0; i < o.get_int("--rounds"); ++i) {
    // Alternate which mode goes first, so that drift in the machine's load
    // falls on both.
    for (bool c : i % 2 == 0 ? std::vector<bool>{false, true} : std::vector<bool>{true, false}) {
      const Round r = run(c, keys, o.get_int("--events"), static_cast<int>(o.get_int("--samples")),
                          o.get_int("--window"));
      (c ? curve : plain).push_back(r);
    }
  }
  auto column = [](const std::vector<Round>& rounds, double Round::*field) {
    std::vector<double> v;
    v.reserve(rounds.size());
    for (const auto& r : rounds) {
      v.push_back(r.*field);
    }
    return median(v);
  };
  std::printf("%-28s %14s %14s %8s\n", "median over rounds", "anonymous", "CURVE", "ratio");
  const struct {
    const char* name;
    double Round::*field;
  } rows[] = {{"events/s", &Round::events_per_second},
              {"latency p50 (us)", &Round::p50_us},
              {"latency p99 (us)", &Round::p99_us},
              {"connect to first event (ms)", &Round::connect_ms}};
  for (const auto& row : rows) {
    const double a = column(plain, row.field);
    const double c = column(curve, row.field);
    std::printf("%-28s %14.1f %14.1f %8.2f\n", row.name, a, c, a > 0 ? c / a : 0.0);
  }
  return 0;
}

// MetricsRegistry: the set of Prometheus metrics one process exposes.
//
// A thin layer over prometheus::Registry so that every component takes the
// registry it reports to as a constructor argument (no process-wide
// singleton: tests build one per case). Families are looked up by name;
// asking twice for the same name and help returns the same family, so
// components may register independently. Asking for a name already used by a
// metric of another type throws std::invalid_argument (a programming error).
//
// Thread-safe: families and their metrics may be created, updated and
// serialised concurrently. References returned stay valid for the lifetime of
// the registry.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace cocktail::metrics {

// Latency buckets in seconds, from 100 µs to 10 s: covers an in-memory read
// (sub-millisecond) as well as a long-poll that waits up to 10 s.
const prometheus::Histogram::BucketBoundaries& default_latency_buckets();

class MetricsRegistry {
 public:
  MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // `name` follows Prometheus conventions: base units, `_total` for counters.
  prometheus::Family<prometheus::Counter>& counter(const std::string& name, const std::string& help);
  prometheus::Family<prometheus::Gauge>& gauge(const std::string& name, const std::string& help);
  // Buckets are chosen per time series when calling histogram_in().
  prometheus::Family<prometheus::Histogram>& histogram(const std::string& name, const std::string& help);

  // One time series of a histogram family with the given labels and buckets
  // (default_latency_buckets() when `buckets` is empty).
  static prometheus::Histogram& histogram_in(prometheus::Family<prometheus::Histogram>& family,
                                             const prometheus::Labels& labels,
                                             const prometheus::Histogram::BucketBoundaries& buckets = {});

  // The whole registry in the Prometheus text exposition format (0.0.4).
  // The collect hooks run first.
  std::string serialize_text() const;

  // `hook` runs before every serialisation (on the scraping thread), to
  // bring gauges that are cheap to read but change by themselves (free disk
  // space) up to date. Returns an id for remove_collect_hook; a component
  // that registers one removes it before it is destroyed.
  std::uint64_t add_collect_hook(std::function<void()> hook);
  void remove_collect_hook(std::uint64_t id);

  // The underlying registry, for code that speaks prometheus-cpp directly.
  prometheus::Registry& prometheus_registry() { return *registry_; }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  mutable std::mutex hooks_mu_;  // held while the hooks run: removal waits for a running one
  std::map<std::uint64_t, std::function<void()>> hooks_;
  std::uint64_t next_hook_ = 1;
};

// The Content-Type of serialize_text()'s output.
inline constexpr const char* kTextContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace cocktail::metrics

// HttpMetrics: the server's Prometheus series, created once per route so that
// recording a request takes no registry lookup. Thread-safe.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cocktail/http/request.h"
#include "cocktail/metrics/registry.h"

namespace cocktail::http::detail {

class HttpMetrics {
 public:
  explicit HttpMetrics(metrics::MetricsRegistry& registry);

  // The series of one route (label value: the route pattern, or "unmatched").
  class RouteSeries {
   public:
    RouteSeries(HttpMetrics& metrics, std::string route);
    void observe(Method method, unsigned status, double seconds);
    const std::string& route() const { return route_; }

   private:
    // (method, status) -> counter, as an append-only list: readers walk it
    // without a lock; writers append under mu_. A route sees few pairs.
    struct Entry {
      Method method{};
      unsigned status = 0;
      prometheus::Counter* counter = nullptr;
      std::atomic<Entry*> next{nullptr};
    };
    HttpMetrics& metrics_;
    const std::string route_;
    prometheus::Histogram& duration_;
    std::mutex mu_;
    std::atomic<Entry*> head_{nullptr};
    std::vector<std::unique_ptr<Entry>> entries_;  // owns the list, under mu_
  };

  // Creates the series for a route; called while the server starts.
  RouteSeries* add_route(const std::string& route);

  prometheus::Family<prometheus::Counter>& requests;
  prometheus::Family<prometheus::Histogram>& duration;
  prometheus::Gauge& in_flight;
  prometheus::Gauge& connections_open;
  prometheus::Counter& connections_accepted;
  prometheus::Counter& connections_rejected;
  prometheus::Gauge& streams_open;
  prometheus::Counter& streams_dropped;

 private:
  std::mutex mu_;
  std::vector<std::unique_ptr<RouteSeries>> series_;
};

// "GET", "POST", ...; "OTHER" for methods outside the usual set (bounded labels).
const char* method_label(Method method);

}  // namespace cocktail::http::detail

#include "http_metrics.h"

namespace cocktail::http::detail {

const char* method_label(Method method) {
  switch (method) {
    case Method::get: return "GET";
    case Method::head: return "HEAD";
    case Method::post: return "POST";
    case Method::put: return "PUT";
    case Method::delete_: return "DELETE";
    case Method::patch: return "PATCH";
    case Method::options: return "OPTIONS";
    default: return "OTHER";
  }
}

HttpMetrics::HttpMetrics(metrics::MetricsRegistry& registry)
    : requests(registry.counter("cocktail_http_requests_total",
                                "HTTP requests served, by route, method and status")),
      duration(registry.histogram("cocktail_http_request_duration_seconds",
                                  "HTTP request latency from the end of the request header to the last "
                                  "byte of the response, by route")),
      in_flight(registry.gauge("cocktail_http_requests_in_flight", "HTTP requests being handled").Add({})),
      connections_open(registry.gauge("cocktail_http_connections_open", "Open HTTP connections").Add({})),
      connections_accepted(
          registry.counter("cocktail_http_connections_accepted_total", "HTTP connections accepted").Add({})),
      connections_rejected(registry
                               .counter("cocktail_http_connections_rejected_total",
                                        "HTTP connections closed at once because max_connections was reached")
                               .Add({})),
      streams_open(registry.gauge("cocktail_http_streams_open", "Open server-sent-event streams").Add({})),
      streams_dropped(registry
                          .counter("cocktail_http_streams_dropped_total",
                                   "Event streams closed because the client read too slowly")
                          .Add({})) {}

HttpMetrics::RouteSeries* HttpMetrics::add_route(const std::string& route) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& s : series_) {
    if (s->route() == route) {
      return s.get();
    }
  }
  series_.push_back(std::make_unique<RouteSeries>(*this, route));
  return series_.back().get();
}

HttpMetrics::RouteSeries::RouteSeries(HttpMetrics& metrics, std::string route)
    : metrics_(metrics),
      route_(std::move(route)),
      duration_(metrics::MetricsRegistry::histogram_in(metrics.duration, {{"route", route_}})) {}

void HttpMetrics::RouteSeries::observe(Method method, unsigned status, double seconds) {
  duration_.Observe(seconds);
  auto find = [&]() -> prometheus::Counter* {
    for (Entry* e = head_.load(std::memory_order_acquire); e != nullptr;
         e = e->next.load(std::memory_order_acquire)) {
      if (e->method == method && e->status == status) {
        return e->counter;
      }
    }
    return nullptr;
  };
  prometheus::Counter* counter = find();
  if (counter == nullptr) {
    std::lock_guard<std::mutex> lock(mu_);
    counter = find();
    if (counter == nullptr) {
      auto entry = std::make_unique<Entry>();
      entry->method = method;
      entry->status = status;
      entry->counter = &metrics_.requests.Add(
          {{"route", route_}, {"method", method_label(method)}, {"status", std::to_string(status)}});
      entry->next.store(head_.load(std::memory_order_relaxed), std::memory_order_relaxed);
      counter = entry->counter;
      head_.store(entry.get(), std::memory_order_release);
      entries_.push_back(std::move(entry));
    }
  }
  counter->Increment();
}

}  // namespace cocktail::http::detail

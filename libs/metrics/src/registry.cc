#include "cocktail/metrics/registry.h"

#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include "cocktail/core/log.h"

namespace cocktail::metrics {

const prometheus::Histogram::BucketBoundaries& default_latency_buckets() {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  return kBuckets;
}

MetricsRegistry::MetricsRegistry()
    : registry_(std::make_shared<prometheus::Registry>(prometheus::Registry::InsertBehavior::Merge)) {}

prometheus::Family<prometheus::Counter>& MetricsRegistry::counter(const std::string& name,
                                                                  const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(*registry_);
}

prometheus::Family<prometheus::Gauge>& MetricsRegistry::gauge(const std::string& name,
                                                              const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(*registry_);
}

prometheus::Family<prometheus::Histogram>& MetricsRegistry::histogram(const std::string& name,
                                                                      const std::string& help) {
  return prometheus::BuildHistogram().Name(name).Help(help).Register(*registry_);
}

prometheus::Histogram& MetricsRegistry::histogram_in(prometheus::Family<prometheus::Histogram>& family,
                                                     const prometheus::Labels& labels,
                                                     const prometheus::Histogram::BucketBoundaries& buckets) {
  return family.Add(labels, buckets.empty() ? default_latency_buckets() : buckets);
}

namespace {

// The process-wide count of log lines the rate limit left out (core/log.h),
// one series per event name. It lives in the logger, not in a registry, so it
// is read at each scrape: every service exposes it without wiring.
prometheus::MetricFamily suppressed_log_lines() {
  prometheus::MetricFamily family;
  family.name = "cocktail_log_suppressed_total";
  family.help = "Log lines left out by the per-event rate limit of repeated warnings and errors";
  family.type = prometheus::MetricType::Counter;
  for (const auto& [event, count] : core::log::suppressed_by_event()) {
    prometheus::ClientMetric metric;
    metric.label.push_back({"event", event});
    metric.counter.value = static_cast<double>(count);
    family.metric.push_back(std::move(metric));
  }
  return family;
}

}  // namespace

std::uint64_t MetricsRegistry::add_collect_hook(std::function<void()> hook) {
  std::lock_guard<std::mutex> lock(hooks_mu_);
  hooks_.emplace(next_hook_, std::move(hook));
  return next_hook_++;
}

void MetricsRegistry::remove_collect_hook(std::uint64_t id) {
  std::lock_guard<std::mutex> lock(hooks_mu_);
  hooks_.erase(id);
}

std::string MetricsRegistry::serialize_text() const {
  {
    std::lock_guard<std::mutex> lock(hooks_mu_);
    for (const auto& [id, hook] : hooks_) {
      hook();
    }
  }
  auto families = registry_->Collect();
  families.push_back(suppressed_log_lines());
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace cocktail::metrics

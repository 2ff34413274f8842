#include "cocktail/metrics/registry.h"

#include <prometheus/text_serializer.h>

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

std::string MetricsRegistry::serialize_text() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace cocktail::metrics

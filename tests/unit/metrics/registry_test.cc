#include "cocktail/metrics/registry.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace cocktail::metrics {
namespace {

TEST(MetricsRegistry, SerializesCountersGaugesAndHistogramsInTextFormat) {
  MetricsRegistry registry;
  registry.counter("cocktail_events_published_total", "Messages sent")
      .Add({{"topic", "catalog.change"}})
      .Increment(3);
  registry.gauge("cocktail_catalog_seq", "Latest seq").Add({}).Set(42);
  auto& h = MetricsRegistry::histogram_in(registry.histogram("cocktail_regen_duration_seconds", "Stage time"),
                                          {{"stage", "load"}});
  h.Observe(0.003);
  h.Observe(20);

  const std::string text = registry.serialize_text();
  EXPECT_NE(text.find("# TYPE cocktail_events_published_total counter"), std::string::npos) << text;
  EXPECT_NE(text.find(R"(cocktail_events_published_total{topic="catalog.change"} 3)"), std::string::npos)
      << text;
  EXPECT_NE(text.find("# TYPE cocktail_catalog_seq gauge"), std::string::npos);
  EXPECT_NE(text.find("cocktail_catalog_seq 42"), std::string::npos) << text;
  EXPECT_NE(text.find(R"(cocktail_regen_duration_seconds_count{stage="load"} 2)"), std::string::npos) << text;
  // 0.003 s falls in the 5 ms bucket; 20 s only in +Inf.
  EXPECT_NE(text.find(R"(cocktail_regen_duration_seconds_bucket{stage="load",le="0.005"} 1)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(cocktail_regen_duration_seconds_bucket{stage="load",le="10"} 1)"),
            std::string::npos);
  EXPECT_NE(text.find(R"(cocktail_regen_duration_seconds_bucket{stage="load",le="+Inf"} 2)"),
            std::string::npos);
}

TEST(MetricsRegistry, SameNameReturnsSameFamily) {
  MetricsRegistry registry;
  auto& a = registry.counter("x_total", "help");
  auto& b = registry.counter("x_total", "help");
  EXPECT_EQ(&a, &b);
  a.Add({}).Increment();
  b.Add({}).Increment();
  EXPECT_NE(registry.serialize_text().find("x_total 2"), std::string::npos);
}

TEST(MetricsRegistry, NameUsedByAnotherTypeThrows) {
  MetricsRegistry registry;
  registry.counter("y_total", "help");
  EXPECT_THROW(registry.gauge("y_total", "help"), std::invalid_argument);
}

TEST(MetricsRegistry, RegistriesAreIndependent) {
  MetricsRegistry a;
  MetricsRegistry b;
  a.counter("only_in_a_total", "help").Add({}).Increment();
  EXPECT_EQ(b.serialize_text().find("only_in_a_total"), std::string::npos);
}

TEST(MetricsRegistry, DefaultLatencyBucketsAreIncreasingSeconds) {
  const auto& b = default_latency_buckets();
  ASSERT_GE(b.size(), 10u);
  EXPECT_LE(b.front(), 0.001);
  EXPECT_GE(b.back(), 10.0);
  for (std::size_t i = 1; i < b.size(); ++i) {
    EXPECT_LT(b[i - 1], b[i]);
  }
}

TEST(MetricsRegistry, ConcurrentUpdatesAreCounted) {
  MetricsRegistry registry;
  auto& family = registry.counter("hits_total", "help");
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        family.Add({{"k", "v"}}).Increment();
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_NE(registry.serialize_text().find(R"(hits_total{k="v"} 4000)"), std::string::npos);
}

}  // namespace
}  // namespace cocktail::metrics

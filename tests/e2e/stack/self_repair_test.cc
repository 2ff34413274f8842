// Self-repair over the real processes: analytics-api started on a CURRENT
// whose generation holds a corrupt file serves the newest generation that
// verifies (every route answers, /health says "degraded" and why), asks
// analytics-regen over its analytics.repair publisher, and a fresh
// generation is written and served within seconds, with no catalog change.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <filesystem>
#include <string>

#include "cocktail/testing/wait.h"
#include "stack.h"

namespace cocktail::e2e {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

rapidjson::Document json(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.c_str(), body.size());
  return d;
}

std::int64_t current_generation(const Stack& stack) {
  return std::stoll(testing::read_file(stack.analytics_path() + "/v1/CURRENT"));
}

double sample(const std::string& text, const std::string& series) {
  const auto at = text.find("\n" + series + " ");
  return at == std::string::npos ? -1 : std::stod(text.substr(at + series.size() + 2));
}

// The routes that have no live fallback: served from a generation or 503.
const char* const kSnapshotRoutes[] = {
    "/api/v1/analytics/ingredient-usage-all",
    "/api/v1/analytics/ingredient-tree",
    "/api/v1/analytics/cocktail-space",
    "/api/v1/analytics/cocktail-space-em",
    "/api/v1/analytics/recipe-similar?recipe_id=1",
    "/api/v1/analytics/recipe-distances-em/download",
};

TEST(SelfRepair, StartedOnACorruptCurrentItServesWhatVerifiesAndGetsAFreshGenerationWithoutACatalogChange) {
  Stack stack;
  ASSERT_TRUE(stack.start());
  auto api = stack.client(Service::kAnalyticsApi);
  // Two generations with maps: the start-up's, and a manual run's.
  auto regen = stack.client(Service::kAnalyticsRegen, 60s);
  ASSERT_TRUE(testing::wait_until([&] { return api.get(kSnapshotRoutes[3]).status == 200; }, 60s));
  const auto before = regen.post("/api/v1/regenerate?wait=true&timeout_ms=20000", "",
                                 {{"Authorization", "Bearer " + stack.token()}});
  ASSERT_EQ(before.status, 200) << before.body;
  ASSERT_TRUE(testing::wait_until(
      [&] {
        const auto h = json(regen.get("/health").body);
        return h.IsObject() && h["slow"]["seq"].GetInt64() >= stack.seeded_seq() && !h["running"].GetBool() &&
               !h["slow"]["running"].GetBool() && !h["slow"]["pending"].GetBool();
      },
      60s));
  const std::int64_t bad = current_generation(stack);

  // Both readers down; the newest generation's own recipe-similar.json
  // (written by its slow lane: no older generation shares it) goes bad.
  stack.kill(Service::kAnalyticsApi);
  stack.kill(Service::kAnalyticsRegen);
  const std::string file =
      stack.analytics_path() + "/v1/generations/" + std::to_string(bad) + "/recipe-similar.json";
  std::string bytes = testing::read_file(file);
  ASSERT_GT(bytes.size(), 100u);
  bytes[bytes.size() / 2] ^= 0x01;
  testing::write_file(file, bytes);

  // analytics-api alone: the newest generation that verifies, every route 200.
  ASSERT_TRUE(stack.start(Service::kAnalyticsApi));
  auto health = json(api.get("/health").body);
  ASSERT_TRUE(health.IsObject());
  EXPECT_STREQ(health["status"].GetString(), "degraded");
  const auto& fallback = health["details"]["fallback_generation"];
  ASSERT_TRUE(fallback.IsObject()) << api.get("/health").body;
  EXPECT_EQ(fallback["current_generation"].GetInt64(), bad);
  EXPECT_LT(fallback["served_generation"].GetInt64(), bad);
  EXPECT_NE(std::string(fallback["file"].GetString()).find("recipe-similar.json"), std::string::npos);
  for (const char* route : kSnapshotRoutes) {
    const auto r = api.get(route);
    EXPECT_EQ(r.status, 200) << route << ": " << r.body;
  }
  std::string metrics = api.get("/metrics").body;
  EXPECT_EQ(sample(metrics, "cocktail_snapshot_fallback"), 1);
  EXPECT_GE(sample(metrics, "cocktail_snapshot_repair_requests_total"), 1);

  // analytics-regen back (no scrub in this stack): analytics-api's request
  // reaches it, it confirms the file is bad, and writes a fresh generation.
  ASSERT_TRUE(stack.start(Service::kAnalyticsRegen));
  ASSERT_TRUE(testing::wait_until(
      [&] {
        const auto h = json(api.get("/health").body);
        return h.IsObject() && std::string(h["status"].GetString()) == "ok" &&
               h["details"]["generation"].GetInt64() > bad;
      },
      30s))
      << api.get("/health").body << "\n"
      << stack.logs();
  health = json(api.get("/health").body);
  EXPECT_TRUE(health["details"]["fallback_generation"].IsNull());
  EXPECT_EQ(health["details"]["catalog_seq"].GetInt64(), stack.seeded_seq()) << "no catalog change";
  for (const char* route : kSnapshotRoutes) {
    EXPECT_EQ(api.get(route).status, 200) << route;
  }
  // The run is recorded once it returns, after its announcement (readers
  // first) and retention: wait for it.
  ASSERT_TRUE(testing::wait_until(
      [&] {
        metrics = regen.get("/metrics").body;
        return sample(metrics, R"(cocktail_regen_repairs_total{result="success"})") >= 1;
      },
      10s))
      << metrics;
  EXPECT_EQ(sample(metrics, R"(cocktail_regen_corrupt_files_total{found_by="reader"})"), 1);
  EXPECT_EQ(sample(metrics, R"(cocktail_regen_repairs_total{result="success"})"), 1);
  EXPECT_EQ(sample(metrics, R"(cocktail_regen_repair_requests_total{result="confirmed"})"), 1);
  EXPECT_EQ(sample(api.get("/metrics").body, "cocktail_snapshot_fallback"), 0);
  // Both publish the analytics file system's gauges.
  for (const auto& text : {metrics, api.get("/metrics").body}) {
    const double used = sample(text, "cocktail_analytics_filesystem_used_ratio");
    EXPECT_GT(used, 0.0);
    EXPECT_LT(used, 1.0);
    EXPECT_GT(sample(text, "cocktail_analytics_filesystem_free_bytes"), 0);
  }
}

}  // namespace
}  // namespace cocktail::e2e

// Every example in proto/examples/ decodes with the C++ decoder (and survives
// an encode/decode round trip); every example in proto/examples/invalid/ is
// rejected with a reason. The same files are checked against the JSON Schemas
// by validate_examples.py, so the schemas and the decoder agree.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cocktail/bus/events.h"

namespace cocktail::bus {
namespace {

namespace fs = std::filesystem;

const fs::path kExamples = fs::path(COCKTAIL_SOURCE_DIR) / "proto" / "examples";

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// The topic an example belongs to, from its file name ("<topic>[.<variant>].json").
// Manifests become analytics.snapshot bodies: the event is the manifest plus v.
struct Example {
  fs::path path;
  std::string topic;
  std::string body;
};

std::vector<Example> examples_in(const fs::path& dir) {
  std::vector<Example> out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (!entry.is_regular_file() || entry.path().extension() != ".json") {
      continue;
    }
    const std::string stem = entry.path().stem().string();
    std::string body = read(entry.path());
    std::string topic;
    for (std::string_view t : {kCatalogChangeTopic, kCatalogHeartbeatTopic, kAnalyticsSnapshotTopic,
                               kAnalyticsHeartbeatTopic, kUsageHourTopic, kAnalyticsRepairTopic}) {
      if (stem == t || stem.starts_with(std::string(t) + ".")) {
        topic = t;
      }
    }
    if (stem == "manifest" || stem.starts_with("manifest.")) {
      topic = kAnalyticsSnapshotTopic;
      body.insert(body.find('{') + 1, "\"v\": 1,");
    }
    EXPECT_FALSE(topic.empty()) << entry.path() << " names no topic";
    out.push_back({entry.path(), topic, body});
  }
  return out;
}

TEST(ProtoExamples, EveryValidExampleDecodesAndRoundTrips) {
  auto examples = examples_in(kExamples);
  ASSERT_GE(examples.size(), 8u);
  for (const auto& ex : examples) {
    auto event = decode(ex.topic, ex.body);
    ASSERT_TRUE(event.ok()) << ex.path << ": " << event.error().message;
    EXPECT_EQ(topic_of(*event), ex.topic) << ex.path;
    auto again = decode(ex.topic, encode_body(*event));
    ASSERT_TRUE(again.ok()) << ex.path << ": " << again.error().message;
    EXPECT_EQ(*again, *event) << ex.path;
  }
}

TEST(ProtoExamples, EveryInvalidExampleIsRejectedWithAReason) {
  auto examples = examples_in(kExamples / "invalid");
  ASSERT_GE(examples.size(), 10u);
  for (const auto& ex : examples) {
    auto event = decode(ex.topic, ex.body);
    EXPECT_FALSE(event.ok()) << ex.path << " was accepted";
    if (!event.ok()) {
      EXPECT_FALSE(event.error().message.empty()) << ex.path;
      EXPECT_EQ(event.error().code, core::ErrorCode::kInvalidArgument) << ex.path;
    }
  }
}

TEST(ProtoExamples, CatalogChangeExampleHasTheDocumentedValues) {
  auto event = decode(kCatalogChangeTopic, read(kExamples / "catalog.change.json"));
  ASSERT_TRUE(event.ok()) << event.error().message;
  const auto& change = std::get<CatalogChange>(*event);
  EXPECT_EQ(change.seq, 4812);
  EXPECT_EQ(change.entity, Entity::kRecipe);
  EXPECT_EQ(change.op, Op::kInsert);
  EXPECT_EQ(change.id, 1357);
  EXPECT_EQ(format_utc_timestamp(change.ts_ms), "2026-11-24T10:00:00.123Z");
}

}  // namespace
}  // namespace cocktail::bus

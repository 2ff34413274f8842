// Encoding and decoding of the bus events, without sockets.
#include "cocktail/bus/events.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace cocktail::bus {
namespace {

constexpr std::int64_t kTs = 1795514400123;  // 2026-11-24T10:00:00.123Z

std::string sha(char c) { return std::string(64, c); }

TEST(Events, EncodesTheDocumentedBody) {
  CatalogChange change{4812, kTs, Entity::kRecipeIngredient, Op::kDelete, 9};
  EXPECT_EQ(
      encode_body(change),
      R"({"v":1,"seq":4812,"ts":"2026-11-24T10:00:00.123Z","entity":"recipe_ingredient","op":"delete","id":9})");
  EXPECT_EQ(encode_body(CatalogHeartbeat{0, kTs}), R"({"v":1,"seq":0,"ts":"2026-11-24T10:00:00.123Z"})");
  EXPECT_EQ(encode_body(AnalyticsHeartbeat{3, 77, kTs}),
            R"({"v":1,"generation":3,"catalog_seq":77,"ts":"2026-11-24T10:00:00.123Z"})");
  AnalyticsSnapshot snapshot{5, 77, kTs, {{"ingredient-usage", {sha('a'), 12}}}};
  EXPECT_EQ(encode_body(snapshot),
            R"({"v":1,"generation":5,"catalog_seq":77,"generated_at":"2026-11-24T10:00:00.123Z",)"
            R"("files":{"ingredient-usage":{"sha256":")" +
                sha('a') + R"(","bytes":12}}})");
}

TEST(Events, EveryTypeRoundTrips) {
  const std::vector<Event> events = {
      CatalogChange{1, kTs, Entity::kIngredient, Op::kInsert, 1},
      CatalogChange{INT64_MAX, kTs, Entity::kUnit, Op::kUpdate, -5},
      CatalogChange{2, 0, Entity::kRecipe, Op::kDelete, 0},
      CatalogHeartbeat{0, kTs},
      AnalyticsSnapshot{
          1, 0, kTs, {{"recipe-similar", {sha('0'), 0}}, {"recipe-distances-em.npy", {sha('f'), 1 << 30}}}},
      AnalyticsSnapshot{
          9, 40, kTs, {{"ingredient-usage", {sha('1'), 5}}, {"cocktail-space", {sha('2'), 6, 31}}}},
      AnalyticsHeartbeat{0, 0, kTs},
  };
  for (const auto& event : events) {
    auto decoded = decode(topic_of(event), encode_body(event));
    ASSERT_TRUE(decoded.ok()) << decoded.error().message;
    EXPECT_EQ(*decoded, event) << encode_body(event);
  }
}

TEST(Events, TopicsAndNames) {
  EXPECT_EQ(topic_of(CatalogChange{}), "catalog.change");
  EXPECT_EQ(topic_of(CatalogHeartbeat{}), "catalog.heartbeat");
  EXPECT_EQ(topic_of(AnalyticsSnapshot{}), "analytics.snapshot");
  EXPECT_EQ(topic_of(AnalyticsHeartbeat{}), "analytics.heartbeat");
  for (auto e : {Entity::kIngredient, Entity::kUnit, Entity::kRecipe, Entity::kRecipeIngredient}) {
    EXPECT_EQ(parse_entity(entity_name(e)), e);
  }
  for (auto o : {Op::kInsert, Op::kUpdate, Op::kDelete}) {
    EXPECT_EQ(parse_op(op_name(o)), o);
  }
  EXPECT_FALSE(parse_entity("Recipe"));
  EXPECT_FALSE(parse_op(""));
}

TEST(Events, EncodingAnEventThatBreaksTheContractThrows) {
  EXPECT_THROW(encode_body(CatalogChange{0, kTs, Entity::kRecipe, Op::kInsert, 1}), std::invalid_argument);
  EXPECT_THROW(encode_body(CatalogHeartbeat{-1, kTs}), std::invalid_argument);
  EXPECT_THROW(encode_body(CatalogHeartbeat{1, -1}), std::invalid_argument);
  EXPECT_THROW(encode_body(AnalyticsSnapshot{1, 0, kTs, {}}), std::invalid_argument);
  EXPECT_THROW(encode_body(AnalyticsSnapshot{1, 0, kTs, {{"x", {"ABC", 1}}}}), std::invalid_argument);
  EXPECT_THROW(encode_body(AnalyticsSnapshot{1, 0, kTs, {{"x", {sha('a'), 1, -1}}}}), std::invalid_argument);
  EXPECT_THROW(encode_body(AnalyticsSnapshot{1, 0, kTs, {{"a/b", {sha('a'), 1}}}}), std::invalid_argument);
}

struct Rejection {
  std::string topic;
  std::string body;
  std::string field;     // expected Error::field
  std::string contains;  // expected in Error::message
};

TEST(Events, MalformedBodiesAreErrorsNamingTheProblem) {
  const std::string ok_change_tail =
      R"("ts":"2026-11-24T10:00:00.123Z","entity":"recipe","op":"insert","id":1})";
  const std::vector<Rejection> cases = {
      {"catalog.change", "", "", "not valid JSON"},
      {"catalog.change", "{\"v\":1,", "", "not valid JSON"},
      {"catalog.change", std::string("\xff\xfe\x00\x01garbage", 11), "", "not valid JSON"},
      {"catalog.change", "[1,2]", "", "must be a JSON object"},
      {"catalog.change", "null", "", "must be a JSON object"},
      {"catalog.change", R"({"seq":1,)" + ok_change_tail, "v", "missing field 'v'"},
      {"catalog.change", R"({"v":"1","seq":1,)" + ok_change_tail, "v", "must be an integer"},
      {"catalog.change", R"({"v":2,"seq":1,)" + ok_change_tail, "v", "unsupported version 2"},
      {"catalog.change", R"({"v":1,"seq":1.5,)" + ok_change_tail, "seq", "must be an integer"},
      {"catalog.change", R"({"v":1,"seq":true,)" + ok_change_tail, "seq", "must be an integer"},
      {"catalog.change", R"({"v":1,"seq":0,)" + ok_change_tail, "seq", "must be >= 1"},
      {"catalog.change", R"({"v":1,"seq":9223372036854775808,)" + ok_change_tail, "seq", "64-bit"},
      {"catalog.change",
       R"({"v":1,"seq":1,"ts":"2026-11-24T10:00:00.123Z","entity":"tag","op":"insert","id":1})", "entity",
       "unknown entity 'tag'"},
      {"catalog.change",
       R"({"v":1,"seq":1,"ts":"2026-11-24T10:00:00.123Z","entity":"recipe","op":"merge","id":1})", "op",
       "unknown op 'merge'"},
      {"catalog.change", R"({"v":1,"seq":1,"ts":"2026-11-24T10:00:00.123Z","entity":7,"op":"insert","id":1})",
       "entity", "must be a string"},
      {"catalog.change", R"({"v":1,"seq":1,"ts":"2026-11-24T10:00:00.123Z","entity":"recipe","op":"insert"})",
       "id", "missing field 'id'"},
      {"catalog.heartbeat", R"({"v":1,"seq":3,"ts":1795514400123})", "ts", "must be a string"},
      {"catalog.heartbeat", R"({"v":1,"seq":3,"ts":"2026-02-30T10:00:00Z"})", "ts", "ISO 8601"},
      {"analytics.heartbeat", R"({"v":1,"generation":-1,"catalog_seq":0,"ts":"2026-11-24T10:00:00Z"})",
       "generation", ">= 0"},
      {"analytics.snapshot",
       R"({"v":1,"generation":1,"catalog_seq":0,"generated_at":"2026-11-24T10:00:00Z","files":[]})", "files",
       "must be an object"},
      {"analytics.snapshot",
       R"({"v":1,"generation":1,"catalog_seq":0,"generated_at":"2026-11-24T10:00:00Z","files":{"a":{"bytes":1}}})",
       "files.a.sha256", "missing field 'files.a.sha256'"},
      {"analytics.snapshot",
       R"({"v":1,"generation":1,"catalog_seq":0,"generated_at":"2026-11-24T10:00:00Z","files":{"a":{"sha256":")" +
           sha('a') + R"(","bytes":1},"a":{"sha256":")" + sha('b') + R"(","bytes":2}}})",
       "files", "appears twice"},
      {"catalog.changes", R"({"v":1})", "topic", "unknown topic 'catalog.changes'"},
      {"", R"({"v":1})", "topic", "unknown topic"},
  };
  for (const auto& c : cases) {
    auto result = decode(c.topic, c.body);
    ASSERT_FALSE(result.ok()) << c.topic << " " << c.body;
    EXPECT_EQ(result.error().code, core::ErrorCode::kInvalidArgument);
    EXPECT_EQ(result.error().field, c.field) << c.body;
    EXPECT_NE(result.error().message.find(c.contains), std::string::npos)
        << c.body << " -> " << result.error().message << " (expected '" << c.contains << "')";
  }
}

// A view of no bytes at all (null data) is refused before the parser sees it.
TEST(Events, AnEmptyViewIsNotJson) {
  auto result = decode("analytics.snapshot", std::string_view());
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message.find("not valid JSON"), std::string::npos);
}

TEST(Events, UnknownFieldsAreIgnored) {
  auto result = decode("catalog.heartbeat",
                       R"({"extra":{"nested":[1,2]},"v":1,"seq":3,"ts":"2026-11-24T10:00:00Z","z":null})");
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(std::get<CatalogHeartbeat>(*result).seq, 3);
}

TEST(Timestamps, ParseAndFormat) {
  EXPECT_EQ(parse_utc_timestamp("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_utc_timestamp("2026-11-24T10:00:00.123Z"), kTs);
  EXPECT_EQ(parse_utc_timestamp("2026-11-24T10:00:00.1Z"), kTs - 23);
  EXPECT_EQ(parse_utc_timestamp("2026-11-24T10:00:00.123999999Z"), kTs);  // truncated, not rounded
  EXPECT_EQ(parse_utc_timestamp("2024-02-29T00:00:00Z"), 1709164800000);
  EXPECT_EQ(parse_utc_timestamp("9999-12-31T23:59:59.999Z"), 253402300799999);
  for (const char* bad :
       {"", "2026-11-24", "2026-11-24T10:00:00", "2026-11-24T10:00:00.Z", "2026-11-24 10:00:00Z",
        "2026-11-24T10:00:00+00:00", "2026-11-24T24:00:00Z", "2026-11-24T10:60:00Z", "2026-11-24T10:00:60Z",
        "2025-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "1969-12-31T23:59:59Z",
        "2026-11-24T10:00:00.1234567890Z", "2026-11-24t10:00:00z", "+026-11-24T10:00:00Z"}) {
    EXPECT_FALSE(parse_utc_timestamp(bad)) << bad;
  }
  for (std::int64_t ms : {std::int64_t{0}, kTs, std::int64_t{1709164800000}, std::int64_t{253402300799999}}) {
    EXPECT_EQ(parse_utc_timestamp(format_utc_timestamp(ms)), ms);
  }
  EXPECT_EQ(format_utc_timestamp(kTs), "2026-11-24T10:00:00.123Z");
}

}  // namespace
}  // namespace cocktail::bus

// decode_track / decode_backfill: what is accepted, what each refusal names,
// and that unknown fields end up in properties.
#include "cocktail/usage/event_decoding.h"

#include <gtest/gtest.h>

#include <string>

#include "cocktail/bus/events.h"

namespace cocktail::usage {
namespace {

const std::int64_t kNow = *bus::parse_utc_timestamp("2026-11-18T08:00:00.000Z");

std::string error_field(std::string_view body, const DecodeLimits& limits = {}) {
  auto r = decode_track(body, kNow, limits);
  EXPECT_FALSE(r.ok()) << body;
  if (r.ok()) {
    return "(accepted)";
  }
  EXPECT_EQ(r.error().code, core::ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message.find(r.error().field), std::string::npos) << r.error().message;
  return r.error().field;
}

TEST(UsageDecoding, OneEventWithEveryField) {
  auto r = decode_track(R"({"event_type":"tool_used","session_id":"session_1","user_id":"u1",
      "tool_name":"Start/Sit","action":"compare","properties":{"risk_mode":"protect","n":[1,2]},
      "demo_mode":false,"timestamp":"2026-11-18T07:00:00.250Z","event_id":"client-1"})",
                        kNow, {});
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->events.size(), 1u);
  EXPECT_FALSE(r->is_array);
  const UsageEvent& e = r->events[0];
  EXPECT_EQ(e.id, "client-1");
  EXPECT_EQ(e.event_type, "tool_used");
  EXPECT_EQ(e.session_id, "session_1");
  EXPECT_EQ(e.user_id, "u1");
  EXPECT_EQ(e.tool_name, "Start/Sit");
  EXPECT_EQ(e.action, "compare");
  EXPECT_EQ(e.properties, R"({"risk_mode":"protect","n":[1,2]})");
  EXPECT_EQ(e.distribution_value, "protect");
  EXPECT_FALSE(e.demo_mode);
  EXPECT_EQ(e.timestamp_ms, *bus::parse_utc_timestamp("2026-11-18T07:00:00.250Z"));
  EXPECT_EQ(e.received_at_ms, kNow);
}

TEST(UsageDecoding, DefaultsAndNulls) {
  auto r = decode_track(R"({"event_type":"page_view","session_id":"s","user_id":null,"properties":null,
      "demo_mode":null,"timestamp":null,"tool_name":null})",
                        kNow, {});
  ASSERT_TRUE(r.ok()) << r.error().message;
  const UsageEvent& e = r->events[0];
  EXPECT_TRUE(e.id.empty());  // the route generates one
  EXPECT_TRUE(e.demo_mode);
  EXPECT_EQ(e.timestamp_ms, kNow);
  EXPECT_FALSE(e.user_id || e.tool_name || e.action || e.properties || e.distribution_value);
}

TEST(UsageDecoding, UnknownTopLevelFieldsAreKeptInProperties) {
  auto r = decode_track(R"({"event_type":"t","session_id":"s","page":"/tools","risk_mode":"aggressive",
      "properties":{"a":1}})",
                        kNow, {});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->events[0].properties, R"({"a":1,"page":"/tools","risk_mode":"aggressive"})");
  EXPECT_EQ(r->events[0].distribution_value, "aggressive");
  // ...but not when they collide with a key of properties.
  EXPECT_EQ(error_field(R"({"event_type":"t","session_id":"s","a":2,"properties":{"a":1}})"), "a");
}

TEST(UsageDecoding, TheDistributionPropertyIsConfigurableAndOnlyShortStringsCount) {
  DecodeLimits limits;
  limits.distribution_property = "mode";
  auto r = decode_track(R"([{"event_type":"t","session_id":"s","properties":{"mode":"x","risk_mode":"y"}},
      {"event_type":"t","session_id":"s","properties":{"mode":5}},
      {"event_type":"t","session_id":"s","properties":{"mode":""}}])",
                        kNow, limits);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->events[0].distribution_value, "x");
  EXPECT_FALSE(r->events[1].distribution_value);
  EXPECT_FALSE(r->events[2].distribution_value);
  EXPECT_EQ(distribution_value(*r->events[0].properties, "mode"), "x");
  EXPECT_FALSE(distribution_value(*r->events[1].properties, "mode"));
}

TEST(UsageDecoding, ArraysUpToTheLimit) {
  DecodeLimits limits;
  limits.max_events = 3;
  auto r = decode_track(R"([{"event_type":"a","session_id":"s"},{"event_type":"b","session_id":"s"}])", kNow,
                        limits);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->is_array);
  EXPECT_EQ(r->events.size(), 2u);
  EXPECT_EQ(error_field("[]", limits), "body");
  EXPECT_EQ(error_field(R"([{"event_type":"a","session_id":"s"},{"event_type":"a","session_id":"s"},
      {"event_type":"a","session_id":"s"},{"event_type":"a","session_id":"s"}])",
                        limits),
            "body");
}

TEST(UsageDecoding, EveryRefusalNamesItsField) {
  EXPECT_EQ(error_field(R"({"event_type":"t"})"), "session_id");
  EXPECT_EQ(error_field(R"({"session_id":"s"})"), "event_type");
  EXPECT_EQ(error_field(R"({"event_type":"t","session_id":7})"), "session_id");
  EXPECT_EQ(error_field(R"({"event_type":"t","session_id":""})"), "session_id");
  EXPECT_EQ(error_field(R"({"event_type":"t","session_id":null})"), "session_id");
  EXPECT_EQ(error_field(R"({"event_type":"t","session_id":"a\u0001b"})"), "session_id");
  EXPECT_EQ(error_field(R"({"event_type":")" + std::string(65, 'x') + R"(","session_id":"s"})"),
            "event_type");
  EXPECT_EQ(error_field(R"({"event_type":"t","session_id":"s","user_id":1})"), "user_id");
  EXPECT_EQ(error_field(R"({"event_type":"t","session_id":"s","tool_name":["x"]})"), "tool_name");
  EXPECT_EQ(error_field(R"({"event_type":"t","session_id":"s","action":false})"), "action");
  EXPECT_EQ(error_field(R"({"event_type":"t","session_id":"s","demo_mode":"yes"})"), "demo_mode");
  EXPECT_EQ(error_field(R"({"event_type":"t","session_id":"s","properties":[1]})"), "properties");
  EXPECT_EQ(error_field(R"({"event_type":"t","session_id":"s","timestamp":1795000000000})"), "timestamp");
  EXPECT_EQ(error_field(R"({"event_type":"t","session_id":"s","timestamp":"2026-11-18 07:00"})"),
            "timestamp");
  EXPECT_EQ(error_field(R"({"event_type":"t","session_id":"s","event_id":"a b"})"), "event_id");
  EXPECT_EQ(error_field(R"({"event_type":"t","session_id":"s","session_id":"s"})"), "session_id");
  EXPECT_EQ(error_field(R"([{"event_type":"t","session_id":"s"},{"event_type":"t"}])"), "[1].session_id");
  EXPECT_EQ(error_field(R"([{"event_type":"t","session_id":"s"},7])"), "[1]");
  EXPECT_EQ(error_field("\"just a string\""), "body");
  EXPECT_EQ(error_field("{\"event_type\":"), "body");
  EXPECT_EQ(error_field(""), "body");
}

TEST(UsageDecoding, InvalidUtf8IsRefused) {
  const std::string body = "{\"event_type\":\"t\",\"session_id\":\"s\xff\xfe\"}";
  auto r = decode_track(body, kNow, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().field, "body");
  EXPECT_NE(r.error().message.find("UTF-8"), std::string::npos);
}

TEST(UsageDecoding, TimestampsTooFarAheadOrOlderThanRetentionAreRefused) {
  DecodeLimits limits;
  limits.max_future_ms = 60'000;
  limits.max_age_ms = 24 * kHourMs;
  auto body = [](const char* ts) {
    return std::string(R"({"event_type":"t","session_id":"s","timestamp":")") + ts + "\"}";
  };
  auto ok = decode_track(body("2026-11-18T08:00:59Z"), kNow, limits);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  ok = decode_track(body("2026-11-17T08:00:01Z"), kNow, limits);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(error_field(body("2026-11-18T08:01:01Z"), limits), "timestamp");
  EXPECT_EQ(error_field(body("2099-01-01T00:00:00Z"), limits), "timestamp");
  EXPECT_EQ(error_field(body("2026-11-17T07:59:59Z"), limits), "timestamp");
}

TEST(UsageDecoding, OversizedPropertiesAreRefusedUnknownFieldsIncluded) {
  DecodeLimits limits;
  limits.max_properties_bytes = 100;
  const std::string big(120, 'x');
  EXPECT_EQ(error_field(R"({"event_type":"t","session_id":"s","properties":{"a":")" + big + "\"}}", limits),
            "properties");
  EXPECT_EQ(error_field(R"({"event_type":"t","session_id":"s","note":")" + big + "\"}", limits),
            "properties");
}

TEST(UsageDecoding, ProblemsAreListedPerItem) {
  auto r = decode_track(R"([{"event_type":"t"},{"session_id":"s"},{"event_type":"t","session_id":"s"}])",
                        kNow, {});
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.error().details.size(), 2u);
  EXPECT_EQ(r.error().details[0].index, 0);
  EXPECT_EQ(r.error().details[0].field, "[0].session_id");
  EXPECT_EQ(r.error().details[1].index, 1);
  EXPECT_EQ(r.error().details[1].field, "[1].event_type");
}

TEST(UsageDecoding, BackfillAcceptsTheBackupShapesAndDerivesStableIds) {
  const std::string events =
      R"([{"event_type":"tool_used","session_id":"s1","timestamp":"2026-11-18T06:00:00.000Z","tool_name":"FAAB"},
          {"event_type":"tool_used","session_id":"s1","timestamp":"2026-11-18T06:00:00.000Z","id":"mine"},
          {"event_type":"old","session_id":"s1","timestamp":"2025-01-01T00:00:00.000Z"}])";
  auto a = decode_backfill(events, kNow, {});
  ASSERT_TRUE(a.ok()) << a.error().message;
  ASSERT_EQ(a->events.size(), 2u);
  EXPECT_EQ(a->skipped_too_old, 1u);
  EXPECT_EQ(a->events[1].id, "mine");
  EXPECT_EQ(a->events[0].id.rfind("evt_", 0), 0u);
  EXPECT_EQ(a->events[0].id.size(), 36u);
  // The same events as {"events": [...]} and as localStorage's string: same ids.
  auto b = decode_backfill(R"({"events":)" + events + "}", kNow, {});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->events, a->events);
  std::string quoted = "\"";
  for (char c : events) {
    if (c == '"') {
      quoted += '\\';
    }
    if (c != '\n') {
      quoted += c;
    }
  }
  quoted += "\"";
  auto c = decode_backfill(quoted, kNow, {});
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->events.size(), 2u);
  EXPECT_EQ(c->events[0].id, a->events[0].id);
  // Any other event gets another id.
  UsageEvent other = a->events[0];
  other.tool_name = "Decisions";
  EXPECT_NE(derived_event_id(other), a->events[0].id);
  // A backup's events carry their time.
  auto untimed = decode_backfill(R"([{"event_type":"t","session_id":"s"}])", kNow, {});
  ASSERT_FALSE(untimed.ok());
  EXPECT_EQ(untimed.error().field, "[0].timestamp");
  // One bad event refuses the file.
  auto bad = decode_backfill(
      R"([{"event_type":"t","session_id":"s","timestamp":"2026-11-18T06:00:00Z"},{"event_type":"t"}])", kNow,
      {});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().field, "[1].session_id");
}

}  // namespace
}  // namespace cocktail::usage

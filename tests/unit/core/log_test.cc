#include "cocktail/core/log.h"

#include <gtest/gtest.h>

#include "cocktail/core/time.h"

namespace cocktail::core {
namespace {

TEST(Log, LevelsParse) {
  log::Level l;
  EXPECT_TRUE(log::parse_level("warn", &l));
  EXPECT_EQ(l, log::Level::kWarn);
  EXPECT_FALSE(log::parse_level("loud", &l));
}

TEST(Log, WritesOneLineWithFields) {
  testing::internal::CaptureStderr();
  log::info("unit.test", {{"seq", 42}, {"name", "two words"}, {"ok", true}});
  std::string out = testing::internal::GetCapturedStderr();
  EXPECT_NE(out.find("level=info event=unit.test seq=42 name=\"two words\" ok=true\n"), std::string::npos)
      << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1);
}

TEST(Time, FormatsUtc) {
  EXPECT_EQ(format_utc_iso8601(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_utc_iso8601(1795521600123LL), "2026-11-24T12:00:00.123Z");
}

TEST(Time, FakeClockMovesOnlyWhenTold) {
  FakeClock c;
  auto t0 = c.now();
  c.advance(std::chrono::milliseconds(250));
  EXPECT_EQ(c.now() - t0, std::chrono::milliseconds(250));
}

}  // namespace
}  // namespace cocktail::core

namespace cocktail::core {
namespace {

TEST(Log, TimestampMatchesTheClockToTheMillisecond) {
  std::int64_t before = system_now_ms();
  testing::internal::CaptureStderr();
  log::info("unit.ts");
  std::string out = testing::internal::GetCapturedStderr();
  std::int64_t after = system_now_ms();
  ASSERT_EQ(out.rfind("ts=", 0), 0u) << out;
  std::string ts = out.substr(3, out.find(' ') - 3);
  EXPECT_TRUE(ts == format_utc_iso8601(before) || ts == format_utc_iso8601(after) ||
              (ts > format_utc_iso8601(before) && ts < format_utc_iso8601(after)))
      << ts;
}

}  // namespace
}  // namespace cocktail::core

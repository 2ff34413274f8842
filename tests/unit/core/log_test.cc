#include "cocktail/core/log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "cocktail/core/time.h"

namespace cocktail::core {
namespace {

// Redirects stderr (the log's sink, fd 2) into a file for the scope; the
// lines written meanwhile are read back with text().
class StderrFile {
 public:
  StderrFile() : path_(::testing::TempDir() + "log-capture-" + std::to_string(::getpid())) {
    std::fflush(stderr);
    saved_ = ::dup(STDERR_FILENO);
    std::FILE* f = std::fopen(path_.c_str(), "w");
    ::dup2(::fileno(f), STDERR_FILENO);
    std::fclose(f);
  }
  ~StderrFile() {
    restore();
    std::remove(path_.c_str());
  }
  void restore() {
    if (saved_ < 0) {
      return;
    }
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    saved_ = -1;
  }
  std::string text() const {
    std::ifstream in(path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  std::string path_;
  int saved_ = -1;
};

std::size_t count_lines(const std::string& text, std::string_view needle) {
  std::size_t n = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

// Restores the default limit after a test changed it.
class LogRateLimit : public ::testing::Test {
 protected:
  ~LogRateLimit() override { log::set_rate_limit({}); }
};

TEST_F(LogRateLimit, AFloodOfOneWarningWritesABurstThenOneLineAPeriod) {
  FakeClock clock;
  log::set_rate_limit({.burst = 5, .interval = std::chrono::seconds(1), .clock = &clock});
  const auto suppressed_before = log::suppressed_total();
  StderrFile capture;
  // 100,000 malformed messages in the same instant.
  for (int i = 0; i < 100000; ++i) {
    log::warn("unit.flood", {{"i", i}});
  }
  log::info("unit.flood_info");  // other events and levels go through
  clock.advance(std::chrono::milliseconds(2500));
  for (int i = 0; i < 1000; ++i) {
    log::warn("unit.flood", {{"i", i}});
  }
  capture.restore();
  const std::string out = capture.text();
  // Five at once, then two more lines earned by 2.5 s of refill.
  EXPECT_EQ(count_lines(out, "event=unit.flood "), 7u) << out.substr(0, 2000);
  EXPECT_EQ(count_lines(out, "event=unit.flood_info"), 1u);
  // The first line after the silence says how many were left out.
  EXPECT_NE(out.find("suppressed=99995\n"), std::string::npos) << out.substr(0, 2000);
  EXPECT_EQ(log::suppressed_total() - suppressed_before, 100000u + 1000u - 7u);
  bool listed = false;
  for (const auto& [event, count] : log::suppressed_by_event()) {
    listed = listed || event == "unit.flood";
  }
  EXPECT_TRUE(listed);
}

TEST_F(LogRateLimit, EachEventHasItsOwnAllowance) {
  FakeClock clock;
  log::set_rate_limit({.burst = 2, .interval = std::chrono::seconds(10), .clock = &clock});
  StderrFile capture;
  for (int i = 0; i < 10; ++i) {
    log::error("unit.a");
    log::warn("unit.b");
  }
  capture.restore();
  const std::string out = capture.text();
  EXPECT_EQ(count_lines(out, "event=unit.a"), 2u);
  EXPECT_EQ(count_lines(out, "event=unit.b"), 2u);
}

TEST_F(LogRateLimit, InfoLinesAreNeverLimited) {
  FakeClock clock;
  log::set_rate_limit({.burst = 1, .interval = std::chrono::seconds(10), .clock = &clock});
  StderrFile capture;
  for (int i = 0; i < 50; ++i) {
    log::info("unit.access");
  }
  capture.restore();
  EXPECT_EQ(count_lines(capture.text(), "event=unit.access"), 50u);
}

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

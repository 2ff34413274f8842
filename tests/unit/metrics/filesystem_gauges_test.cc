#include "cocktail/metrics/filesystem_gauges.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <optional>
#include <string>

namespace cocktail::metrics {
namespace {

double sample(const std::string& text, const std::string& series) {
  const auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) {
    return -1;
  }
  return std::stod(text.substr(at + series.size() + 2));
}

TEST(FilesystemUsage, UsedRatioIsDfs) {
  // 100 blocks, 30 free of which 10 reserved for root: 70 used, 20 available.
  core::FilesystemUsage u{100, 30, 20};
  EXPECT_DOUBLE_EQ(u.used_ratio(), 70.0 / 90.0);
  EXPECT_DOUBLE_EQ(core::FilesystemUsage{}.used_ratio(), 0.0);
}

TEST(FilesystemUsage, StatvfsReadsARealFileSystem) {
  auto u = core::statvfs_usage(std::filesystem::temp_directory_path());
  ASSERT_TRUE(u.has_value());
  EXPECT_GT(u->total_bytes, 0);
  EXPECT_GE(u->free_bytes, u->available_bytes);
  EXPECT_FALSE(core::statvfs_usage("/nonexistent/cocktail/path").has_value());
}

TEST(FilesystemGauges, AreReadAgainAtEveryScrape) {
  MetricsRegistry registry;
  std::atomic<std::int64_t> available{600};
  std::atomic<int> probes{0};
  std::filesystem::path seen;
  {
    FilesystemGauges gauges(registry, "cocktail_analytics_filesystem", "/var/lib/x",
                            [&](const std::filesystem::path& p) -> std::optional<core::FilesystemUsage> {
                              ++probes;
                              seen = p;
                              return core::FilesystemUsage{1000, available.load(), available.load()};
                            });
    std::string text = registry.serialize_text();
    EXPECT_EQ(seen, "/var/lib/x");
    EXPECT_DOUBLE_EQ(sample(text, "cocktail_analytics_filesystem_used_ratio"), 0.4);
    EXPECT_DOUBLE_EQ(sample(text, "cocktail_analytics_filesystem_free_bytes"), 600);
    EXPECT_DOUBLE_EQ(sample(text, "cocktail_analytics_filesystem_size_bytes"), 1000);
    available = 150;  // the disk filled meanwhile
    text = registry.serialize_text();
    EXPECT_DOUBLE_EQ(sample(text, "cocktail_analytics_filesystem_used_ratio"), 0.85);
    EXPECT_DOUBLE_EQ(sample(text, "cocktail_analytics_filesystem_free_bytes"), 150);
  }
  // Gone with the gauges: the registry no longer calls into them.
  const int before = probes.load();
  (void)registry.serialize_text();
  EXPECT_EQ(probes.load(), before);
}

TEST(FilesystemGauges, AFailedProbeKeepsTheLastValues) {
  MetricsRegistry registry;
  bool fail = false;
  FilesystemGauges gauges(registry, "disk", "/x", [&](const std::filesystem::path&) {
    return fail ? std::nullopt : std::optional<core::FilesystemUsage>(core::FilesystemUsage{100, 50, 50});
  });
  fail = true;
  EXPECT_DOUBLE_EQ(sample(registry.serialize_text(), "disk_free_bytes"), 50);
}

}  // namespace
}  // namespace cocktail::metrics

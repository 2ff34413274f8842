// The space of the file system holding a path (statvfs), and a probe type
// that components take so that tests can fake a nearly full disk without
// filling one.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>

namespace cocktail::core {

struct FilesystemUsage {
  std::int64_t total_bytes = 0;
  std::int64_t free_bytes = 0;       // free blocks, the reserved ones included
  std::int64_t available_bytes = 0;  // what an unprivileged writer can still use

  // The share in use as `df` computes it: used / (used + available), where
  // used = total - free (the blocks reserved for root count as neither).
  // 0 for a file system that reports no size.
  double used_ratio() const;
};

// statvfs(2) on `path`; nullopt when it fails (the path is missing, ...).
std::optional<FilesystemUsage> statvfs_usage(const std::filesystem::path& path);

// How a component asks for a file system's space: statvfs_usage in
// production, a function of the test's choosing otherwise.
using FilesystemProbe = std::function<std::optional<FilesystemUsage>(const std::filesystem::path&)>;

}  // namespace cocktail::core

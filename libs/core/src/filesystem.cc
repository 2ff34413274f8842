#include "cocktail/core/filesystem.h"

#include <sys/statvfs.h>

namespace cocktail::core {

double FilesystemUsage::used_ratio() const {
  const std::int64_t used = total_bytes - free_bytes;
  const std::int64_t usable = used + available_bytes;
  if (usable <= 0) {
    return 0.0;
  }
  return static_cast<double>(used) / static_cast<double>(usable);
}

std::optional<FilesystemUsage> statvfs_usage(const std::filesystem::path& path) {
  struct statvfs vfs {};
  if (::statvfs(path.c_str(), &vfs) != 0) {
    return std::nullopt;
  }
  const auto unit = static_cast<std::int64_t>(vfs.f_frsize);
  FilesystemUsage u;
  u.total_bytes = static_cast<std::int64_t>(vfs.f_blocks) * unit;
  u.free_bytes = static_cast<std::int64_t>(vfs.f_bfree) * unit;
  u.available_bytes = static_cast<std::int64_t>(vfs.f_bavail) * unit;
  return u;
}

}  // namespace cocktail::core

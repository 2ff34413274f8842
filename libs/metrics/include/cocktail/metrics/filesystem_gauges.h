// FilesystemGauges: the space of the file system holding one directory, as
// gauges read again at every scrape (statvfs is a system call, no I/O):
//
//   <prefix>_used_ratio       used / (used + available), as `df` shows it (0..1)
//   <prefix>_free_bytes       bytes a writer can still use (statvfs f_bavail)
//   <prefix>_size_bytes       the file system's size
//
// e.g. prefix "cocktail_analytics_filesystem" for ANALYTICS_PATH. A probe
// that fails leaves the previous values (the gauges start at 0).
//
// Ownership: borrows the registry, which must outlive it; removes its
// collect hook when destroyed. Thread-safety: refresh() from any thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "cocktail/core/filesystem.h"
#include "cocktail/metrics/registry.h"

namespace cocktail::metrics {

class FilesystemGauges {
 public:
  FilesystemGauges(MetricsRegistry& registry, const std::string& prefix, std::filesystem::path path,
                   core::FilesystemProbe probe = core::statvfs_usage);
  ~FilesystemGauges();
  FilesystemGauges(const FilesystemGauges&) = delete;
  FilesystemGauges& operator=(const FilesystemGauges&) = delete;

  // Reads the file system now (also done before every serialisation).
  void refresh();

 private:
  MetricsRegistry& registry_;
  std::filesystem::path path_;
  core::FilesystemProbe probe_;
  prometheus::Gauge& used_ratio_;
  prometheus::Gauge& free_bytes_;
  prometheus::Gauge& size_bytes_;
  std::uint64_t hook_;
};

}  // namespace cocktail::metrics

#include "cocktail/metrics/filesystem_gauges.h"

#include <utility>

namespace cocktail::metrics {

FilesystemGauges::FilesystemGauges(MetricsRegistry& registry, const std::string& prefix,
                                   std::filesystem::path path, core::FilesystemProbe probe)
    : registry_(registry),
      path_(std::move(path)),
      probe_(std::move(probe)),
      used_ratio_(
          registry
              .gauge(prefix + "_used_ratio",
                     "Share of the file system in use, used / (used + available) as df shows it, 0..1")
              .Add({})),
      free_bytes_(
          registry.gauge(prefix + "_free_bytes", "Bytes of the file system still available to writers")
              .Add({})),
      size_bytes_(registry.gauge(prefix + "_size_bytes", "Size of the file system in bytes").Add({})),
      hook_(registry.add_collect_hook([this] { refresh(); })) {
  refresh();
}

FilesystemGauges::~FilesystemGauges() { registry_.remove_collect_hook(hook_); }

void FilesystemGauges::refresh() {
  const auto usage = probe_(path_);
  if (!usage) {
    return;
  }
  used_ratio_.Set(usage->used_ratio());
  free_bytes_.Set(static_cast<double>(usage->available_bytes));
  size_bytes_.Set(static_cast<double>(usage->total_bytes));
}

}  // namespace cocktail::metrics

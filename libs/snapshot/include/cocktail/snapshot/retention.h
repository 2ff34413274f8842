// Retention and the storage report: what the store keeps, what gc removes,
// and what the disk holds. Plain data plus their JSON renderings for the
// `analytics-regen gc` and `report` commands.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace cocktail::snapshot {

// A published generation is kept when it is CURRENT, or among the newest
// `keep_generations` published generations, or younger than `max_age_ms`.
// Partial generations (no manifest: a writer failed or crashed) and complete
// ones newer than CURRENT (written, never published) are always removed;
// gc holds the writer lock, so no writer is running when it decides.
//
// Two limits then override the count and the age (never CURRENT):
//  - Versions: for each file named in `versioned_files`, a version is one
//    file on disk (an inode: generations that carried it by hard link share
//    it). Besides CURRENT's version, only the newest `keep_versions` other
//    versions are kept (newest: held by the newest generation); a generation
//    holding an older one is removed ("superseded"). For the large files a
//    new generation rewrites by nature (the cocktail space), this bounds the
//    disk at (1 + keep_versions) copies, whatever the age window.
//  - Size: with `max_bytes` > 0, while the store (everything under v1/, each
//    inode once) is larger, the oldest remaining generation is removed
//    ("over_budget"). Removing a generation frees only the files no kept
//    generation (nor a legacy copy) still links.
struct RetentionPolicy {
  std::int64_t keep_generations = 10;
  std::int64_t max_age_ms = 24LL * 3600 * 1000;
  std::int64_t max_bytes = 0;  // 0: no size budget
  std::set<std::string> versioned_files{};
  std::int64_t keep_versions = 1;
};

struct RemovedGeneration {
  std::int64_t generation = 0;
  // "expired", "partial", "unpublished", "superseded", "over_budget", "space"
  std::string reason;
  // What removing it freed (or would): the bytes of its files that no
  // generation kept and no legacy copy still links, each inode once.
  std::int64_t bytes = 0;
  std::int64_t age_ms = 0;
};

struct RetentionResult {
  bool dry_run = false;
  std::optional<std::int64_t> current;
  std::vector<RemovedGeneration> removed;  // removed, or would be under dry_run
  std::vector<std::int64_t> kept;          // ascending
  std::int64_t bytes_freed = 0;            // or would be freed
  // The store's size afterwards (everything under v1/, each inode once).
  std::int64_t store_bytes = 0;
};

struct GenerationInfo {
  std::int64_t generation = 0;
  bool complete = false;  // has a valid manifest
  bool current = false;
  std::int64_t catalog_seq = 0;      // from the manifest (0 when partial)
  std::int64_t generated_at_ms = 0;  // from the manifest, else the directory's mtime
  std::int64_t age_ms = 0;
  std::int64_t bytes = 0;
  std::int64_t files = 0;
};

struct StoreReport {
  std::string path;  // ANALYTICS_PATH
  std::optional<std::int64_t> current;
  std::vector<GenerationInfo> generations;  // ascending
  std::int64_t generation_bytes = 0;
  std::int64_t legacy_bytes = 0;  // v1/<name> copies
  std::int64_t total_bytes = 0;   // everything under ANALYTICS_PATH/v1
  // The file system holding ANALYTICS_PATH (statvfs).
  std::int64_t fs_total_bytes = 0;
  std::int64_t fs_free_bytes = 0;
  std::int64_t fs_available_bytes = 0;  // free to unprivileged users
};

std::string retention_json(const RetentionResult& result);
std::string report_json(const StoreReport& report);
// The `generations` array of report_json: one object per generation
// (generation, complete, current, catalog_seq, generated_at, age_seconds, files, bytes).
std::string generations_json(const std::vector<GenerationInfo>& generations);

}  // namespace cocktail::snapshot

// Manifest: the table of contents of one generation, written last inside
// the generation directory. A generation without a manifest is partial.
//
//   {"generation": 12, "catalog_seq": 340, "generated_at": "2026-…Z",
//    "generated_at_ms": 1795000000000,
//    "files": {"ingredient-usage.json": {"sha256": "<64 hex>", "bytes": 1234}, …}}
//
// Plain data; thread-compatible.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "cocktail/core/result.h"

namespace cocktail::snapshot {

struct FileEntry {
  std::string sha256;  // 64 lowercase hex digits
  std::int64_t bytes = 0;

  bool operator==(const FileEntry&) const = default;
};

struct Manifest {
  std::int64_t generation = 0;
  std::int64_t catalog_seq = 0;
  std::int64_t generated_at_ms = 0;        // Unix epoch milliseconds
  std::map<std::string, FileEntry> files;  // by file name

  bool operator==(const Manifest&) const = default;
};

std::string manifest_json(const Manifest& manifest);
// Validates types, file names (see is_valid_file_name) and digests.
core::Result<Manifest> parse_manifest(std::string_view json);

// A file name a generation may hold: 1-64 characters of [a-z0-9._-]
// starting with a letter or digit (so never hidden, never a path), and not
// "manifest.json" (reserved). E.g. "ingredient-usage.json".
bool is_valid_file_name(std::string_view name);

inline constexpr std::string_view kManifestName = "manifest.json";

}  // namespace cocktail::snapshot

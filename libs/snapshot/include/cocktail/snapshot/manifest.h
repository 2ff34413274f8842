// Manifest: the table of contents of one generation, written last inside
// the generation directory. A generation without a manifest is partial.
//
//   {"generation": 12, "catalog_seq": 340, "generated_at": "2026-…Z",
//    "generated_at_ms": 1795000000000,
//    "files": {"ingredient-usage.json": {"sha256": "<64 hex>", "bytes": 1234}, …}}
//
// A file may also carry "catalog_seq": the catalog seq it was computed from,
// when that differs from the generation's (a file carried forward unchanged
// from an older generation). Absent: the generation's catalog_seq.
//
// Plain data; thread-compatible.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "cocktail/core/result.h"

namespace cocktail::snapshot {

struct FileEntry {
  FileEntry() = default;
  FileEntry(std::string sha256_hex, std::int64_t size, std::optional<std::int64_t> seq = std::nullopt)
      : sha256(std::move(sha256_hex)), bytes(size), catalog_seq(seq) {}

  std::string sha256;  // 64 lowercase hex digits
  std::int64_t bytes = 0;
  // The catalog seq this file was computed from; nullopt: the generation's.
  std::optional<std::int64_t> catalog_seq;

  bool operator==(const FileEntry&) const = default;
};

struct Manifest {
  std::int64_t generation = 0;
  std::int64_t catalog_seq = 0;
  std::int64_t generated_at_ms = 0;        // Unix epoch milliseconds
  std::map<std::string, FileEntry> files;  // by file name

  bool operator==(const Manifest&) const = default;

  // The catalog seq `name` was computed from (its own, else the
  // generation's); nullopt when the generation has no such file.
  std::optional<std::int64_t> file_catalog_seq(std::string_view name) const;
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

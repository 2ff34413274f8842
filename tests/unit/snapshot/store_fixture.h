// Shared by the snapshot tests: a temporary ANALYTICS_PATH and a writer of
// small, self-describing generations (every file names its generation).
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "cocktail/snapshot/snapshot_store.h"

namespace cocktail::snapshot::testing {

class TempDir {
 public:
  // `base`: where to create it (the system temporary directory by default).
  explicit TempDir(const std::filesystem::path& base = std::filesystem::temp_directory_path()) {
    std::string pattern = (base / "cocktail-snapshot-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline std::string file_body(std::int64_t generation, const std::string& name) {
  return "{\"generation\":" + std::to_string(generation) + ",\"file\":\"" + name + "\"}";
}

inline const char* const kNames[] = {"alpha.json", "beta.json", "matrix.npy"};

// Writes one generation of the three files above; returns its number.
inline GenerationWriter::Committed write_generation(SnapshotStore& store, std::int64_t catalog_seq,
                                                    std::int64_t generated_at_ms) {
  GenerationWriter w = store.begin_generation();
  for (const char* name : kNames) {
    w.add(name, file_body(w.generation(), name));
  }
  return w.commit(catalog_seq, generated_at_ms);
}

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void spit(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << bytes;
}

// The snapshot is whole and of one generation: every file names it.
inline ::testing::AssertionResult consistent(const Snapshot& s) {
  if (s.files.size() != std::size(kNames)) {
    return ::testing::AssertionFailure() << "file count " << s.files.size();
  }
  for (const char* name : kNames) {
    auto it = s.files.find(name);
    if (it == s.files.end()) {
      return ::testing::AssertionFailure() << "missing " << name;
    }
    if (it->second != file_body(s.manifest.generation, name)) {
      return ::testing::AssertionFailure()
             << name << " holds '" << it->second << "' in generation " << s.manifest.generation;
    }
  }
  return ::testing::AssertionSuccess();
}

}  // namespace cocktail::snapshot::testing

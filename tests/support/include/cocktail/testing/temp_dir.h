// TempDir: a fresh directory under $TMPDIR (or /tmp), removed with everything
// in it when the object is destroyed. Not thread-safe; one owner.
#pragma once

#include <filesystem>
#include <string>

namespace cocktail::testing {

class TempDir {
 public:
  // `prefix` names the directory ("<prefix>-XXXXXX") to ease debugging.
  explicit TempDir(const std::string& prefix = "cocktail-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // path() / name, as a string.
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  // Set to keep the directory after the test (inspection).
  void keep() { keep_ = true; }

 private:
  std::filesystem::path path_;
  bool keep_ = false;
};

// Whole contents of a file; empty when it does not exist.
std::string read_file(const std::filesystem::path& path);
// Replaces the file's contents; throws std::runtime_error on failure.
void write_file(const std::filesystem::path& path, const std::string& contents);

}  // namespace cocktail::testing

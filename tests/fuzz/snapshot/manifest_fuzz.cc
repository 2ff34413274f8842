// Fuzzes snapshot manifests: parse_manifest, and the SnapshotStore reading a
// generation whose manifest.json holds the input (what analytics-api and
// analytics-regen do with a manifest found on disk).
//
// Input: the manifest text. The store (given the manifests that parse: it
// refuses the others the same way) is a fixture in a temporary directory:
// generation 7 is current and holds two files, "ingredient-usage.json" and
// "recipe-similar.json", whose digests the seed corpus uses.
// Properties: parsing never crashes; an accepted manifest has valid file
// names and digests, and its JSON parses back to the same manifest. The
// store never hands out a file whose size and SHA-256 differ from the
// manifest, and reporting on the store copes with whatever the manifest says.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>

#include "cocktail/snapshot/manifest.h"
#include "cocktail/snapshot/sha256.h"
#include "cocktail/snapshot/snapshot_store.h"
#include "fuzz_input.h"

namespace {

using namespace cocktail;
namespace fs = std::filesystem;

constexpr std::int64_t kGeneration = 7;
constexpr std::int64_t kNowMs = 1795000000000;  // 2026-11-18

void write_file(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) {
    fuzz::fail(__FILE__, __LINE__, "fixture written", path.string());
  }
}

// The store fixture, made once per process and removed at exit.
class StoreFixture {
 public:
  StoreFixture() {
    std::string pattern = (fs::temp_directory_path() / "fuzz-manifest-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      fuzz::fail(__FILE__, __LINE__, "mkdtemp", pattern);
    }
    root_ = pattern;
    store_.emplace(root_);
    const fs::path dir = store_->generation_dir(kGeneration);
    fs::create_directories(dir);
    write_file(dir / "ingredient-usage.json", R"({"ingredients":[{"id":1,"recipes":3}]})");
    write_file(dir / "recipe-similar.json", R"({"recipes":[]})");
    write_file(store_->version_dir() / "CURRENT", std::to_string(kGeneration) + "\n");
    manifest_path_ = dir / std::string(snapshot::kManifestName);
  }
  ~StoreFixture() {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  void check(std::string_view manifest_text) {
    write_file(manifest_path_, manifest_text);
    auto snap = store_->read_current();
    if (snap.ok()) {
      COCKTAIL_FUZZ_CHECK(snap->manifest.generation == kGeneration, manifest_text);
      COCKTAIL_FUZZ_CHECK(snap->files.size() == snap->manifest.files.size(), manifest_text);
      for (const auto& [name, bytes] : snap->files) {
        const auto& entry = snap->manifest.files.at(name);
        COCKTAIL_FUZZ_CHECK(static_cast<std::int64_t>(bytes.size()) == entry.bytes, name);
        COCKTAIL_FUZZ_CHECK(snapshot::sha256_hex(bytes) == entry.sha256, name);
      }
    }
    (void)store_->report(kNowMs);
  }

 private:
  fs::path root_;
  std::optional<snapshot::SnapshotStore> store_;
  fs::path manifest_path_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = fuzz::as_text(data, size);
  const auto manifest = snapshot::parse_manifest(text);
  if (!manifest.ok()) {
    return 0;  // the store parses it the same way and refuses it
  }
  {
    COCKTAIL_FUZZ_CHECK(manifest->generation > 0 && manifest->catalog_seq >= 0, text);
    for (const auto& [name, entry] : manifest->files) {
      COCKTAIL_FUZZ_CHECK(snapshot::is_valid_file_name(name), name);
      COCKTAIL_FUZZ_CHECK(entry.sha256.size() == 64 && entry.bytes >= 0, name);
      COCKTAIL_FUZZ_CHECK(manifest->file_catalog_seq(name).value_or(-1) >= 0, name);
    }
    const std::string json = snapshot::manifest_json(*manifest);
    const auto again = snapshot::parse_manifest(json);
    COCKTAIL_FUZZ_CHECK(again.ok(), json);
    COCKTAIL_FUZZ_CHECK(*again == *manifest, json);
  }
  static StoreFixture store;
  store.check(text);
  return 0;
}

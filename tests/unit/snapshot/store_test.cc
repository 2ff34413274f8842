#include <gtest/gtest.h>

#include "cocktail/snapshot/manifest.h"
#include "cocktail/snapshot/sha256.h"
#include "cocktail/snapshot/snapshot_store.h"
#include "store_fixture.h"

namespace cocktail::snapshot {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Manifest, RoundTripsAndAcceptsTheTimestampAlone) {
  Manifest m;
  m.generation = 12;
  m.catalog_seq = 340;
  m.generated_at_ms = 1795000000123;
  m.files["ingredient-usage.json"] = {sha256_hex("x"), 1};
  m.files["recipe-distances-em.npy"] = {sha256_hex("yy"), 2};
  m.files["cocktail-space.json"] = {sha256_hex("z"), 1, 300};  // carried forward from seq 300
  auto parsed = parse_manifest(manifest_json(m));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed.value(), m);
  EXPECT_EQ(parsed->file_catalog_seq("cocktail-space.json"), 300);
  EXPECT_EQ(parsed->file_catalog_seq("ingredient-usage.json"), 340) << "absent: the generation's seq";
  EXPECT_EQ(parsed->file_catalog_seq("missing.json"), std::nullopt);

  auto other = parse_manifest(R"({"generation": 3, "catalog_seq": 0, "generated_at": "2026-11-18T11:06:40.5Z",
                                  "files": {"a.json": {"sha256": ")" +
                              sha256_hex("") + R"(", "bytes": 0}}})");
  ASSERT_TRUE(other.ok()) << other.error().message;
  EXPECT_EQ(other->generated_at_ms, 1795000000500);
}

TEST(Manifest, RejectsWhatCannotBeTrusted) {
  const std::string digest = sha256_hex("");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{", ""},
      {R"({"catalog_seq":0,"generated_at":"2026-01-01T00:00:00Z","files":{}})", "generation"},
      {R"({"generation":0,"catalog_seq":0,"generated_at":"2026-01-01T00:00:00Z","files":{}})", "generation"},
      {R"({"generation":1,"catalog_seq":-1,"generated_at":"2026-01-01T00:00:00Z","files":{}})",
       "catalog_seq"},
      {R"({"generation":1,"catalog_seq":0,"generated_at":"yesterday","files":{}})", "generated_at"},
      // Times outside 1970..9999 would overflow the ages computed from them.
      {R"({"generation":1,"catalog_seq":0,"generated_at":"1969-12-31T23:59:59Z","files":{}})",
       "generated_at"},
      {R"({"generation":1,"catalog_seq":0,"generated_at":"2026-01-01T00:00:00Z",)"
       R"("generated_at_ms":-9223372036854775808,"files":{}})",
       "generated_at_ms"},
      {R"({"generation":1,"catalog_seq":0,"generated_at":"2026-01-01T00:00:00Z",)"
       R"("generated_at_ms":253402300800000,"files":{}})",
       "generated_at_ms"},
      {R"({"generation":1,"catalog_seq":0,"generated_at":"2026-01-01T00:00:00Z","files":[]})", "files"},
      {R"({"generation":1,"catalog_seq":0,"generated_at":"2026-01-01T00:00:00Z","files":{"../CURRENT":{"sha256":")" +
           digest + R"(","bytes":0}}})",
       "files"},
      {R"({"generation":1,"catalog_seq":0,"generated_at":"2026-01-01T00:00:00Z","files":{"a.json":{"sha256":"ABC","bytes":0}}})",
       "files.a.json.sha256"},
      {R"({"generation":1,"catalog_seq":0,"generated_at":"2026-01-01T00:00:00Z","files":{"a.json":{"sha256":")" +
           digest + R"(","bytes":-1}}})",
       "files.a.json.bytes"},
      {R"({"generation":1,"catalog_seq":0,"generated_at":"2026-01-01T00:00:00Z","files":{"a.json":{"sha256":")" +
           digest + R"(","bytes":0,"catalog_seq":-1}}})",
       "files.a.json.catalog_seq"},
  };
  for (const auto& [json, field] : cases) {
    auto r = parse_manifest(json);
    ASSERT_FALSE(r.ok()) << json;
    EXPECT_EQ(r.error().field, field) << json;
  }
  EXPECT_FALSE(parse_manifest(std::string_view()).ok()) << "no bytes at all (null data)";
}

TEST(FileNames, OnlyPlainLowercaseNames) {
  for (const char* ok : {"ingredient-usage.json", "recipe-distances-em.npy", "a", "x_1.ids.json"}) {
    EXPECT_TRUE(is_valid_file_name(ok)) << ok;
  }
  for (const char* bad :
       {"", ".hidden", "../CURRENT", "a/b", "Upper.json", "manifest.json", "sp ace", "-dash-first"}) {
    EXPECT_FALSE(is_valid_file_name(bad)) << bad;
  }
  EXPECT_FALSE(is_valid_file_name(std::string(65, 'a')));
}

TEST(SnapshotStore, CreatesTheDirectoryAndWritesTheLayout) {
  TempDir tmp;
  const fs::path root = tmp.path() / "nested" / "analytics";
  SnapshotStore store(root);
  EXPECT_TRUE(fs::is_directory(root / "v1" / "generations"));
  EXPECT_EQ(store.current_generation().error().kind, ReadErrorKind::kNoSnapshot);
  EXPECT_EQ(store.read_current().error().kind, ReadErrorKind::kNoSnapshot);

  auto committed = testing::write_generation(store, 77, 1795000000000);
  EXPECT_TRUE(committed.warnings.empty());
  EXPECT_EQ(committed.manifest.generation, 1);
  EXPECT_EQ(testing::slurp(root / "v1" / "CURRENT"), "1\n");
  const fs::path gen = root / "v1" / "generations" / "1";
  for (const char* name : testing::kNames) {
    const std::string body = testing::slurp(gen / name);
    EXPECT_EQ(body, testing::file_body(1, name));
    EXPECT_EQ(committed.manifest.files.at(name).sha256, sha256_hex(body));
    EXPECT_EQ(committed.manifest.files.at(name).bytes, static_cast<std::int64_t>(body.size()));
  }
  // Legacy copies: every file of the generation, JSON or not, as hard links
  // to the generation's own files (one inode, no second copy on disk).
  for (const char* name : testing::kNames) {
    EXPECT_EQ(testing::slurp(root / "v1" / name), testing::file_body(1, name)) << name;
    EXPECT_TRUE(fs::equivalent(root / "v1" / name, gen / name)) << name;
  }
  EXPECT_FALSE(fs::exists(root / "v1" / "manifest.json"));
  // Counted once in the report: the legacy copies are the generation's inodes.
  const StoreReport rep = store.report(1795000000000);
  std::int64_t legacy = 0;
  for (const char* name : testing::kNames) legacy += static_cast<std::int64_t>(fs::file_size(gen / name));
  EXPECT_EQ(rep.legacy_bytes, legacy);
  EXPECT_EQ(rep.total_bytes,
            rep.generation_bytes + static_cast<std::int64_t>(fs::file_size(root / "v1" / "CURRENT")));
  // No temporary file is left behind.
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    EXPECT_FALSE(e.path().filename().string().ends_with(".tmp")) << e.path();
  }

  auto snap = store.read_current();
  ASSERT_TRUE(snap.ok()) << snap.error().message;
  EXPECT_TRUE(testing::consistent(snap.value()));
  EXPECT_EQ(snap->manifest, committed.manifest);
  EXPECT_EQ(snap->manifest.catalog_seq, 77);

  auto second = testing::write_generation(store, 78, 1795000001000);
  EXPECT_EQ(second.manifest.generation, 2);
  for (const char* name : testing::kNames) {
    EXPECT_EQ(testing::slurp(root / "v1" / name), testing::file_body(2, name)) << name;
  }
  EXPECT_EQ(store.current_generation().value(), 2);
}

TEST(SnapshotStore, GenerationNumbersOnlyIncrease) {
  TempDir tmp;
  SnapshotStore store(tmp.path());
  for (int i = 1; i <= 3; ++i) EXPECT_EQ(testing::write_generation(store, 0, 0).manifest.generation, i);
  // Even when the newest directories vanish, CURRENT keeps the count going.
  fs::remove_all(store.generation_dir(3));
  fs::remove_all(store.generation_dir(2));
  EXPECT_EQ(testing::write_generation(store, 0, 0).manifest.generation, 4);
  // A stray directory with a larger number is skipped over, never reused.
  fs::create_directories(store.generation_dir(10));
  EXPECT_EQ(testing::write_generation(store, 0, 0).manifest.generation, 11);
}

TEST(SnapshotStore, AFlippedByteIsAVerificationFailureNamingTheFile) {
  TempDir tmp;
  SnapshotStore store(tmp.path());
  testing::write_generation(store, 1, 0);
  const fs::path file = store.generation_dir(1) / "beta.json";
  std::string body = testing::slurp(file);
  body[body.size() / 2] ^= 0x01;
  // Replace the inode so the legacy hard link keeps the good bytes, and the
  // size stays the same: only the digest can tell.
  fs::remove(file);
  testing::spit(file, body);

  auto snap = store.read_current();
  ASSERT_FALSE(snap.ok());
  EXPECT_TRUE(snap.error().is_verification_failure());
  EXPECT_EQ(snap.error().kind, ReadErrorKind::kCorrupt);
  EXPECT_EQ(snap.error().file, "v1/generations/1/beta.json");
  auto manifest = store.read_manifest(1);
  ASSERT_TRUE(manifest.ok());
  EXPECT_TRUE(store.read_file(manifest.value(), "alpha.json").ok());
  EXPECT_EQ(store.read_file(manifest.value(), "beta.json").error().kind, ReadErrorKind::kCorrupt);
}

TEST(SnapshotStore, TruncatedMissingAndUnlistedFiles) {
  TempDir tmp;
  SnapshotStore store(tmp.path());
  testing::write_generation(store, 1, 0);
  auto manifest = store.read_manifest(1).value();
  const fs::path file = store.generation_dir(1) / "alpha.json";
  const std::string body = testing::slurp(file);
  fs::remove(file);
  EXPECT_EQ(store.read_file(manifest, "alpha.json").error().kind, ReadErrorKind::kNotFound);
  testing::spit(file, body.substr(0, body.size() - 1));
  auto truncated = store.read_file(manifest, "alpha.json");
  EXPECT_EQ(truncated.error().kind, ReadErrorKind::kCorrupt);
  EXPECT_NE(truncated.error().message.find("bytes"), std::string::npos);
  EXPECT_EQ(store.read_file(manifest, "gamma.json").error().kind, ReadErrorKind::kNotFound);
}

TEST(SnapshotStore, MalformedCurrentAndManifestAreReported) {
  TempDir tmp;
  SnapshotStore store(tmp.path());
  testing::write_generation(store, 1, 0);
  testing::write_generation(store, 1, 0);
  // A manifest copied from another generation is refused.
  testing::spit(store.generation_dir(2) / "manifest.json",
                testing::slurp(store.generation_dir(1) / "manifest.json"));
  EXPECT_EQ(store.read_current().error().kind, ReadErrorKind::kMalformed);
  testing::spit(store.generation_dir(2) / "manifest.json", "{not json");
  EXPECT_EQ(store.read_current().error().kind, ReadErrorKind::kMalformed);
  testing::spit(store.version_dir() / "CURRENT", "two\n");
  EXPECT_EQ(store.current_generation().error().kind, ReadErrorKind::kMalformed);
  testing::spit(store.version_dir() / "CURRENT", "1\n");
  EXPECT_TRUE(store.read_current().ok());
  testing::spit(store.version_dir() / "CURRENT", "9\n");
  EXPECT_EQ(store.read_current().error().kind, ReadErrorKind::kNotFound);
}

TEST(SnapshotStore, BadNamesAreRefusedAndAnAbandonedWriterLeavesNothing) {
  TempDir tmp;
  SnapshotStore store(tmp.path());
  testing::write_generation(store, 1, 0);
  {
    GenerationWriter w = store.begin_generation();
    EXPECT_EQ(w.generation(), 2);
    EXPECT_THROW(w.add("../escape.json", "x"), std::invalid_argument);
    EXPECT_THROW(w.add("manifest.json", "x"), std::invalid_argument);
    w.add("alpha.json", "x");
    EXPECT_THROW(w.add("alpha.json", "y"), std::invalid_argument);
    EXPECT_TRUE(fs::exists(store.generation_dir(2) / "alpha.json"));
    EXPECT_FALSE(fs::exists(tmp.path() / "v1" / "escape.json"));
  }  // destroyed without commit
  EXPECT_FALSE(fs::exists(store.generation_dir(2)));
  EXPECT_EQ(store.current_generation().value(), 1);
  EXPECT_EQ(testing::write_generation(store, 1, 0).manifest.generation, 2);
}

TEST(SnapshotStore, AnalyticsPathThatIsAFileIsAnIoError) {
  TempDir tmp;
  testing::spit(tmp.path() / "file", "x");
  EXPECT_THROW(SnapshotStore(tmp.path() / "file"), SnapshotIoError);
}

}  // namespace
}  // namespace cocktail::snapshot

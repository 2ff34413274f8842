#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <future>
#include <mutex>

#include "cocktail/snapshot/manifest.h"
#include "cocktail/snapshot/sha256.h"
#include "cocktail/snapshot/snapshot_store.h"
#include "store_fixture.h"

namespace cocktail::snapshot {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
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
  for (const char* name : testing::kNames) {
    legacy += static_cast<std::int64_t>(fs::file_size(gen / name));
  }
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
  for (int i = 1; i <= 3; ++i) {
    EXPECT_EQ(testing::write_generation(store, 0, 0).manifest.generation, i);
  }
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
    w.flush();
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

// A staged writer holds no lock while it writes and flushes its files: a
// writer that holds the lock from the start commits meanwhile, and the
// staged generation is then published under the next number, its own
// directory completed but never current.
TEST(SnapshotStore, AWriterCommitsWhileAStagedOneWritesItsFiles) {
  TempDir tmp;
  // Blocks the staged writer once its files are durable, before it takes
  // the writers' lock.
  struct Gate final : WriteObserver {
    void on_step(WriteStep step, std::string_view file) override {
      if (step != WriteStep::kTempWritten || file != "matrix.npy") {
        return;
      }
      std::unique_lock lock(mu);
      reached = true;
      cv.notify_all();
      cv.wait(lock, [&] { return open; });
    }
    std::mutex mu;
    std::condition_variable cv;
    bool reached = false, open = false;
  } gate;
  SnapshotStore staged_store(tmp.path(), &gate);
  SnapshotStore store(tmp.path());
  testing::write_generation(store, 1, 1000);

  auto staged = std::async(std::launch::async, [&] {
    GenerationWriter w = staged_store.stage_generation();
    for (const char* name : testing::kNames) {
      w.add(name, testing::file_body(w.generation(), name));
    }
    w.flush();
    return w.commit(2, 2000);
  });
  {
    std::unique_lock lock(gate.mu);
    ASSERT_TRUE(gate.cv.wait_for(lock, 30s, [&] { return gate.reached; }));
  }
  // The staged writer is parked inside its flush; another writer commits.
  auto other = std::async(std::launch::async, [&] { return testing::write_generation(store, 3, 3000); });
  const bool committed_meanwhile = other.wait_for(30s) == std::future_status::ready;
  {
    std::lock_guard lock(gate.mu);
    gate.open = true;
  }
  gate.cv.notify_all();
  ASSERT_TRUE(committed_meanwhile) << "a writer waited for a staged writer's files";
  EXPECT_EQ(other.get().manifest.generation, 3);

  const auto c = staged.get();
  ASSERT_TRUE(c.staged_as.has_value());
  EXPECT_EQ(*c.staged_as, 2);
  EXPECT_EQ(c.manifest.generation, 4);
  EXPECT_EQ(store.current_generation().value(), 4);
  // Generation 2 is complete and lists the same files, the same inodes.
  const auto two = store.read_manifest(2).value();
  EXPECT_EQ(two.files, c.manifest.files);
  for (const char* name : testing::kNames) {
    EXPECT_EQ(fs::equivalent(store.generation_dir(2) / name, store.generation_dir(4) / name), true) << name;
    // The bytes name the generation that computed them, as a carried file's do.
    EXPECT_EQ(testing::slurp(store.generation_dir(4) / name), testing::file_body(2, name));
    EXPECT_EQ(testing::slurp(store.version_dir() / name), testing::file_body(2, name));
  }
  auto snap = store.read_current();
  ASSERT_TRUE(snap.ok()) << snap.error().message;
  EXPECT_EQ(snap->manifest.generation, 4);
}

TEST(SnapshotStore, AStagedGenerationIsPublishedUnderItsOwnNumberWhenNothingCameBetween) {
  TempDir tmp;
  SnapshotStore store(tmp.path());
  testing::write_generation(store, 1, 1000);
  GenerationWriter w = store.stage_generation();
  EXPECT_EQ(w.generation(), 2);
  // The number is reserved: a writer meanwhile would take 3.
  EXPECT_TRUE(fs::is_directory(store.generation_dir(2)));
  for (const char* name : testing::kNames) {
    w.add(name, testing::file_body(w.generation(), name));
  }
  const auto c = w.commit(2, 2000);
  EXPECT_FALSE(c.staged_as.has_value());
  EXPECT_EQ(c.manifest.generation, 2);
  EXPECT_TRUE(testing::consistent(store.read_current().value()));
}

TEST(SnapshotStore, GcLeavesAGenerationBeingWrittenAloneAndCollectsOneWhoseWriterDied) {
  TempDir tmp;
  SnapshotStore store(tmp.path());
  testing::write_generation(store, 1, 1000);
  {
    GenerationWriter w = store.stage_generation();
    w.add("alpha.json", "x");
    w.flush();
    // Partial (no manifest), but its writer is alive: not gc's to take.
    auto gc = store.collect_garbage(RetentionPolicy{1, 0}, /*dry_run=*/false, 5000);
    EXPECT_TRUE(gc.removed.empty());
    EXPECT_TRUE(fs::exists(store.generation_dir(2) / "alpha.json"));
    w.add("beta.json", "y");
    w.add("matrix.npy", "z");
    EXPECT_EQ(w.commit(2, 2000).manifest.generation, 2);
  }
  // A staged writer that dies leaves a partial generation gc removes.
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    SnapshotStore own(tmp.path());
    GenerationWriter w = own.stage_generation();
    w.add("alpha.json", "x");
    w.flush();
    ::_exit(0);  // no destructor: the directory stays
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(fs::exists(store.generation_dir(3)));
  auto gc = store.collect_garbage(RetentionPolicy{10, 1LL << 40}, /*dry_run=*/false, 5000);
  ASSERT_EQ(gc.removed.size(), 1u);
  EXPECT_EQ(gc.removed[0].generation, 3);
  EXPECT_EQ(gc.removed[0].reason, "partial");
}

// The fsyncs of one generation (docs/snapshots.md, "Why each fsync"): one
// per new file, the manifest and v1/.CURRENT.tmp, the generation directory
// and generations/, then v1/ once CURRENT is renamed. A linked file costs
// none, and the legacy copies none.
TEST(SnapshotStore, FsyncsPerGeneration) {
  TempDir tmp;
  SnapshotStore store(tmp.path());
  auto first = testing::write_generation(store, 1, 1000);
  EXPECT_EQ(first.timings.fsyncs, 3 + 5);
  GenerationWriter w = store.begin_generation();
  w.add("alpha.json", "changed");
  w.link("beta.json", 1, first.manifest.files.at("beta.json"));
  w.link("matrix.npy", 1, first.manifest.files.at("matrix.npy"));
  EXPECT_EQ(w.commit(2, 2000).timings.fsyncs, 1 + 5);
}

}  // namespace
}  // namespace cocktail::snapshot

// Verification in chunks, and what retention does about disk space: the
// versions of large files kept, the size budget (hard-linked files counted
// once), and making room before a write on a nearly full disk (a probe that
// fakes a small disk holding only the store).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cerrno>
#include <set>
#include <utility>

#include "cocktail/snapshot/sha256.h"
#include "cocktail/snapshot/snapshot_store.h"
#include "store_fixture.h"

namespace cocktail::snapshot {
namespace {

namespace fs = std::filesystem;
constexpr std::int64_t kHour = std::int64_t{3600} * 1000;
constexpr std::int64_t kT0 = 1795000000000;
constexpr std::int64_t kKeepAll = 1LL << 50;

// Bytes under `dir`, each inode once (what a disk holding only it uses).
std::int64_t du(const fs::path& dir) {
  std::set<std::pair<dev_t, ino_t>> seen;
  std::int64_t total = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    struct stat st {};
    if (::lstat(e.path().c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        seen.emplace(st.st_dev, st.st_ino).second) {
      total += st.st_size;
    }
  }
  return total;
}

std::vector<std::int64_t> removed_ids(const RetentionResult& r) {
  std::vector<std::int64_t> out;
  for (const auto& g : r.removed) {
    out.push_back(g.generation);
  }
  return out;
}

TEST(Sha256, StreamedDigestEqualsTheOneShot) {
  const std::string text(100000, 'x');
  Sha256 h;
  h.update(std::string_view(text).substr(0, 1));
  h.update(std::string_view(text).substr(1, 65535));
  h.update(std::string_view(text).substr(65536));
  EXPECT_EQ(h.hex(), sha256_hex(text));
  EXPECT_EQ(Sha256().hex(), sha256_hex(""));
}

TEST(VerifyFile, ChecksSizeAndDigestInPacedChunks) {
  testing::TempDir tmp;
  SnapshotStore store(tmp.path());
  GenerationWriter w = store.begin_generation();
  w.add("big.bin", std::string(10000, 'b'));
  w.add("small.json", "{}");
  const Manifest m = w.commit(1, kT0).manifest;

  std::vector<std::size_t> chunks;
  EXPECT_FALSE(store.verify_file(
      m, "big.bin", [&](std::size_t n) { chunks.push_back(n); }, 4096));
  EXPECT_EQ(chunks, (std::vector<std::size_t>{4096, 4096, 1808}));

  // Same size, one byte changed: only the digest can tell.
  auto bytes = testing::slurp(store.generation_dir(1) / "big.bin");
  bytes[5000] = 'c';
  testing::spit(store.generation_dir(1) / "big.bin", bytes);
  auto bad = store.verify_file(m, "big.bin");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->kind, ReadErrorKind::kCorrupt);
  EXPECT_EQ(bad->file, "v1/generations/1/big.bin");
  // Truncated: refused on the size before anything is read.
  testing::spit(store.generation_dir(1) / "small.json", "{");
  chunks.clear();
  bad = store.verify_file(m, "small.json", [&](std::size_t n) { chunks.push_back(n); });
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->kind, ReadErrorKind::kCorrupt);
  EXPECT_TRUE(chunks.empty());
  fs::remove(store.generation_dir(1) / "small.json");
  EXPECT_EQ(store.verify_file(m, "small.json")->kind, ReadErrorKind::kNotFound);
  EXPECT_EQ(store.verify_file(m, "other.json")->kind, ReadErrorKind::kNotFound);
}

TEST(SnapshotIoError, CarriesTheErrno) {
  testing::TempDir tmp;
  SnapshotStore store(tmp.path());
  GenerationWriter w = store.begin_generation();
  try {
    w.link("missing.json", 99, FileEntry{std::string(64, 'a'), 1});
    FAIL() << "linked a missing file";
  } catch (const SnapshotIoError& e) {
    EXPECT_EQ(e.error_number(), ENOENT);
  }
}

// A store shaped like analytics-regen's: "exact.json" rewritten by every
// generation, "map.bin" (large) rewritten only by some ("map generations")
// and carried forward by hard link by the others.
class LinkedStoreTest : public ::testing::Test {
 protected:
  static constexpr std::int64_t kMapBytes = 100000;
  static constexpr std::int64_t kExactBytes = 1000;

  // Writes a generation; with `new_map` a fresh map.bin, else a link to the
  // previous generation's.
  std::int64_t write(bool new_map) {
    GenerationWriter w = store_.begin_generation();
    const std::int64_t g = w.generation();
    w.add("exact.json", std::string(kExactBytes, static_cast<char>('a' + g % 26)));
    if (new_map || g == 1) {
      w.add("map.bin", std::string(kMapBytes, static_cast<char>('A' + g % 26)));
    } else {
      const Manifest prev = store_.read_manifest(g - 1).value();
      w.link("map.bin", g - 1, prev.files.at("map.bin"));
    }
    w.commit(g, kT0 + g * kHour);
    return g;
  }

  std::int64_t disk_bytes() { return store_.report(kT0).total_bytes; }

  testing::TempDir tmp_;
  SnapshotStore store_{tmp_.path()};
};

TEST_F(LinkedStoreTest, OnlyTheNewestSupersededVersionsOfAVersionedFileAreKept) {
  // Maps written by generations 1, 4 and 7; 2-3 link 1's, 5-6 link 4's, 8 links 7's.
  for (int g = 1; g <= 8; ++g) {
    write(g == 1 || g == 4 || g == 7);
  }
  RetentionPolicy policy{100, kKeepAll};  // count and age alone would keep everything
  policy.versioned_files = {"map.bin"};
  policy.keep_versions = 1;

  auto dry = store_.collect_garbage(policy, /*dry_run=*/true, kT0 + 9 * kHour);
  EXPECT_EQ(removed_ids(dry), (std::vector<std::int64_t>{1, 2, 3}));
  for (const auto& r : dry.removed) {
    EXPECT_EQ(r.reason, "superseded");
  }
  // Generations 1-3 share one map: removing them frees it once, plus their
  // three exact files.
  EXPECT_EQ(
      dry.bytes_freed, kMapBytes + 3 * kExactBytes + [&] {
        std::int64_t manifests = 0;
        for (int g = 1; g <= 3; ++g) {
          manifests += fs::file_size(store_.generation_dir(g) / "manifest.json");
        }
        return manifests;
      }());
  EXPECT_EQ(dry.removed[0].bytes,
            kExactBytes + static_cast<std::int64_t>(fs::file_size(
                              store_.generation_dir(1) / "manifest.json")));  // map still linked by 2
  const std::int64_t before = disk_bytes();
  auto real = store_.collect_garbage(policy, /*dry_run=*/false, kT0 + 9 * kHour);
  EXPECT_EQ(removed_ids(real), removed_ids(dry));
  EXPECT_EQ(disk_bytes(), before - real.bytes_freed);
  EXPECT_EQ(real.store_bytes, disk_bytes());

  // None kept: only the current map's generations stay.
  policy.keep_versions = 0;
  auto none = store_.collect_garbage(policy, false, kT0 + 9 * kHour);
  EXPECT_EQ(removed_ids(none), (std::vector<std::int64_t>{4, 5, 6}));
  EXPECT_EQ(none.kept, (std::vector<std::int64_t>{7, 8}));
  EXPECT_TRUE(store_.read_current().ok());
}

TEST_F(LinkedStoreTest, TheSizeBudgetCountsHardLinksOnceAndNeverTouchesCurrent) {
  for (int g = 1; g <= 6; ++g) {
    write(g == 1 || g == 4);  // maps of 1 (shared by 2, 3) and 4 (5, 6)
  }
  const std::int64_t full = disk_bytes();
  // Every inode once: two maps, six exact files, manifests, the legacy
  // copies (links to generation 6: no bytes of their own) and CURRENT.
  EXPECT_LT(full, 2 * kMapBytes + 6 * kExactBytes + 6 * std::int64_t{1000});
  EXPECT_GT(full, 2 * kMapBytes + 6 * kExactBytes);

  // A budget one map short: the oldest generations go until the first map
  // is freed (removing 1 and 2 frees only their exact files).
  RetentionPolicy policy{100, kKeepAll};
  policy.max_bytes = full - kMapBytes / 2;
  auto r = store_.collect_garbage(policy, false, kT0 + 7 * kHour);
  EXPECT_EQ(removed_ids(r), (std::vector<std::int64_t>{1, 2, 3}));
  for (const auto& g : r.removed) {
    EXPECT_EQ(g.reason, "over_budget");
  }
  EXPECT_LE(disk_bytes(), policy.max_bytes);
  EXPECT_EQ(r.store_bytes, disk_bytes());

  // A budget smaller than the current generation: everything else goes,
  // CURRENT stays, whole.
  policy.max_bytes = 1;
  r = store_.collect_garbage(policy, false, kT0 + 7 * kHour);
  EXPECT_EQ(r.kept, (std::vector<std::int64_t>{6}));
  auto current = store_.read_current();
  ASSERT_TRUE(current.ok());
  EXPECT_EQ(current->files.at("map.bin"), std::string(kMapBytes, 'E'));  // generation 4's, linked
}

TEST_F(LinkedStoreTest, MakeRoomRemovesTheOldestUntilTheWriteFits) {
  for (int g = 1; g <= 6; ++g) {
    write(g == 1 || g == 4);
  }
  // A small disk holding only the store: 40 KB free.
  const std::int64_t capacity = disk_bytes() + 40000;
  store_.set_space_probe([&](const fs::path&) -> std::optional<core::FilesystemUsage> {
    const std::int64_t used = du(store_.version_dir());
    return core::FilesystemUsage{capacity, capacity - used, capacity - used};
  });
  fs::create_directories(store_.generation_dir(7));  // a dead writer's partial generation
  testing::spit(store_.generation_dir(7) / ".exact.json.tmp", std::string(500, 'p'));

  // Room already: nothing happens.
  auto none = store_.make_room(30000, kT0);
  EXPECT_TRUE(none.removed.empty());
  // A write of 120 KB: the partial one first, then the oldest published,
  // until the first map (100 KB) is freed with generation 3.
  auto r = store_.make_room(120000, kT0 + 7 * kHour);
  EXPECT_EQ(removed_ids(r), (std::vector<std::int64_t>{7, 1, 2, 3}));
  EXPECT_EQ(r.removed[0].reason, "partial");
  EXPECT_EQ(r.removed[1].reason, "space");
  EXPECT_GE(store_.space()->available_bytes, 120000);
  // More than the disk can ever give: everything but CURRENT, then it stops.
  r = store_.make_room(capacity * 2, kT0 + 7 * kHour);
  EXPECT_EQ(removed_ids(r), (std::vector<std::int64_t>{4, 5}));
  EXPECT_EQ(r.kept, (std::vector<std::int64_t>{6}));
  EXPECT_TRUE(store_.read_current().ok());
  EXPECT_EQ(store_.report(kT0).fs_total_bytes, capacity);  // the report uses the probe too
}

// A staged writer's generation has no manifest until it commits, yet it is
// being written, not partial: neither making room, nor the size budget, nor
// the versions of a versioned file take it.
TEST_F(LinkedStoreTest, MakeRoomAndTheBudgetLeaveAGenerationBeingWrittenAlone) {
  for (int g = 1; g <= 3; ++g) {
    write(g == 1);
  }
  const std::int64_t capacity = disk_bytes() + 40000;
  store_.set_space_probe([&](const fs::path&) -> std::optional<core::FilesystemUsage> {
    const std::int64_t used = du(store_.version_dir());
    return core::FilesystemUsage{capacity, capacity - used, capacity - used};
  });
  GenerationWriter staged = store_.stage_generation();
  const std::int64_t g = staged.generation();
  ASSERT_EQ(g, 4);
  staged.add("map.bin", std::string(kMapBytes, 'S'));
  staged.flush();

  RetentionPolicy policy{1, 0};
  policy.max_bytes = 1;
  policy.versioned_files = {"map.bin"};
  policy.keep_versions = 0;
  auto gc = store_.collect_garbage(policy, /*dry_run=*/false, kT0 + 7 * kHour);
  EXPECT_EQ(removed_ids(gc), (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(gc.kept, (std::vector<std::int64_t>{3, 4}));
  // More than the disk can ever give: only CURRENT and the staged one stay.
  {
    // 5: a fast generation committed beside the staged writer, linking 3's map.
    GenerationWriter w = store_.begin_generation();
    ASSERT_EQ(w.generation(), 5);
    w.add("exact.json", "{}");
    w.link("map.bin", 3, store_.read_manifest(3).value().files.at("map.bin"));
    w.commit(5, kT0 + 5 * kHour);
  }
  auto room = store_.make_room(capacity * 2, kT0 + 7 * kHour);
  EXPECT_EQ(removed_ids(room), (std::vector<std::int64_t>{3}));
  EXPECT_TRUE(fs::exists(store_.generation_dir(g) / "map.bin"));

  // It then commits, completed under its own number and published as the next.
  staged.add("exact.json", "{}");
  const auto committed = staged.commit(5, kT0 + 8 * kHour);
  EXPECT_EQ(committed.staged_as, g);
  EXPECT_EQ(committed.manifest.generation, 6);
  auto current = store_.read_current();
  ASSERT_TRUE(current.ok()) << current.error().message;
  EXPECT_EQ(current->files.at("map.bin"), std::string(kMapBytes, 'S'));
}

}  // namespace
}  // namespace cocktail::snapshot

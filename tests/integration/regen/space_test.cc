// The Regenerator on a nearly full disk: retention makes room before a write
// fails, the slow lane (large files) leaves a reserve for the fast lane and
// fails cleanly when it cannot, and the fast lane's small write is attempted
// whatever the slow lane could do. Once on a faked small disk (a probe that
// counts only the store), once on a real 2 MiB tmpfs (skipped where mount is
// not permitted).
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "cocktail/regen_service/exact_producer.h"
#include "cocktail/regen_service/regenerator.h"
#include "synthetic_catalog.h"

namespace cocktail::regen_service {
namespace {

namespace fs = std::filesystem;

// A slow-lane producer of one large file, new bytes on every run (a file
// whose bytes did not change would be linked, costing no space).
class BigSlowProducer final : public Producer {
 public:
  explicit BigSlowProducer(std::size_t bytes) : bytes_(bytes) {}
  std::string_view name() const override { return "big-slow"; }
  bool slow() const override { return true; }
  std::vector<std::string> outputs() const override { return {"big.bin"}; }
  void produce(const ProducerContext&, ProducerOutput& out) override {
    Artifact a;
    a.analytics_type = "big";
    a.file_name = "big.bin";
    a.body = std::string(bytes_, static_cast<char>('a' + runs_++ % 26));
    a.envelope = false;
    out.artifacts.push_back(std::move(a));
  }

 private:
  std::size_t bytes_;
  int runs_ = 0;
};

// Bytes under `dir`, each inode once.
std::int64_t du(const fs::path& dir) {
  std::set<std::pair<dev_t, ino_t>> seen;
  std::int64_t total = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        seen.emplace(st.st_dev, st.st_ino).second) {
      total += st.st_size;
    }
  }
  return total;
}

class SpaceTest : public ::testing::Test {
 protected:
  void make_catalog(const std::string& path) {
    auto db = testing::open_test_catalog(path);
    testing::create_catalog_schema(*db);
    testing::SyntheticSpec spec;
    spec.ingredients = 30;
    spec.recipes = 40;
    spec.change_log_rows = 4;
    testing::fill_synthetic(*db, spec);
  }
  std::unique_ptr<Regenerator> regenerator(snapshot::SnapshotStore& store, const std::string& db,
                                           std::size_t big_bytes, std::int64_t min_free) {
    RegeneratorSettings s;
    s.db_path = db;
    s.split_lanes = true;
    s.min_free_bytes = min_free;
    std::vector<std::unique_ptr<Producer>> producers;
    producers.push_back(std::make_unique<ExactAnalyticsProducer>());
    producers.push_back(std::make_unique<BigSlowProducer>(big_bytes));
    return std::make_unique<Regenerator>(s, store, std::move(producers));
  }
};

TEST_F(SpaceTest, OnAFakedSmallDiskTheFastLaneMakesRoomAndTheSlowLaneKeepsTheReserve) {
  testing::TempDir dir;
  make_catalog(dir.file("catalog.db"));
  snapshot::SnapshotStore store(dir.file("analytics"));
  std::int64_t capacity = 1LL << 40;
  store.set_space_probe([&](const fs::path&) -> std::optional<core::FilesystemUsage> {
    const std::int64_t free = capacity - du(store.version_dir());
    return core::FilesystemUsage{capacity, free, free};
  });
  auto regen = regenerator(store, dir.file("catalog.db"), 100000, 50000);
  std::shared_ptr<const LoadedCatalog> loaded;
  ASSERT_TRUE(regen->run_fast(nullptr, &loaded).ok());
  ASSERT_TRUE(regen->run_slow(*loaded, nullptr).ok());
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(regen->run_fast(nullptr, &loaded).ok());
  }
  const std::int64_t used = du(store.version_dir());
  ASSERT_EQ(store.generations().size(), 6u);

  // The disk now has room for one more fast generation but not for a second
  // copy of big.bin plus the reserve.
  capacity = used + 90000;
  const std::int64_t before = store.current_generation().value();
  auto slow = regen->run_slow(*loaded, nullptr);
  ASSERT_FALSE(slow.ok());
  EXPECT_EQ(slow.failure().stage, "write");
  EXPECT_NE(slow.failure().reason.find("not enough space"), std::string::npos) << slow.failure().reason;
  EXPECT_EQ(store.current_generation().value(), before);
  EXPECT_FALSE(fs::exists(store.generation_dir(before + 1))) << "nothing written";
  // Trying, it removed the old generations (which only held links to the
  // current big.bin and their own exact files): the fast lane still has room.
  auto fast = regen->run_fast(nullptr, &loaded);
  ASSERT_TRUE(fast.ok()) << fast.failure().message();
  EXPECT_TRUE(store.read_current().ok());

  // Tighter still: the fast lane's own write needs the oldest generations
  // gone, and gets them gone.
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(regen->run_fast(nullptr, &loaded).ok());
  }
  capacity = du(store.version_dir()) + 30000;
  fast = regen->run_fast(nullptr, &loaded);
  ASSERT_TRUE(fast.ok()) << fast.failure().message();
  EXPECT_FALSE(fast.value().made_room.empty());
  EXPECT_EQ(fast.value().made_room.front().reason, "space");
  EXPECT_TRUE(store.read_current().ok());
}

// A 2 MiB tmpfs mounted for the test (root with CAP_SYS_ADMIN only).
class SmallTmpfs {
 public:
  explicit SmallTmpfs(const fs::path& at) : path_(at) {
    fs::create_directories(path_);
    if (::mount("tmpfs", path_.c_str(), "tmpfs", 0, "size=2m") != 0) {
      error_ = std::strerror(errno);
      return;
    }
    mounted_ = true;
  }
  ~SmallTmpfs() {
    if (mounted_) {
      ::umount2(path_.c_str(), MNT_DETACH);
    }
  }
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
  bool mounted_ = false;
  std::string error_;
};

// Fills the file system up to the last `leave` bytes when armed (a write
// observer: the moment a generation directory exists).
class Filler final : public snapshot::WriteObserver {
 public:
  explicit Filler(fs::path file) : file_(std::move(file)) {}
  void on_step(snapshot::WriteStep step, std::string_view) override {
    if (step != snapshot::WriteStep::kGenerationCreated || !armed) {
      return;
    }
    armed = false;
    fill(leave);
  }
  void fill(std::int64_t leave_bytes) {
    const auto space = core::statvfs_usage(file_.parent_path());
    const std::int64_t add = space ? space->available_bytes - leave_bytes : 0;
    if (add <= 0) {
      return;
    }
    std::ofstream out(file_, std::ios::binary | std::ios::app);
    const std::string chunk(4096, 'f');
    for (std::int64_t n = 0; n < add && out; n += static_cast<std::int64_t>(chunk.size())) {
      out << chunk;
    }
  }
  void clear() { fs::remove(file_); }
  bool armed = false;
  std::int64_t leave = 0;

 private:
  fs::path file_;
};

TEST_F(SpaceTest, OnARealSmallTmpfsTheFastLanePublishesWhenTheSlowLaneCannotWrite) {
  testing::TempDir dir;
  SmallTmpfs disk(dir.file("disk"));
  if (!disk.mounted()) {
    GTEST_SKIP() << "cannot mount a tmpfs here: " << disk.error();
  }
  make_catalog(dir.file("catalog.db"));
  Filler filler(disk.path() / "filler");
  snapshot::SnapshotStore store(disk.path() / "analytics", &filler);
  // big.bin is 600 KB; the slow lane keeps 256 KB free for the fast lane.
  auto regen = regenerator(store, dir.file("catalog.db"), std::size_t{600} * 1024, std::int64_t{256} * 1024);
  std::shared_ptr<const LoadedCatalog> loaded;
  ASSERT_TRUE(regen->run_fast(nullptr, &loaded).ok());
  ASSERT_TRUE(regen->run_slow(*loaded, nullptr).ok());
  const std::int64_t with_maps = store.current_generation().value();

  // Another process fills the disk to its last 500 KB: a new big.bin and
  // the reserve do not fit, so the slow lane refuses before writing...
  filler.fill(std::int64_t{500} * 1024);
  auto slow = regen->run_slow(*loaded, nullptr);
  ASSERT_FALSE(slow.ok());
  EXPECT_NE(slow.failure().reason.find("not enough space"), std::string::npos) << slow.failure().reason;
  // ...and the fast lane publishes, again and again, in what is left.
  for (int i = 0; i < 5; ++i) {
    auto fast = regen->run_fast(nullptr, &loaded);
    ASSERT_TRUE(fast.ok()) << fast.failure().message();
  }
  auto snap = store.read_current();
  ASSERT_TRUE(snap.ok()) << snap.error().message;
  EXPECT_EQ(snap->files.count("big.bin"), 1u) << "the maps are carried";
  EXPECT_GT(snap->manifest.generation, with_maps);

  // A real ENOSPC in the middle of the slow lane's write (the disk filled
  // after its check): the run fails, its partial generation is gone, CURRENT
  // is untouched, and the fast lane publishes right after.
  filler.clear();
  const std::int64_t current = store.current_generation().value();
  filler.leave = 4096;
  filler.armed = true;
  slow = regen->run_slow(*loaded, nullptr);
  ASSERT_FALSE(slow.ok());
  EXPECT_NE(slow.failure().reason.find("No space left"), std::string::npos) << slow.failure().reason;
  EXPECT_EQ(store.current_generation().value(), current);
  EXPECT_EQ(store.generations().back(), current) << "the partial generation was removed";
  filler.clear();
  filler.fill(std::int64_t{64} * 1024);
  auto fast = regen->run_fast(nullptr, &loaded);
  ASSERT_TRUE(fast.ok()) << fast.failure().message();
  EXPECT_TRUE(store.read_current().ok());

  // With room again, the slow lane catches up.
  filler.clear();
  ASSERT_TRUE(regen->run_slow(*loaded, nullptr).ok());
  EXPECT_TRUE(store.read_current().ok());
}

}  // namespace
}  // namespace cocktail::regen_service

// A reader running while 1,000 generations are written (and gc prunes behind
// them) never sees a mix of generations or a torn file.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "cocktail/snapshot/snapshot_store.h"
#include "store_fixture.h"

namespace cocktail::snapshot {
namespace {

TEST(SnapshotConcurrency, ReadersNeverSeeAMixOrATornFile) {
  // Atomicity is a property of rename, the same on every local file system;
  // tmpfs, where fsync costs nothing, keeps 1,000 durable writes to seconds.
  const bool shm = std::filesystem::is_directory("/dev/shm");
  testing::TempDir tmp(shm ? std::filesystem::path("/dev/shm") : std::filesystem::temp_directory_path());
  SnapshotStore store(tmp.path());
  testing::write_generation(store, 0, 0);
  constexpr int kGenerations = 1000;

  std::atomic<bool> done{false};
  std::atomic<std::int64_t> snapshots{0}, legacy_reads{0};
  std::vector<std::string> problems;  // owned by the reader until joined
  std::thread reader([&] {
    SnapshotStore view(tmp.path());  // a separate instance, as another process would have
    std::int64_t last = 0;
    while (!done.load()) {
      auto snap = view.read_current();
      if (!snap.ok()) {
        problems.push_back(std::string(read_error_kind_name(snap.error().kind)) + ": " +
                           snap.error().message);
        continue;
      }
      if (auto c = testing::consistent(snap.value()); !c) {
        problems.push_back(c.message());
      }
      if (snap->manifest.generation < last) {
        problems.push_back("generation went backwards");
      }
      last = snap->manifest.generation;
      ++snapshots;
      // A reader of the legacy layout sees a whole file of some generation.
      const std::string legacy = testing::slurp(view.version_dir() / "beta.json");
      const auto pos = legacy.find(',');
      if (legacy.rfind("{\"generation\":", 0) != 0 || pos == std::string::npos ||
          legacy.substr(pos) != ",\"file\":\"beta.json\"}") {
        problems.push_back("torn legacy file: " + legacy);
      }
      ++legacy_reads;
    }
  });

  const RetentionPolicy keep_three{3, 0};
  for (int i = 0; i < kGenerations; ++i) {
    testing::write_generation(store, i, i);
    store.collect_garbage(keep_three, /*dry_run=*/false, i + 1);
  }
  done = true;
  reader.join();

  EXPECT_TRUE(problems.empty()) << problems.size() << " problems, first: " << problems.front();
  EXPECT_GT(snapshots.load(), 0);
  EXPECT_EQ(store.current_generation().value(), kGenerations + 1);
  EXPECT_EQ(store.report(0).generations.size(), 3u);
  std::cout << "reader verified " << snapshots.load() << " snapshots and " << legacy_reads.load()
            << " legacy files during " << kGenerations << " writes\n";
}

}  // namespace
}  // namespace cocktail::snapshot

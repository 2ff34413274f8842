// A failure at every step of a write — an exception, or the process dying
// there — leaves the previous generation complete and current (or, once
// CURRENT was replaced, the new one complete and current), and gc cleans up
// whatever the failed writer left.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cocktail/snapshot/snapshot_store.h"
#include "store_fixture.h"

namespace cocktail::snapshot {
namespace {

namespace fs = std::filesystem;

// These tests are about what a reader sees after a failure, which depends on
// rename and the order of steps, not on fsync; tmpfs keeps the ~30 writes
// per test fast. store_test and retention_test run on the real file system.
testing::TempDir scratch() {
  return testing::TempDir(fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path());
}

struct Step {
  WriteStep step;
  std::string file;
};

// Records every step; at step number `fail_at` throws, or exits the process
// when `crash` is set (a crash: no destructor, no clean-up).
class FaultInjector final : public WriteObserver {
 public:
  void on_step(WriteStep step, std::string_view file) override {
    steps.push_back({step, std::string(file)});
    if (static_cast<int>(steps.size()) - 1 == fail_at) {
      if (crash) ::_exit(0);
      throw std::runtime_error("injected failure at " + std::string(write_step_name(step)) + " " +
                               std::string(file));
    }
  }
  int fail_at = -1;
  bool crash = false;
  std::vector<Step> steps;
};

// Index of the step at which the new generation becomes current.
int publish_index(const std::vector<Step>& steps) {
  for (std::size_t i = 0; i < steps.size(); ++i) {
    if (steps[i].step == WriteStep::kCurrentReplaced) return static_cast<int>(i);
  }
  return -1;
}

std::vector<Step> clean_run_steps() {
  auto tmp = scratch();
  FaultInjector probe;
  SnapshotStore store(tmp.path(), &probe);
  testing::write_generation(store, 1, 1000);
  probe.steps.clear();
  testing::write_generation(store, 2, 2000);
  return probe.steps;
}

TEST(SnapshotFaults, EveryStepIsObserved) {
  const auto steps = clean_run_steps();
  // generation dir, 3 x (temp, rename), before manifest, manifest temp+rename,
  // before CURRENT, CURRENT temp, CURRENT replaced, 3 legacy x (temp, rename).
  ASSERT_EQ(steps.size(), 1u + 6u + 1u + 2u + 1u + 1u + 1u + 6u);
  EXPECT_EQ(steps.front().step, WriteStep::kGenerationCreated);
  EXPECT_EQ(steps[publish_index(steps) - 1].file, "CURRENT");
  EXPECT_EQ(steps.back().step, WriteStep::kLegacyRenamed);
}

TEST(SnapshotFaults, AnExceptionAtAnyStepLeavesACompleteCurrentGeneration) {
  const auto steps = clean_run_steps();
  const int published = publish_index(steps);
  for (int k = 0; k < static_cast<int>(steps.size()); ++k) {
    SCOPED_TRACE("failure at step " + std::to_string(k) + " " + write_step_name(steps[k].step) + " " +
                 steps[k].file);
    auto tmp = scratch();
    FaultInjector faults;
    SnapshotStore store(tmp.path(), &faults);
    testing::write_generation(store, 1, 1000);
    faults.steps.clear();
    faults.fail_at = k;

    if (k < published) {
      EXPECT_THROW(testing::write_generation(store, 2, 2000), std::runtime_error);
      EXPECT_EQ(store.current_generation().value(), 1);
      // The failed writer removed its directory; legacy copies untouched.
      EXPECT_FALSE(fs::exists(store.generation_dir(2)));
      EXPECT_EQ(testing::slurp(store.version_dir() / "alpha.json"), testing::file_body(1, "alpha.json"));
    } else {
      auto committed = testing::write_generation(store, 2, 2000);
      EXPECT_FALSE(committed.warnings.empty());
      EXPECT_EQ(store.current_generation().value(), 2);
    }
    auto snap = store.read_current();
    ASSERT_TRUE(snap.ok()) << snap.error().message;
    EXPECT_TRUE(testing::consistent(snap.value()));
    EXPECT_EQ(snap->manifest.generation, k < published ? 1 : 2);

    // The store keeps working: the next write succeeds and publishes.
    faults.fail_at = -1;
    auto next = testing::write_generation(store, 3, 3000);
    EXPECT_TRUE(next.warnings.empty());
    EXPECT_EQ(store.current_generation().value(), next.manifest.generation);
    EXPECT_TRUE(testing::consistent(store.read_current().value()));
    EXPECT_EQ(testing::slurp(store.version_dir() / "beta.json"),
              testing::file_body(next.manifest.generation, "beta.json"));
  }
}

TEST(SnapshotFaults, ACrashAtAnyStepLeavesACompleteCurrentGenerationAndGcCleansUp) {
  const auto steps = clean_run_steps();
  const int published = publish_index(steps);
  int manifest_renamed = -1;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    if (steps[i].step == WriteStep::kRenamed && steps[i].file == "manifest.json")
      manifest_renamed = static_cast<int>(i);
  }
  ASSERT_GT(manifest_renamed, 0);
  for (int k = 0; k < static_cast<int>(steps.size()); ++k) {
    SCOPED_TRACE("crash at step " + std::to_string(k) + " " + write_step_name(steps[k].step) + " " +
                 steps[k].file);
    auto tmp = scratch();
    {
      SnapshotStore store(tmp.path());
      testing::write_generation(store, 1, 1000);
    }
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      FaultInjector faults;
      faults.fail_at = k;
      faults.crash = true;
      SnapshotStore store(tmp.path(), &faults);
      try {
        testing::write_generation(store, 2, 2000);
      } catch (...) {
      }
      ::_exit(3);  // not reached when the crash happened
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_EQ(WEXITSTATUS(status), 0) << "the child did not reach step " << k;

    SnapshotStore store(tmp.path());
    auto snap = store.read_current();
    ASSERT_TRUE(snap.ok()) << snap.error().message;
    EXPECT_TRUE(testing::consistent(snap.value()));
    const bool before_publish = k < published;
    EXPECT_EQ(snap->manifest.generation, before_publish ? 1 : 2);
    // Legacy copies are whole files of one generation or the other.
    const std::string legacy = testing::slurp(store.version_dir() / "alpha.json");
    EXPECT_TRUE(legacy == testing::file_body(1, "alpha.json") ||
                legacy == testing::file_body(2, "alpha.json"));

    // gc (holding the lock the dead writer released) removes what the crash
    // left: a partial generation, or a complete one never published.
    auto gc = store.collect_garbage(RetentionPolicy{10, 1LL << 40}, /*dry_run=*/false, 5000);
    if (before_publish) {
      ASSERT_EQ(gc.removed.size(), 1u);
      EXPECT_EQ(gc.removed[0].generation, 2);
      EXPECT_EQ(gc.removed[0].reason, k >= manifest_renamed ? "unpublished" : "partial");
    } else {
      EXPECT_TRUE(gc.removed.empty());
    }
    EXPECT_FALSE(fs::exists(store.version_dir() / ".CURRENT.tmp"));
    for (const auto& e : fs::recursive_directory_iterator(tmp.path())) {
      EXPECT_FALSE(e.path().filename().string().ends_with(".tmp")) << e.path();
    }
    auto next = testing::write_generation(store, 3, 3000);
    EXPECT_GT(next.manifest.generation, snap->manifest.generation);
    EXPECT_TRUE(testing::consistent(store.read_current().value()));
  }
}

}  // namespace
}  // namespace cocktail::snapshot

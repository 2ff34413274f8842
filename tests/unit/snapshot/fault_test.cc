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
      if (crash) {
        ::_exit(0);
      }
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
    if (steps[i].step == WriteStep::kCurrentReplaced) {
      return static_cast<int>(i);
    }
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
    if (steps[i].step == WriteStep::kRenamed && steps[i].file == "manifest.json") {
      manifest_renamed = static_cast<int>(i);
    }
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

// ---------------------------------------------------------------------------
// Staged writes (SnapshotStore::stage_generation): the files are written
// outside the writers' lock, and when a newer generation was published
// meanwhile (`newer`) the staged one is completed and its files published
// under the next number.

// Generation 1, then a staged generation 2 of the three files (each naming
// generation 2); with `newer`, generation 3 is published by another writer
// between the staged flush and the commit (which then publishes 4).
GenerationWriter::Committed staged_write(SnapshotStore& store, SnapshotStore& other, bool newer,
                                         bool* newer_written) {
  GenerationWriter w = store.stage_generation();
  for (const char* name : testing::kNames) {
    w.add(name, testing::file_body(w.generation(), name));
  }
  w.flush();
  if (newer) {
    testing::write_generation(other, 3, 3000);
    if (newer_written != nullptr) {
      *newer_written = true;
    }
  }
  return w.commit(2, 2000);
}

std::vector<Step> staged_steps(bool newer) {
  auto tmp = scratch();
  FaultInjector probe;
  SnapshotStore store(tmp.path(), &probe);
  SnapshotStore other(tmp.path());
  testing::write_generation(other, 1, 1000);
  staged_write(store, other, newer, nullptr);
  return probe.steps;
}

// Every file a generation lists verifies.
::testing::AssertionResult verifies(const SnapshotStore& store, std::int64_t generation) {
  auto m = store.read_manifest(generation);
  if (!m.ok()) {
    return ::testing::AssertionFailure() << m.error().message;
  }
  for (const auto& [name, entry] : m->files) {
    if (auto f = store.read_file(m.value(), name); !f.ok()) {
      return ::testing::AssertionFailure() << f.error().message;
    }
  }
  return ::testing::AssertionSuccess();
}

TEST(SnapshotFaults, EveryStepOfAStagedWriteIsObserved) {
  // generation dir, 3 x (temp, rename), before manifest, manifest temp+rename,
  // before CURRENT, CURRENT temp, CURRENT replaced, 3 legacy x (temp, rename).
  EXPECT_EQ(staged_steps(false).size(), 1u + 6u + 1u + 2u + 1u + 1u + 1u + 6u);
  // The same, plus the staged generation's own manifest (3 steps), the next
  // generation's directory and its 3 links.
  const auto steps = staged_steps(true);
  EXPECT_EQ(steps.size(), 1u + 6u + 3u + 1u + 3u + 1u + 2u + 1u + 1u + 1u + 6u);
}

TEST(SnapshotFaults, AnExceptionAtAnyStepOfAStagedWriteLeavesACompleteCurrentGeneration) {
  for (const bool newer : {false, true}) {
    const auto steps = staged_steps(newer);
    const int published = publish_index(steps);
    for (int k = 0; k < static_cast<int>(steps.size()); ++k) {
      SCOPED_TRACE(std::string(newer ? "newer meanwhile, " : "") + "failure at step " + std::to_string(k) +
                   " " + write_step_name(steps[k].step) + " " + steps[k].file);
      auto tmp = scratch();
      FaultInjector faults;
      SnapshotStore store(tmp.path(), &faults);
      SnapshotStore other(tmp.path());
      testing::write_generation(other, 1, 1000);
      faults.fail_at = k;
      bool newer_written = false;
      if (k < published) {
        EXPECT_THROW(staged_write(store, other, newer, &newer_written), std::runtime_error);
        const std::int64_t expected = newer_written ? 3 : 1;
        EXPECT_EQ(store.current_generation().value(), expected);
        // Nothing of the failed writer is left: its staged generation and
        // the one it was to be published as.
        EXPECT_FALSE(fs::exists(store.generation_dir(2)));
        EXPECT_FALSE(fs::exists(store.generation_dir(4)));
        auto snap = store.read_current();
        ASSERT_TRUE(snap.ok()) << snap.error().message;
        EXPECT_TRUE(testing::consistent(snap.value()));
      } else {
        auto committed = staged_write(store, other, newer, &newer_written);
        EXPECT_FALSE(committed.warnings.empty());
        EXPECT_EQ(store.current_generation().value(), newer ? 4 : 2);
        EXPECT_TRUE(verifies(store, newer ? 4 : 2));
      }
      faults.fail_at = -1;
      auto next = testing::write_generation(store, 5, 5000);
      EXPECT_EQ(store.current_generation().value(), next.manifest.generation);
      EXPECT_TRUE(testing::consistent(store.read_current().value()));
    }
  }
}

TEST(SnapshotFaults, ACrashAtAnyStepOfAStagedWriteLeavesACompleteCurrentGenerationAndGcCleansUp) {
  for (const bool newer : {false, true}) {
    const auto steps = staged_steps(newer);
    const int published = publish_index(steps);
    for (int k = 0; k < static_cast<int>(steps.size()); ++k) {
      SCOPED_TRACE(std::string(newer ? "newer meanwhile, " : "") + "crash at step " + std::to_string(k) +
                   " " + write_step_name(steps[k].step) + " " + steps[k].file);
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
        SnapshotStore other(tmp.path());
        try {
          staged_write(store, other, newer, nullptr);
        } catch (...) {
        }
        ::_exit(3);  // not reached when the crash happened
      }
      int status = 0;
      ASSERT_EQ(::waitpid(child, &status, 0), child);
      ASSERT_TRUE(WIFEXITED(status));
      ASSERT_EQ(WEXITSTATUS(status), 0) << "the child did not reach step " << k;

      SnapshotStore store(tmp.path());
      const std::int64_t current = store.current_generation().value();
      if (k >= published) {
        EXPECT_EQ(current, newer ? 4 : 2);
      } else {
        EXPECT_TRUE(current == 1 || (newer && current == 3)) << current;
      }
      EXPECT_TRUE(verifies(store, current));

      // gc (the dead writer's locks are gone) removes what is partial or
      // unpublished; every generation it keeps verifies.
      auto gc = store.collect_garbage(RetentionPolicy{10, 1LL << 40}, /*dry_run=*/false, 9000);
      for (const auto g : gc.kept) {
        EXPECT_TRUE(verifies(store, g)) << "generation " << g;
      }
      for (const auto& r : gc.removed) {
        EXPECT_GT(r.generation, 1) << r.reason;
      }
      for (const auto& e : fs::recursive_directory_iterator(tmp.path())) {
        EXPECT_FALSE(e.path().filename().string().ends_with(".tmp")) << e.path();
      }
      auto next = testing::write_generation(store, 5, 5000);
      EXPECT_GT(next.manifest.generation, current);
      EXPECT_TRUE(testing::consistent(store.read_current().value()));
    }
  }
}

}  // namespace
}  // namespace cocktail::snapshot

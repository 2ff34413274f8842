// The Regenerator in process, on each catalog backend: producers plug in,
// and a failing producer or a bad artifact fails the whole regeneration,
// keeping the previous snapshot.
#include "cocktail/regen_service/regenerator.h"

#include <gtest/gtest.h>
#include <simdjson.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <sstream>

#include "catalog_backends.h"
#include "cocktail/catalog/database.h"
#include "cocktail/regen_service/exact_producer.h"
#include "synthetic_catalog.h"

namespace cocktail::regen_service {
namespace {

// A producer standing in for a later analytic: one enveloped JSON file and
// one raw file, derived from the model so that it reflects the catalog.
class RecipeCountProducer final : public Producer {
 public:
  std::string_view name() const override { return "recipe-count"; }
  void produce(const ProducerContext& ctx, ProducerOutput& out) override {
    out.timed("compute.recipe-count", [] {});
    Artifact json;
    json.analytics_type = "recipe-count";
    json.file_name = "recipe-count.json";
    json.body = "[" + std::to_string(ctx.model.recipe_count()) + "]";
    json.extras = {{"rows", std::to_string(ctx.model.recipe_row_count())}};
    json.count = 1;
    out.artifacts.push_back(std::move(json));
    Artifact raw;
    raw.analytics_type = "recipe-count-raw";
    raw.file_name = "recipe-count.bin";
    raw.body = std::string("\x00\x01\x02", 3);
    raw.envelope = false;
    out.artifacts.push_back(std::move(raw));
    out.warnings.push_back("recipe-count is a test producer");
  }
};

class FailingProducer final : public Producer {
 public:
  std::string_view name() const override { return "failing"; }
  void produce(const ProducerContext&, ProducerOutput&) override {
    throw std::runtime_error("no convergence");
  }
};

class DuplicateProducer final : public Producer {
 public:
  std::string_view name() const override { return "duplicate"; }
  void produce(const ProducerContext&, ProducerOutput& out) override {
    Artifact a;
    a.analytics_type = "ingredient-usage";
    a.file_name = "ingredient-usage.json";
    a.body = "[]";
    out.artifacts.push_back(std::move(a));
  }
};

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}
// Writes in place (the same inode), as a stray writer would.
void overwrite(const std::filesystem::path& p, const std::string& bytes) {
  std::fstream f(p, std::ios::binary | std::ios::in | std::ios::out);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A slow-lane producer of one file whose bytes follow the catalog.
class SlowCountProducer final : public Producer {
 public:
  std::string_view name() const override { return "slow-count"; }
  bool slow() const override { return true; }
  std::vector<std::string> outputs() const override { return {"slow-count.json"}; }
  void produce(const ProducerContext& ctx, ProducerOutput& out) override {
    ++runs;
    Artifact a;
    a.analytics_type = "slow-count";
    a.file_name = "slow-count.json";
    a.body = "[" + std::to_string(ctx.model.recipe_count()) + "," + std::string(4096, ' ') + "0]";
    out.artifacts.push_back(std::move(a));
  }
  int runs = 0;
};

class RegeneratorTest : public ::testing::TestWithParam<catalog::Backend> {
 protected:
  void SetUp() override {
    auto db = testing::open_test_catalog(catalog_path_);
    testing::create_catalog_schema(*db);
    testing::SyntheticSpec spec;
    spec.ingredients = 30;
    spec.recipes = 40;
    spec.change_log_rows = 4;
    testing::fill_synthetic(*db, spec);
    seq_ = testing::latest_seq(*db);
  }
  RegeneratorSettings settings() {
    RegeneratorSettings s;
    s.db_path = catalog_path_;
    s.now_ms = [] { return std::int64_t{1795000000000}; };
    return s;
  }

  catalog::testing::TestCatalog catalog_{GetParam()};
  std::string catalog_path_ = catalog_.location();
  testing::TempDir dir_;
  std::int64_t seq_ = 0;
  snapshot::SnapshotStore store_{dir_.file("analytics")};
};

// Two lanes: the exact analytics (fast) and SlowCountProducer (slow).
class CarryTest : public RegeneratorTest {
 protected:
  void SetUp() override {
    RegeneratorTest::SetUp();
    auto s = settings();
    s.split_lanes = true;
    std::vector<std::unique_ptr<Producer>> producers;
    producers.push_back(std::make_unique<ExactAnalyticsProducer>());
    auto slow = std::make_unique<SlowCountProducer>();
    slow_ = slow.get();
    producers.push_back(std::move(slow));
    regen_ = std::make_unique<Regenerator>(s, store_, std::move(producers));
    ASSERT_TRUE(regen_->concurrent_lanes());
    ASSERT_TRUE(regen_->run().ok());  // a fast generation, then the complete one
    ASSERT_EQ(store_.current_generation().value(), 2);
  }
  RegenSummary fast() {
    auto r = regen_->run_fast(nullptr);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.failure().message());
    return r.ok() ? r.value() : RegenSummary{};
  }
  std::filesystem::path file(std::int64_t g, const std::string& name) {
    return store_.generation_dir(g) / name;
  }
  static struct stat stat_of(const std::filesystem::path& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
    return st;
  }
  // Every file of the current generation verifies; returns the snapshot.
  snapshot::Snapshot current() {
    auto snap = store_.read_current();
    EXPECT_TRUE(snap.ok()) << (snap.ok() ? "" : snap.error().message);
    return snap.ok() ? std::move(snap).value() : snapshot::Snapshot{};
  }

  SlowCountProducer* slow_ = nullptr;
  std::unique_ptr<Regenerator> regen_;
};

TEST_P(CarryTest, AFastGenerationLinksUnchangedFilesAndWritesOnlyTheNewOnes) {
  const auto s = fast();
  EXPECT_EQ(s.generation, 3);
  EXPECT_EQ(s.files_linked, 1) << "the slow file is carried";
  EXPECT_EQ(s.files_written, 4) << "the four exact analytics";
  std::int64_t exact_bytes = 0;
  for (const auto& [name, entry] : s.manifest.files) {
    if (name != "slow-count.json") {
      exact_bytes += entry.bytes;
    }
  }
  EXPECT_EQ(s.bytes_written, exact_bytes) << "nothing else is written";
  // The same inode: no byte copied, no new disk space.
  const auto before = stat_of(file(2, "slow-count.json"));
  const auto after = stat_of(file(3, "slow-count.json"));
  EXPECT_EQ(before.st_ino, after.st_ino);
  EXPECT_EQ(after.st_nlink, before.st_nlink);
  EXPECT_GE(after.st_nlink, 2u);
  EXPECT_EQ(s.manifest.files.at("slow-count.json"),
            (snapshot::FileEntry{store_.read_manifest(2)->files.at("slow-count.json").sha256,
                                 store_.read_manifest(2)->files.at("slow-count.json").bytes, std::nullopt}));
  EXPECT_EQ(current().manifest.generation, 3) << "every file verifies";
  EXPECT_EQ(slow_->runs, 1) << "the fast lane never computed the slow file";
}

TEST_P(CarryTest, ACarriedFileThatFailsVerificationIsRecomputedNeverDropped) {
  // Corrupted in place, same size (every generation sharing the inode sees it).
  const auto path = file(2, "slow-count.json");
  std::string bytes = slurp(path);
  bytes[1] = bytes[1] == '9' ? '8' : '9';
  overwrite(path, bytes);
  ASSERT_FALSE(store_.read_file(store_.read_manifest(2).value(), "slow-count.json").ok());

  const auto s = fast();
  EXPECT_EQ(s.generation, 3);
  EXPECT_EQ(slow_->runs, 2) << "recomputed in this run";
  const auto snap = current();
  ASSERT_EQ(snap.files.count("slow-count.json"), 1u) << "never dropped";
  EXPECT_EQ(snap.manifest.file_catalog_seq("slow-count.json"), seq_);
  bool warned = false;
  for (const auto& w : s.warnings) {
    warned = warned || w.find("recomputed") != std::string::npos;
  }
  EXPECT_TRUE(warned);
}

TEST_P(CarryTest, ADistrustedFileIsVerifiedAgainAndAnOlderGoodCopyIsCarried) {
  // Generation 3 gets its own copy of the slow file (another inode)...
  ASSERT_EQ(fast().generation, 3);
  const auto path3 = file(3, "slow-count.json");
  const std::string good = slurp(path3);
  std::filesystem::remove(path3);
  std::ofstream(path3, std::ios::binary) << good;
  ASSERT_NE(stat_of(path3).st_ino, stat_of(file(2, "slow-count.json")).st_ino);
  // ...which then goes bad without its stamp changing size; distrust() asks
  // for it to be read again.
  std::string bad = good;
  bad[1] = bad[1] == '9' ? '8' : '9';
  overwrite(path3, bad);
  regen_->distrust("slow-count.json");
  const auto s = fast();
  EXPECT_EQ(slow_->runs, 1) << "no recomputation: generation 2's copy verifies";
  EXPECT_EQ(stat_of(file(s.generation, "slow-count.json")).st_ino,
            stat_of(file(2, "slow-count.json")).st_ino);
  EXPECT_EQ(current().files.at("slow-count.json"), good);
}

TEST_P(CarryTest, AMissingCurrentOrATruncatedManifestCarriesFromTheNewestReadableGeneration) {
  std::filesystem::remove(store_.version_dir() / "CURRENT");
  auto s = fast();
  EXPECT_EQ(s.generation, 3);
  EXPECT_EQ(current().files.count("slow-count.json"), 1u);

  // The newest manifest cut short: carried from the generation before it.
  const auto manifest3 = file(3, "manifest.json");
  const std::string text = slurp(manifest3);
  std::filesystem::resize_file(manifest3, text.size() / 2);
  s = fast();
  EXPECT_EQ(s.generation, 4);
  const auto snap = current();
  EXPECT_EQ(snap.files.count("slow-count.json"), 1u) << "never dropped";
  EXPECT_EQ(slow_->runs, 1);
  EXPECT_EQ(snap.manifest.files.size(), 5u);
}

TEST_P(RegeneratorTest, ProducersPlugIn) {
  auto producers = default_producers();
  producers.push_back(std::make_unique<RecipeCountProducer>());
  Regenerator regen(settings(), store_, std::move(producers));
  auto result = regen.run();
  ASSERT_TRUE(result.ok()) << result.failure().message();
  const auto& s = result.value();
  EXPECT_EQ(s.generation, 1);
  EXPECT_EQ(s.catalog_seq, seq_);
  EXPECT_EQ(s.counts.back(), (std::pair<std::string, std::int64_t>{"recipe-count", 1}));
  // 4 exact analytics, 5 of the cocktail-space family (the matrices' ids
  // files have no count), the test producer's JSON (its raw file has no count).
  EXPECT_EQ(s.counts.size(), 10u);
  ASSERT_FALSE(s.warnings.empty());
  EXPECT_EQ(s.warnings.back(), "recipe-count is a test producer");
  bool timed = false;
  for (const auto& [stage, ms] : s.durations_ms) {
    timed = timed || stage == "compute.recipe-count";
  }
  EXPECT_TRUE(timed);

  auto snap = store_.read_current();
  ASSERT_TRUE(snap.ok()) << snap.error().message;
  EXPECT_EQ(snap->files.at("recipe-count.bin"), std::string("\x00\x01\x02", 3));
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(snap->files.at("recipe-count.json")).get(doc), simdjson::SUCCESS);
  EXPECT_EQ(int64_t(doc["data"].at(0)), 40);
  EXPECT_EQ(std::string_view(doc["metadata"]["analytics_type"]), "recipe-count");
  EXPECT_EQ(std::string_view(doc["metadata"]["generated_at"]), "2026-11-18T11:06:40.000Z");
  EXPECT_GT(int64_t(doc["metadata"]["rows"]), 0);

  simdjson::dom::element summary;
  ASSERT_EQ(parser.parse(summary_json(s)).get(summary), simdjson::SUCCESS);
  EXPECT_EQ(std::string_view(summary["status"]), "success");
  EXPECT_EQ(summary["files"].get_object().size(), 13u);  // 11 of analytics-regen, 2 of the test producer
  EXPECT_EQ(std::string_view(summary["message"]), "Analytics regenerated successfully");
  EXPECT_EQ(int64_t(summary["recipe_count_count"]), 1);
}

TEST_P(RegeneratorTest, AFailingProducerKeepsThePreviousGeneration) {
  ASSERT_TRUE(Regenerator(settings(), store_).run().ok());
  for (int variant = 0; variant < 2; ++variant) {
    auto producers = default_producers();
    if (variant == 0) {
      producers.push_back(std::make_unique<FailingProducer>());
    } else {
      producers.push_back(std::make_unique<DuplicateProducer>());
    }
    auto result = Regenerator(settings(), store_, std::move(producers)).run();
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.failure().stage, variant == 0 ? "produce.failing" : "produce.duplicate");
    EXPECT_NE(result.failure().message().find(variant == 0 ? "no convergence" : "produced twice"),
              std::string::npos);
    EXPECT_EQ(store_.current_generation().value(), 1);

    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(failure_json(result.failure())).get(doc), simdjson::SUCCESS);
    EXPECT_EQ(std::string_view(doc["status"]), "error");
  }
  EXPECT_EQ(Regenerator(settings(), store_).run().value().generation, 2);
}

// The slow lane writes its files outside the store's lock: a fast run
// started while they are being made durable commits at once, and the slow
// lane then publishes its files with that newer fast generation's exact
// analytics carried forward (the generation's seq never goes back).
TEST_P(RegeneratorTest, AFastRunCommitsWhileTheSlowLaneWritesItsFiles) {
  // On the slow lane's file, once durable and before the slow lane takes
  // the store: a change to the catalog, then a fast run on another thread.
  struct MidSlowWrite final : snapshot::WriteObserver {
    void on_step(snapshot::WriteStep step, std::string_view file) override {
      if (!armed || step != snapshot::WriteStep::kTempWritten || file != "slow-count.json") {
        return;
      }
      armed = false;
      hook();
    }
    bool armed = false;
    std::function<void()> hook;
  } mid;
  snapshot::SnapshotStore store(dir_.file("analytics"), &mid);
  auto s = settings();
  s.split_lanes = true;
  std::vector<std::unique_ptr<Producer>> producers;
  producers.push_back(std::make_unique<ExactAnalyticsProducer>());
  producers.push_back(std::make_unique<SlowCountProducer>());
  Regenerator regen(s, store, std::move(producers));
  ASSERT_TRUE(regen.run().ok());  // generations 1 (fast) and 2 (slow)

  std::shared_ptr<const LoadedCatalog> loaded;
  ASSERT_TRUE(regen.run_fast(nullptr, &loaded).ok());  // 3
  const std::int64_t old_seq = loaded->state.catalog_seq;
  std::optional<RunResult> fast;
  mid.hook = [&] {
    testing::open_test_catalog(catalog_path_)->exec("INSERT INTO ingredients(name) VALUES ('Yuzu')");
    auto f = std::async(std::launch::async, [&] { return regen.run_fast(nullptr); });
    if (f.wait_for(std::chrono::seconds(30)) == std::future_status::ready) {
      fast = f.get();
    }
  };
  mid.armed = true;
  const RunResult slow = regen.run_slow(*loaded, nullptr);  // stages 4
  ASSERT_TRUE(fast.has_value()) << "the fast run waited for the slow lane's files";
  ASSERT_TRUE(fast->ok()) << fast->failure().message();
  EXPECT_EQ(fast->value().generation, 5);
  const std::int64_t new_seq = fast->value().catalog_seq;
  ASSERT_GT(new_seq, old_seq);

  ASSERT_TRUE(slow.ok()) << slow.failure().message();
  const auto& m = slow.value().manifest;
  EXPECT_EQ(m.generation, 6) << "published after the fast generation, never under it";
  EXPECT_EQ(store.current_generation().value(), 6);
  EXPECT_EQ(m.catalog_seq, new_seq) << "the newer exact analytics are carried forward";
  EXPECT_EQ(m.file_catalog_seq("slow-count.json"), old_seq);
  EXPECT_EQ(m.file_catalog_seq("ingredient-usage.json"), new_seq);
  // Generation 4, where the slow lane wrote, is complete and never current;
  // its file is generation 6's (one inode) and its envelope names 4.
  ASSERT_TRUE(store.read_manifest(4).ok());
  EXPECT_TRUE(std::filesystem::equivalent(store.generation_dir(4) / "slow-count.json",
                                          store.generation_dir(6) / "slow-count.json"));
  auto snap = store.read_current();
  ASSERT_TRUE(snap.ok()) << snap.error().message;
  EXPECT_NE(snap->files.at("slow-count.json").find("\"generation\":4"), std::string::npos);
  EXPECT_NE(snap->files.at("ingredient-usage.json").find("\"generation\":5"), std::string::npos);
}

// A slow-lane file of bare bytes (no envelope naming its generation) that
// comes out the same as the current generation's is linked, not written
// again; it says the seq it was computed from.
TEST_P(RegeneratorTest, ASlowFileWhoseBytesDidNotChangeIsLinkedWithItsNewSeq) {
  class BareProducer final : public Producer {
   public:
    std::string_view name() const override { return "bare"; }
    bool slow() const override { return true; }
    std::vector<std::string> outputs() const override { return {"bare.bin"}; }
    void produce(const ProducerContext& ctx, ProducerOutput& out) override {
      Artifact a;
      a.analytics_type = "bare";
      a.file_name = "bare.bin";
      a.body = std::string(4096, 'x') + std::to_string(ctx.model.recipe_count());
      a.envelope = false;
      out.artifacts.push_back(std::move(a));
    }
  };
  auto s = settings();
  s.split_lanes = true;
  std::vector<std::unique_ptr<Producer>> producers;
  producers.push_back(std::make_unique<ExactAnalyticsProducer>());
  producers.push_back(std::make_unique<BareProducer>());
  Regenerator regen(s, store_, std::move(producers));
  auto first = regen.run();
  ASSERT_TRUE(first.ok());
  const std::int64_t g1 = first.value().generation;
  // An ingredient added: the recipe count, so the bare file, stays.
  testing::open_test_catalog(catalog_path_)->exec("INSERT INTO ingredients(name) VALUES ('Yuzu')");
  auto second = regen.run();
  ASSERT_TRUE(second.ok()) << second.failure().message();
  const auto& m = second.value().manifest;
  EXPECT_TRUE(std::filesystem::equivalent(store_.generation_dir(g1) / "bare.bin",
                                          store_.generation_dir(m.generation) / "bare.bin"));
  EXPECT_GT(m.file_catalog_seq("bare.bin").value(),
            first.value().manifest.file_catalog_seq("bare.bin").value());
  EXPECT_EQ(m.file_catalog_seq("bare.bin"), m.catalog_seq) << "computed from the newest state";
  EXPECT_TRUE(store_.read_current().ok());
}

TEST_P(RegeneratorTest, RetentionRunsAfterEachWrite) {
  auto s = settings();
  s.retention = snapshot::RetentionPolicy{2, 0};
  Regenerator regen(s, store_);
  for (int i = 1; i <= 4; ++i) {
    auto result = regen.run();
    ASSERT_TRUE(result.ok());
    ASSERT_TRUE(result.value().retention.has_value());
  }
  EXPECT_EQ(store_.report(0).generations.size(), 2u);
  EXPECT_EQ(store_.current_generation().value(), 4);
}

INSTANTIATE_TEST_SUITE_P(Backends, RegeneratorTest, catalog::testing::AllBackends(),
                         catalog::testing::BackendName);
INSTANTIATE_TEST_SUITE_P(Backends, CarryTest, catalog::testing::AllBackends(), catalog::testing::BackendName);

}  // namespace
}  // namespace cocktail::regen_service

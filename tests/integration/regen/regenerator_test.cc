// The Regenerator in process: producers plug in, and a failing producer or a
// bad artifact fails the whole regeneration, keeping the previous snapshot.
#include "cocktail/regen_service/regenerator.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include "cocktail/catalog/database.h"
#include "synthetic_catalog.h"

namespace cocktail::regen {
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

class RegeneratorTest : public ::testing::Test {
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

  testing::TempDir dir_;
  std::string catalog_path_ = dir_.file("catalog.db");
  std::int64_t seq_ = 0;
  snapshot::SnapshotStore store_{dir_.file("analytics")};
};

TEST_F(RegeneratorTest, ProducersPlugIn) {
  auto producers = default_producers();
  producers.push_back(std::make_unique<RecipeCountProducer>());
  Regenerator regen(settings(), store_, std::move(producers));
  auto result = regen.run();
  ASSERT_TRUE(result.ok()) << result.error().message;
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
  for (const auto& [stage, ms] : s.durations_ms) timed = timed || stage == "compute.recipe-count";
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

TEST_F(RegeneratorTest, AFailingProducerKeepsThePreviousGeneration) {
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
    EXPECT_EQ(result.error().field, variant == 0 ? "produce.failing" : "produce.duplicate");
    EXPECT_NE(result.error().message.find(variant == 0 ? "no convergence" : "produced twice"),
              std::string::npos);
    EXPECT_EQ(store_.current_generation().value(), 1);

    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(failure_json(result.error())).get(doc), simdjson::SUCCESS);
    EXPECT_EQ(std::string_view(doc["status"]), "error");
  }
  EXPECT_EQ(Regenerator(settings(), store_).run().value().generation, 2);
}

TEST_F(RegeneratorTest, RetentionRunsAfterEachWrite) {
  auto s = settings();
  s.retention = snapshot::RetentionPolicy{2, 0};
  Regenerator regen(s, store_);
  for (int i = 1; i <= 4; ++i) {
    auto result = regen.run();
    ASSERT_TRUE(result.ok());
    ASSERT_TRUE(result->retention.has_value());
  }
  EXPECT_EQ(store_.report(0).generations.size(), 2u);
  EXPECT_EQ(store_.current_generation().value(), 4);
}

}  // namespace
}  // namespace cocktail::regen

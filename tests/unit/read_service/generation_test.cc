// Generation: built from generations written by the engine; the views it
// derives (drill-downs, recipe-similar) against the files they come from.
#include "cocktail/read_service/generation.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>
#include <vector>

#include "cocktail/read_service/representation.h"
#include "cocktail/snapshot/sha256.h"
#include "engine_fixture.h"

namespace cocktail::read_service {
namespace {

std::shared_ptr<const Generation> load(read_test::Engine& engine) {
  auto snap = engine.store().read_current();
  EXPECT_TRUE(snap.ok());
  auto g = Generation::build(std::move(snap).value(), 1);
  EXPECT_TRUE(g.ok()) << (g.ok() ? "" : g.error().message);
  return g.value();
}

struct UsageRow {
  std::int64_t id = 0;
  std::optional<std::int64_t> parent;
  std::string path;
};

// The rows of an envelope's data array (ingredient-usage*), in order.
std::vector<UsageRow> usage_rows(const std::string& json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(json);
  std::vector<UsageRow> out;
  for (auto row : doc["data"].get_array()) {
    UsageRow r;
    r.id = row["ingredient_id"].get_int64();
    if (!row["parent_id"].is_null()) {
      r.parent = row["parent_id"].get_int64().value();
    }
    r.path = std::string(row["path"].get_string().value());
    out.push_back(r);
  }
  return out;
}

int depth(const std::string& path) { return static_cast<int>(std::count(path.begin(), path.end(), '/')) - 2; }

TEST(Generation, ServesEveryFileAsWrittenWithTagsAndGzip) {
  read_test::Engine engine;
  const auto summary = engine.regenerate();
  auto g = load(engine);
  EXPECT_EQ(g->generation(), summary.generation);
  EXPECT_EQ(g->catalog_seq(), summary.catalog_seq);
  ASSERT_EQ(g->files().size(), summary.manifest.files.size());
  for (const auto& [name, entry] : summary.manifest.files) {
    const auto* f = g->file(name);
    ASSERT_NE(f, nullptr) << name;
    EXPECT_EQ(f->sha256, entry.sha256);
    EXPECT_EQ(f->representation->etag,
              "\"g" + std::to_string(g->generation()) + "-" + entry.sha256.substr(0, 16) + "\"");
    if (f->representation->gzip) {
      EXPECT_EQ(gzip_decompress(*f->representation->gzip), *f->representation->identity) << name;
      EXPECT_LT(f->representation->gzip->size(), f->representation->identity->size());
      EXPECT_NE(f->representation->gzip_etag, f->representation->etag);
    }
  }
  for (const char* type : {"ingredient-usage", "ingredient-usage-all", "recipe-complexity", "ingredient-tree",
                           "cocktail-space", "cocktail-space-em", "recipe-similar"}) {
    EXPECT_NE(g->analytic(type), nullptr) << type;
  }
  EXPECT_EQ(g->analytic("recipe-distances-em"), nullptr);  // binary: a file, not an analytic
  // Stored envelopes are served byte for byte.
  EXPECT_EQ(*g->analytic("recipe-complexity")->identity,
            testing::read_file(engine.store().generation_dir(g->generation()) / "recipe-complexity.json"));
}

TEST(Generation, DrillDownsAgreeWithIngredientUsageAll) {
  read_test::Engine engine(read_test::CatalogSpec{.seed = 11, .ingredients = 120, .recipes = 150});
  engine.regenerate();
  auto g = load(engine);
  ASSERT_NE(g->usage_index(), nullptr);
  const auto all = usage_rows(*g->analytic("ingredient-usage-all")->identity);
  ASSERT_EQ(all.size(), 120u);
  int max_depth = 0;
  for (const auto& r : all) {
    max_depth = std::max(max_depth, depth(r.path));
  }
  ASSERT_GE(max_depth, 2);

  auto ids_of = [](const std::vector<UsageRow>& rows) {
    std::vector<std::int64_t> ids;
    ids.reserve(rows.size());
    for (const auto& r : rows) {
      ids.push_back(r.id);
    }
    return ids;
  };
  // parent only, level only, both: the rows of -all that qualify, in -all's order.
  for (const auto& p : all) {
    std::vector<std::int64_t> want;
    for (const auto& r : all) {
      if (r.parent == p.id) {
        want.push_back(r.id);
      }
    }
    EXPECT_EQ(ids_of(usage_rows(*g->usage_view(p.id, std::nullopt)->identity)), want) << "parent " << p.id;
    for (int level = 0; level <= max_depth; ++level) {
      std::vector<std::int64_t> both;
      for (const auto& r : all) {
        if (r.id != p.id && r.path.rfind(p.path, 0) == 0 && depth(r.path) == level) {
          both.push_back(r.id);
        }
      }
      EXPECT_EQ(ids_of(usage_rows(*g->usage_view(p.id, level)->identity)), both) << p.id << "/" << level;
    }
  }
  for (int level = 0; level <= max_depth + 1; ++level) {
    std::vector<std::int64_t> want;
    for (const auto& r : all) {
      if (depth(r.path) == level) {
        want.push_back(r.id);
      }
    }
    EXPECT_EQ(ids_of(usage_rows(*g->usage_view(std::nullopt, level)->identity)), want) << level;
  }
  // The root view from the index equals the stored root file's rows.
  EXPECT_EQ(ids_of(usage_rows(*g->usage_view(std::nullopt, std::nullopt)->identity)),
            ids_of(usage_rows(*g->analytic("ingredient-usage")->identity)));

  // Metadata: the root file's, plus the filter.
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(*g->usage_view(all[0].id, 1)->identity);
  EXPECT_EQ(doc["metadata"]["analytics_type"].get_string().value(), "ingredient-usage");
  EXPECT_EQ(doc["metadata"]["generation"].get_int64().value(), g->generation());
  EXPECT_EQ(doc["metadata"]["catalog_seq"].get_int64().value(), g->catalog_seq());
  EXPECT_EQ(doc["metadata"]["parent_id"].get_int64().value(), all[0].id);
  EXPECT_EQ(doc["metadata"]["level"].get_int64().value(), 1);
  EXPECT_TRUE(doc["metadata"]["total_recipes"].is_int64());
  doc = parser.parse(*g->usage_view(std::nullopt, 2)->identity);
  EXPECT_TRUE(doc["metadata"]["parent_id"].is_null());

  // Views are built once per generation and key.
  EXPECT_EQ(g->usage_view(all[0].id, 1).get(), g->usage_view(all[0].id, 1).get());
  EXPECT_NE(g->usage_view(all[0].id, 1)->etag, g->usage_view(all[0].id, 2)->etag);
}

TEST(Generation, RecipeSimilarViewsAreSlicesOfTheFile) {
  read_test::Engine engine;
  engine.regenerate();
  auto g = load(engine);
  ASSERT_TRUE(g->has_similar());
  simdjson::dom::parser file_parser;
  simdjson::dom::element file = file_parser.parse(*g->analytic("recipe-similar")->identity);
  int checked = 0;
  for (auto recipe : file["data"].get_array()) {
    const std::int64_t id = recipe["recipe_id"].get_int64();
    for (int limit : {1, 5, 20}) {
      auto view = g->similar_view(id, limit);
      ASSERT_NE(view, nullptr);
      simdjson::dom::parser p;
      simdjson::dom::element doc = p.parse(*view->identity);
      // The fields at the top level (older front ends) and under data.
      EXPECT_EQ(doc["recipe_id"].get_int64().value(), id);
      EXPECT_EQ(doc["recipe_name"].get_string().value(), recipe["recipe_name"].get_string().value());
      EXPECT_EQ(simdjson::minify(doc["neighbors"].value()),
                simdjson::minify(doc["data"]["neighbors"].value()));
      EXPECT_EQ(doc["data"]["recipe_id"].get_int64().value(), id);
      EXPECT_EQ(doc["data"]["recipe_name"].get_string().value(), recipe["recipe_name"].get_string().value());
      auto want = recipe["neighbors"].get_array();
      auto got = doc["neighbors"].get_array();
      ASSERT_EQ(got.size(), std::min<std::size_t>(want.size(), limit));
      double previous = 0.0;
      for (std::size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(simdjson::minify(got.at(i).value()), simdjson::minify(want.at(i).value()));
        const double distance = got.at(i)["distance"].get_double().value();
        EXPECT_GE(distance, previous) << "nearest first";
        previous = distance;
      }
      EXPECT_EQ(doc["metadata"]["recipe_id"].get_int64().value(), id);
      EXPECT_EQ(doc["metadata"]["limit"].get_int64().value(), limit);
      EXPECT_EQ(doc["metadata"]["analytics_type"].get_string().value(), "recipe-similar");
    }
    ++checked;
  }
  EXPECT_GT(checked, 10);
  // The largest limit is the file's max_neighbors (what the producer stored).
  EXPECT_EQ(g->similar_stored(), 20);
  EXPECT_EQ(file["metadata"]["max_neighbors"].get_int64().value(), 20);
  EXPECT_EQ(g->similar_view(999999, 5), nullptr);
  EXPECT_FALSE(g->has_similar_recipe(999999));
}

TEST(Generation, RecipeSimilarLimitFollowsTheNeighboursStored) {
  auto build = [](const std::string& metadata) {
    snapshot::Snapshot snap;
    snap.manifest.generation = 4;
    snap.manifest.catalog_seq = 9;
    const std::string body =
        "{\"data\":[{\"recipe_id\":1,\"recipe_name\":\"A\",\"neighbors\":["
        "{\"neighbor_recipe_id\":2,\"distance\":0.1},{\"neighbor_recipe_id\":3,\"distance\":0.2},"
        "{\"neighbor_recipe_id\":4,\"distance\":0.3}]}],\"metadata\":" +
        metadata + "}";
    snap.manifest.files["recipe-similar.json"] = {snapshot::sha256_hex(body),
                                                  static_cast<std::int64_t>(body.size())};
    snap.files["recipe-similar.json"] = body;
    auto g = Generation::build(std::move(snap), 1);
    EXPECT_TRUE(g.ok());
    return std::move(g).value();
  };
  auto stored3 = build("{\"analytics_type\":\"recipe-similar\",\"max_neighbors\":3}");
  EXPECT_EQ(stored3->similar_stored(), 3);
  simdjson::dom::parser p;
  simdjson::dom::element doc = p.parse(*stored3->similar_view(1, 50)->identity);
  EXPECT_EQ(doc["neighbors"].get_array().size(), 3u);
  EXPECT_EQ(doc["metadata"]["limit"].get_int64().value(), 3);
  EXPECT_EQ(doc["recipe_name"].get_string().value(), "A");
  // A file that does not say: the historical 20.
  EXPECT_EQ(build("{\"analytics_type\":\"recipe-similar\"}")->similar_stored(), kDefaultStoredNeighbors);
}

// A file the generation lacks covers no seq while its lane has made nothing
// in it (a reader waiting with min_seq for the cocktail space waits for its
// first run); a file its lane left out on purpose does not hold a wait.
TEST(Generation, AFileOfALaneNotRunYetCoversNothing) {
  auto build = [](const std::vector<std::string>& names) {
    snapshot::Snapshot snap;
    snap.manifest.generation = 5;
    snap.manifest.catalog_seq = 9;
    for (const auto& name : names) {
      const std::string body = "{\"data\":[],\"metadata\":{}}";
      snap.manifest.files[name] = {snapshot::sha256_hex(body), static_cast<std::int64_t>(body.size())};
      snap.files[name] = body;
    }
    auto g = Generation::build(std::move(snap), 1);
    EXPECT_TRUE(g.ok()) << (g.ok() ? "" : g.error().message);
    return std::move(g).value();
  };
  auto exact_only = build({"recipe-complexity.json"});
  EXPECT_EQ(exact_only->covered_seq({"recipe-complexity.json"}), 9);
  EXPECT_EQ(exact_only->covered_seq({"cocktail-space.json"}), 0);
  EXPECT_EQ(exact_only->covered_seq({"recipe-distances-em.npy", "recipe-distances-em.ids.json"}), 0);
  auto with_space = build({"recipe-complexity.json", "cocktail-space.json"});
  EXPECT_EQ(with_space->covered_seq({"cocktail-space.json"}), 9);
  // The matrix left out (over its size limit) while the lane ran.
  EXPECT_EQ(with_space->covered_seq({"recipe-distances-em.npy", "recipe-distances-em.ids.json"}), 9);
}

TEST(Generation, BareDistanceIdsAreEnveloped) {
  read_test::Engine engine;
  const auto summary = engine.regenerate();
  auto g = load(engine);
  simdjson::dom::parser parser;
  // The learned ingredient costs' ids likewise, with their own type.
  ASSERT_NE(g->file("ingredient-distances-em.ids.json"), nullptr);
  EXPECT_EQ(g->analytic("ingredient-distances-em.ids"), nullptr);
  simdjson::dom::element ingredients =
      parser.parse(*g->file("ingredient-distances-em.ids.json")->representation->identity);
  EXPECT_EQ(ingredients["metadata"]["analytics_type"].get_string().value(), "ingredient-distances-em-ids");
  EXPECT_GT(ingredients["data"]["ingredient_ids"].get_array().size(), 10u);
  ASSERT_NE(g->file("recipe-distances-em.ids.json"), nullptr);
  EXPECT_EQ(g->analytic("recipe-distances-em.ids"), nullptr);  // not an analytic type of its own
  simdjson::dom::element doc =
      parser.parse(*g->file("recipe-distances-em.ids.json")->representation->identity);
  EXPECT_EQ(doc["metadata"]["generation"].get_int64().value(), summary.generation);
  EXPECT_EQ(doc["metadata"]["analytics_type"].get_string().value(), "recipe-distances-em-ids");
  EXPECT_GT(doc["data"]["recipe_ids"].get_array().size(), 10u);
  // The .npy is served as written (binary, no envelope).
  const auto* npy = g->file("recipe-distances-em.npy");
  ASSERT_NE(npy, nullptr);
  EXPECT_EQ(npy->representation->content_type, "application/octet-stream");
  EXPECT_EQ(npy->representation->identity->substr(0, 6), "\x93NUMPY");
}

TEST(Generation, AMalformedIndexedFileIsAnError) {
  snapshot::Snapshot snap;
  snap.manifest.generation = 3;
  snap.manifest.catalog_seq = 9;
  snap.manifest.files["ingredient-usage-all.json"] = {std::string(64, 'a'), 5};
  snap.files["ingredient-usage-all.json"] = "{\"data\": [ {\"ingredient_id\": \"x\"} ]}";
  auto g = Generation::build(snap, 1);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.error().field, "ingredient-usage-all.json");

  snapshot::Snapshot similar;
  similar.manifest.generation = 3;
  similar.manifest.files["recipe-similar.json"] = {std::string(64, 'a'), 5};
  similar.files["recipe-similar.json"] = "{\"data\": [ {\"recipe_id\": 1, \"neighbors\": []} ]}";
  auto s = Generation::build(similar, 1);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().field, "recipe-similar.json");
}

TEST(Representation, SmallOrIncompressibleBodiesHaveNoGzipCopy) {
  auto tiny = make_representation("{\"data\":[]}", "application/json", "g1-x");
  EXPECT_EQ(tiny->gzip, nullptr);
  EXPECT_EQ(tiny->etag, "\"g1-x\"");
  std::string noise(4096, '\0');
  std::uint32_t x = 12345;
  for (auto& c : noise) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  EXPECT_EQ(make_representation(noise, "application/octet-stream", "n")->gzip, nullptr);
  auto text = make_representation(std::string(5000, 'a'), "application/json", "t");
  ASSERT_NE(text->gzip, nullptr);
  EXPECT_EQ(gzip_decompress(*text->gzip), std::string(5000, 'a'));
  EXPECT_EQ(text->gzip_etag, "\"t-gz\"");
  EXPECT_THROW(gzip_decompress("not gzip"), std::runtime_error);
  EXPECT_THROW(gzip_decompress(text->gzip->substr(0, text->gzip->size() / 2)), std::runtime_error);
}

TEST(Generation, LargeFilesGetTheirGzipCopyAfterwardsAndUnchangedFilesAreShared) {
  const std::string big = "{\"data\":[" + std::string(Generation::kEagerGzipMaxBytes, '1') + "]}";
  const std::string small = "{\"data\":[" + std::string(4096, '2') + "]}";
  snapshot::Snapshot snap;
  snap.manifest.generation = 7;
  snap.manifest.catalog_seq = 3;
  snap.manifest.files["cocktail-space.json"] = {std::string(64, 'a'), static_cast<std::int64_t>(big.size())};
  snap.manifest.files["recipe-complexity.json"] = {std::string(64, 'b'),
                                                   static_cast<std::int64_t>(small.size())};
  snap.files["cocktail-space.json"] = big;
  snap.files["recipe-complexity.json"] = small;
  auto g = Generation::build(snap, 1).value();
  const Representation* space = g->analytic("cocktail-space");
  ASSERT_NE(space, nullptr);
  EXPECT_TRUE(space->gzip_pending) << "not compressed while loading";
  EXPECT_EQ(space->gzip, nullptr);
  EXPECT_NE(space->identity_sealed, nullptr) << "sent with sendfile";
  EXPECT_NE(g->analytic("recipe-complexity")->gzip, nullptr) << "small files at once";

  auto done = g->with_gzip();
  ASSERT_NE(done, nullptr);
  EXPECT_EQ(done->generation(), 7);
  const Representation* gz = done->analytic("cocktail-space");
  ASSERT_NE(gz->gzip, nullptr);
  EXPECT_FALSE(gz->gzip_pending);
  EXPECT_EQ(gzip_decompress(*gz->gzip), big);
  EXPECT_EQ(gz->identity, space->identity) << "the bytes are shared";
  EXPECT_EQ(gz->etag, space->etag);
  EXPECT_EQ(done->file("cocktail-space.json")->representation.get(), gz);
  EXPECT_EQ(done->with_gzip(), nullptr) << "nothing left pending";

  // The next generation changes recipe-complexity only: cocktail-space is
  // not read again, its representation (with the gzip copy) is shared.
  snapshot::Snapshot next;
  next.manifest = snap.manifest;
  next.manifest.generation = 8;
  next.manifest.files["recipe-complexity.json"] = {std::string(64, 'c'),
                                                   static_cast<std::int64_t>(small.size())};
  next.files["recipe-complexity.json"] = small;
  auto g2 = Generation::build(next, 2, done.get()).value();
  EXPECT_EQ(g2->analytic("cocktail-space"), gz);
  EXPECT_NE(g2->analytic("recipe-complexity"), done->analytic("recipe-complexity"));
  // A file in neither is an error, not a hole.
  snapshot::Snapshot hole = next;
  hole.manifest.files["cocktail-space.json"].sha256 = std::string(64, 'd');
  EXPECT_FALSE(Generation::build(hole, 3, done.get()).ok());
}

}  // namespace
}  // namespace cocktail::read_service

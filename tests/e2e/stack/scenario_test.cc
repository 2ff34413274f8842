// The system end to end: writes through catalog-api, read back through
// analytics-api with read-your-writes (min_seq), each answer compared with
// the old system's SQL over the catalog file and with the deltas the write
// must cause. One stack (three real processes) serves every test here, in
// order; each test checks against the catalog as it finds it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <set>

#include "api_calls.h"
#include "catalog_facts.h"
#include "cocktail/testing/wait.h"
#include "stack.h"

namespace cocktail::e2e {
namespace {

using namespace std::chrono_literals;

class Scenarios : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    stack_ = std::make_unique<Stack>();
    if (auto started = stack_->start(); !started) {
      start_failure_ = started.message();
    }
  }
  static void TearDownTestSuite() {
    stack_.reset();
    start_failure_.reset();
  }
  void SetUp() override {
    ASSERT_FALSE(start_failure_.has_value()) << *start_failure_;
    catalog_ = std::make_unique<testing::HttpClient>(stack_->http_port(Service::kCatalogApi), 15s);
    analytics_ = std::make_unique<testing::HttpClient>(stack_->http_port(Service::kAnalyticsApi), 15s);
    ASSERT_TRUE(analytics_match_catalog(*stack_, facts_, seen_)) << stack_->logs();
  }
  void TearDown() override {
    if (HasFailure()) {
      std::cerr << stack_->logs();
    }
  }

  // The write, acknowledged with `status` and a seq above every earlier one;
  // then the analytics at that seq must equal the SQL over the catalog.
  std::int64_t commit(const std::string& method, const std::string& target, const std::string& body,
                      int status, Written* out = nullptr) {
    Written w = write(*catalog_, *stack_, method, target, body);
    const std::int64_t seq = acknowledged(w, status, facts_.latest_seq);
    if (seq < 0) {
      return -1;
    }
    before_ = seen_;
    EXPECT_TRUE(analytics_match_catalog(*stack_, facts_, seen_));
    EXPECT_EQ(facts_.latest_seq, seq) << "nothing else writes the catalog";
    if (out) {
      *out = std::move(w);
    }
    return seq;
  }

  // Usage of `id` changed by exactly (direct, hierarchical) with the last write.
  void expect_delta(std::int64_t id, std::int64_t direct, std::int64_t hierarchical) {
    const auto& now = seen_.usage;
    const auto& then = before_.usage;
    ASSERT_TRUE(now.count(id)) << "ingredient " << id << " is not in the analytics";
    const std::int64_t d0 = then.count(id) ? then.at(id).direct_usage : 0;
    const std::int64_t h0 = then.count(id) ? then.at(id).hierarchical_usage : 0;
    EXPECT_EQ(now.at(id).direct_usage - d0, direct) << "direct_usage of " << now.at(id).name;
    EXPECT_EQ(now.at(id).hierarchical_usage - h0, hierarchical)
        << "hierarchical_usage of " << now.at(id).name;
  }
  std::int64_t complexity_delta(std::int64_t ingredient_count) const {
    auto count = [&](const AnalyticsFacts& a) {
      auto it = a.complexity.find(ingredient_count);
      return it == a.complexity.end() ? 0 : it->second;
    };
    return count(seen_) - count(before_);
  }

  // Two leaf ingredients: one with a parent (depth >= 1), and one under
  // another root.
  std::pair<std::int64_t, std::int64_t> pick_pair() const {
    std::int64_t child = -1, other = -1;
    for (const auto& [id, u] : facts_.usage) {
      if (child < 0 && u.parent_id && !u.has_children) {
        child = id;
      }
    }
    const std::string root =
        facts_.usage.at(child).path.substr(0, facts_.usage.at(child).path.find('/', 1) + 1);
    for (const auto& [id, u] : facts_.usage) {
      if (other < 0 && u.path.rfind(root, 0) != 0 && !u.has_children) {
        other = id;
      }
    }
    return {child, other};
  }
  std::int64_t root_of(std::int64_t id) const {
    const std::string& path = facts_.usage.at(id).path;
    return std::stoll(path.substr(1, path.find('/', 1) - 1));
  }

  static std::unique_ptr<Stack> stack_;
  static std::optional<std::string> start_failure_;
  std::unique_ptr<testing::HttpClient> catalog_;
  std::unique_ptr<testing::HttpClient> analytics_;
  CatalogFacts facts_;
  AnalyticsFacts seen_;    // the analytics after the last write
  AnalyticsFacts before_;  // and before it
};

std::unique_ptr<Stack> Scenarios::stack_;
std::optional<std::string> Scenarios::start_failure_;

TEST_F(Scenarios, CreateUpdateAndDeleteIngredientsAndRecipes) {
  const auto [parent, other] = pick_pair();
  ASSERT_GT(parent, 0);
  ASSERT_GT(other, 0);

  // An ingredient under a seeded one: a new row with no usage.
  Written created;
  ASSERT_GT(
      commit("POST", "/api/v1/ingredients",
             R"({"name":"E2E Yuzu Liqueur","parent_id":)" + std::to_string(parent) + "}", 201, &created),
      0);
  const std::int64_t yuzu = created.id;
  ASSERT_TRUE(seen_.usage.count(yuzu));
  EXPECT_EQ(seen_.usage.at(yuzu).parent_id, parent);
  EXPECT_EQ(seen_.usage.at(yuzu).path, facts_.usage.at(parent).path + std::to_string(yuzu) + "/");
  expect_delta(yuzu, 0, 0);
  EXPECT_TRUE(seen_.usage.at(parent).has_children);
  expect_delta(parent, 0, 0);

  // A recipe with it and an ingredient under another root: one more recipe
  // for each, for each ancestor, and in the two-ingredient bucket.
  Written recipe;
  ASSERT_GT(commit("POST", "/api/v1/recipes",
                   R"({"name":"E2E Yuzu Sour","instructions":"Shake.","ingredients":[{"ingredient_id":)" +
                       std::to_string(yuzu) + R"(,"amount":2},{"ingredient_id":)" + std::to_string(other) +
                       R"(,"amount":1}]})",
                   201, &recipe),
            0);
  const std::int64_t sour = recipe.id;
  expect_delta(yuzu, 1, 1);
  expect_delta(parent, 0, 1);
  expect_delta(other, 1, 1);
  expect_delta(root_of(yuzu), 0, 1);
  EXPECT_EQ(complexity_delta(2), 1);

  // Replace its ingredient list: three distinct rows (one ingredient twice
  // counts once), so it moves from the 2 to the 3 bucket.
  std::int64_t third = -1;
  for (const auto& [id, u] : facts_.usage) {
    if (id != yuzu && id != other && id != parent && !u.has_children && root_of(id) != root_of(yuzu) &&
        root_of(id) != root_of(other)) {
      third = id;
      break;
    }
  }
  ASSERT_GT(third, 0);
  ASSERT_GT(
      commit("PUT", "/api/v1/recipes/" + std::to_string(sour),
             R"({"name":"E2E Yuzu Sour","instructions":"Shake hard.","ingredients":[{"ingredient_id":)" +
                 std::to_string(yuzu) + R"(,"amount":2},{"ingredient_id":)" + std::to_string(other) +
                 R"(,"amount":1},{"ingredient_id":)" + std::to_string(third) +
                 R"(,"amount":0.5},{"ingredient_id":)" + std::to_string(yuzu) + R"(,"amount":0.25}]})",
             200),
      0);
  expect_delta(yuzu, 0, 0);
  expect_delta(third, 1, 1);
  expect_delta(root_of(third), 0, 1);
  EXPECT_EQ(complexity_delta(2), -1);
  EXPECT_EQ(complexity_delta(3), 1);

  // Re-parent the ingredient under the other root: its usage moves with it.
  const std::int64_t old_parent = parent;
  const std::int64_t new_parent = root_of(other);
  ASSERT_GT(commit("PUT", "/api/v1/ingredients/" + std::to_string(yuzu),
                   R"({"name":"E2E Yuzu Liqueur","parent_id":)" + std::to_string(new_parent) + "}", 200),
            0);
  EXPECT_EQ(seen_.usage.at(yuzu).path, "/" + std::to_string(new_parent) + "/" + std::to_string(yuzu) + "/");
  expect_delta(yuzu, 0, 0);
  expect_delta(old_parent, 0, -1);
  // The recipe already counted under the new root (through `other`).
  expect_delta(new_parent, 0, 0);

  // Delete the recipe, then the ingredient: the seeded counts come back.
  Written deleted;
  ASSERT_GT(commit("DELETE", "/api/v1/recipes/" + std::to_string(sour), "", 200, &deleted), 0);
  EXPECT_EQ(deleted.id, sour);
  expect_delta(yuzu, -1, -1);
  expect_delta(other, -1, -1);
  expect_delta(third, -1, -1);
  EXPECT_EQ(complexity_delta(3), -1);
  ASSERT_GT(commit("DELETE", "/api/v1/ingredients/" + std::to_string(yuzu), "", 200), 0);
  EXPECT_FALSE(seen_.usage.count(yuzu));
}

TEST_F(Scenarios, BulkUploadsOfIngredientsAndRecipes) {
  // A small family: a root, a child named by parent_name, a grandchild.
  Written bulk;
  ASSERT_GT(commit("POST", "/api/v1/ingredients/bulk",
                   R"([{"name":"E2E Shrubs"},{"name":"E2E Fruit Shrub","parent_name":"E2E Shrubs"},)"
                   R"({"name":"E2E Plum Shrub","parent_name":"E2E Fruit Shrub","allow_substitution":true}])",
                   201, &bulk),
            0);
  ASSERT_TRUE(bulk.body.HasMember("created"));
  EXPECT_EQ(bulk.body["created"].GetInt64(), 3);
  const std::int64_t shrubs = facts_.ingredient_ids.at("E2E Shrubs");
  const std::int64_t fruit = facts_.ingredient_ids.at("E2E Fruit Shrub");
  const std::int64_t plum = facts_.ingredient_ids.at("E2E Plum Shrub");
  EXPECT_EQ(seen_.usage.at(plum).path,
            "/" + std::to_string(shrubs) + "/" + std::to_string(fruit) + "/" + std::to_string(plum) + "/");
  EXPECT_TRUE(seen_.usage.at(plum).allow_substitution);
  EXPECT_TRUE(seen_.usage.at(shrubs).has_children);

  // Three recipes by names: two use the grandchild, one the child; an
  // existing ingredient by name in every one; units by name and abbreviation.
  std::string existing;
  for (const auto& [id, u] : facts_.usage) {
    if (!u.has_children && u.name.rfind("E2E", 0) != 0) {
      existing = u.name;
      break;
    }
  }
  ASSERT_FALSE(existing.empty());
  const std::string e = json_string(existing);
  ASSERT_GT(
      commit(
          "POST", "/api/v1/recipes/bulk",
          R"({"recipes":[)"
          R"({"name":"E2E Plum Fizz","ingredients":[{"ingredient_name":"e2e plum shrub","amount":1,"unit_name":"oz"},)"
          R"({"ingredient_name":)" +
              e +
              R"(,"amount":2,"unit_name":"Ounce"}]},)"
              R"({"name":"E2E Plum Smash","ingredients":[{"ingredient_name":"E2E Plum Shrub","amount":1},)"
              R"({"ingredient_name":)" +
              e +
              R"(,"amount":1}]},)"
              R"({"name":"E2E Fruit Cup","ingredients":[{"ingredient_name":"E2E Fruit Shrub","amount":3,"unit_name":"tsp"},)"
              R"({"ingredient_name":"E2E Plum Shrub","amount":1},{"ingredient_name":)" +
              e + R"(,"amount":1}]}]})",
          201, &bulk),
      0);
  EXPECT_EQ(bulk.body["created"].GetInt64(), 3);
  const std::int64_t existing_id = facts_.ingredient_ids.at(existing);
  expect_delta(plum, 3, 3);
  expect_delta(fruit, 1, 3);
  expect_delta(shrubs, 0, 3);
  expect_delta(existing_id, 3, 3);
  EXPECT_EQ(complexity_delta(2), 2);
  EXPECT_EQ(complexity_delta(3), 1);

  // The root view and a drill-down agree with the same generation.
  auto roots = read_analytics(*analytics_, "/api/v1/analytics/ingredient-usage", facts_.latest_seq);
  bool found = false;
  for (const auto& row : roots["data"].GetArray()) {
    if (row["ingredient_id"].GetInt64() == shrubs) {
      found = true;
      EXPECT_EQ(row["hierarchical_usage"].GetInt64(), 3);
    }
  }
  EXPECT_TRUE(found) << "E2E Shrubs is a root";
  auto children =
      read_analytics(*analytics_, "/api/v1/analytics/ingredient-usage?parent_id=" + std::to_string(fruit),
                     facts_.latest_seq);
  ASSERT_TRUE(children["data"].IsArray());
  ASSERT_EQ(children["data"].Size(), 1u);
  EXPECT_EQ(children["data"][0]["ingredient_id"].GetInt64(), plum);
  EXPECT_EQ(children["data"][0]["direct_usage"].GetInt64(), 3);
}

TEST_F(Scenarios, ANewRecipeJoinsTheCocktailSpacesAndHasSimilarRecipes) {
  const auto [a, b] = pick_pair();
  Written recipe;
  const std::int64_t seq =
      commit("POST", "/api/v1/recipes",
             R"({"name":"E2E Space Cadet","ingredients":[{"ingredient_id":)" + std::to_string(a) +
                 R"(,"amount":1.5},{"ingredient_id":)" + std::to_string(b) + R"(,"amount":0.75}]})",
             201, &recipe);
  ASSERT_GT(seq, 0);
  const std::int64_t id = recipe.id;

  for (const char* type : {"cocktail-space", "cocktail-space-em"}) {
    auto space = read_analytics(*analytics_, std::string("/api/v1/analytics/") + type, seq);
    ASSERT_TRUE(space.IsObject() && space["data"].IsArray()) << type;
    EXPECT_GE(space["metadata"]["catalog_seq"].GetInt64(), seq);
    std::set<std::int64_t> ids;
    bool found = false;
    for (const auto& point : space["data"].GetArray()) {
      ids.insert(point["recipe_id"].GetInt64());
      if (point["recipe_id"].GetInt64() != id) {
        continue;
      }
      found = true;
      EXPECT_STREQ(point["recipe_name"].GetString(), "E2E Space Cadet");
      EXPECT_TRUE(std::isfinite(point["x"].GetDouble()) && std::isfinite(point["y"].GetDouble()));
      EXPECT_EQ(point["ingredients"].Size(), 2u);
    }
    EXPECT_TRUE(found) << type << " has no point for recipe " << id;
    // Every recipe with a positive total volume is on the map, and only those.
    EXPECT_EQ(ids, std::string(type) == "cocktail-space" ? facts_.manhattan_recipes : facts_.em_recipes)
        << type;
  }

  auto similar = read_analytics(
      *analytics_, "/api/v1/analytics/recipe-similar?recipe_id=" + std::to_string(id) + "&limit=3", seq);
  ASSERT_TRUE(similar.IsObject() && similar["data"].IsObject()) << "recipe-similar";
  EXPECT_EQ(similar["data"]["recipe_id"].GetInt64(), id);
  const auto& neighbors = similar["data"]["neighbors"];
  ASSERT_TRUE(neighbors.IsArray());
  ASSERT_EQ(neighbors.Size(), 3u);
  // What existing front ends read: the same fields at the top level.
  ASSERT_TRUE(similar.HasMember("neighbors") && similar.HasMember("recipe_name")) << "recipe-similar";
  EXPECT_EQ(similar["recipe_id"].GetInt64(), id);
  EXPECT_TRUE(similar["neighbors"] == neighbors);
  double previous = -1;
  for (const auto& n : neighbors.GetArray()) {
    const std::int64_t other = n["neighbor_recipe_id"].GetInt64();
    EXPECT_NE(other, id);
    EXPECT_TRUE(facts_.recipes_with_ingredients.count(other)) << "neighbour " << other << " is not a recipe";
    const double d = n["distance"].GetDouble();
    EXPECT_TRUE(std::isfinite(d) && d >= 0) << d;
    EXPECT_GE(d, previous) << "neighbours nearest first";
    previous = d;
  }

  // Deleted, it leaves the maps with the next generation.
  ASSERT_GT(commit("DELETE", "/api/v1/recipes/" + std::to_string(id), "", 200), 0);
  auto space = read_analytics(*analytics_, "/api/v1/analytics/cocktail-space", facts_.latest_seq);
  for (const auto& point : space["data"].GetArray()) {
    EXPECT_NE(point["recipe_id"].GetInt64(), id);
  }
  int status = 0;
  auto gone = analytics_->get("/api/v1/analytics/recipe-similar?recipe_id=" + std::to_string(id) +
                              "&min_seq=" + std::to_string(facts_.latest_seq));
  status = gone.status;
  EXPECT_EQ(status, 404) << gone.body;
}

TEST_F(Scenarios, ASeqNoWriteHasReachedIsRefusedAfterTheWait) {
  auto r = analytics_->get("/api/v1/analytics/recipe-complexity?min_seq=" +
                           std::to_string(facts_.latest_seq + 1000) + "&wait_ms=200");
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_FALSE(r.header("Retry-After").empty());
  // Refused writes change nothing: no token, and a duplicate name.
  auto unauthorised = catalog_->post("/api/v1/ingredients", R"({"name":"E2E Nobody"})");
  EXPECT_EQ(unauthorised.status, 401);
  Written duplicate = write(*catalog_, *stack_, "POST", "/api/v1/ingredients",
                            "{\"name\":" + json_string(facts_.usage.begin()->second.name) + "}");
  EXPECT_EQ(duplicate.status, 409) << duplicate.raw;
  EXPECT_EQ(read_catalog_facts(stack_->db_path()).latest_seq, facts_.latest_seq);
}

TEST_F(Scenarios, ADashboardStreamHearsOfTheGenerationThatCoversAWrite) {
  testing::EventStreamClient stream(stack_->http_port(Service::kAnalyticsApi), "/api/v1/analytics/stream");
  ASSERT_EQ(stream.status(), 200);
  // First the generation served now.
  auto current = stream.next(10s);
  ASSERT_TRUE(current.has_value());
  EXPECT_EQ(current->event, "generation");
  EXPECT_EQ(parse_json(current->data)["catalog_seq"].GetInt64(), facts_.latest_seq);

  const std::int64_t seq = commit("POST", "/api/v1/ingredients", R"({"name":"E2E Streamed Bitters"})", 201);
  ASSERT_GT(seq, 0);
  std::int64_t heard = -1;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (heard < seq && std::chrono::steady_clock::now() < deadline) {
    auto event = stream.next(2s);
    if (!event) {
      continue;
    }
    auto data = parse_json(event->data);
    ASSERT_FALSE(data.HasParseError()) << event->data;
    EXPECT_EQ(event->id, std::to_string(data["generation"].GetInt64()));
    heard = data["catalog_seq"].GetInt64();
  }
  EXPECT_EQ(heard, seq) << "no generation event covering seq " << seq;
}

TEST_F(Scenarios, AnOperatorTriggeredRegenerationIsServedNext) {
  auto regen = stack_->client(Service::kAnalyticsRegen);
  // Without the token: refused.
  EXPECT_EQ(regen.post("/api/v1/regenerate", "").status, 401);
  auto r = regen.post("/api/v1/regenerate?wait=true&timeout_ms=15000", "", stack_->auth());
  ASSERT_EQ(r.status, 200) << r.body;
  auto run = parse_json(r.body);
  ASSERT_FALSE(run.HasParseError()) << r.body;
  EXPECT_STREQ(run["status"].GetString(), "success");
  const std::int64_t generation = run["generation"].GetInt64();
  EXPECT_GT(generation, seen_.generation);
  EXPECT_EQ(run["catalog_seq"].GetInt64(), facts_.latest_seq);
  // analytics-api swaps it in (announced on the bus, or found by polling).
  EXPECT_TRUE(testing::wait_until(
      [&] {
        auto status = parse_json(analytics_->get("/api/v1/analytics/status").body);
        return !status.HasParseError() && status["data"]["generation"].IsInt64() &&
               status["data"]["generation"].GetInt64() >= generation;
      },
      15s, 20ms));
  EXPECT_TRUE(analytics_match_catalog(*stack_, facts_, seen_));
}

}  // namespace
}  // namespace cocktail::e2e

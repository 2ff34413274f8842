// catalog-api over real HTTP on loopback: every route's success, and every
// class of bad input answered with the right 4xx, a message naming the
// problem, and no change to the catalog (its latest seq does not move).
#include <gtest/gtest.h>

#include <string>

#include "catalog_api_process.h"

namespace cocktail::catalog_api_test {
namespace {

class RoutesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    process_ = new CatalogApiProcess();
    ASSERT_TRUE(process_->start());
  }
  static void TearDownTestSuite() {
    delete process_;
    process_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(process_, nullptr); }

  HttpClient client_ = process_->client();
  static CatalogApiProcess* process_;

  std::int64_t seq() { return latest_seq(process_->db_path()); }

  // A write that must succeed: returns the body, checks the seq header.
  rapidjson::Document write_ok(const std::string& method, const std::string& target, const std::string& body,
                               int status) {
    auto r = client_.request(method, target, body, with_json(auth()));
    EXPECT_EQ(r.status, status) << method << " " << target << ": " << r.body;
    auto d = json(r.body);
    if (d.IsObject() && d.HasMember("catalog_seq")) {
      EXPECT_EQ(r.header("X-Catalog-Seq"), std::to_string(d["catalog_seq"].GetInt64()));
      EXPECT_LE(d["catalog_seq"].GetInt64(), seq());
    } else {
      ADD_FAILURE() << "no catalog_seq in " << r.body;
    }
    return d;
  }

  std::int64_t create_ingredient(const std::string& name, std::optional<std::int64_t> parent = {}) {
    std::string body = R"({"name": ")" + name + "\"" +
                       (parent ? R"(, "parent_id": )" + std::to_string(*parent) : std::string()) + "}";
    auto d = write_ok("POST", "/api/v1/ingredients", body, 201);
    return d.HasMember("item") ? d["item"]["id"].GetInt64() : 0;
  }

  static testing::Headers with_json(testing::Headers h) {
    h.emplace_back("Content-Type", "application/json");
    return h;
  }

  // An error answer: status, code, the message mentions `needle`, and the
  // catalog did not change.
  void expect_refused(const HttpResponse& r, int status, const std::string& code, const std::string& needle,
                      std::int64_t seq_before) {
    EXPECT_EQ(r.status, status) << r.body;
    auto d = json(r.body);
    ASSERT_TRUE(d.IsObject() && d.HasMember("error")) << r.body;
    EXPECT_EQ(std::string(d["error"]["code"].GetString()), code) << r.body;
    std::string message = d["error"]["message"].GetString();
    EXPECT_NE(message.find(needle), std::string::npos) << "'" << needle << "' not in: " << message;
    EXPECT_EQ(seq(), seq_before) << "the catalog changed";
    EXPECT_FALSE(r.has_header("X-Catalog-Seq"));
  }
};

CatalogApiProcess* RoutesTest::process_ = nullptr;

TEST_F(RoutesTest, IngredientLifecycle) {
  const auto root = create_ingredient("Gin");
  const auto child = create_ingredient("Old Tom Gin", root);

  auto r = client_.get("/api/v1/ingredients/" + std::to_string(child));
  ASSERT_EQ(r.status, 200) << r.body;
  auto d = json(r.body);
  EXPECT_STREQ(d["name"].GetString(), "Old Tom Gin");
  EXPECT_EQ(d["parent_id"].GetInt64(), root);
  EXPECT_EQ(std::string(d["path"].GetString()),
            "/" + std::to_string(root) + "/" + std::to_string(child) + "/");

  auto updated =
      write_ok("PUT", "/api/v1/ingredients/" + std::to_string(child),
               R"({"name": "Old Tom", "description": "sweeter", "allow_substitution": true})", 200);
  EXPECT_STREQ(updated["item"]["name"].GetString(), "Old Tom");
  EXPECT_TRUE(updated["item"]["parent_id"].IsNull());  // PUT replaces: no parent given
  EXPECT_TRUE(updated["item"]["allow_substitution"].GetBool());

  auto deleted = write_ok("DELETE", "/api/v1/ingredients/" + std::to_string(child), "", 200);
  EXPECT_EQ(deleted["id"].GetInt64(), child);
  EXPECT_TRUE(deleted["deleted"].GetBool());
  EXPECT_EQ(client_.get("/api/v1/ingredients/" + std::to_string(child)).status, 404);
}

TEST_F(RoutesTest, IngredientListPagesByAfterId) {
  for (int i = 0; i < 5; ++i) {
    create_ingredient("Paged " + std::to_string(i));
  }
  std::int64_t after = 0;
  int seen = 0, pages = 0;
  for (; pages < 1000; ++pages) {
    auto r = client_.get("/api/v1/ingredients?limit=2&after_id=" + std::to_string(after));
    ASSERT_EQ(r.status, 200) << r.body;
    auto d = json(r.body);
    for (const auto& item : d["items"].GetArray()) {
      EXPECT_GT(item["id"].GetInt64(), after);
      ++seen;
    }
    EXPECT_LE(d["items"].Size(), 2u);
    if (d["next_after_id"].IsNull()) {
      break;
    }
    after = d["next_after_id"].GetInt64();
  }
  EXPECT_EQ(seen, static_cast<int>(query_int(process_->db_path(), "SELECT COUNT(*) FROM ingredients")));
  EXPECT_GE(pages, 2);
}

TEST_F(RoutesTest, RecipeLifecycle) {
  const auto gin = create_ingredient("Recipe Gin");
  const auto lime = create_ingredient("Recipe Lime");
  auto created = write_ok("POST", "/api/v1/recipes",
                          R"({"name": "Gimlet", "instructions": "Shake with ice.", "source": "classic",
                              "source_url": "https://example.org/gimlet",
                              "ingredients": [{"ingredient_id": )" +
                              std::to_string(gin) + R"(, "unit_id": 1, "amount": 2},
                                              {"ingredient_id": )" +
                              std::to_string(lime) + R"(, "unit_id": 1, "amount": 0.75}]})",
                          201);
  const auto id = created["item"]["id"].GetInt64();
  ASSERT_EQ(created["item"]["ingredients"].Size(), 2u);
  EXPECT_STREQ(created["item"]["ingredients"][0]["ingredient_name"].GetString(), "Recipe Gin");
  EXPECT_STREQ(created["item"]["ingredients"][0]["unit_name"].GetString(), "Ounce");

  auto r = client_.get("/api/v1/recipes/" + std::to_string(id));
  ASSERT_EQ(r.status, 200);
  EXPECT_STREQ(json(r.body)["instructions"].GetString(), "Shake with ice.");

  // What GET returns can be PUT back (read-only fields are ignored).
  auto replaced = write_ok("PUT", "/api/v1/recipes/" + std::to_string(id), r.body, 200);
  EXPECT_EQ(replaced["item"]["ingredients"].Size(), 2u);
  replaced =
      write_ok("PUT", "/api/v1/recipes/" + std::to_string(id),
               R"({"name": "Gimlet", "ingredients": [{"ingredient_id": )" + std::to_string(gin) + "}]}", 200);
  EXPECT_EQ(replaced["item"]["ingredients"].Size(), 1u);
  EXPECT_TRUE(replaced["item"]["instructions"].IsNull());

  auto list = client_.get("/api/v1/recipes?limit=1000");
  ASSERT_EQ(list.status, 200);
  EXPECT_GE(json(list.body)["items"].Size(), 1u);

  write_ok("DELETE", "/api/v1/recipes/" + std::to_string(id), "", 200);
  EXPECT_EQ(client_.get("/api/v1/recipes/" + std::to_string(id)).status, 404);
}

TEST_F(RoutesTest, Units) {
  auto r = client_.get("/api/v1/units");
  ASSERT_EQ(r.status, 200);
  auto d = json(r.body);
  ASSERT_GE(d["items"].Size(), 9u);  // the standard set
  EXPECT_TRUE(d["next_after_id"].IsNull());
  auto one = client_.get("/api/v1/units/1");
  ASSERT_EQ(one.status, 200);
  EXPECT_STREQ(json(one.body)["name"].GetString(), "Ounce");

  auto created = write_ok("POST", "/api/v1/units",
                          R"({"name": "Pony", "abbreviation": "pony", "conversion_to_ml": 29.57})", 201);
  EXPECT_EQ(client_.get("/api/v1/units/" + std::to_string(created["item"]["id"].GetInt64())).status, 200);
  const auto before = seq();
  expect_refused(client_.post("/api/v1/units", R"({"name": "pony"})", auth()), 409, "conflict", "", before);
  expect_refused(client_.get("/api/v1/units/9999"), 404, "not_found", "9999", before);
}

TEST_F(RoutesTest, BulkIngredientsAndRecipes) {
  auto ingredients =
      write_ok("POST", "/api/v1/ingredients/bulk",
               R"({"ingredients": [{"name": "Bulk Rum"}, {"name": "Bulk Dark Rum", "parent_name": "Bulk Rum"},
                                                  {"name": "Bulk Mint"}]})",
               201);
  EXPECT_EQ(ingredients["created"].GetInt(), 3);
  auto recipes =
      write_ok("POST", "/api/v1/recipes/bulk",
               R"([{"name": "Bulk Mojito", "instructions": "Muddle.", "description": null, "source": "bar",
                               "source_url": null,
                               "ingredients": [{"ingredient_name": "bulk rum", "amount": 2, "unit_name": "oz"},
                                               {"ingredient_name": "Bulk Mint", "amount": null, "unit_name": "Each"}]},
                              {"name": "Bulk Dark Rum Neat", "ingredients": [{"ingredient_name": "Bulk Dark Rum"}]}])",
               201);
  ASSERT_EQ(recipes["created"].GetInt(), 2);
  auto id = recipes["items"][0]["id"].GetInt64();
  auto r = client_.get("/api/v1/recipes/" + std::to_string(id));
  ASSERT_EQ(r.status, 200);
  auto d = json(r.body);
  ASSERT_EQ(d["ingredients"].Size(), 2u);
  EXPECT_STREQ(d["ingredients"][0]["unit_name"].GetString(), "Ounce");
}

TEST_F(RoutesTest, WritesNeedTheTokenAndReadsDoNot) {
  const auto before = seq();
  expect_refused(client_.post("/api/v1/ingredients", R"({"name": "No Token"})"), 401, "unauthorized", "",
                 before);
  expect_refused(
      client_.post("/api/v1/ingredients", R"({"name": "Bad Token"})", {{"Authorization", "Bearer nope"}}),
      401, "unauthorized", "", before);
  expect_refused(client_.del("/api/v1/recipes/1"), 401, "unauthorized", "", before);
  expect_refused(client_.post("/api/v1/recipes/bulk", "[]", {{"Authorization", "Basic eDp5"}}), 401,
                 "unauthorized", "", before);
  // The token is checked before the body: no validation feedback without it.
  expect_refused(client_.post("/api/v1/ingredients", "{not json"), 401, "unauthorized", "", before);
  EXPECT_EQ(client_.get("/api/v1/ingredients").status, 200);
  EXPECT_EQ(client_.get("/api/v1/recipes").status, 200);
  EXPECT_EQ(client_.get("/api/v1/units").status, 200);
}

TEST_F(RoutesTest, MalformedBodiesAreRefusedNamingTheProblem) {
  const auto before = seq();
  expect_refused(client_.post("/api/v1/ingredients", "{\"name\": \"Gin\"", auth()), 400, "invalid_argument",
                 "not valid JSON", before);
  expect_refused(client_.post("/api/v1/ingredients", "", auth()), 400, "invalid_argument", "empty", before);
  expect_refused(client_.post("/api/v1/recipes", "[1, 2]", auth()), 400, "invalid_argument", "JSON object",
                 before);
  expect_refused(client_.post("/api/v1/recipes/bulk", "{\"recipes\": [", auth()), 400, "invalid_argument",
                 "not valid JSON", before);
}

TEST_F(RoutesTest, WrongTypesMissingAndUnknownFieldsAreNamed) {
  const auto before = seq();
  expect_refused(client_.post("/api/v1/ingredients", R"({"name": 42})", auth()), 400, "invalid_argument",
                 "name must be a string", before);
  expect_refused(client_.post("/api/v1/ingredients", R"({"description": "no name"})", auth()), 400,
                 "invalid_argument", "name is required", before);
  expect_refused(client_.post("/api/v1/ingredients", R"({"name": "Gin X", "parent_id": "1"})", auth()), 400,
                 "invalid_argument", "parent_id must be an integer", before);
  expect_refused(client_.post("/api/v1/recipes", R"({"name": "Typo", "instruction": "Shake."})", auth()), 400,
                 "invalid_argument", "instruction is not a known field", before);
  expect_refused(
      client_.post("/api/v1/recipes",
                   R"({"name": "Rows", "ingredients": [{"ingredient_id": 1, "amount": "2"}]})", auth()),
      400, "invalid_argument", "ingredients[0].amount must be a number", before);
  expect_refused(
      client_.post("/api/v1/recipes", R"({"name": "Rows", "ingredients": [{"amount": 2}]})", auth()), 400,
      "invalid_argument", "ingredients[0].ingredient_id is required", before);
  // Content rules come from the Repository, with the field named too.
  expect_refused(client_.post("/api/v1/ingredients", R"({"name": "   "})", auth()), 400, "invalid_argument",
                 "name", before);
  expect_refused(
      client_.post("/api/v1/recipes",
                   R"({"name": "Neg", "ingredients": [{"ingredient_id": 1, "amount": -1}]})", auth()),
      400, "invalid_argument", "amount", before);
}

TEST_F(RoutesTest, BulkErrorsListEveryBadItemAndWriteNothing) {
  create_ingredient("Bulk Err Gin");
  const auto before = seq();
  auto r = client_.post("/api/v1/recipes/bulk",
                        R"([{"name": "Fine One", "ingredients": [{"ingredient_name": "Bulk Err Gin"}]},
                            {"name": 7},
                            {"name": "Unknown Row", "ingredients": [{"ingredient_name": "Nothing Like It"}]}])",
                        auth());
  expect_refused(r, 400, "invalid_argument", "item 1", before);
  auto d = json(r.body);
  ASSERT_TRUE(d["error"]["details"].HasMember("errors"));
  EXPECT_EQ(d["error"]["details"]["errors"][0]["index"].GetInt(), 1);
  EXPECT_STREQ(d["error"]["details"]["errors"][0]["field"].GetString(), "name");

  // Decoding passed, the Repository refuses the unknown ingredient name.
  r = client_.post("/api/v1/recipes/bulk",
                   R"([{"name": "Fine Two", "ingredients": [{"ingredient_name": "Bulk Err Gin"}]},
                       {"name": "Unknown Row", "ingredients": [{"ingredient_name": "Nothing Like It"}]}])",
                   auth());
  expect_refused(r, 400, "invalid_argument", "", before);
  d = json(r.body);
  ASSERT_TRUE(d["error"]["details"].HasMember("errors")) << r.body;
  EXPECT_EQ(d["error"]["details"]["errors"][0]["index"].GetInt(), 1) << r.body;
  EXPECT_EQ(query_int(process_->db_path(), "SELECT COUNT(*) FROM recipes WHERE name LIKE 'Fine %'"), 0);
}

TEST_F(RoutesTest, UnknownIdsAre404) {
  const auto before = seq();
  expect_refused(client_.get("/api/v1/ingredients/987654"), 404, "not_found", "987654", before);
  expect_refused(client_.get("/api/v1/recipes/987654"), 404, "not_found", "987654", before);
  expect_refused(client_.put("/api/v1/ingredients/987654", R"({"name": "Ghost"})", auth()), 404, "not_found",
                 "987654", before);
  expect_refused(client_.put("/api/v1/recipes/987654", R"({"name": "Ghost"})", auth()), 404, "not_found",
                 "987654", before);
  expect_refused(client_.del("/api/v1/ingredients/987654", auth()), 404, "not_found", "987654", before);
  expect_refused(client_.del("/api/v1/recipes/987654", auth()), 404, "not_found", "987654", before);
  // An unknown id inside a body is invalid input, not a missing resource.
  expect_refused(client_.post("/api/v1/ingredients", R"({"name": "Orphan", "parent_id": 987654})", auth()),
                 400, "invalid_argument", "parent_id", before);
}

TEST_F(RoutesTest, NonNumericPathIdsAre400) {
  const auto before = seq();
  expect_refused(client_.get("/api/v1/recipes/abc"), 400, "invalid_argument", "id must be an integer",
                 before);
  expect_refused(client_.get("/api/v1/ingredients/1.5"), 400, "invalid_argument", "id must be an integer",
                 before);
  expect_refused(client_.get("/api/v1/units/-3"), 400, "invalid_argument", "id must be >= 1", before);
  expect_refused(client_.get("/api/v1/recipes/99999999999999999999"), 400, "invalid_argument", "id", before);
  expect_refused(client_.put("/api/v1/recipes/x1", R"({"name": "X"})", auth()), 400, "invalid_argument", "id",
                 before);
  expect_refused(client_.del("/api/v1/ingredients/0", auth()), 400, "invalid_argument", "id", before);
}

TEST_F(RoutesTest, AbsurdPagingIs400) {
  const auto before = seq();
  expect_refused(client_.get("/api/v1/recipes?limit=0"), 400, "invalid_argument", "limit", before);
  expect_refused(client_.get("/api/v1/recipes?limit=-5"), 400, "invalid_argument", "limit", before);
  expect_refused(client_.get("/api/v1/recipes?limit=1000000"), 400, "invalid_argument", "limit must be",
                 before);
  expect_refused(client_.get("/api/v1/recipes?limit=ten"), 400, "invalid_argument",
                 "limit must be an integer", before);
  expect_refused(client_.get("/api/v1/ingredients?after_id=-1"), 400, "invalid_argument", "after_id", before);
  expect_refused(client_.get("/api/v1/ingredients?offset=20"), 400, "invalid_argument", "offset", before);
  expect_refused(client_.get("/api/v1/units?limit=5"), 400, "invalid_argument", "limit", before);
}

TEST_F(RoutesTest, DuplicateNamesAre409) {
  create_ingredient("Duplicate Gin");
  const auto before = seq();
  expect_refused(client_.post("/api/v1/ingredients", R"({"name": "duplicate gin"})", auth()), 409, "conflict",
                 "name: an ingredient named 'duplicate gin' exists", before);
  auto d = write_ok("POST", "/api/v1/recipes", R"({"name": "Duplicate Drink"})", 201);
  const auto after_recipe = seq();
  expect_refused(client_.post("/api/v1/recipes", R"({"name": "DUPLICATE DRINK"})", auth()), 409, "conflict",
                 "", after_recipe);
  expect_refused(client_.post("/api/v1/ingredients/bulk",
                              R"([{"name": "Fresh One"}, {"name": "Duplicate Gin"}])", auth()),
                 409, "conflict", "", after_recipe);
}

TEST_F(RoutesTest, CyclesAndDeletesInUseAre409) {
  const auto a = create_ingredient("Cycle A");
  const auto b = create_ingredient("Cycle B", a);
  const auto c = create_ingredient("Cycle C", b);
  const auto before = seq();
  expect_refused(client_.put("/api/v1/ingredients/" + std::to_string(a),
                             R"({"name": "Cycle A", "parent_id": )" + std::to_string(c) + "}", auth()),
                 409, "conflict", "", before);
  expect_refused(client_.put("/api/v1/ingredients/" + std::to_string(a),
                             R"({"name": "Cycle A", "parent_id": )" + std::to_string(a) + "}", auth()),
                 409, "conflict", "", before);
  // A parent with children cannot go.
  expect_refused(client_.del("/api/v1/ingredients/" + std::to_string(a), auth()), 409, "conflict", "",
                 before);

  write_ok("POST", "/api/v1/recipes",
           R"({"name": "Uses C", "ingredients": [{"ingredient_id": )" + std::to_string(c) + "}]}", 201);
  const auto with_recipe = seq();
  expect_refused(client_.del("/api/v1/ingredients/" + std::to_string(c), auth()), 409, "conflict", "recipe",
                 with_recipe);
}

TEST_F(RoutesTest, OversizedBodiesAre413) {
  const auto before = seq();
  // Above the 1 MiB default of single-item routes.
  std::string big = R"({"name": "Big", "description": ")" + std::string(2 << 20, 'x') + "\"}";
  auto r = client_.post("/api/v1/ingredients", big, auth());
  EXPECT_EQ(r.status, 413) << r.body.substr(0, 200);
  EXPECT_NE(r.body.find(R"("limit_bytes":1048576)"), std::string::npos) << r.body;
  EXPECT_EQ(seq(), before);
  // Above the bulk limit too (refused from the header alone): the answer
  // still names the limit of the route asked, not the bulk routes'.
  {
    testing::RawConnection raw(process_->http_port());
    ASSERT_TRUE(raw.send(
        "POST /api/v1/ingredients HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + std::string(kToken) +
        "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(40 << 20) + "\r\n\r\n"));
    const std::string got = raw.read_until_close(5s);
    EXPECT_EQ(got.rfind("HTTP/1.1 413", 0), 0u) << got;
    EXPECT_NE(got.find(R"("limit_bytes":1048576)"), std::string::npos) << got;
  }
  // Bulk routes take more (32 MiB by default) ...
  std::string bulk = "[";
  for (int i = 0; i < 2000; ++i) {
    bulk += std::string(i ? "," : "") + R"({"name": "Big Bulk )" + std::to_string(i) +
            R"(", "description": ")" + std::string(1000, 'y') + "\"}";
  }
  bulk += "]";
  ASSERT_GT(bulk.size(), 1u << 20);
  r = client_.post("/api/v1/ingredients/bulk", bulk, auth());
  EXPECT_EQ(r.status, 201) << r.body.substr(0, 300);
  // ... but not without bound.
  const auto after_bulk = seq();
  r = client_.post("/api/v1/recipes/bulk", std::string(33 << 20, ' '), auth());
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(seq(), after_bulk);
  // A repository limit (text too long) is a 400 naming the field.
  std::string long_name = R"({"name": ")" + std::string(300, 'n') + "\"}";
  expect_refused(client_.post("/api/v1/ingredients", long_name, auth()), 400, "invalid_argument", "name",
                 after_bulk);
}

TEST_F(RoutesTest, HealthAndMetricsReportTheOutbox) {
  const auto seq_now =
      json(client_.post("/api/v1/ingredients", R"({"name": "Metric Gin"})", auth()).body)["catalog_seq"]
          .GetInt64();
  // The publisher catches up (after its start delay) and says so.
  ASSERT_TRUE(testing::wait_until(
      [&] {
        auto d = json(client_.get("/health").body);
        return d["ready"].GetBool() && d["details"]["published_seq"].GetInt64() >= seq_now;
      },
      10s));
  auto metrics = client_.get("/metrics");
  ASSERT_EQ(metrics.status, 200);
  for (const char* name : {"cocktail_catalog_seq ", "cocktail_outbox_lag ", "cocktail_outbox_published_seq ",
                           "cocktail_events_published_total{topic=\"catalog.change\"}",
                           "cocktail_events_published_total{topic=\"catalog.heartbeat\"}",
                           "cocktail_events_publish_errors_total{topic=\"catalog.change\"} 0",
                           "cocktail_catalog_write_batch_size_count", "cocktail_http_requests_total{"}) {
    EXPECT_NE(metrics.body.find(name), std::string::npos) << name;
  }
}

}  // namespace
}  // namespace cocktail::catalog_api_test

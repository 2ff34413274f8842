// catalog-api's events on a real ZeroMQ SUB socket: every mutation's
// catalog.change rows in seq order, writes by another process published too,
// and no committed change lost when the process is killed (SIGKILL) between
// commit and publish: the restarted publisher resumes from change_log.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <thread>

#include "catalog_api_process.h"

namespace cocktail::catalog_api_test {
namespace {

class EventsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(api_.start()); }

  rapidjson::Document post(HttpClient& client, const std::string& target, const std::string& body,
                           int status = 201) {
    auto r = client.post(target, body, auth());
    EXPECT_EQ(r.status, status) << target << ": " << r.body;
    return json(r.body);
  }

  CatalogApiProcess api_;
};

TEST_F(EventsTest, EveryMutationIsPublishedInSeqOrder) {
  EventLog events(api_.pub_endpoint(), api_.subscriber_security());
  ASSERT_TRUE(events.wait_connected());
  auto client = api_.client();
  const auto start = latest_seq(api_.db_path());

  auto gin = post(client, "/api/v1/ingredients", R"({"name": "Gin"})");
  const auto gin_id = gin["item"]["id"].GetInt64();
  auto recipe = post(client, "/api/v1/recipes",
                     R"({"name": "Gin Neat", "ingredients": [{"ingredient_id": )" + std::to_string(gin_id) +
                         R"(, "unit_id": 1, "amount": 2}]})");
  const auto recipe_id = recipe["item"]["id"].GetInt64();
  auto put = client.put("/api/v1/ingredients/" + std::to_string(gin_id), R"({"name": "London Gin"})", auth());
  ASSERT_EQ(put.status, 200);
  auto del = client.del("/api/v1/recipes/" + std::to_string(recipe_id), auth());
  ASSERT_EQ(del.status, 200);
  const auto last = json(del.body)["catalog_seq"].GetInt64();

  ASSERT_TRUE(events.wait_for_seq(last)) << "published up to " << events.seqs().size();
  EXPECT_EQ(events.seqs(), seq_range(start + 1, last));
  auto changes = events.changes();
  // ingredient insert; recipe insert + its row; ingredient update; recipe delete (+ cascade of its row)
  ASSERT_GE(changes.size(), 5u);
  EXPECT_EQ(changes[0].entity, bus::Entity::kIngredient);
  EXPECT_EQ(changes[0].op, bus::Op::kInsert);
  EXPECT_EQ(changes[0].id, gin_id);
  EXPECT_EQ(changes[1].entity, bus::Entity::kRecipe);
  EXPECT_EQ(changes[1].id, recipe_id);
  EXPECT_EQ(changes[2].entity, bus::Entity::kRecipeIngredient);
  EXPECT_EQ(changes[3].entity, bus::Entity::kIngredient);
  EXPECT_EQ(changes[3].op, bus::Op::kUpdate);
  EXPECT_TRUE(std::any_of(changes.begin() + 4, changes.end(), [&](const bus::CatalogChange& c) {
    return c.entity == bus::Entity::kRecipe && c.op == bus::Op::kDelete && c.id == recipe_id;
  }));
  // The heartbeat reports the latest committed seq.
  EXPECT_TRUE(events.wait_for_heartbeat(last));
  EXPECT_EQ(events.malformed(), 0);
}

TEST_F(EventsTest, AWriteByAnotherProcessIsPublished) {
  EventLog events(api_.pub_endpoint(), api_.subscriber_security());
  ASSERT_TRUE(events.wait_connected());
  // Straight into the file, as the sqlite3 shell would: nobody tells the service.
  exec_sql(api_.db_path(), "INSERT INTO ingredients(name, path) VALUES ('Shell Gin', NULL)");
  const auto seq = latest_seq(api_.db_path());
  ASSERT_TRUE(events.wait_for_seq(seq, 5s));
  auto changes = events.changes();
  EXPECT_EQ(changes.back().seq, seq);
  EXPECT_EQ(changes.back().entity, bus::Entity::kIngredient);
  EXPECT_EQ(changes.back().op, bus::Op::kInsert);
}

TEST_F(EventsTest, CommittedChangesArePublishedAfterSigkill) {
  auto client = api_.client();
  // Writes acknowledged, then the process dies at once (no flush, no cursor).
  for (int i = 0; i < 20; ++i) {
    post(client, "/api/v1/ingredients", R"({"name": "Before Kill )" + std::to_string(i) + "\"}");
  }
  api_.kill();
  const auto cursor_at_kill =
      query_int(api_.db_path(), "SELECT COALESCE(MAX(published_seq), 0) FROM outbox_cursor");
  // Committed while the service is down: certainly not published.
  exec_sql(api_.db_path(),
           "INSERT INTO ingredients(name) VALUES ('While Down 1'); "
           "INSERT INTO ingredients(name) VALUES ('While Down 2')");
  const auto last = latest_seq(api_.db_path());
  ASSERT_LT(cursor_at_kill, last);

  // The subscriber connects first; the restarted publisher binds the same endpoint.
  EventLog events(api_.pub_endpoint(), api_.subscriber_security());
  ASSERT_TRUE(api_.start());
  ASSERT_TRUE(events.wait_for_seq(last, 10s));
  // Everything after the durable cursor was published, in order; rows the
  // previous run had already sent may come again (at least once).
  auto seqs = events.seqs();
  std::set<std::int64_t> seen(seqs.begin(), seqs.end());
  for (auto s = cursor_at_kill + 1; s <= last; ++s) {
    EXPECT_TRUE(seen.count(s)) << "seq " << s << " never published";
  }
  EXPECT_TRUE(std::is_sorted(seqs.begin(), seqs.end()));
}

TEST_F(EventsTest, ABulkUploadIsOneTransactionWithAllItsEvents) {
  auto client = api_.client();
  post(client, "/api/v1/ingredients/bulk", R"([{"name": "Gin"}, {"name": "Lime"}, {"name": "Sugar"}])");
  std::string body = R"({"recipes": [)";
  for (int i = 0; i < 1000; ++i) {
    body +=
        std::string(i ? "," : "") + R"({"name": "Bulk Recipe )" + std::to_string(i) +
        R"(", "instructions": "Shake.", "description": "d", "source": "bench", "source_url": "https://example.org/)" +
        std::to_string(i) +
        R"(", "ingredients": [{"ingredient_name": "gin", "amount": 2, "unit_name": "oz"},
               {"ingredient_name": "Lime", "amount": 1, "unit_name": "Ounce"},
               {"ingredient_name": "Sugar", "amount": null, "unit_name": null}]})";
  }
  body += "]}";

  EventLog events(api_.pub_endpoint(), api_.subscriber_security());
  ASSERT_TRUE(events.wait_connected());
  const auto before = latest_seq(api_.db_path());

  // Another process watches the recipe count while the upload runs: it must
  // only ever see none or all of the batch.
  std::atomic<bool> done{false};
  std::set<std::int64_t> observed;
  std::thread watcher([&] {
    while (!done.load()) {
      observed.insert(query_int(api_.db_path(), "SELECT COUNT(*) FROM recipes"));
      std::this_thread::sleep_for(1ms);
    }
  });
  auto r = client.post("/api/v1/recipes/bulk", body, auth());
  done = true;
  watcher.join();
  ASSERT_EQ(r.status, 201) << r.body.substr(0, 300);
  auto d = json(r.body);
  EXPECT_EQ(d["created"].GetInt(), 1000);
  const auto last = d["catalog_seq"].GetInt64();
  // 1000 recipe rows and 3000 recipe_ingredient rows, nothing else.
  EXPECT_EQ(last - before, 4000);
  for (auto count : observed) {
    EXPECT_TRUE(count == 0 || count == 1000) << "saw a partial batch: " << count;
  }

  ASSERT_TRUE(events.wait_for_seq(last, 10s));
  // Only the upload's rows (the ingredients' may arrive too, after the start delay).
  auto changes = events.changes();
  std::erase_if(changes, [&](const bus::CatalogChange& c) { return c.seq <= before; });
  std::vector<std::int64_t> seqs;
  seqs.reserve(changes.size());
  for (const auto& c : changes) {
    seqs.push_back(c.seq);
  }
  EXPECT_EQ(seqs, seq_range(before + 1, last));
  auto recipes = std::count_if(changes.begin(), changes.end(), [](const auto& c) {
    return c.entity == bus::Entity::kRecipe && c.op == bus::Op::kInsert;
  });
  auto rows = std::count_if(changes.begin(), changes.end(), [](const auto& c) {
    return c.entity == bus::Entity::kRecipeIngredient && c.op == bus::Op::kInsert;
  });
  EXPECT_EQ(recipes, 1000);
  EXPECT_EQ(rows, 3000);
  // One commit: every row carries the same commit-time stamp window.
  EXPECT_EQ(query_int(api_.db_path(), "SELECT COUNT(*) FROM recipes"), 1000);
}

}  // namespace
}  // namespace cocktail::catalog_api_test

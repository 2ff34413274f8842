// catalog-api as a process: it refuses to start without a write token unless
// anonymous writes are explicitly allowed, and without bus keys unless an
// anonymous bus is, admits only authorized subscribers to its events, stops cleanly on SIGTERM (exit 0,
// in-flight and committed work published, cursor recorded), survives 64
// concurrent writers without a 5xx or a lost acknowledged write (checked
// after a SIGKILL), and survives a bounded storm of random bodies.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "catalog_api_process.h"

namespace cocktail::catalog_api_test {
namespace {

TEST(ProcessTest, RefusesToStartWithoutAToken) {
  CatalogApiProcess api;
  CatalogApiProcess::Settings settings;
  settings.with_token = false;
  testing::ChildProcess child(binary(), api.args(settings));
  auto status = child.wait_for(10s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(status->exited);
  EXPECT_EQ(status->code, 2);
  EXPECT_NE(child.stderr_text().find("--allow-anonymous-writes"), std::string::npos) << child.stderr_text();
}

TEST(ProcessTest, RefusesAnEmptyTokenFile) {
  CatalogApiProcess api;
  testing::write_file(api.dir().file("empty-token"), "\n");
  CatalogApiProcess::Settings settings;
  settings.with_token = false;
  settings.extra_args = {"--token-file", api.dir().file("empty-token")};
  testing::ChildProcess child(binary(), api.args(settings));
  auto status = child.wait_for(10s);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->code, 2) << child.stderr_text();
}

TEST(ProcessTest, AnonymousWritesOnlyWhenExplicitlyAllowed) {
  CatalogApiProcess api;
  CatalogApiProcess::Settings settings;
  settings.with_token = false;
  settings.extra_args = {"--allow-anonymous-writes"};
  ASSERT_TRUE(api.start(settings));
  auto client = api.client();
  EXPECT_EQ(client.post("/api/v1/ingredients", R"({"name": "Gin"})").status, 201);
}

TEST(ProcessTest, RefusesToStartWithoutBusKeys) {
  CatalogApiProcess api;
  CatalogApiProcess::Settings settings;
  settings.with_bus_keys = false;
  testing::ChildProcess child(binary(), api.args(settings));
  auto status = child.wait_for(10s);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->code, 2);
  EXPECT_NE(child.stderr_text().find("--allow-anonymous-bus"), std::string::npos) << child.stderr_text();
}

TEST(ProcessTest, RefusesAPublicCertificateAsItsKey) {
  CatalogApiProcess api;
  CatalogApiProcess::Settings settings;
  settings.with_bus_keys = false;
  settings.extra_args = {"--bus-key-file", api.dir().file("catalog-api.key"), "--bus-authorized-keys",
                         api.dir().file("subscriber.key")};
  testing::ChildProcess child(binary(), api.args(settings));
  auto status = child.wait_for(10s);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->code, 2);
  EXPECT_NE(child.stderr_text().find("no secret-key"), std::string::npos) << child.stderr_text();
}

TEST(ProcessTest, AnAnonymousBusOnlyWhenExplicitlyAllowed) {
  CatalogApiProcess api;
  CatalogApiProcess::Settings settings;
  settings.with_bus_keys = false;
  settings.extra_args = {"--allow-anonymous-bus"};
  ASSERT_TRUE(api.start(settings));
  EventLog plain(api.pub_endpoint());
  EXPECT_TRUE(plain.wait_connected());
}

TEST(ProcessTest, OnlyAuthorizedSubscribersHearTheEvents) {
  CatalogApiProcess api;
  ASSERT_TRUE(api.start());
  EventLog authorized(api.pub_endpoint(), api.subscriber_security());
  bus::BusSecurity stranger_security = api.subscriber_security();
  stranger_security.keys = bus::generate_key_pair();
  EventLog stranger(api.pub_endpoint(), stranger_security);
  EventLog plain(api.pub_endpoint());

  ASSERT_TRUE(authorized.wait_connected());
  {
    auto client = api.client();
    ASSERT_EQ(client.post("/api/v1/ingredients", R"({"name": "Secret gin"})", auth()).status, 201);
  }
  ASSERT_TRUE(authorized.wait_for_seq(1));
  // Heartbeats go out every 100 ms: a second is many chances to hear one.
  EXPECT_FALSE(stranger.wait_connected(1s));
  EXPECT_FALSE(plain.wait_connected(100ms));
  EXPECT_TRUE(stranger.changes().empty());
  EXPECT_GE(stranger.stats().refused, 1u);

  auto metrics = api.client().get("/metrics").body;
  EXPECT_NE(metrics.find("cocktail_bus_connections_refused_total{reason=\"unknown_key\"}"),
            std::string::npos);
  EXPECT_EQ(metrics.find("cocktail_bus_connections_refused_total{reason=\"unknown_key\"} 0"),
            std::string::npos)
      << metrics;
  EXPECT_EQ(metrics.find("cocktail_bus_connections_refused_total{reason=\"handshake\"} 0"), std::string::npos)
      << metrics;
}

TEST(ProcessTest, SigtermStopsCleanlyAndRecordsTheCursor) {
  CatalogApiProcess api;
  ASSERT_TRUE(api.start());
  auto client = api.client();
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(
        client.post("/api/v1/ingredients", R"({"name": "Term )" + std::to_string(i) + "\"}", auth()).status,
        201);
  }
  auto status = api.terminate();
  ASSERT_TRUE(status.has_value()) << "did not stop on SIGTERM";
  EXPECT_TRUE(status->success()) << api.process().stderr_text();
  // Everything committed was published and the cursor says so.
  EXPECT_EQ(query_int(api.db_path(), "SELECT published_seq FROM outbox_cursor WHERE name = 'catalog-api'"),
            latest_seq(api.db_path()));
}

TEST(ProcessTest, SixtyFourConcurrentWritersLoseNoAcknowledgedWrite) {
  CatalogApiProcess api;
  ASSERT_TRUE(api.start());
  {
    auto client = api.client();
    ASSERT_EQ(client.post("/api/v1/ingredients", R"({"name": "Gin"})", auth()).status, 201);
  }
  constexpr int kClients = 64;
  const auto deadline = std::chrono::steady_clock::now() + 2s;
  std::mutex mu;
  std::vector<std::pair<std::int64_t, std::string>> acknowledged;  // id, name
  std::atomic<int> server_errors{0}, other_failures{0};
  std::vector<std::thread> threads;
  threads.reserve(kClients);
  for (int t = 0; t < kClients; ++t) {
    threads.emplace_back([&, t] {
      HttpClient client(api.http_port(), 10s);
      for (int i = 0; std::chrono::steady_clock::now() < deadline; ++i) {
        std::string name = "Concurrent " + std::to_string(t) + "-" + std::to_string(i);
        HttpResponse r;
        try {
          r = client.post("/api/v1/recipes",
                          R"({"name": ")" + name +
                              R"(", "ingredients": [{"ingredient_id": 1, "unit_id": 1, "amount": 1}]})",
                          auth());
        } catch (const testing::HttpClientError&) {
          ++other_failures;
          continue;
        }
        if (r.status >= 500) {
          ++server_errors;
        }
        if (r.status != 201) {
          continue;
        }
        auto d = json(r.body);
        std::lock_guard lock(mu);
        acknowledged.emplace_back(d["item"]["id"].GetInt64(), name);
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  EXPECT_EQ(server_errors.load(), 0);
  EXPECT_EQ(other_failures.load(), 0);
  ASSERT_GT(acknowledged.size(), 100u);

  // Concurrent writes shared their syncs (group commit).
  {
    auto metrics = api.client().get("/metrics").body;
    auto value = [&](const std::string& name) {
      auto at = metrics.find("\n" + name + " ");
      return at == std::string::npos ? -1.0 : std::stod(metrics.substr(at + name.size() + 2));
    };
    const double batches = value("cocktail_catalog_write_batch_size_count");
    const double writes = value("cocktail_catalog_write_batch_size_sum");
    ASSERT_GT(batches, 0);
    EXPECT_GT(writes / batches, 1.5) << writes << " writes in " << batches << " batches";
  }

  // The process dies without any chance to flush: acknowledged means committed.
  api.kill();
  EXPECT_EQ(query_int(api.db_path(), "SELECT COUNT(*) FROM recipes"),
            static_cast<std::int64_t>(acknowledged.size()));
  for (std::size_t i = 0; i < acknowledged.size(); i += std::max<std::size_t>(1, acknowledged.size() / 200)) {
    const auto& [id, name] = acknowledged[i];
    EXPECT_EQ(query_int(api.db_path(), "SELECT COUNT(*) FROM recipes WHERE id = " + std::to_string(id) +
                                           " AND name = '" + name + "'"),
              1)
        << name;
  }
}

// Random bodies: bytes, truncated and mutated JSON, deep nesting, wrong
// shapes. Every answer must be a 2xx or a 4xx, and the service must live.
TEST(ProcessTest, RandomBodiesNeverCrashTheService) {
  CatalogApiProcess api;
  ASSERT_TRUE(api.start());
  auto client = api.client();
  std::mt19937_64 rng(20261124);
  const std::vector<std::string> seeds = {
      R"({"name": "Gin", "description": "d", "parent_id": 1, "allow_substitution": true})",
      R"({"name": "Gimlet", "instructions": "Shake.", "ingredients": [{"ingredient_id": 1, "unit_id": 1, "amount": 2}]})",
      R"([{"name": "Rum", "parent_name": "Gin"}])",
      R"({"recipes": [{"name": "X", "ingredients": [{"ingredient_name": "Gin", "amount": 1, "unit_name": "oz"}]}]})",
      R"({"name": "Pony", "abbreviation": "pony", "conversion_to_ml": 29.5})",
      std::string(2000, '[') + std::string(2000, ']'),
      R"({"name": "\ud800", "description": "\u0000"})",
      R"({"name": 1e400, "parent_id": -9223372036854775808})",
  };
  const std::vector<std::pair<std::string, std::string>> routes = {
      {"POST", "/api/v1/ingredients"}, {"PUT", "/api/v1/ingredients/1"}, {"POST", "/api/v1/recipes"},
      {"PUT", "/api/v1/recipes/1"},    {"POST", "/api/v1/units"},        {"POST", "/api/v1/ingredients/bulk"},
      {"POST", "/api/v1/recipes/bulk"}};
  const std::string alphabet = std::string("{}[]\",:0123456789.-eEtrufalsn \\uabc") + '\xff' + '\0';
  int server_errors = 0;
  for (int i = 0; i < 1500; ++i) {
    std::string body = seeds[rng() % seeds.size()];
    switch (rng() % 4) {
      case 0: body.resize(rng() % (body.size() + 1)); break;  // truncated
      case 1:                                                 // a few bytes replaced
        for (int k = 0; k < 3 && !body.empty(); ++k) {
          body[rng() % body.size()] = alphabet[rng() % alphabet.size()];
        }
        break;
      case 2: {  // random bytes
        body.assign(rng() % 200, ' ');
        for (auto& c : body) {
          c = static_cast<char>(rng() % 256);
        }
        break;
      }
      default: break;  // as is (valid or not, by the seed)
    }
    const auto& [method, target] = routes[rng() % routes.size()];
    auto r = client.request(method, target, body, auth());
    if (r.status >= 500) {
      ++server_errors;
      ADD_FAILURE() << method << " " << target << " -> " << r.status << " " << r.body << " for body "
                    << body.substr(0, 200);
    }
    if (server_errors > 5) {
      break;
    }
  }
  EXPECT_TRUE(api.process().running());
  EXPECT_EQ(client.get("/health").status, 200);
}

}  // namespace
}  // namespace cocktail::catalog_api_test

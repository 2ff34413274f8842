// Crash and restart under load: while a client writes every ~50 ms, each
// service in turn is killed with SIGKILL and started again. Nothing
// acknowledged may be lost, seqs never go back, the services that stay up
// keep working, and at the end the system converges: the snapshot served
// covers the catalog's last seq and its counts are the catalog's.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "api_calls.h"
#include "catalog_facts.h"
#include "cocktail/testing/wait.h"
#include "stack.h"

namespace cocktail::e2e {
namespace {

using namespace std::chrono_literals;

// One acknowledged create.
struct Ack {
  bool recipe = false;
  std::string name;
  std::int64_t id = -1;
  std::int64_t seq = -1;
};

// A client thread writing one create every `interval` with the token:
// ingredients under seeded parents, and recipes over seeded ingredients and
// the ingredients it created. It records every acknowledged write, retries
// with a new name after a connection error (the service may be down), and
// notes anything else unexpected. Thread-safe accessors.
class WriteLoad {
 public:
  WriteLoad(const Stack& stack, std::vector<std::int64_t> parents, std::vector<std::int64_t> leaves)
      : stack_(stack), parents_(std::move(parents)), leaves_(std::move(leaves)) {}
  ~WriteLoad() { stop(); }

  void start() {
    thread_ = std::thread([this] { run(); });
  }
  void stop() {
    stopping_ = true;
    if (thread_.joinable()) {
      thread_.join();
    }
  }

  std::vector<Ack> acks() const {
    std::lock_guard lock(mutex_);
    return acks_;
  }
  std::size_t ack_count() const {
    std::lock_guard lock(mutex_);
    return acks_.size();
  }
  std::int64_t last_seq() const {
    std::lock_guard lock(mutex_);
    return acks_.empty() ? -1 : acks_.back().seq;
  }
  int connection_errors() const { return connection_errors_; }
  std::vector<std::string> problems() const {
    std::lock_guard lock(mutex_);
    return problems_;
  }

 private:
  void run() {
    std::unique_ptr<testing::HttpClient> client;
    std::vector<std::int64_t> created;  // ingredient ids acknowledged
    for (int n = 0; !stopping_; ++n) {
      const bool recipe = n % 2 == 1;
      std::string name =
          std::string(recipe ? "E2E Load Recipe " : "E2E Load Ingredient ") + std::to_string(n);
      std::string body;
      if (recipe) {
        const std::int64_t a = leaves_[static_cast<std::size_t>(n) % leaves_.size()];
        const std::int64_t b = created.empty() ? leaves_[static_cast<std::size_t>(n / 2) % leaves_.size()]
                                               : created[static_cast<std::size_t>(n / 2) % created.size()];
        body = R"({"name":")" + name + R"(","ingredients":[{"ingredient_id":)" + std::to_string(a) +
               R"(,"amount":1.5},{"ingredient_id":)" + std::to_string(b) + R"(,"amount":0.5}]})";
      } else {
        body = R"({"name":")" + name + R"(","parent_id":)" +
               std::to_string(parents_[static_cast<std::size_t>(n) % parents_.size()]) + "}";
      }
      try {
        if (!client) {
          client = std::make_unique<testing::HttpClient>(stack_.http_port(Service::kCatalogApi), 5s);
        }
        Written w = write(*client, stack_, "POST", recipe ? "/api/v1/recipes" : "/api/v1/ingredients", body);
        if (w.status == 201 && w.catalog_seq > 0 && w.catalog_seq == w.header_seq && w.id > 0) {
          std::lock_guard lock(mutex_);
          if (!acks_.empty() && w.catalog_seq <= acks_.back().seq) {
            problems_.push_back("seq went back: " + std::to_string(w.catalog_seq) + " after " +
                                std::to_string(acks_.back().seq));
          }
          acks_.push_back({recipe, name, w.id, w.catalog_seq});
          if (!recipe) {
            created.push_back(w.id);
          }
        } else if (w.status != 503) {
          // 503: stopping or busy, a retry is what a client does. Anything
          // else is a bug.
          std::lock_guard lock(mutex_);
          problems_.push_back(name + ": HTTP " + std::to_string(w.status) + " " + w.raw);
        }
      } catch (const testing::HttpClientError&) {
        ++connection_errors_;
        client.reset();
      }
      std::this_thread::sleep_for(50ms);
    }
  }

  const Stack& stack_;
  const std::vector<std::int64_t> parents_;
  const std::vector<std::int64_t> leaves_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connection_errors_{0};
  mutable std::mutex mutex_;
  std::vector<Ack> acks_;
  std::vector<std::string> problems_;
};

// analytics-regen's /health: the catalog_seq of its current generation.
std::int64_t regen_covered(const Stack& stack) {
  try {
    auto client = stack.client(Service::kAnalyticsRegen, 2s);
    auto d = parse_json(client.get("/health").body);
    if (d.HasParseError() || !d.IsObject() || !d.HasMember("catalog_seq") || !d["catalog_seq"].IsInt64()) {
      return -1;
    }
    return d["catalog_seq"].GetInt64();
  } catch (const testing::HttpClientError&) {
    return -1;
  }
}

TEST(CrashRestart, EachServiceKilledUnderWritesAndRestartedLosesNothingAndConverges) {
  Stack stack;
  ASSERT_TRUE(stack.start());
  const CatalogFacts seeded = read_catalog_facts(stack.db_path());
  std::vector<std::int64_t> parents, leaves;
  for (const auto& [id, u] : seeded.usage) {
    (u.has_children ? parents : leaves).push_back(id);
  }
  ASSERT_FALSE(parents.empty());
  ASSERT_FALSE(leaves.empty());

  WriteLoad load(stack, parents, leaves);
  load.start();
  auto acks_reach = [&](std::size_t n) {
    return testing::wait_until([&] { return load.ack_count() >= n; }, 30s, 10ms);
  };
  ASSERT_TRUE(acks_reach(10)) << stack.logs();

  for (Service service : kServices) {
    SCOPED_TRACE(service_name(service));
    const std::size_t acked_before = load.ack_count();
    const std::int64_t seq_before = load.last_seq();
    const int errors_before = load.connection_errors();
    const std::int64_t regen_before = regen_covered(stack);

    if (service == Service::kAnalyticsRegen) {
      // Preferably in the middle of a regeneration (there is one most of the
      // time under this load); a kill between runs is a valid case too.
      testing::wait_until(
          [&] {
            try {
              auto regen = stack.client(Service::kAnalyticsRegen, 2s);
              auto d = parse_json(regen.get("/health").body);
              return d.IsObject() && d.HasMember("running") && d["running"].IsBool() &&
                     d["running"].GetBool();
            } catch (const testing::HttpClientError&) {
              return false;
            }
          },
          5s, 5ms);
    }
    const testing::ExitStatus killed = stack.kill(service);
    EXPECT_FALSE(killed.exited);
    EXPECT_EQ(killed.signal, SIGKILL);

    // While it is down, the others keep doing their part.
    switch (service) {
      case Service::kCatalogApi:
        // The writer notices: its connections are refused.
        EXPECT_TRUE(testing::wait_until([&] { return load.connection_errors() > errors_before; }, 10s));
        std::this_thread::sleep_for(500ms);
        break;
      case Service::kAnalyticsRegen: {
        // analytics-api keeps serving the generation it has.
        std::this_thread::sleep_for(500ms);
        auto analytics = stack.client(Service::kAnalyticsApi);
        auto r = analytics.get("/api/v1/analytics/recipe-complexity");
        EXPECT_EQ(r.status, 200) << r.body;
        break;
      }
      case Service::kAnalyticsApi:
        // analytics-regen keeps regenerating for the writes that go on.
        EXPECT_TRUE(testing::wait_until(
            [&] { return regen_covered(stack) > std::max(regen_before, seq_before); }, 30s, 50ms))
            << stack.log_tail(Service::kAnalyticsRegen);
        break;
      case Service::kUsageApi: break;  // not in the catalog's pipeline (kServices)
    }

    ASSERT_TRUE(stack.start(service));
    if (service == Service::kCatalogApi) {
      // Every write acknowledged before the kill survived it.
      auto catalog = stack.client(Service::kCatalogApi);
      const auto acks = load.acks();
      for (std::size_t i = 0; i < acked_before; ++i) {
        const Ack& a = acks[i];
        auto r = catalog.get(std::string(a.recipe ? "/api/v1/recipes/" : "/api/v1/ingredients/") +
                             std::to_string(a.id));
        ASSERT_EQ(r.status, 200) << a.name << " (seq " << a.seq << ") was acknowledged before the kill";
        EXPECT_EQ(parse_json(r.body)["name"].GetString(), a.name);
      }
    }
    // Writes are acknowledged again after the restart.
    ASSERT_TRUE(acks_reach(load.ack_count() + 5)) << stack.logs();
  }
  load.stop();
  for (const std::string& problem : load.problems()) {
    ADD_FAILURE() << problem;
  }

  // Convergence: the catalog's last seq (acknowledged or not) is served...
  const std::int64_t last_ack = load.last_seq();
  CatalogFacts facts = read_catalog_facts(stack.db_path());
  ASSERT_GE(facts.latest_seq, last_ack);
  EXPECT_EQ(stack.wait_covered(facts.latest_seq, 60s), facts.latest_seq)
      << "analytics-api never served the catalog's last seq " << facts.latest_seq << "\n"
      << stack.logs();

  // ...no acknowledged write is missing from the catalog...
  const auto acks = load.acks();
  std::size_t recipes = 0;
  for (const Ack& a : acks) {
    const auto& ids = a.recipe ? facts.recipe_ids : facts.ingredient_ids;
    auto it = ids.find(a.name);
    ASSERT_NE(it, ids.end()) << a.name << " (seq " << a.seq << ") was acknowledged but is not in the catalog";
    EXPECT_EQ(it->second, a.id) << a.name;
    recipes += a.recipe;
  }
  EXPECT_GE(recipes, 10u);

  // ...nor from the analytics: the counts are the catalog's, and every
  // acknowledged recipe is on the map.
  AnalyticsFacts analytics;
  EXPECT_TRUE(analytics_match_catalog(stack, facts, analytics)) << stack.logs();
  auto client = stack.client(Service::kAnalyticsApi);
  auto space = read_analytics(client, "/api/v1/analytics/cocktail-space", facts.latest_seq);
  std::set<std::int64_t> on_map;
  for (const auto& point : space["data"].GetArray()) {
    on_map.insert(point["recipe_id"].GetInt64());
  }
  for (const Ack& a : acks) {
    if (a.recipe) {
      EXPECT_TRUE(on_map.count(a.id)) << a.name << " is not in cocktail-space";
    }
  }

  // The publisher caught up, and regeneration is healthy.
  EXPECT_TRUE(testing::wait_until(
      [&] {
        try {
          auto catalog = stack.client(Service::kCatalogApi, 2s);
          auto d = parse_json(catalog.get("/health").body);
          return d["details"]["published_seq"].GetInt64() == facts.latest_seq;
        } catch (const testing::HttpClientError&) {
          return false;
        }
      },
      10s, 50ms));
  auto regen = stack.client(Service::kAnalyticsRegen);
  auto health = parse_json(regen.get("/health").body);
  EXPECT_EQ(health["catalog_seq"].GetInt64(), facts.latest_seq);
  EXPECT_EQ(health["consecutive_failures"].GetInt64(), 0);
  std::cerr << acks.size() << " writes acknowledged, " << load.connection_errors()
            << " connection errors while catalog-api was down, final seq " << facts.latest_seq << "\n";

  // All three at once, as in a power cut: back up, the last generation is
  // served as it was, and a write after it is read back.
  for (Service s : kServices) {
    stack.kill(s);
  }
  for (Service s : kServices) {
    ASSERT_TRUE(stack.start(s));
  }
  EXPECT_EQ(stack.wait_covered(facts.latest_seq, 30s), facts.latest_seq) << stack.logs();
  auto catalog = stack.client(Service::kCatalogApi);
  const std::int64_t seq =
      acknowledged(write(catalog, stack, "POST", "/api/v1/ingredients", R"({"name":"E2E After The Outage"})"),
                   201, facts.latest_seq);
  ASSERT_GT(seq, 0);
  EXPECT_TRUE(analytics_match_catalog(stack, facts, analytics)) << stack.logs();
  EXPECT_EQ(facts.latest_seq, seq);

  // SIGTERM stops each cleanly (readers first, as an operator would).
  for (Service s : {Service::kAnalyticsApi, Service::kAnalyticsRegen, Service::kCatalogApi}) {
    auto status = stack.stop(s, 20s);
    ASSERT_TRUE(status.has_value()) << service_name(s) << " did not stop within 20 s of SIGTERM";
    EXPECT_TRUE(status->success()) << service_name(s) << " exited " << status->code << " signal "
                                   << status->signal << "\n"
                                   << stack.log_tail(s);
  }
  if (HasFailure()) {
    stack.keep();
  }
}

// A bulk upload is one transaction: catalog-api killed while it runs leaves
// all of it or none, and an acknowledged one is all there.
TEST(CrashRestart, ABulkUploadCutByAKillIsAllOrNothing) {
  Stack stack;
  ASSERT_TRUE(stack.start());
  constexpr int kItems = 3000;
  std::string body = "[";
  for (int i = 0; i < kItems; ++i) {
    body += std::string(i ? "," : "") + R"({"name":"E2E Bulk )" + std::to_string(i) + R"("})";
  }
  body += "]";

  std::atomic<int> status{0};
  std::atomic<bool> sent{false};
  std::thread uploader([&] {
    try {
      auto catalog = stack.client(Service::kCatalogApi);
      sent = true;
      status = write(catalog, stack, "POST", "/api/v1/ingredients/bulk", body).status;
    } catch (const testing::HttpClientError&) {
      status = -1;  // cut by the kill
    }
  });
  ASSERT_TRUE(testing::wait_until([&] { return sent.load(); }, 10s, 1ms));
  std::this_thread::sleep_for(30ms);
  stack.kill(Service::kCatalogApi);
  uploader.join();
  ASSERT_TRUE(stack.start(Service::kCatalogApi));

  const CatalogFacts facts = read_catalog_facts(stack.db_path());
  int present = 0;
  for (int i = 0; i < kItems; ++i) {
    present += facts.ingredient_ids.count("E2E Bulk " + std::to_string(i)) ? 1 : 0;
  }
  EXPECT_TRUE(present == 0 || present == kItems) << present << " of " << kItems << " bulk items survived";
  if (status == 201) {
    EXPECT_EQ(present, kItems);
  }
  std::cerr << "bulk answered " << status << " before the kill; " << present << " items in the catalog\n";
  // And the analytics follow whichever it was.
  CatalogFacts now;
  AnalyticsFacts analytics;
  EXPECT_TRUE(analytics_match_catalog(stack, now, analytics)) << stack.logs();
}

}  // namespace
}  // namespace cocktail::e2e

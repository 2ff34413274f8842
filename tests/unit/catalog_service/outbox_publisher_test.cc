// OutboxPublisher over a real catalog on each backend (a SQLite file in a
// temporary directory, a database on the test PostgreSQL server) and real
// ZeroMQ sockets on 127.0.0.1. PUB/SUB drops messages sent before the
// subscription reached the publisher, so every test first waits for a
// heartbeat (sent every 50 ms here) and only then changes the catalog.
#include "cocktail/catalog_service/outbox_publisher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "catalog_backends.h"
#include "cocktail/bus/subscriber.h"
#include "cocktail/catalog/change_log.h"
#include "cocktail/catalog/repository.h"
#include "cocktail/catalog/schema.h"
#include "cocktail/catalog_service/catalog_writer.h"
#include "cocktail/testing/temp_dir.h"
#include "cocktail/testing/wait.h"

namespace cocktail::catalog_service {
namespace {

using namespace std::chrono_literals;

constexpr auto kWait = 5s;

class Inbox {
 public:
  bus::SubscriberHandlers handlers() {
    return {[this](const bus::Event& e) {
              std::lock_guard lock(mu_);
              if (auto* c = std::get_if<bus::CatalogChange>(&e)) {
                changes_.push_back(*c);
              }
              if (auto* h = std::get_if<bus::CatalogHeartbeat>(&e)) {
                heartbeats_.push_back(*h);
              }
              cv_.notify_all();
            },
            [](std::string_view, const core::Error&) {}};
  }
  bool wait(const std::function<bool()>& pred) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kWait, pred);
  }
  std::vector<std::int64_t> seqs() {
    std::lock_guard lock(mu_);
    std::vector<std::int64_t> out;
    for (const auto& c : changes_) {
      out.push_back(c.seq);
    }
    return out;
  }
  std::vector<bus::CatalogChange> changes() {
    std::lock_guard lock(mu_);
    return changes_;
  }
  std::int64_t last_heartbeat_seq() {
    std::lock_guard lock(mu_);
    return heartbeats_.empty() ? -1 : heartbeats_.back().seq;
  }
  std::size_t heartbeats() {
    std::lock_guard lock(mu_);
    return heartbeats_.size();
  }
  std::size_t change_count() {
    std::lock_guard lock(mu_);
    return changes_.size();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<bus::CatalogChange> changes_;
  std::vector<bus::CatalogHeartbeat> heartbeats_;
};

class OutboxPublisherTest : public ::testing::TestWithParam<catalog::Backend> {
 protected:
  OutboxPublisherTest()
      : path_(catalog_.location()), db_(catalog::open_catalog(path_)), repo_(*db_), bus_(any_port()) {}

  bus::SubscriberOptions sub_options() {
    bus::SubscriberOptions o;
    o.endpoints = {bus_.endpoint()};
    o.topics = {"catalog."};
    return o;
  }

  static bus::PublisherOptions any_port() {
    bus::PublisherOptions o;
    o.endpoint = "tcp://127.0.0.1:0";
    return o;
  }

  OutboxPublisherOptions fast_options() {
    OutboxPublisherOptions o;
    o.start_delay = 0ms;
    o.poll_interval = 20ms;
    o.heartbeat_interval = 50ms;
    o.cursor_interval = 0ms;
    return o;
  }

  std::unique_ptr<OutboxPublisher> make_publisher(OutboxPublisherOptions options) {
    return std::make_unique<OutboxPublisher>(catalog::Database::open(path_), bus_, registry_,
                                             std::move(options));
  }

  // A subscriber that has seen at least one heartbeat: connected.
  std::unique_ptr<bus::Subscriber> subscribe(Inbox& inbox) {
    auto sub = std::make_unique<bus::Subscriber>(sub_options(), inbox.handlers());
    sub->start();
    EXPECT_TRUE(inbox.wait([&] { return !inbox.heartbeats_.empty(); }));
    return sub;
  }

  std::int64_t create_ingredient(const std::string& name) {
    auto r = repo_.create_ingredient({name, {}, {}, false});
    EXPECT_TRUE(r.ok());
    return r.ok() ? r->catalog_seq : 0;
  }

  std::int64_t latest() { return catalog::ChangeLog(*db_).latest_seq(); }

  static std::vector<std::int64_t> range(std::int64_t from, std::int64_t to) {
    std::vector<std::int64_t> out;
    for (auto s = from; s <= to; ++s) {
      out.push_back(s);
    }
    return out;
  }

  // The outbox table as another client names it.
  const char* change_log_table() const { return catalog_.postgres() ? "cocktail.change_log" : "change_log"; }

  catalog::testing::TestCatalog catalog_{GetParam()};
  std::string path_;
  std::unique_ptr<catalog::Database> db_;
  catalog::Repository repo_;
  prometheus::Registry registry_;
  bus::Publisher bus_;
};

TEST_P(OutboxPublisherTest, PublishesEveryChangeInSeqOrderWithItsRow) {
  auto publisher = make_publisher(fast_options());
  publisher->start();
  Inbox inbox;
  auto sub = subscribe(inbox);
  const auto before = latest();

  auto gin = repo_.create_ingredient({"Gin", {}, {}, false});
  ASSERT_TRUE(gin.ok());
  publisher->notify();
  auto recipe = repo_.create_recipe({"Gin Neat", {}, {}, {}, {}, {}, {{gin->value.id, {}, 2.0}}});
  ASSERT_TRUE(recipe.ok());
  publisher->notify();

  ASSERT_TRUE(inbox.wait(
      [&] { return !inbox.changes_.empty() && inbox.changes_.back().seq == recipe->catalog_seq; }));
  EXPECT_EQ(inbox.seqs(), range(before + 1, recipe->catalog_seq));
  auto changes = inbox.changes();
  EXPECT_EQ(changes[0].entity, bus::Entity::kIngredient);
  EXPECT_EQ(changes[0].op, bus::Op::kInsert);
  EXPECT_EQ(changes[0].id, gin->value.id);
  EXPECT_EQ(changes.back().entity, bus::Entity::kRecipeIngredient);
  // The counter moves right after the send that delivered the message.
  EXPECT_TRUE(testing::wait_until([&] { return publisher->published_seq() == recipe->catalog_seq; }, kWait));
}

TEST_P(OutboxPublisherTest, ChangesByAnotherWriterArePublishedByPolling) {
  auto publisher = make_publisher(fast_options());
  publisher->start();
  Inbox inbox;
  auto sub = subscribe(inbox);

  // A raw connection, as the sqlite3 shell or psql would write: nobody
  // calls notify() (on PostgreSQL the catalog's own notification wakes it).
  catalog_.raw()->exec("INSERT INTO units(name, abbreviation) VALUES ('Pony', 'pony')");
  const auto seq = latest();

  ASSERT_TRUE(inbox.wait([&] { return !inbox.changes_.empty() && inbox.changes_.back().seq == seq; }));
  EXPECT_EQ(inbox.changes().back().entity, bus::Entity::kUnit);
  // The heartbeat reports the latest committed seq.
  ASSERT_TRUE(inbox.wait([&] { return !inbox.heartbeats_.empty() && inbox.heartbeats_.back().seq == seq; }));
}

TEST_P(OutboxPublisherTest, ResumesFromTheDurableCursorAfterARestart) {
  create_ingredient("Gin");
  create_ingredient("Rum");
  {
    auto first = make_publisher(fast_options());
    first->start();
    first->stop();
    EXPECT_EQ(first->published_seq(), latest());
  }
  EXPECT_EQ(catalog::ChangeLog(*db_).published_seq("catalog-api"), latest());
  const auto resumed_from = latest();

  // Committed while no publisher runs.
  create_ingredient("Vodka");
  const auto last = create_ingredient("Tequila");

  // The subscriber connects while the new publisher waits out its start
  // delay, as a subscriber of the previous process would reconnect.
  auto options = fast_options();
  options.start_delay = 300ms;
  auto second = make_publisher(options);
  EXPECT_EQ(second->published_seq(), resumed_from);
  Inbox inbox;
  auto sub = std::make_unique<bus::Subscriber>(sub_options(), inbox.handlers());
  sub->start();
  second->start();
  ASSERT_TRUE(inbox.wait([&] { return !inbox.changes_.empty() && inbox.changes_.back().seq == last; }));
  // Only what was not published before, in order.
  EXPECT_EQ(inbox.seqs(), range(resumed_from + 1, last));
}

TEST_P(OutboxPublisherTest, StopFlushesWhatIsCommitted) {
  auto options = fast_options();
  options.poll_interval = 10s;  // only notify() or stop() would wake it
  options.heartbeat_interval = 10s;
  auto publisher = make_publisher(options);
  publisher->start();
  const auto seq = create_ingredient("Gin");
  publisher->stop();
  EXPECT_EQ(publisher->published_seq(), seq);
  EXPECT_EQ(catalog::ChangeLog(*db_).published_seq("catalog-api"), seq);
}

TEST_P(OutboxPublisherTest, LargeBacklogGoesOutInBatchesInOrder) {
  std::vector<catalog::BulkIngredient> items;
  items.reserve(2500);
  for (int i = 0; i < 2500; ++i) {
    items.push_back({"Ingredient " + std::to_string(i), {}, {}, {}, false});
  }
  Inbox inbox;
  auto options = fast_options();
  options.batch_rows = 300;
  auto publisher = make_publisher(options);
  publisher->start();
  auto sub = subscribe(inbox);
  const auto before = latest();
  auto r = repo_.create_ingredients(items);
  ASSERT_TRUE(r.ok());
  publisher->notify();
  ASSERT_TRUE(
      inbox.wait([&] { return !inbox.changes_.empty() && inbox.changes_.back().seq == r->catalog_seq; }));
  EXPECT_EQ(inbox.seqs(), range(before + 1, r->catalog_seq));
}

TEST_P(OutboxPublisherTest, PrunesOnlyPublishedRows) {
  for (int i = 0; i < 20; ++i) {
    create_ingredient("Ingredient " + std::to_string(i));
  }
  auto options = fast_options();
  options.prune_interval = 20ms;
  options.prune.keep_count = 5;
  options.prune.max_age = 0ms;
  auto publisher = make_publisher(options);
  publisher->start();
  const auto last = latest();
  auto count_rows = [&] {
    auto st = db_->prepare(std::string("SELECT COUNT(*), MIN(seq) FROM ") + change_log_table());
    st.step();
    return std::pair{st.column_int(0), st.column_int(1)};
  };
  ASSERT_TRUE(testing::wait_until([&] { return count_rows().first == 5; }, kWait));
  EXPECT_EQ(count_rows().second, last - 4);
  EXPECT_EQ(publisher->published_seq(), last);
}

TEST_P(OutboxPublisherTest, CursorAndPruningCanRunOnTheWriter) {
  CatalogWriter writer(path_, registry_);
  writer.start();
  std::atomic<int> delegated{0};
  auto options = fast_options();
  options.prune_interval = 20ms;
  options.prune.keep_count = 1;
  options.prune.max_age = 0ms;
  options.delegate_writes = [&](const std::function<void(catalog::ChangeLog&)>& task) {
    ++delegated;
    return writer.submit_change_log_task(task);
  };
  auto publisher = make_publisher(options);
  publisher->start();
  for (int i = 0; i < 5; ++i) {
    create_ingredient("Delegated " + std::to_string(i));
  }
  const auto last = latest();
  publisher->notify();
  // Written by the writer's connection while the publisher runs.
  EXPECT_TRUE(testing::wait_until(
      [&] { return catalog::ChangeLog(*db_).published_seq("catalog-api") == last; }, kWait));
  EXPECT_TRUE(testing::wait_until(
      [&] {
        auto st = db_->prepare(std::string("SELECT COUNT(*) FROM ") + change_log_table());
        st.step();
        return st.column_int(0) == 1;
      },
      kWait));
  EXPECT_GT(delegated.load(), 0);
  // Tasks refer to the publisher: the writer drains before it goes.
  writer.stop();
  publisher->stop();
  EXPECT_EQ(catalog::ChangeLog(*db_).published_seq("catalog-api"), last);
}

TEST_P(OutboxPublisherTest, ReportsLagAndSeqInMetrics) {
  create_ingredient("Gin");
  auto publisher = make_publisher(fast_options());
  publisher->start();
  ASSERT_TRUE(testing::wait_until([&] { return publisher->published_seq() == latest(); }, kWait));
  publisher->stop();
  bool seen_lag = false, seen_seq = false;
  for (const auto& family : registry_.Collect()) {
    if (family.name == "cocktail_outbox_lag") {
      seen_lag = true;
      EXPECT_EQ(family.metric.at(0).gauge.value, 0);
    }
    if (family.name == "cocktail_catalog_seq") {
      seen_seq = true;
      EXPECT_EQ(family.metric.at(0).gauge.value, static_cast<double>(latest()));
    }
  }
  EXPECT_TRUE(seen_lag);
  EXPECT_TRUE(seen_seq);
}

INSTANTIATE_TEST_SUITE_P(Backends, OutboxPublisherTest, catalog::testing::AllBackends(),
                         catalog::testing::BackendName);

}  // namespace
}  // namespace cocktail::catalog_service

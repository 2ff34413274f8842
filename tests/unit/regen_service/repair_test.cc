// Self-repair in the RegenerationService, over real files and sockets: a
// file of the current generation that fails verification gets a fresh
// generation without any catalog change, whoever found it (a reader's
// request, confirmed here; the scrub; a carry), and requests that do not
// confirm change nothing.
#include "service_fixture.h"

namespace cocktail::regen_service {
namespace {

// Both lanes have published: the slow file is in the current generation.
::testing::AssertionResult both_lanes(RegenerationService& service, snapshot::SnapshotStore& store) {
  const bool published = testing::wait_until(
      [&] {
        auto m = store.read_current();
        return m.ok() && m->files.count("slow-thing.json") == 1 && service.status().slow.seq > 0;
      },
      10s);
  if (!published) {
    return ::testing::AssertionFailure() << "the slow lane never published";
  }
  if (!service.wait_quiescent(10s)) {
    return ::testing::AssertionFailure() << "never quiescent";
  }
  return ::testing::AssertionSuccess();
}

TEST_F(ServiceFixture, AReaderFindingACorruptFileGetsAFreshGenerationWithoutACatalogChange) {
  const std::int64_t seq = add_ingredient("Gin");
  start(options(), nullptr, false, true, std::make_unique<SlowFileProducer>());
  ASSERT_TRUE(both_lanes(*service_, store_));
  const std::int64_t g = service_->status().generation;
  // The slow file is shared by hard link with the generations that carried
  // it: every copy of it is bad now.
  corrupt(g, "slow-thing.json");
  ASSERT_TRUE(store_.verify_file(store_.read_manifest(g).value(), "slow-thing.json").has_value());

  ASSERT_TRUE(service_->request_repair("slow-thing.json"));
  ASSERT_TRUE(testing::wait_until([&] { return service_->status().generation > g; }, 10s))
      << "no fresh generation";
  ASSERT_TRUE(service_->wait_quiescent(10s));
  auto current = store_.read_current();
  ASSERT_TRUE(current.ok()) << current.error().message;  // every file verifies
  EXPECT_EQ(current->manifest.catalog_seq, seq) << "no catalog change was needed";
  EXPECT_EQ(latest_seq(), seq);
  const auto after = service_->status();
  EXPECT_EQ(after.corrupt_files, 1u);
  EXPECT_EQ(after.repairs, 1u);
  EXPECT_FALSE(after.repair_pending);
  ASSERT_TRUE(after.last_corrupt.has_value());
  EXPECT_EQ(after.last_corrupt->file, "slow-thing.json");
  EXPECT_EQ(after.last_corrupt_found_by, "reader");
  EXPECT_EQ(metric(R"(cocktail_regen_corrupt_files_total{found_by="reader"})"), 1);
  EXPECT_EQ(metric(R"(cocktail_regen_repair_requests_total{result="confirmed"})"), 1);
  EXPECT_EQ(metric(R"(cocktail_regen_triggers_total{reason="repair"})"), 1);
  EXPECT_EQ(metric(R"(cocktail_regen_repairs_total{result="success"})"), 1);
  const std::string health = health_json(after);
  EXPECT_NE(health.find(R"("repair":{"corrupt_files":1,"repairs":1,"pending":false)"), std::string::npos)
      << health;
  EXPECT_NE(health.find(R"("found_by":"reader")"), std::string::npos) << health;
  EXPECT_NE(health.find(R"("filesystem":{"used_ratio":)"), std::string::npos) << health;
}

TEST_F(ServiceFixture, RequestsForFilesThatVerifyChangeNothing) {
  add_ingredient("Gin");
  start(options(), nullptr, false, true, std::make_unique<SlowFileProducer>());
  ASSERT_TRUE(both_lanes(*service_, store_));
  const auto runs = service_->status().runs_started;
  const auto g = service_->status().generation;
  // A flood of requests (a looping or hostile peer): each name waits at most
  // once, nothing is rewritten.
  int accepted = 0;
  for (int i = 0; i < 200; ++i) {
    accepted += service_->request_repair(i % 2 ? "ingredient-usage.json" : "slow-thing.json") ? 1 : 0;
  }
  EXPECT_FALSE(service_->request_repair("../CURRENT"));
  ASSERT_TRUE(testing::wait_until(
      [&] {
        const auto s = service_->status().scrub;
        return s.requests_confirmed + s.requests_dismissed + s.requests_dropped + s.requests_merged == 201;
      },
      10s));
  ASSERT_TRUE(service_->wait_quiescent(10s));
  const auto s = service_->status();
  EXPECT_EQ(accepted, 200);
  EXPECT_EQ(s.runs_started, runs);
  EXPECT_EQ(s.generation, g);
  EXPECT_EQ(s.scrub.requests_confirmed, 0u);
  EXPECT_EQ(s.corrupt_files, 0u);
  EXPECT_GE(s.scrub.requests_merged, 190u) << "each name is read once while it waits";
}

TEST_F(ServiceFixture, TheScrubFindsABadFileAtStartAndItIsRewritten) {
  const std::int64_t seq = add_ingredient("Gin");
  start(options(), nullptr, false, true, std::make_unique<SlowFileProducer>());
  ASSERT_TRUE(both_lanes(*service_, store_));
  const std::int64_t g = service_->status().generation;
  stop();
  corrupt(g, "ingredient-tree.json");

  // Restarted with nothing new in the catalog: the start-up scrub reads the
  // current generation back.
  auto o = options();
  o.scrub.interval = 1h;
  start(o, nullptr, false, true, std::make_unique<SlowFileProducer>());
  ASSERT_TRUE(testing::wait_until([&] { return service_->status().generation > g; }, 10s));
  ASSERT_TRUE(service_->wait_quiescent(10s));
  ASSERT_TRUE(store_.read_current().ok());
  EXPECT_EQ(store_.read_current()->manifest.catalog_seq, seq);
  EXPECT_EQ(metric(R"(cocktail_regen_corrupt_files_total{found_by="scrub"})"), 1);
  EXPECT_GE(metric("cocktail_regen_scrub_bytes_read_total"), 1);
}

TEST_F(ServiceFixture, RepairRunsAreSpacedByTheMinimumInterval) {
  ManualClock clock;
  auto o = options();
  o.repair_min_interval = 10s;
  add_ingredient("Gin");
  start(o, &clock, false, true, std::make_unique<SlowFileProducer>());
  ASSERT_TRUE(both_lanes(*service_, store_));
  // A disk that keeps corrupting: the first repair at once...
  corrupt(service_->status().generation, "recipe-complexity.json");
  service_->request_repair("recipe-complexity.json");
  ASSERT_TRUE(testing::wait_until([&] { return service_->status().repairs == 1; }, 10s));
  ASSERT_TRUE(service_->wait_quiescent(10s));
  const auto runs = service_->status().runs_started;
  // ...the next only once the interval passed by the service's clock.
  corrupt(service_->status().generation, "recipe-complexity.json");
  service_->request_repair("recipe-complexity.json");
  ASSERT_TRUE(testing::wait_until([&] { return service_->status().repair_pending; }, 10s));
  clock.advance(9s);
  service_->wake();
  ASSERT_TRUE(service_->wait_quiescent(10s));
  EXPECT_EQ(service_->status().runs_started, runs);
  EXPECT_EQ(health_json(service_->status()).find(R"("status":"degraded")"), 1u);
  clock.advance(1s);
  service_->wake();
  ASSERT_TRUE(testing::wait_until([&] { return service_->status().repairs == 2; }, 10s));
  ASSERT_TRUE(service_->wait_quiescent(10s));
  ASSERT_TRUE(store_.read_current().ok());
}

TEST_F(ServiceFixture, RepairRequestsArriveOnTheBusAndACarryCountsWhatItFinds) {
  // The test plays analytics-api: a publisher of analytics.repair.
  bus::PublisherOptions pub;
  pub.endpoint = "tcp://127.0.0.1:0";
  bus::Publisher reader(pub);
  auto o = options();
  o.repair_endpoints = {reader.endpoint()};
  add_ingredient("Gin");
  start(o, nullptr, false, true, std::make_unique<SlowFileProducer>());
  ASSERT_TRUE(both_lanes(*service_, store_));
  const std::int64_t g = service_->status().generation;
  corrupt(g, "ingredient-usage.json");
  // Sent until heard (a subscriber joins a publisher late: PUB/SUB drops).
  ASSERT_TRUE(testing::wait_until(
      [&] {
        (void)reader.publish(
            bus::AnalyticsRepair{g, "ingredient-usage.json", "corrupt", core::system_now_ms()});
        return service_->status().generation > g;
      },
      10s, 50ms));
  EXPECT_GE(metric(R"(cocktail_events_received_total{topic="analytics.repair"})"), 1);
  EXPECT_EQ(service_->status().last_corrupt_found_by, "reader");
  ASSERT_TRUE(service_->wait_quiescent(10s));

  // A copy that went bad, found by a run carrying it (after a catalog
  // change): counted, and that run is its own repair.
  const std::int64_t g2 = service_->status().generation;
  corrupt(g2, "slow-thing.json");
  const std::int64_t seq = add_ingredient("Rum");
  connect_bus();
  announce(seq);
  ASSERT_TRUE(wait_covered(seq));
  ASSERT_TRUE(service_->wait_quiescent(10s));
  EXPECT_EQ(metric(R"(cocktail_regen_corrupt_files_total{found_by="carry"})"), 1);
  ASSERT_TRUE(store_.read_current().ok());
}

}  // namespace
}  // namespace cocktail::regen_service

// The RegenerationService in process, over real sockets, files and HTTP
// (service_fixture.h). Time-dependent behaviour that would need long waits
// (the periodic catalog probe, failure backoff) runs on a ManualClock.
#include <zmq.hpp>

#include "cocktail/testing/http_client.h"
#include "service_fixture.h"

namespace cocktail::regen_service {
namespace {

using testing::wait_until;
using StopResult = RegenerationService::StopResult;

TEST_F(ServiceFixture, StartUpCatchesUpAtOnceAndAnnouncesTheGeneration) {
  add_ingredient("Gin");
  add_ingredient("Rum");
  const std::int64_t seq = add_ingredient("Vodka");
  start(options());  // no snapshot yet, catalog at `seq`

  ASSERT_TRUE(wait_covered(seq));
  auto status = service_->status();
  EXPECT_EQ(status.generation, 1);
  EXPECT_EQ(status.last_success->reasons, (std::vector<std::string>{"startup"}));
  EXPECT_EQ(metric(R"(cocktail_regen_triggers_total{reason="startup"})"), 1);

  // The announcement matches the manifest on disk, keyed by analytic type.
  ASSERT_TRUE(inbox_->wait_heartbeat());
  auto manifest = store_.read_manifest(1);
  ASSERT_TRUE(manifest.ok());
  // The first snapshot event may have gone out before our subscription
  // arrived; a manual run announces generation 2 for sure.
  ASSERT_TRUE(service_->request_run().has_value());
  std::optional<bus::AnalyticsSnapshot> event;
  ASSERT_TRUE(wait_until(
      [&] {
        for (const auto& s : inbox_->snapshots()) {
          if (s.generation == 2) event = s;
        }
        return event.has_value();
      },
      5s));
  auto current = store_.read_manifest(event->generation);
  ASSERT_TRUE(current.ok());
  EXPECT_EQ(event->catalog_seq, seq);
  EXPECT_EQ(event->generated_at_ms, current->generated_at_ms);
  ASSERT_EQ(event->files.size(), current->files.size());
  EXPECT_EQ(event->files.at("ingredient-usage").sha256, current->files.at("ingredient-usage.json").sha256);
  EXPECT_EQ(event->files.at("ingredient-tree").bytes, current->files.at("ingredient-tree.json").bytes);
  // Heartbeats say what is current.
  ASSERT_TRUE(wait_until([&] { return inbox_->heartbeats().back().generation == event->generation; }, 10s));
  EXPECT_EQ(inbox_->heartbeats().back().catalog_seq, seq);
}

TEST_F(ServiceFixture, LanesAnnounceFreshExactFilesFirstThenTheCompleteGeneration) {
  add_ingredient("Gin");
  start(options(), nullptr, /*space=*/true);
  wait_startup();
  // Nothing to carry on the first run: generation 1 holds the exact files,
  // generation 2 (from the slow lane, after it) everything.
  ASSERT_TRUE(wait_until(
      [&] { return store_.current_generation().ok() && store_.current_generation().value() == 2; }, 10s));
  const auto first = store_.read_manifest(1);
  const auto complete = store_.read_manifest(2);
  ASSERT_TRUE(first.ok() && complete.ok());
  const std::int64_t seq0 = complete->catalog_seq;
  EXPECT_EQ(first->files.count("cocktail-space.json"), 0u);
  EXPECT_EQ(complete->file_catalog_seq("cocktail-space.json"), seq0);
  EXPECT_EQ(complete->files.at("ingredient-usage.json"), first->files.at("ingredient-usage.json"))
      << "the exact files are carried byte-identical into the complete generation";

  connect_bus();
  ASSERT_TRUE(inbox_->wait_heartbeat());
  const std::int64_t seq = add_ingredient("Rum");
  announce(seq);
  std::optional<bus::AnalyticsSnapshot> fast_event, complete_event;
  ASSERT_TRUE(wait_until(
      [&] {
        for (const auto& s : inbox_->snapshots()) {
          if (s.generation == 3) fast_event = s;
          if (s.generation == 4) complete_event = s;
        }
        return fast_event && complete_event;
      },
      10s));
  // The fast generation: fresh exact files at seq, the space carried forward
  // with the seq it was computed from, same bytes.
  const auto fast = store_.read_manifest(3);
  ASSERT_TRUE(fast.ok());
  EXPECT_EQ(fast->catalog_seq, seq);
  EXPECT_EQ(fast->file_catalog_seq("ingredient-usage.json"), seq);
  EXPECT_EQ(fast->file_catalog_seq("cocktail-space.json"), seq0);
  EXPECT_EQ(fast->files.at("cocktail-space.json").sha256, complete->files.at("cocktail-space.json").sha256);
  EXPECT_NE(fast->files.at("ingredient-usage.json").sha256,
            complete->files.at("ingredient-usage.json").sha256);
  EXPECT_EQ(fast_event->catalog_seq, seq);
  EXPECT_EQ(fast_event->files.at("cocktail-space").catalog_seq, seq0);
  EXPECT_EQ(fast_event->files.at("ingredient-usage").catalog_seq, std::nullopt);
  // The complete generation: everything at seq.
  const auto last = store_.read_manifest(4);
  ASSERT_TRUE(last.ok());
  for (const auto& [name, entry] : last->files) {
    EXPECT_EQ(last->file_catalog_seq(name), seq) << name;
  }
  EXPECT_EQ(last->files.size(), complete->files.size());
  EXPECT_EQ(last->files.at("ingredient-usage.json"), fast->files.at("ingredient-usage.json"));
  EXPECT_EQ(complete_event->files.at("cocktail-space").catalog_seq, std::nullopt);
  ASSERT_TRUE(wait_until([&] { return service_->status().generation == 4; }, 5s));
  EXPECT_EQ(service_->status().catalog_seq, seq);
}

// A slow producer that blocks until released (bounded, so that a failing
// test still stops): the slow lane held mid-computation on purpose.
class GatedSlowProducer : public regen_service::Producer {
 public:
  std::string_view name() const override { return "gated"; }
  bool slow() const override { return true; }
  void produce(const regen_service::ProducerContext& context, regen_service::ProducerOutput& out) override {
    std::unique_lock lock(mu_);
    ++entered_;
    cv_.notify_all();
    cv_.wait_for(lock, 10s, [&] { return open_; });
    regen_service::Artifact a;
    a.analytics_type = "gated";
    a.file_name = "gated.json";
    a.body = "{\"seq\":" + std::to_string(context.state.catalog_seq) + "}";
    out.artifacts.push_back(std::move(a));
  }
  bool wait_entered(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 10s, [&] { return entered_ >= n; });
  }
  int entered() {
    std::lock_guard lock(mu_);
    return entered_;
  }
  void open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int entered_ = 0;
  bool open_ = false;
};

TEST_F(ServiceFixture, AFastGenerationIsAnnouncedWhileTheSlowLaneIsStillComputing) {
  const std::int64_t seq0 = add_ingredient("Gin");
  auto gated = std::make_unique<GatedSlowProducer>();
  GatedSlowProducer* gate = gated.get();
  start(options(), nullptr, /*space=*/false, /*split_lanes=*/true, std::move(gated));
  // Start-up: the fast generation 1 at seq0, then the slow lane blocks on seq0.
  ASSERT_TRUE(gate->wait_entered(1));
  ASSERT_TRUE(wait_covered(seq0));
  ASSERT_EQ(store_.current_generation().value(), 1);

  connect_bus();
  ASSERT_TRUE(inbox_->wait_heartbeat());
  const std::int64_t seq1 = add_ingredient("Rum");
  announce(seq1);
  std::optional<bus::AnalyticsSnapshot> fast_event;
  ASSERT_TRUE(wait_until(
      [&] {
        for (const auto& s : inbox_->snapshots()) {
          if (s.catalog_seq == seq1) fast_event = s;
        }
        return fast_event.has_value();
      },
      10s))
      << "the change is announced while the slow lane is still held";
  EXPECT_EQ(gate->entered(), 1) << "the slow lane has not finished its first state";
  EXPECT_EQ(fast_event->generation, 2);
  const auto fast = store_.read_manifest(2);
  ASSERT_TRUE(fast.ok());
  EXPECT_EQ(fast->file_catalog_seq("ingredient-usage.json"), seq1);
  EXPECT_EQ(fast->files.count("gated.json"), 0u) << "no slow file has been computed yet";

  gate->open();
  // The held computation (seq0) commits generation 3: the newer exact files
  // carried byte-identical, its own file at seq0, the generation at seq1.
  ASSERT_TRUE(wait_until([&] { return store_.read_manifest(3).ok(); }, 10s));
  const auto slow = store_.read_manifest(3);
  ASSERT_TRUE(slow.ok());
  EXPECT_EQ(slow->catalog_seq, seq1) << "the generation's seq never goes backwards";
  EXPECT_EQ(slow->file_catalog_seq("gated.json"), seq0);
  EXPECT_EQ(slow->file_catalog_seq("ingredient-usage.json"), seq1);
  EXPECT_EQ(slow->files.at("ingredient-usage.json"), fast->files.at("ingredient-usage.json"));
  // Then the state handed over by the second fast run: everything at seq1.
  ASSERT_TRUE(wait_until(
      [&] { return store_.current_generation().ok() && store_.current_generation().value() == 4; }, 10s));
  const auto last = store_.read_manifest(4);
  ASSERT_TRUE(last.ok());
  for (const auto& [name, entry] : last->files) {
    EXPECT_EQ(last->file_catalog_seq(name), seq1) << name;
  }
  EXPECT_EQ(gate->entered(), 2);
  ASSERT_TRUE(wait_until([&] { return service_->status().generation == 4; }, 5s));
  EXPECT_EQ(service_->status().catalog_seq, seq1);
}

TEST_F(ServiceFixture, WithoutLanesARunWritesOneCompleteGeneration) {
  add_ingredient("Gin");
  start(options(), nullptr, /*space=*/true, /*split_lanes=*/false);
  wait_startup();
  ASSERT_EQ(store_.current_generation().value(), 1);
  const auto only = store_.read_manifest(1);
  ASSERT_TRUE(only.ok());
  EXPECT_EQ(only->files.count("cocktail-space.json"), 1u);
  EXPECT_EQ(only->files.count("ingredient-usage.json"), 1u);
}

TEST_F(ServiceFixture, AnUpToDateSnapshotMeansNoRunAtStartAndChangesWhileDownAreCaughtUp) {
  const std::int64_t first = add_ingredient("Gin");
  start(options());
  ASSERT_TRUE(wait_covered(first));
  ASSERT_EQ(stop(), StopResult::kIdle);

  start(options());  // nothing changed while down
  ASSERT_TRUE(service_->wait_quiescent(10s));
  EXPECT_EQ(service_->status().runs_started, 0u);
  EXPECT_EQ(service_->status().generation, 1) << "the newest snapshot is taken as current";
  EXPECT_EQ(service_->status().catalog_seq, first);
  stop();

  const std::int64_t later = add_ingredient("Rum");  // while down, no event reaches anyone
  start(options());
  ASSERT_TRUE(wait_covered(later, 10s));
  EXPECT_EQ(service_->status().generation, 2);
  EXPECT_EQ(service_->status().runs_started, 1u);
}

TEST_F(ServiceFixture, AnIsolatedChangeStartsARunWithoutWaitingForTheWindow) {
  ManualClock clock;
  auto o = options();
  o.debounce.quiet = 300ms;
  start(o, &clock);
  wait_startup();
  connect_bus();
  clock.advance(1s);  // the start-up run is a window behind
  const std::int64_t seq = add_ingredient("Yuzu");
  announce(seq);
  // The service's clock does not move: only the leading edge can start it.
  ASSERT_TRUE(wait_covered(seq));
  EXPECT_EQ(service_->status().runs_started, 2u);
}

TEST_F(ServiceFixture, ABurstOfChangesIsOneRegeneration) {
  ManualClock clock;
  auto o = options();
  o.debounce.quiet = 300ms;
  o.debounce.max_delay = 5s;
  start(o, &clock);
  wait_startup();
  connect_bus();

  // Within the window after the start-up run (the clock stands still).
  std::int64_t last = 0;
  for (int i = 0; i < 40; ++i) {
    last = add_ingredient("Bitters " + std::to_string(i));
    announce(last);
  }
  ASSERT_TRUE(testing::wait_until(
      [&] { return metric(R"(cocktail_events_received_total{topic="catalog.change"})") >= 40; }, 10s));
  ASSERT_TRUE(service_->wait_quiescent(10s));
  EXPECT_EQ(service_->status().runs_started, 1u) << "the burst waits for the window";
  clock.advance(300ms);
  service_->wake();
  ASSERT_TRUE(wait_covered(last));
  ASSERT_TRUE(service_->wait_quiescent(10s));
  auto status = service_->status();
  EXPECT_EQ(status.runs_started, 2u) << "start-up, then one run for the whole burst";
  EXPECT_EQ(status.last_success->changes, 40u);
  EXPECT_EQ(metric("cocktail_regen_coalesced_changes_total"), 39);
  EXPECT_EQ(metric(R"(cocktail_events_received_total{topic="catalog.change"})"), 40);
  EXPECT_EQ(metric("cocktail_snapshot_staleness_seconds"), 0);
  EXPECT_EQ(metric("cocktail_snapshot_catalog_seq"), static_cast<double>(last));
  EXPECT_EQ(metric(R"(cocktail_regen_runs_total{result="success"})"), 2);
}

TEST_F(ServiceFixture, ASeqGapOrAHeartbeatAheadRepairsLostEvents) {
  start(options());
  wait_startup();
  connect_bus();

  // Three changes, only the last announced: a gap.
  add_ingredient("A");
  add_ingredient("B");
  const std::int64_t third = add_ingredient("C");
  announce(third);
  ASSERT_TRUE(wait_covered(third));
  EXPECT_EQ(metric(R"(cocktail_regen_triggers_total{reason="seq_gap"})"), 1);

  // Two more, none announced; the next heartbeat tells.
  add_ingredient("D");
  const std::int64_t fifth = add_ingredient("E");
  ASSERT_TRUE(catalog_bus_->publish(bus::CatalogHeartbeat{fifth, core::system_now_ms()}).ok());
  ASSERT_TRUE(wait_covered(fifth));
  EXPECT_EQ(metric(R"(cocktail_regen_triggers_total{reason="heartbeat_ahead"})"), 1);
  EXPECT_EQ(service_->status().seq_seen, fifth);

  // Heartbeats at a covered seq schedule nothing.
  ASSERT_TRUE(service_->wait_quiescent(10s));
  const auto runs = service_->status().runs_started;
  const double heard = metric(R"(cocktail_events_received_total{topic="catalog.heartbeat"})");
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(catalog_bus_->publish(bus::CatalogHeartbeat{fifth, core::system_now_ms()}).ok());
  }
  ASSERT_TRUE(testing::wait_until(
      [&] { return metric(R"(cocktail_events_received_total{topic="catalog.heartbeat"})") >= heard + 5; },
      10s));
  ASSERT_TRUE(service_->wait_quiescent(10s));
  EXPECT_EQ(service_->status().runs_started, runs);
}

TEST_F(ServiceFixture, ASilentPublisherIsCoveredByReadingTheCatalog) {
  auto o = options();
  o.check_interval = 50ms;
  start(o);
  wait_startup();
  // Changes committed, never announced, no heartbeat either.
  add_ingredient("A");
  const std::int64_t seq = add_ingredient("B");
  ASSERT_TRUE(wait_covered(seq, 10s));
  EXPECT_GE(metric(R"(cocktail_regen_triggers_total{reason="catalog_ahead"})"), 1);
  EXPECT_EQ(service_->status().catalog_latest_seq, seq);
}

TEST_F(ServiceFixture, TheCatalogProbeFollowsTheInjectedClock) {
  ManualClock clock;
  auto o = options();
  o.check_interval = 10s;
  start(o, &clock);
  wait_startup();

  const std::int64_t seq = add_ingredient("A");
  ASSERT_TRUE(service_->wait_quiescent(10s));  // the service's clock does not move
  EXPECT_EQ(service_->status().runs_started, 1u);
  EXPECT_LT(service_->status().catalog_seq, seq);

  clock.advance(9s);
  service_->wake();
  ASSERT_TRUE(service_->wait_quiescent(10s));
  EXPECT_EQ(service_->status().runs_started, 1u) << "not yet a check interval";

  clock.advance(1s);
  service_->wake();
  ASSERT_TRUE(wait_covered(seq, 10s));
  EXPECT_EQ(service_->status().last_success->reasons, (std::vector<std::string>{"catalog_ahead"}));
}

TEST_F(ServiceFixture, AFailedRunKeepsTheGenerationAndIsRetriedAfterABackoff) {
  ManualClock clock;
  auto o = options();
  o.debounce.backoff_initial = 1s;
  o.debounce.backoff_max = 4s;
  const std::int64_t seq0 = add_ingredient("A");
  start(o, &clock);
  wait_startup();
  ASSERT_EQ(service_->status().catalog_seq, seq0);
  const auto before = store_.read_current();
  ASSERT_TRUE(before.ok());

  producer_->failures_left = 2;
  const std::int64_t seq1 = add_ingredient("B");
  ASSERT_TRUE(service_->request_run().has_value());
  ASSERT_TRUE(wait_until([&] { return service_->status().consecutive_failures == 1; }, 10s));
  auto status = service_->status();
  ASSERT_TRUE(status.last_failure.has_value());
  EXPECT_EQ(status.last_failure->stage, "produce.controlled");
  EXPECT_NE(status.last_failure->error.find("injected failure"), std::string::npos);
  EXPECT_TRUE(status.pending) << "the failed run's work is still owed";
  EXPECT_EQ(status.generation, 1);
  auto after = store_.read_current();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->manifest, before->manifest) << "the previous generation stays current and intact";
  EXPECT_EQ(health_json(status).find(R"("status":"degraded")"), 1u);

  // No retry before the backoff (1 s by the service's clock)...
  ASSERT_TRUE(service_->wait_quiescent(10s));
  EXPECT_EQ(service_->status().runs_started, 2u);
  clock.advance(999ms);
  service_->wake();
  ASSERT_TRUE(service_->wait_quiescent(10s));
  EXPECT_EQ(service_->status().runs_started, 2u);
  // ...then one, which fails again and doubles it.
  clock.advance(1ms);
  service_->wake();
  ASSERT_TRUE(wait_until([&] { return service_->status().consecutive_failures == 2; }, 10s));
  EXPECT_EQ(metric(R"(cocktail_regen_runs_total{result="failure"})"), 2);
  EXPECT_EQ(metric("cocktail_regen_consecutive_failures"), 2);
  clock.advance(1999ms);
  service_->wake();
  ASSERT_TRUE(service_->wait_quiescent(10s));
  EXPECT_EQ(service_->status().runs_started, 3u);
  clock.advance(1ms);
  service_->wake();

  // The success clears the failure.
  ASSERT_TRUE(wait_covered(seq1, 10s));
  status = service_->status();
  EXPECT_EQ(status.consecutive_failures, 0u);
  EXPECT_EQ(status.generation, 2);
  EXPECT_TRUE(status.last_failure.has_value()) << "the last error stays visible, with its time";
  EXPECT_EQ(health_json(status).find(R"("status":"ok")"), 1u);
  EXPECT_EQ(metric(R"(cocktail_regen_runs_total{result="success"})"), 2);
}

TEST_F(ServiceFixture, MalformedMessagesAreCountedAndIgnored) {
  zmq::context_t context;
  zmq::socket_t raw(context, zmq::socket_type::pub);
  raw.set(zmq::sockopt::linger, 0);
  raw.bind("tcp://127.0.0.1:*");
  const std::string raw_endpoint = raw.get(zmq::sockopt::last_endpoint);
  auto send = [&](std::vector<std::string> parts) {
    for (std::size_t i = 0; i < parts.size(); ++i) {
      raw.send(zmq::buffer(parts[i]),
               i + 1 < parts.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
  };

  auto o = options();
  o.sub_endpoints = {catalog_bus_->endpoint(), raw_endpoint};  // two publishers
  start(o);
  wait_startup();
  // Garbage until the subscription to the raw socket is through.
  ASSERT_TRUE(wait_until(
      [&] {
        send({"catalog.change", "not json"});
        return metric("cocktail_events_malformed_total") >= 1;
      },
      5s, 10ms));
  const double before = metric("cocktail_events_malformed_total");
  send({"catalog.change"});                                                       // one frame
  send({"catalog.heartbeat", R"({"v":9,"seq":5,"ts":"2026-11-24T10:00:00Z"})"});  // unknown version
  send({"catalog.change", std::string("\xde\xad\xbe\xef\x00", 5)});               // bytes
  send({"catalog.change",
        R"({"v":1,"seq":-3,"ts":"2026-11-24T10:00:00Z","entity":"recipe","op":"insert","id":1})"});
  ASSERT_TRUE(wait_until([&] { return metric("cocktail_events_malformed_total") >= before + 4; }, 10s));
  EXPECT_EQ(service_->status().runs_started, 1u) << "garbage schedules nothing";

  // The service carries on with valid events from either publisher.
  connect_bus();
  const std::int64_t seq = add_ingredient("A");
  announce(seq);
  ASSERT_TRUE(wait_covered(seq));
  EXPECT_EQ(health_json(service_->status()).find(R"("status":"ok")"), 1u);
}

TEST_F(ServiceFixture, ManualRegenerationOverHttp) {
  start(options());
  wait_startup();
  RegenRoutesOptions ro;
  ro.token = "trigger-token";
  ro.max_wait = 3s;
  testing::HttpClient client(serve(ro));
  const testing::Headers auth = {{"Authorization", "Bearer trigger-token"}};

  EXPECT_EQ(client.post("/api/v1/regenerate", "").status, 401);
  auto wrong = client.post("/api/v1/regenerate", "", {{"Authorization", "Bearer trigger-tokeN"}});
  EXPECT_EQ(wrong.status, 401);
  EXPECT_NE(wrong.body.find("\"unauthorized\""), std::string::npos);
  EXPECT_EQ(service_->status().runs_started, 1u) << "refused requests schedule nothing";
  EXPECT_EQ(client.post("/api/v1/regenerate?wait=maybe", "", auth).status, 400);
  EXPECT_EQ(client.post("/api/v1/regenerate?wait=true&timeout_ms=999999", "", auth).status, 400);

  auto scheduled = client.post("/api/v1/regenerate", "", auth);
  EXPECT_EQ(scheduled.status, 202);
  EXPECT_NE(scheduled.body.find(R"("status":"scheduled","run":2)"), std::string::npos) << scheduled.body;
  ASSERT_TRUE(wait_until([&] { return service_->status().generation == 2; }, 10s));

  const std::int64_t seq = add_ingredient("A");
  auto waited = client.post("/api/v1/regenerate?wait=true", "", auth);
  EXPECT_EQ(waited.status, 200);
  EXPECT_NE(waited.body.find(R"("status":"success")"), std::string::npos) << waited.body;
  EXPECT_NE(waited.body.find(R"("generation":3,"catalog_seq":)" + std::to_string(seq)), std::string::npos)
      << waited.body;

  // A failing run is reported as such, and /health shows it.
  producer_->failures_left = 1000;
  auto failed = client.post("/api/v1/regenerate?wait=true", "", auth);
  EXPECT_EQ(failed.status, 500);
  EXPECT_NE(failed.body.find("injected failure"), std::string::npos) << failed.body;
  auto health = client.get("/health");
  EXPECT_EQ(health.status, 200) << "degraded is still up";
  EXPECT_NE(health.body.find(R"("status":"degraded")"), std::string::npos) << health.body;
  EXPECT_NE(health.body.find(R"("generation":3)"), std::string::npos) << health.body;
  EXPECT_NE(health.body.find(R"("stage":"produce.controlled")"), std::string::npos) << health.body;

  // A run slower than the wait bound: 202, still running.
  producer_->failures_left = 0;
  producer_->delay_ms = 600;
  auto slow = client.post("/api/v1/regenerate?wait=true&timeout_ms=100", "", auth);
  EXPECT_EQ(slow.status, 202);
  EXPECT_NE(slow.body.find(R"("status":"running")"), std::string::npos) << slow.body;
  producer_->delay_ms = 0;

  auto metrics = client.get("/metrics");
  EXPECT_EQ(metrics.status, 200);
  for (const char* name : {"cocktail_events_received_total", "cocktail_events_malformed_total",
                           "cocktail_events_published_total", "cocktail_regen_runs_total",
                           "cocktail_regen_duration_seconds_bucket", "cocktail_snapshot_generation",
                           "cocktail_snapshot_catalog_seq", "cocktail_snapshot_staleness_seconds",
                           "cocktail_regen_coalesced_changes_total", "cocktail_regen_in_progress"}) {
    EXPECT_NE(metrics.body.find(name), std::string::npos) << name;
  }
  EXPECT_NE(metrics.body.find(R"(cocktail_regen_duration_seconds_count{stage="write"})"), std::string::npos);
  EXPECT_NE(metrics.body.find(R"(cocktail_regen_duration_seconds_count{stage="load"})"), std::string::npos);
}

TEST_F(ServiceFixture, WithoutATokenManualRegenerationIsRefused) {
  start(options());
  testing::HttpClient client(serve(RegenRoutesOptions{}));
  auto r = client.post("/api/v1/regenerate", "", {{"Authorization", "Bearer anything"}});
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("no token"), std::string::npos) << r.body;
  auto health = client.get("/health");
  EXPECT_EQ(health.status, 200);
  EXPECT_NE(health.body.find(R"("ready":true)"), std::string::npos);
}

TEST_F(ServiceFixture, StopLetsARunningRegenerationFinishWithinTheBound) {
  auto o = options();
  o.shutdown_timeout = 5s;
  start(o);
  wait_startup();
  ASSERT_EQ(service_->status().generation, 1);
  producer_->delay_ms = 200;
  const int entered = producer_->entered;
  ASSERT_TRUE(service_->request_run().has_value());
  ASSERT_TRUE(wait_until([&] { return producer_->entered > entered; }, 10s));
  EXPECT_EQ(stop(), StopResult::kFinished);
  EXPECT_EQ(store_.current_generation().value(), 2);
  EXPECT_EQ(service_->request_run(), std::nullopt) << "no new work once stopping";
}

TEST_F(ServiceFixture, StopCancelsARegenerationThatOverrunsWithoutTouchingCurrent) {
  auto o = options();
  o.shutdown_timeout = 20ms;
  o.abandon_grace = 5s;
  start(o);
  wait_startup();
  ASSERT_EQ(service_->status().generation, 1);
  const auto before = store_.read_current();
  ASSERT_TRUE(before.ok());
  producer_->delay_ms = 300;
  const int entered = producer_->entered;
  ASSERT_TRUE(service_->request_run().has_value());
  ASSERT_TRUE(wait_until([&] { return producer_->entered > entered; }, 10s));

  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(stop(), StopResult::kCancelled);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  auto after = store_.read_current();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->manifest, before->manifest);
  EXPECT_FALSE(std::filesystem::exists(store_.generation_dir(2))) << "nothing of the cancelled run is left";
  EXPECT_EQ(metric(R"(cocktail_regen_runs_total{result="cancelled"})"), 1);
  EXPECT_EQ(metric(R"(cocktail_regen_runs_total{result="failure"})"), 0);
}

TEST_F(ServiceFixture, StopAbandonsARegenerationStuckInAStage) {
  auto o = options();
  o.shutdown_timeout = 20ms;
  o.abandon_grace = 20ms;
  start(o);
  wait_startup();
  ASSERT_EQ(service_->status().generation, 1);
  producer_->delay_ms = 1500;
  const int entered = producer_->entered;
  ASSERT_TRUE(service_->request_run().has_value());
  ASSERT_TRUE(wait_until([&] { return producer_->entered > entered; }, 10s));

  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(stop(), StopResult::kAbandoned);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1000ms) << "bounded, whatever the stage takes";
  service_.reset();  // waits for the stage to return; it must not publish
  EXPECT_EQ(store_.current_generation().value(), 1);
  EXPECT_FALSE(std::filesystem::exists(store_.generation_dir(2)));
}

TEST_F(ServiceFixture, AForgedChangeSeqFreezesNothing) {
  start(options());
  wait_startup();
  connect_bus();
  // One catalog.change naming a seq the catalog has never held.
  constexpr std::int64_t kForged = std::int64_t{1} << 62;
  announce(kForged);
  ASSERT_TRUE(testing::wait_until([&] { return service_->status().events_rejected >= 1; }, 10s))
      << "the seq is checked against the catalog before it changes anything";
  ASSERT_TRUE(service_->wait_quiescent(10s));
  auto status = service_->status();
  EXPECT_LT(status.seq_seen, kForged);
  EXPECT_EQ(status.staleness_seconds, 0.0);
  EXPECT_EQ(metric("cocktail_events_rejected_total"), 1);

  // Later real changes are covered as usual, announced or not.
  const std::int64_t seq = add_ingredient("After the forgery");
  announce(seq);
  ASSERT_TRUE(wait_covered(seq));
  const std::int64_t quiet = add_ingredient("Heard of by heartbeat only");
  ASSERT_TRUE(catalog_bus_->publish(bus::CatalogHeartbeat{quiet, core::system_now_ms()}).ok());
  ASSERT_TRUE(wait_covered(quiet));
  // A forged heartbeat is rejected the same way and leaves nothing owed.
  ASSERT_TRUE(catalog_bus_->publish(bus::CatalogHeartbeat{kForged, core::system_now_ms()}).ok());
  ASSERT_TRUE(testing::wait_until([&] { return service_->status().events_rejected >= 2; }, 10s));
  ASSERT_TRUE(service_->wait_quiescent(10s));
  status = service_->status();
  EXPECT_FALSE(status.pending);
  EXPECT_EQ(status.staleness_seconds, 0.0);
  EXPECT_EQ(status.catalog_seq, quiet);
}

TEST_F(ServiceFixture, AFailedSlowLaneIsRetriedWithBackoffAndShownInHealth) {
  ManualClock clock;
  auto o = options();
  o.debounce.backoff_initial = 1s;
  o.debounce.backoff_max = 4s;
  faults_.file = "slow-thing.json";
  faults_.left = 2;  // the first two writes of the slow file fail
  const std::int64_t seq = add_ingredient("A");
  start(o, &clock, /*space=*/false, /*split_lanes=*/true, std::make_unique<SlowFileProducer>());
  ASSERT_TRUE(wait_covered(seq)) << "the fast lane publishes regardless";
  ASSERT_TRUE(testing::wait_until([&] { return service_->status().slow.consecutive_failures == 1; }, 10s));
  ASSERT_TRUE(service_->wait_quiescent(10s));
  auto status = service_->status();
  EXPECT_EQ(status.slow.seq, 0) << "no slow file yet";
  EXPECT_NE(status.slow.last_error.find("no space left"), std::string::npos) << status.slow.last_error;
  ASSERT_TRUE(status.slow.retry_in_ms.has_value());
  EXPECT_EQ(*status.slow.retry_in_ms, 1000.0);
  EXPECT_GT(status.slow.staleness_seconds, -1.0);
  EXPECT_EQ(health_json(status).find(R"("status":"degraded")"), 1u);
  EXPECT_EQ(metric(R"(cocktail_regen_lane_consecutive_failures{lane="slow"})"), 1);

  // Not before the backoff by the service's clock; then once, failing again.
  clock.advance(999ms);
  service_->wake();
  ASSERT_TRUE(service_->wait_quiescent(10s));
  EXPECT_EQ(service_->status().slow.consecutive_failures, 1u);
  clock.advance(1ms);
  service_->wake();
  ASSERT_TRUE(testing::wait_until([&] { return service_->status().slow.consecutive_failures == 2; }, 10s));
  ASSERT_TRUE(service_->wait_quiescent(10s));
  EXPECT_EQ(*service_->status().slow.retry_in_ms, 2000.0) << "the backoff doubles";
  clock.advance(2s);
  service_->wake();
  ASSERT_TRUE(testing::wait_until([&] { return service_->status().slow.seq >= seq; }, 10s));
  status = service_->status();
  EXPECT_EQ(status.slow.consecutive_failures, 0u);
  EXPECT_TRUE(status.slow.age_seconds.has_value());
  EXPECT_EQ(health_json(status).find(R"("status":"ok")"), 1u);
  EXPECT_EQ(metric(R"(cocktail_regen_lane_runs_total{lane="slow",result="failure"})"), 2);
  EXPECT_EQ(metric(R"(cocktail_regen_lane_catalog_seq{lane="slow"})"), static_cast<double>(seq));
  auto current = store_.read_current();
  ASSERT_TRUE(current.ok());
  EXPECT_EQ(current->manifest.file_catalog_seq("slow-thing.json"), seq);
}

TEST_F(ServiceFixture, AGenerationWhoseSlowFilesLagIsCaughtUpAtStart) {
  const std::int64_t seq = add_ingredient("A");
  faults_.file = "slow-thing.json";
  faults_.left = 1000;  // the slow lane cannot write: as if it were killed each time
  start(options(), nullptr, false, true, std::make_unique<SlowFileProducer>());
  ASSERT_TRUE(wait_covered(seq));
  ASSERT_TRUE(testing::wait_until([&] { return service_->status().slow.consecutive_failures >= 1; }, 10s));
  stop();
  faults_.left = 0;
  // Restarted with nothing new in the catalog: the lagging slow lane alone
  // is reason to run.
  start(options(), nullptr, false, true, std::make_unique<SlowFileProducer>());
  ASSERT_TRUE(testing::wait_until([&] { return service_->status().slow.seq >= seq; }, 10s));
  auto current = store_.read_current();
  ASSERT_TRUE(current.ok());
  EXPECT_EQ(current->manifest.file_catalog_seq("slow-thing.json"), seq);
}

TEST_F(ServiceFixture, HeartbeatsAtACoveredSeqScheduleNothing) {
  start(options());
  wait_startup();
  connect_bus();
  ASSERT_TRUE(service_->wait_quiescent(10s));
  const auto runs = service_->status().runs_started;
  const double heard = metric(R"(cocktail_events_received_total{topic="catalog.heartbeat"})");
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(catalog_bus_->publish(bus::CatalogHeartbeat{latest_seq(), core::system_now_ms()}).ok());
  }
  ASSERT_TRUE(testing::wait_until(
      [&] { return metric(R"(cocktail_events_received_total{topic="catalog.heartbeat"})") >= heard + 5; },
      10s));
  ASSERT_TRUE(service_->wait_quiescent(10s));
  EXPECT_EQ(service_->status().runs_started, runs);
}

}  // namespace
}  // namespace cocktail::regen_service

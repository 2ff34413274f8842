// analytics-regen as a real process beside a real catalog-api: mutations over
// HTTP, events over ZeroMQ, snapshots on disk, signals.
#include <sys/stat.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <zmq.hpp>

#include "cocktail/bus/publisher.h"
#include "cocktail/snapshot/snapshot_store.h"
#include "stack.h"

namespace cocktail::regen_service {
namespace {

namespace fs = std::filesystem;
using testing::wait_until;

class RegenStack : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(api_.start()); }

  // analytics-regen subscribed to catalog-api, its start-up run done and
  // its subscription through.
  void start_regen(std::vector<std::string> extra = {}) {
    ASSERT_TRUE(regen_.start(api_.pub_endpoint(), std::move(extra)));
    ASSERT_TRUE(regen_.wait_subscribed());
    ASSERT_TRUE(regen_.wait_idle());
  }

  std::string current_text() {
    return testing::read_file(fs::path(regen_.analytics_path()) / "v1" / "CURRENT");
  }

  testing::TempDir dir_{"regen-stack"};
  CatalogApi api_{dir_};
  RegenProcess regen_{dir_, api_.db_path(), api_.token_path()};
};

TEST_F(RegenStack, ABurstOf500MutationsCostsOneRegenerationPerQuietWindow) {
  start_regen();
  AnalyticsInbox inbox(regen_.pub_endpoint());
  ASSERT_TRUE(inbox.wait_heartbeat());
  const double runs_before = regen_.successes();

  auto client = api_.client();
  std::int64_t last = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 500; ++i) {
    last = api_.add_ingredient(client, "Burst " + std::to_string(i));
  }
  const double burst_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  auto event = inbox.wait_snapshot(last, 10s);
  ASSERT_TRUE(event.has_value()) << "no snapshot covering seq " << last;
  EXPECT_EQ(event->catalog_seq, last);
  ASSERT_TRUE(regen_.wait_idle());
  const double runs = regen_.successes() - runs_before;
  EXPECT_GE(runs, 1);
  // The leading edge, then at most one run per quiet window (200 ms by
  // default) while the burst lasts, and one follow-up after it.
  const double bound = 2 + std::ceil(burst_s / 0.2);
  EXPECT_LE(runs, bound) << "500 mutations in " << burst_s << " s";
  EXPECT_EQ(regen_.covered_seq(), last);
  EXPECT_GE(regen_.metric("cocktail_regen_coalesced_changes_total"), 500 - bound);
  snapshot::SnapshotStore store(regen_.analytics_path());
  auto current = store.read_current();
  ASSERT_TRUE(current.ok());
  EXPECT_EQ(current->manifest.catalog_seq, last);
  EXPECT_NE(current->files.at("ingredient-usage-all.json").find("Burst 499"), std::string::npos);
  std::printf("burst: 500 mutations in %.2f s, %.0f regeneration(s)\n", burst_s, runs);
}

TEST_F(RegenStack, ChangesMadeWhileDownAreCaughtUpAtStart) {
  start_regen();
  ASSERT_TRUE(regen_.terminate(10s).value_or(testing::ExitStatus{}).success());

  auto client = api_.client();
  std::int64_t last = 0;
  for (int i = 0; i < 5; ++i) {
    last = api_.add_ingredient(client, "While down " + std::to_string(i));
  }

  ASSERT_TRUE(regen_.start(api_.pub_endpoint(), {"--check-interval-ms", "600000"}));
  ASSERT_TRUE(regen_.wait_covered(last, 10s));
  auto h = regen_.health();
  EXPECT_STREQ(h["last_success"]["reasons"][0].GetString(), "startup");
  EXPECT_EQ(regen_.metric(R"(cocktail_regen_triggers_total{reason="startup"})"), 1);
}

// Events lost between catalog-api and analytics-regen: the test relays the
// bus, forwarding heartbeats but dropping every change for a while, as a
// subscriber that connected late or overflowed its queue would lose them.
TEST_F(RegenStack, DroppedEventsAreRepairedByTheHeartbeat) {
  bus::PublisherOptions relay_options;
  relay_options.endpoint = "tcp://127.0.0.1:0";
  bus::Publisher relay(relay_options);
  std::atomic<bool> drop_changes{false};
  std::atomic<int> dropped{0};
  bus::SubscriberOptions upstream;
  upstream.endpoints = {api_.pub_endpoint()};
  upstream.topics = {"catalog."};
  bus::Subscriber tap(
      upstream, bus::SubscriberHandlers{[&](const bus::Event& e) {
                                          if (drop_changes && std::holds_alternative<bus::CatalogChange>(e)) {
                                            ++dropped;
                                            return;
                                          }
                                          (void)relay.publish(e);
                                        },
                                        {}});
  tap.start();

  // No periodic catalog read: only the heartbeat may repair.
  ASSERT_TRUE(regen_.start(relay.endpoint(), {"--check-interval-ms", "600000"}));
  ASSERT_TRUE(regen_.wait_subscribed());
  ASSERT_TRUE(regen_.wait_idle());

  drop_changes = true;
  auto client = api_.client();
  std::int64_t last = 0;
  for (int i = 0; i < 3; ++i) {
    last = api_.add_ingredient(client, "Lost " + std::to_string(i));
  }
  ASSERT_TRUE(regen_.wait_covered(last, 10s));
  EXPECT_GE(dropped.load(), 3);
  EXPECT_EQ(regen_.metric(R"(cocktail_events_received_total{topic="catalog.change"})"), 0);
  EXPECT_GE(regen_.metric(R"(cocktail_regen_triggers_total{reason="heartbeat_ahead"})"), 1);
  EXPECT_EQ(regen_.metric(R"(cocktail_regen_triggers_total{reason="catalog_ahead"})"), 0);
  tap.stop();
}

// Failure injection that holds for root too: v1/generations replaced by a
// regular file, so that no generation directory can be created.
TEST_F(RegenStack, AnUnwritableSnapshotDirectoryIsRetriedAndRecovers) {
  start_regen({"--backoff-initial-ms", "100", "--backoff-max-ms", "300"});
  // The start-up run's slow lane is done too: the outage below meets the
  // fast lane first, whatever the machine's speed.
  ASSERT_TRUE(regen_.wait_both_lanes_idle());
  const fs::path v1 = fs::path(regen_.analytics_path()) / "v1";
  const std::string current_before = current_text();
  const std::string legacy_before = testing::read_file(v1 / "ingredient-usage.json");
  ASSERT_FALSE(legacy_before.empty());
  snapshot::SnapshotStore store(regen_.analytics_path());
  const std::int64_t generation = store.current_generation().value();
  const auto manifest_before = store.read_manifest(generation).value();

  fs::rename(v1 / "generations", v1 / "generations.aside");
  testing::write_file(v1 / "generations", "not a directory\n");
  auto client = api_.client();
  const std::int64_t seq = api_.add_ingredient(client, "During the outage");

  ASSERT_TRUE(wait_until([&] { return regen_.failures() >= 3; }, 10s)) << "runs are retried";
  auto h = regen_.health();
  EXPECT_STREQ(h["status"].GetString(), "degraded");
  EXPECT_GE(h["consecutive_failures"].GetInt(), 3);
  EXPECT_STREQ(h["last_error"]["stage"].GetString(), "carry")
      << "lanes: the fast lane cannot list what to carry forward, and never publishes without it";
  EXPECT_EQ(h["generation"].GetInt64(), generation);
  EXPECT_GT(h["staleness_seconds"].GetDouble(), 0.0);
  EXPECT_EQ(current_text(), current_before) << "CURRENT still names the previous generation";
  EXPECT_EQ(testing::read_file(v1 / "ingredient-usage.json"), legacy_before);

  fs::remove(v1 / "generations");
  fs::rename(v1 / "generations.aside", v1 / "generations");
  ASSERT_TRUE(regen_.wait_covered(seq, 10s)) << "recovers once writable";
  EXPECT_EQ(regen_.health()["consecutive_failures"].GetInt(), 0);
  // The fast generation, then the complete one from the slow lane (which
  // failed during the outage too, and is retried).
  ASSERT_TRUE(wait_until(
      [&] {
        auto g = store.current_generation();
        auto m =
            g.ok() ? store.read_manifest(g.value()) : snapshot::ReadResult<snapshot::Manifest>(g.error());
        if (!m.ok()) return false;
        for (const auto& [name, entry] : m->files) {
          if (m->file_catalog_seq(name).value_or(0) < seq) return false;
        }
        return true;
      },
      10s))
      << "every file covers the change";
  // The slow lane's retry succeeds in turn (its backoff runs on its own), and
  // then the service is healthy again.
  EXPECT_TRUE(wait_until(
      [&] {
        h = regen_.health();
        return std::string(h["status"].GetString()) == "ok" &&
               h["slow"]["consecutive_failures"].GetInt() == 0;
      },
      10s))
      << "status " << h["status"].GetString() << ", slow lane failures "
      << h["slow"]["consecutive_failures"].GetInt();
  // The previous generation came through intact.
  auto old = store.read_manifest(generation);
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old.value(), manifest_before);
  for (const auto& [name, entry] : old->files) {
    EXPECT_TRUE(store.read_file(old.value(), name).ok()) << name;
  }
}

TEST_F(RegenStack, SigkillDuringAWriteLeavesAReadableCurrentGeneration) {
  // A catalog large enough that writing a generation takes a while.
  ASSERT_EQ(api_.process().kill().signal, SIGKILL);
  fs::remove(api_.db_path());
  fs::remove(api_.db_path() + "-wal");
  fs::remove(api_.db_path() + "-shm");
  testing::ChildProcess seed(std::string(COCKTAIL_BIN_DIR) + "/catalog-seed",
                             {"--db", api_.db_path(), "--recipes", "1356"});
  ASSERT_TRUE(seed.wait_for(30s).value_or(testing::ExitStatus{}).success()) << seed.stderr_text();
  ASSERT_TRUE(api_.start());

  snapshot::SnapshotStore store(regen_.analytics_path());
  int interrupted = 0;
  for (int round = 0; round < 6; ++round) {
    ASSERT_TRUE(regen_.start(api_.pub_endpoint()));
    ASSERT_TRUE(regen_.wait_idle(10s));
    const auto before = store.current_generation();
    auto client = regen_.client();
    const auto mark = regen_.process().stderr_text().size();
    ASSERT_EQ(client.post("/api/v1/regenerate", "", CatalogApi::auth()).status, 202);
    ASSERT_TRUE(wait_until(
        [&] { return regen_.process().stderr_text().find("regen.run_start", mark) != std::string::npos; }, 5s,
        1ms));
    // Into the write stage, at a different point each round.
    std::this_thread::sleep_for(std::chrono::milliseconds(15 + 12 * round));
    regen_.process().kill();

    auto current = store.read_current();
    ASSERT_TRUE(current.ok()) << "round " << round << ": " << current.error().message;
    if (current->manifest.generation == before.value()) {
      ++interrupted;
    }
  }
  std::printf("SIGKILL: %d of 6 rounds killed before the new generation was published\n", interrupted);
  // And the service carries on from there.
  ASSERT_TRUE(regen_.start(api_.pub_endpoint()));
  auto client = regen_.client();
  auto r = client.post("/api/v1/regenerate?wait=true", "", CatalogApi::auth());
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(store.read_current().ok());
}

TEST_F(RegenStack, SigtermExitsCleanlyInBoundedTime) {
  start_regen({"--shutdown-timeout-ms", "2000"});
  auto t0 = std::chrono::steady_clock::now();
  auto status = regen_.terminate(5s);
  ASSERT_TRUE(status.has_value()) << "did not exit";
  EXPECT_TRUE(status->success()) << "exit code " << status->code << " signal " << status->signal;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  EXPECT_NE(regen_.process().stderr_text().find("regen.service_stopped"), std::string::npos);

  // Again with a regeneration just triggered: it finishes or is abandoned,
  // the process still exits 0 within the bound and CURRENT is readable.
  start_regen({"--shutdown-timeout-ms", "2000"});
  auto client = regen_.client();
  ASSERT_EQ(client.post("/api/v1/regenerate", "", CatalogApi::auth()).status, 202);
  t0 = std::chrono::steady_clock::now();
  status = regen_.terminate(5s);
  ASSERT_TRUE(status.has_value()) << "did not exit";
  EXPECT_TRUE(status->success());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s);
  EXPECT_TRUE(snapshot::SnapshotStore(regen_.analytics_path()).read_current().ok());
}

TEST_F(RegenStack, MalformedMessagesOnTheBusAreCountedAndIgnored) {
  zmq::context_t context;
  zmq::socket_t garbage(context, zmq::socket_type::pub);
  garbage.set(zmq::sockopt::linger, 0);
  garbage.bind("tcp://127.0.0.1:*");
  const std::string garbage_endpoint = garbage.get(zmq::sockopt::last_endpoint);
  auto send = [&](std::vector<std::string> parts) {
    for (std::size_t i = 0; i < parts.size(); ++i) {
      garbage.send(zmq::buffer(parts[i]),
                   i + 1 < parts.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
  };

  start_regen();
  ASSERT_TRUE(regen_.terminate(10s).value_or(testing::ExitStatus{}).success());
  ASSERT_TRUE(regen_.start(api_.pub_endpoint() + "," + garbage_endpoint));
  ASSERT_TRUE(wait_until(
      [&] {
        send({"catalog.change", "{not json"});
        send({"catalog.heartbeat"});
        send({"catalog.change", R"({"v":1,"seq":"7","ts":"x","entity":"recipe","op":"insert","id":1})"});
        return regen_.metric("cocktail_events_malformed_total") >= 30;
      },
      10s, 20ms));
  ASSERT_TRUE(regen_.process().running());
  auto client = api_.client();
  const std::int64_t seq = api_.add_ingredient(client, "After the garbage");
  ASSERT_TRUE(regen_.wait_covered(seq, 10s));
  EXPECT_STREQ(regen_.health()["status"].GetString(), "ok");
}

}  // namespace
}  // namespace cocktail::regen_service

// A RegenerationService in process over real parts: a catalog file in a
// temporary directory written through the catalog Repository, a snapshot
// store beside it, the real Regenerator, real ZeroMQ sockets on loopback
// (the test plays catalog-api with a bus::Publisher and listens to the
// service's announcements with a bus::Subscriber) and a real HTTP server.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "analytics_inbox.h"
#include "cocktail/bus/publisher.h"
#include "cocktail/bus/subscriber.h"
#include "cocktail/catalog/change_log.h"
#include "cocktail/catalog/repository.h"
#include "cocktail/catalog/schema.h"
#include "cocktail/http/server.h"
#include "cocktail/metrics/registry.h"
#include "cocktail/regen_service/cocktail_space_producer.h"
#include "cocktail/regen_service/exact_producer.h"
#include "cocktail/regen_service/regen_routes.h"
#include "cocktail/regen_service/regeneration_service.h"
#include "cocktail/testing/temp_dir.h"
#include "cocktail/testing/wait.h"

namespace cocktail::regen_service {

using namespace std::chrono_literals;

// A monotonic clock moved by hand, safe to read from the service's threads.
class ManualClock final : public core::Clock {
 public:
  time_point now() const override { return time_point(duration(ns_.load())); }
  void advance(duration d) { ns_ += d.count(); }

 private:
  std::atomic<duration::rep> ns_{std::chrono::duration_cast<duration>(std::chrono::hours(1)).count()};
};

// A producer standing for a slow analytic: sleeps `delay_ms` when armed and
// fails while `failures_left` > 0 (injected faults), then delegates to the
// exact analytics so that the generation is real.
class ControlledProducer final : public regen_service::Producer {
 public:
  std::string_view name() const override { return "controlled"; }
  void produce(const regen_service::ProducerContext& context, regen_service::ProducerOutput& out) override {
    entered.fetch_add(1);
    if (int ms = delay_ms.load(); ms > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    }
    if (failures_left.load() > 0) {
      failures_left.fetch_sub(1);
      throw std::runtime_error("injected failure");
    }
    exact_.produce(context, out);
  }

  std::atomic<int> delay_ms{0};
  std::atomic<int> failures_left{0};
  std::atomic<int> entered{0};

 private:
  regen_service::ExactAnalyticsProducer exact_;
};

// A slow-lane producer of one small file, "slow-thing.json".
class SlowFileProducer final : public regen_service::Producer {
 public:
  std::string_view name() const override { return "slow_file"; }
  bool slow() const override { return true; }
  std::vector<std::string> outputs() const override { return {"slow-thing.json"}; }
  void produce(const regen_service::ProducerContext& context, regen_service::ProducerOutput& out) override {
    regen_service::Artifact a;
    a.analytics_type = "slow-thing";
    a.file_name = "slow-thing.json";
    a.body = "{\"recipes\":" + std::to_string(context.state.recipes.size()) + "}";
    out.artifacts.push_back(std::move(a));
  }
};

// Write faults injected on purpose: writing a file named `file` throws (as
// a full disk would) while `left` > 0.
class WriteFaults final : public snapshot::WriteObserver {
 public:
  void on_step(snapshot::WriteStep step, std::string_view name) override {
    if (step == snapshot::WriteStep::kTempWritten && name == file && left.load() > 0) {
      left.fetch_sub(1);
      throw snapshot::SnapshotIoError("injected: no space left on device");
    }
  }
  std::string file;
  std::atomic<int> left{0};
};

class ServiceFixture : public ::testing::Test {
 protected:
  ServiceFixture() {
    db_ = catalog::open_catalog(db_path_);
    repo_ = std::make_unique<catalog::Repository>(*db_);
    bus::PublisherOptions pub;
    pub.endpoint = "tcp://127.0.0.1:0";
    catalog_bus_ = std::make_unique<bus::Publisher>(pub);
  }
  ~ServiceFixture() override { stop(); }

  // Service options for a test: fast windows, ephemeral ports.
  RegenerationServiceOptions options() {
    RegenerationServiceOptions o;
    o.db_path = db_path_;
    o.sub_endpoints = {catalog_bus_->endpoint()};
    o.pub_endpoint = "tcp://127.0.0.1:0";
    o.debounce.quiet = 30ms;
    o.debounce.max_delay = 1000ms;
    o.debounce.backoff_initial = 20ms;
    o.debounce.backoff_max = 100ms;
    o.check_interval = 60s;  // tests that want the probe say so
    o.heartbeat_interval = 50ms;
    o.random = [] { return 0.0; };
    o.scrub.interval = 0ms;  // no periodic scrub unless a test asks; requests are still checked
    o.scrub.bytes_per_second = 0;
    return o;
  }

  // Starts a service (replacing a previous one, which must be stopped).
  // With `space`: the real cocktail-space producer too (the slow lane).
  // `slow`: a further slow producer (after the space, if any).
  void start(RegenerationServiceOptions o, const core::Clock* clock = nullptr, bool space = false,
             bool split_lanes = true, std::unique_ptr<regen_service::Producer> slow = nullptr) {
    inbox_.reset();
    service_.reset();
    regen_service::RegeneratorSettings settings;
    settings.db_path = db_path_;
    settings.split_lanes = split_lanes;
    std::vector<std::unique_ptr<regen_service::Producer>> producers;
    auto controlled = std::make_unique<ControlledProducer>();
    producer_ = controlled.get();
    producers.push_back(std::move(controlled));
    if (space) {
      producers.push_back(std::make_unique<regen_service::CocktailSpaceProducer>());
    }
    if (slow) {
      producers.push_back(std::move(slow));
    }
    regenerator_ = std::make_unique<regen_service::Regenerator>(settings, store_, std::move(producers));
    registry_ = std::make_unique<metrics::MetricsRegistry>();
    service_ = std::make_unique<RegenerationService>(std::move(o), clock ? *clock : steady_, store_,
                                                     *regenerator_, *registry_);
    inbox_ = std::make_unique<AnalyticsInbox>(service_->pub_endpoint());
    service_->start();
  }

  // Adds HTTP routes on a loopback server; returns its port.
  std::uint16_t serve(RegenRoutesOptions route_options) {
    routes_ = std::make_unique<RegenRoutes>(*service_, *registry_, std::move(route_options));
    http::ServerOptions options;
    options.access_log = false;
    server_ = std::make_unique<http::Server>(options, *registry_);
    routes_->add_to(server_->router());
    server_->start();
    return server_->port();
  }

  RegenerationService::StopResult stop() {
    auto r = RegenerationService::StopResult::kIdle;
    if (service_) {
      r = service_->stop();
    }
    if (server_) {
      server_->stop();
    }
    return r;
  }

  // Publishes heartbeats at the latest seq until the service has received
  // one: the subscription reached our publisher (ZeroMQ's slow joiner).
  void connect_bus() {
    ASSERT_TRUE(testing::wait_until(
        [&] {
          (void)catalog_bus_->publish(bus::CatalogHeartbeat{latest_seq(), core::system_now_ms()});
          return service_->status().last_event_age_seconds.has_value();
        },
        5s, 10ms))
        << "the service never received from the test publisher";
  }

  // One committed change; returns its seq.
  std::int64_t add_ingredient(const std::string& name) {
    catalog::IngredientInput in;
    in.name = name;
    auto r = repo_->create_ingredient(in);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r->catalog_seq;
  }
  void announce(std::int64_t seq) {
    ASSERT_TRUE(catalog_bus_
                    ->publish(bus::CatalogChange{seq, core::system_now_ms(), bus::Entity::kIngredient,
                                                 bus::Op::kInsert, seq})
                    .ok());
  }
  std::int64_t latest_seq() { return catalog::ChangeLog(*db_).latest_seq(); }

  // Waits until the start-up regeneration is done and nothing else is owed.
  void wait_startup() {
    ASSERT_TRUE(testing::wait_until(
        [&] {
          auto s = service_->status();
          return s.runs_started >= 1 && !s.running && !s.pending;
        },
        10s));
  }
  // Waits until the service reports a generation at or above catalog `seq`
  // (generous: fsync on a busy disk may take seconds).
  bool wait_covered(std::int64_t seq, std::chrono::milliseconds timeout = 10s) {
    return testing::wait_until([&] { return service_->status().catalog_seq >= seq; }, timeout);
  }
  double metric(const std::string& series) { return sample(registry_->serialize_text(), series); }
  // Changes one byte in the middle of `file` of generation `g` (its size stays).
  void corrupt(std::int64_t g, const std::string& file) {
    const std::string path = (store_.generation_dir(g) / file).string();
    std::string bytes = testing::read_file(path);
    ASSERT_FALSE(bytes.empty()) << path;
    bytes[bytes.size() / 2] ^= 0x01;
    testing::write_file(path, bytes);
  }

  testing::TempDir dir_{"regen-service-test"};
  std::string db_path_ = dir_.file("catalog.db");
  std::unique_ptr<catalog::Database> db_;
  std::unique_ptr<catalog::Repository> repo_;
  std::unique_ptr<bus::Publisher> catalog_bus_;
  WriteFaults faults_;
  snapshot::SnapshotStore store_{dir_.file("analytics"), &faults_};
  core::SteadyClock steady_;
  ControlledProducer* producer_ = nullptr;
  std::unique_ptr<regen_service::Regenerator> regenerator_;
  std::unique_ptr<metrics::MetricsRegistry> registry_;
  std::unique_ptr<RegenerationService> service_;
  std::unique_ptr<AnalyticsInbox> inbox_;
  std::unique_ptr<RegenRoutes> routes_;
  std::unique_ptr<http::Server> server_;
};

}  // namespace cocktail::regen_service

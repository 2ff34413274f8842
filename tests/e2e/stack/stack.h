// Stack: the whole system as real processes, for end-to-end tests.
//
// A Stack owns a temporary directory holding a catalog written by
// catalog-seed, a write token, the analytics snapshot directory and every
// process's log, and runs catalog-api, analytics-regen and analytics-api on
// free loopback ports wired to each other over ZeroMQ exactly as in
// production (catalog-api PUB -> analytics-regen SUB, analytics-regen PUB ->
// analytics-api SUB, analytics-api's analytics.repair PUB -> analytics-regen
// SUB), and usage-api beside them on its own database. Each
// service can be killed (SIGKILL) and started again
// on the same ports and files, which is what the crash tests do.
//
// Ownership: the Stack owns its processes; its destructor kills them and
// removes the directory (unless keep() was called, or COCKTAIL_E2E_KEEP=1 is
// set in the environment: then the logs stay in $TMPDIR/e2e-stack-*). Not thread-safe: drive it
// from the test's own thread, which must also be the thread that starts the
// processes (ChildProcess ties a child's life to the starting thread). Other
// threads may talk to the services over HTTP with their own clients.
//
//   Stack stack;
//   ASSERT_TRUE(stack.start());
//   auto catalog = stack.client(Service::kCatalogApi);
//   auto r = catalog.post("/api/v1/ingredients", R"({"name":"Yuzu"})", stack.auth());
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cocktail/testing/child_process.h"
#include "cocktail/testing/http_client.h"
#include "cocktail/testing/temp_dir.h"

namespace cocktail::e2e {

enum class Service { kCatalogApi = 0, kAnalyticsRegen = 1, kAnalyticsApi = 2, kUsageApi = 3 };
// The catalog's pipeline, upstream first.
inline constexpr std::array<Service, 3> kServices = {Service::kCatalogApi, Service::kAnalyticsRegen,
                                                     Service::kAnalyticsApi};
// Every service the stack runs: the pipeline and usage-api.
inline constexpr std::array<Service, 4> kAllServices = {Service::kCatalogApi, Service::kAnalyticsRegen,
                                                        Service::kAnalyticsApi, Service::kUsageApi};

// The binary's name: "catalog-api", "analytics-regen", "analytics-api", "usage-api".
const char* service_name(Service service);

struct StackOptions {
  // The seeded catalog. Small, so that a regeneration (cocktail space
  // included) takes a fraction of a second on a busy machine.
  int recipes = 200;
  int ingredients = 120;
  int seed = 7;
  // analytics-regen's debounce: short, so that tests wait little.
  int quiet_ms = 50;
  int max_delay_ms = 500;
  // Bound on every start: health of each service, first generation served.
  std::chrono::milliseconds start_timeout = std::chrono::seconds(60);
  // analytics-regen's periodic scrub (0: off, so that what a test sees
  // repaired was asked for by analytics-api's analytics.repair).
  int scrub_interval_s = 0;
};

class Stack {
 public:
  explicit Stack(StackOptions options = {});
  ~Stack();
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;

  // Seeds the catalog, starts the four services, and waits until each
  // answers /health with 200 and analytics-api serves a snapshot generation
  // covering the seeded catalog. A service whose port another process took
  // meanwhile gets new ports (up to three tries). The failure message
  // carries the logs.
  ::testing::AssertionResult start();

  // Starts one service (again) on the same ports and files, and waits until
  // its log says it listens and /health answers 200.
  ::testing::AssertionResult start(Service service);
  // SIGKILL and reap; returns how the process ended.
  testing::ExitStatus kill(Service service);
  // SIGTERM, and the exit status once it stopped within `timeout`.
  std::optional<testing::ExitStatus> stop(Service service, std::chrono::milliseconds timeout);
  bool running(Service service);
  testing::ChildProcess& process(Service service);

  // Waits until analytics-api serves a snapshot generation with
  // catalog_seq >= seq; returns the generation's catalog_seq (-1 on timeout).
  std::int64_t wait_covered(std::int64_t seq, std::chrono::milliseconds timeout);

  std::uint16_t http_port(Service service) const { return http_ports_[static_cast<int>(service)]; }
  testing::HttpClient client(Service service,
                             std::chrono::milliseconds timeout = std::chrono::seconds(15)) const {
    return testing::HttpClient(http_port(service), timeout);
  }
  // The bearer token header that catalog-api writes need.
  testing::Headers auth() const { return {{"Authorization", "Bearer " + token_}}; }
  const std::string& token() const { return token_; }

  const std::string& db_path() const { return db_path_; }
  const std::string& analytics_path() const { return analytics_path_; }
  const std::string& token_path() const { return token_path_; }
  const std::filesystem::path& dir() const { return dir_.path(); }
  // The catalog_seq catalog-seed reported.
  std::int64_t seeded_seq() const { return seeded_seq_; }

  // The last `bytes` of each log written by `service` (every run, oldest
  // first), and of all of them: for failure messages.
  std::string log_tail(Service service, std::size_t bytes = 3000) const;
  std::string logs() const;
  // Keep the directory after the test for inspection.
  void keep() { dir_.keep(); }

 private:
  std::vector<std::string> arguments(Service service) const;
  // A file of the services' bus keys (made by bus-keygen in start()).
  std::string key_file(const std::string& name) const;

  StackOptions options_;
  testing::TempDir dir_;
  std::string db_path_;
  std::string analytics_path_;
  std::string token_path_;
  std::string token_;
  std::array<std::uint16_t, 4> http_ports_{};
  std::uint16_t catalog_pub_port_ = 0;
  std::uint16_t regen_pub_port_ = 0;
  std::uint16_t usage_pub_port_ = 0;
  std::uint16_t api_pub_port_ = 0;
  std::int64_t seeded_seq_ = -1;
  std::array<std::unique_ptr<testing::ChildProcess>, 4> processes_;
  std::array<int, 4> runs_{};  // processes started per service, names the log files
};

}  // namespace cocktail::e2e

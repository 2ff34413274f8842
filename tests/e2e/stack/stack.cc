#include "stack.h"

#include <rapidjson/document.h>
#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <sstream>
#include <thread>

#include "cocktail/testing/ports.h"
#include "cocktail/testing/wait.h"

namespace cocktail::e2e {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::string loopback(std::uint16_t port) { return "127.0.0.1:" + std::to_string(port); }
std::string tcp(std::uint16_t port) { return "tcp://127.0.0.1:" + std::to_string(port); }

std::string random_token() {
  std::random_device device;
  std::ostringstream out;
  for (int i = 0; i < 4; ++i) {
    out << std::hex << device();
  }
  return "e2e-" + out.str();
}

std::string tail(const std::string& text, std::size_t bytes) {
  return text.size() <= bytes ? text : "..." + text.substr(text.size() - bytes);
}

// GET /health answers 200 within the probe's own short timeout.
bool healthy(std::uint16_t port) {
  try {
    testing::HttpClient probe(port, 2s);
    return probe.get("/health").status == 200;
  } catch (const testing::HttpClientError&) {
    return false;
  }
}

}  // namespace

const char* service_name(Service service) {
  switch (service) {
    case Service::kCatalogApi: return "catalog-api";
    case Service::kAnalyticsRegen: return "analytics-regen";
    case Service::kAnalyticsApi: return "analytics-api";
    case Service::kUsageApi: return "usage-api";
  }
  return "?";
}

Stack::Stack(StackOptions options)
    : options_(options),
      dir_("e2e-stack"),
      db_path_(dir_.file("catalog.db")),
      analytics_path_(dir_.file("analytics")),
      token_path_(dir_.file("write-token")),
      token_(random_token()) {
  for (auto& port : http_ports_) {
    port = testing::free_loopback_port();
  }
  catalog_pub_port_ = testing::free_loopback_port();
  regen_pub_port_ = testing::free_loopback_port();
  usage_pub_port_ = testing::free_loopback_port();
  api_pub_port_ = testing::free_loopback_port();
  fs::create_directories(dir_.path() / "logs");
  if (const char* keep = std::getenv("COCKTAIL_E2E_KEEP"); keep && *keep && std::string(keep) != "0") {
    dir_.keep();
  }
  testing::write_file(token_path_, token_ + "\n");
}

Stack::~Stack() {
  // Readers first, so that nothing is left waiting on a dead upstream.
  for (Service s :
       {Service::kUsageApi, Service::kAnalyticsApi, Service::kAnalyticsRegen, Service::kCatalogApi}) {
    if (processes_[static_cast<int>(s)]) {
      processes_[static_cast<int>(s)]->kill();
    }
  }
}

std::vector<std::string> Stack::arguments(Service service) const {
  switch (service) {
    case Service::kCatalogApi:
      return {"--db", db_path_, "--http", loopback(http_port(service)), "--pub", tcp(catalog_pub_port_),
              "--token-file", token_path_,
              // Events flow at once after a restart, and silence is noticed soon.
              "--publish-start-delay-ms", "100", "--heartbeat-ms", "200", "--access-log=false",
              // CURVE: only analytics-regen may subscribe.
              "--bus-key-file", key_file("catalog-api.key_secret"), "--bus-authorized-keys",
              key_file("analytics-regen.key")};
    case Service::kAnalyticsRegen:
      return {"--db", db_path_, "--analytics-path", analytics_path_, "--http", loopback(http_port(service)),
              "--sub", tcp(catalog_pub_port_), "--pub", tcp(regen_pub_port_), "--token-file", token_path_,
              "--quiet-ms", std::to_string(options_.quiet_ms), "--max-delay-ms",
              std::to_string(options_.max_delay_ms), "--heartbeat-ms", "200", "--check-interval-ms", "1000",
              "--backoff-initial-ms", "200", "--backoff-max-ms", "2000", "--bus-key-file",
              key_file("analytics-regen.key_secret"), "--bus-server-key", key_file("catalog-api.key"),
              "--bus-authorized-keys", key_file("analytics-api.key"),
              // analytics-api's repair requests.
              "--repair-sub", tcp(api_pub_port_), "--repair-server-key", key_file("analytics-api.key"),
              "--scrub-interval-s", std::to_string(options_.scrub_interval_s)};
    case Service::kAnalyticsApi:
      return {"--analytics-path", analytics_path_, "--db", db_path_, "--http", loopback(http_port(service)),
              "--sub", tcp(regen_pub_port_), "--check-interval-ms", "500", "--access-log=false",
              "--bus-key-file", key_file("analytics-api.key_secret"), "--bus-server-key",
              key_file("analytics-regen.key"),
              // analytics.repair, for analytics-regen only.
              "--pub", tcp(api_pub_port_), "--bus-authorized-keys", key_file("analytics-regen.key"),
              "--repair-interval-ms", "1000"};
    case Service::kUsageApi:
      return {"--db", dir_.file("usage.db"), "--http", loopback(http_port(service)), "--pub",
              tcp(usage_pub_port_), "--cors-origins", "http://" + loopback(http_port(Service::kAnalyticsApi)),
              "--access-log=false",
              // usage.hour has no subscriber in the stack: any service of it may subscribe.
              "--bus-key-file", key_file("usage-api.key_secret"), "--bus-authorized-keys",
              dir_.file("bus-keys")};
  }
  return {};
}

std::string Stack::key_file(const std::string& name) const { return dir_.file("bus-keys/" + name); }

::testing::AssertionResult Stack::start() {
  // A key pair per service, made by the operators' tool, as compose/up.sh does.
  fs::create_directories(dir_.path() / "bus-keys");
  for (const char* service : {"catalog-api", "analytics-regen", "analytics-api", "usage-api"}) {
    testing::ChildProcess keygen(std::string(COCKTAIL_BIN_DIR) + "/bus-keygen",
                                 {"--out", key_file(service), "--force"});
    auto status = keygen.wait_for(options_.start_timeout);
    if (!status || !status->success()) {
      return ::testing::AssertionFailure() << "bus-keygen failed:\n" << keygen.stderr_text();
    }
  }
  {
    testing::ChildOptions seed_options;
    seed_options.stderr_path = dir_.file("logs/catalog-seed.log");
    testing::ChildProcess seed(
        std::string(COCKTAIL_BIN_DIR) + "/catalog-seed",
        {"--db", db_path_, "--recipes", std::to_string(options_.recipes), "--ingredients",
         std::to_string(options_.ingredients), "--seed", std::to_string(options_.seed)},
        seed_options);
    auto status = seed.wait_for(options_.start_timeout);
    if (!status || !status->success()) {
      return ::testing::AssertionFailure() << "catalog-seed failed:\n" << seed.stderr_text();
    }
    rapidjson::Document summary;
    const std::string out = seed.stdout_text();
    summary.Parse(out.c_str(), out.size());
    if (summary.HasParseError() || !summary.IsObject() || !summary.HasMember("catalog_seq")) {
      return ::testing::AssertionFailure() << "catalog-seed printed no summary: " << out;
    }
    seeded_seq_ = summary["catalog_seq"].GetInt64();
  }
  for (Service s : kAllServices) {
    // A port found free may be taken by another process before the service
    // binds it (tests run in parallel): then new ports, up to three times.
    // Only the service's own ports change; the ones downstream read them at
    // their start.
    for (int attempt = 1;; ++attempt) {
      auto started = start(s);
      if (started) {
        break;
      }
      const bool taken =
          testing::read_file(process(s).stderr_path()).find("Address already in use") != std::string::npos;
      if (!taken || attempt == 3) {
        return started;
      }
      http_ports_[static_cast<int>(s)] = testing::free_loopback_port();
      if (s == Service::kCatalogApi) {
        catalog_pub_port_ = testing::free_loopback_port();
      }
      if (s == Service::kAnalyticsRegen) {
        regen_pub_port_ = testing::free_loopback_port();
      }
      if (s == Service::kUsageApi) {
        usage_pub_port_ = testing::free_loopback_port();
      }
      if (s == Service::kAnalyticsApi) {
        // analytics-regen subscribes to it: started again with the new one.
        api_pub_port_ = testing::free_loopback_port();
        kill(Service::kAnalyticsRegen);
        if (auto regen = start(Service::kAnalyticsRegen); !regen) {
          return regen;
        }
      }
    }
  }
  const std::int64_t covered = wait_covered(seeded_seq_, options_.start_timeout);
  if (covered < seeded_seq_) {
    return ::testing::AssertionFailure() << "no generation covering the seeded catalog (seq " << seeded_seq_
                                         << ") within " << options_.start_timeout.count() << " ms\n"
                                         << logs();
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult Stack::start(Service service) {
  const int i = static_cast<int>(service);
  if (processes_[i] && processes_[i]->running()) {
    return ::testing::AssertionFailure() << service_name(service) << " is already running";
  }
  testing::ChildOptions child;
  const std::string stem = std::string("logs/") + service_name(service) + "." + std::to_string(++runs_[i]);
  child.stderr_path = dir_.file(stem + ".log");
  child.stdout_path = dir_.file(stem + ".out");
  processes_[i] = std::make_unique<testing::ChildProcess>(
      std::string(COCKTAIL_BIN_DIR) + "/" + service_name(service), arguments(service), child);
  testing::ChildProcess& p = *processes_[i];
  // Ready when this process says it listens on the port (another process
  // could hold a port given to us, and answer /health there) and /health
  // answers 200.
  const std::string port = std::to_string(http_port(service));
  std::string listening;
  switch (service) {
    case Service::kCatalogApi: listening = "event=catalog_api.ready http_port=" + port; break;
    case Service::kAnalyticsRegen: listening = "event=regen.ready http_port=" + port; break;
    case Service::kAnalyticsApi: listening = "event=http.listening host=127.0.0.1 port=" + port; break;
    case Service::kUsageApi: listening = "event=usage_api.ready http_port=" + port; break;
  }
  const bool ready = testing::wait_until(
      [&] {
        return !p.running() ||
               (p.stderr_text().find(listening) != std::string::npos && healthy(http_port(service)));
      },
      options_.start_timeout, 20ms);
  if (ready && p.running()) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << service_name(service) << " did not become healthy on port " << port
                                       << (p.running() ? "" : " (it exited)") << "\n"
                                       << logs();
}

testing::ExitStatus Stack::kill(Service service) {
  auto& p = processes_[static_cast<int>(service)];
  return p ? p->kill() : testing::ExitStatus{};
}

std::optional<testing::ExitStatus> Stack::stop(Service service, std::chrono::milliseconds timeout) {
  auto& p = processes_[static_cast<int>(service)];
  if (!p) {
    return std::nullopt;
  }
  p->signal(SIGTERM);
  return p->wait_for(timeout);
}

bool Stack::running(Service service) {
  auto& p = processes_[static_cast<int>(service)];
  return p && p->running();
}

testing::ChildProcess& Stack::process(Service service) { return *processes_[static_cast<int>(service)]; }

std::int64_t Stack::wait_covered(std::int64_t seq, std::chrono::milliseconds timeout) {
  std::int64_t covered = -1;
  testing::wait_until(
      [&] {
        try {
          auto client = this->client(Service::kAnalyticsApi, 2s);
          auto r = client.get("/api/v1/analytics/status");
          rapidjson::Document d;
          d.Parse(r.body.c_str(), r.body.size());
          if (r.status != 200 || d.HasParseError() || !d.IsObject() || !d.HasMember("data")) {
            return false;
          }
          const auto& data = d["data"];
          if (!data.HasMember("source") || std::string(data["source"].GetString()) != "snapshot") {
            return false;
          }
          if (!data["catalog_seq"].IsInt64()) {
            return false;
          }
          covered = data["catalog_seq"].GetInt64();
          return covered >= seq;
        } catch (const testing::HttpClientError&) {
          return false;
        }
      },
      timeout, 25ms);
  return covered >= seq ? covered : -1;
}

std::string Stack::log_tail(Service service, std::size_t bytes) const {
  std::string all;
  for (int run = 1; run <= runs_[static_cast<int>(service)]; ++run) {
    all += "--- " + std::string(service_name(service)) + " run " + std::to_string(run) + "\n";
    all += testing::read_file(dir_.path() / "logs" /
                              (std::string(service_name(service)) + "." + std::to_string(run) + ".log"));
  }
  return tail(all, bytes);
}

std::string Stack::logs() const {
  std::string all;
  for (Service s : kAllServices) {
    all += log_tail(s) + "\n";
  }
  return all;
}

}  // namespace cocktail::e2e

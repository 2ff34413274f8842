// freshness-bench: how long after a mutation's commit does a snapshot that
// covers it get announced? Starts the real processes on free loopback ports
// (catalog-seed, catalog-api, analytics-regen with the given windows), then
//
//   spaced: N mutations, one every --interval-ms (beyond the quiet window),
//   stream: mutations at --rate per second for --stream-seconds,
//
// and for each mutation measures, on one monotonic clock in this process,
// from the moment its HTTP response (carrying catalog_seq) is received to the
// moment an analytics.snapshot event with catalog_seq >= that seq arrives.
// Prints p50 / p90 / p99 / max per phase, the regenerations they took, and
// one JSON line. Driven by tests/bench/freshness.sh; never run by ctest.
#include <rapidjson/document.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cocktail/bus/subscriber.h"
#include "cocktail/core/options.h"
#include "cocktail/testing/child_process.h"
#include "cocktail/testing/http_client.h"
#include "cocktail/testing/ports.h"
#include "cocktail/testing/temp_dir.h"
#include "cocktail/testing/wait.h"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using cocktail::testing::ChildProcess;
using cocktail::testing::HttpClient;

constexpr const char* kToken = "freshness-bench-token";

// Announcements as they arrive, in arrival order: arrival, the generation's
// catalog_seq (the exact analytics' seq), and the oldest per-file seq (what
// every file covers: equal unless cocktail-space files were carried forward).
class Announcements {
 public:
  explicit Announcements(const std::string& endpoint) {
    cocktail::bus::SubscriberOptions options;
    options.endpoints = {endpoint};
    options.topics = {"analytics."};
    subscriber_ = std::make_unique<cocktail::bus::Subscriber>(
        options, cocktail::bus::SubscriberHandlers{
                     [this](const cocktail::bus::Event& e) {
                       const auto now = Clock::now();
                       std::lock_guard lock(mu_);
                       if (auto* s = std::get_if<cocktail::bus::AnalyticsSnapshot>(&e)) {
                         std::int64_t all = s->catalog_seq;
                         for (const auto& [type, file] : s->files) {
                           all = std::min(all, file.catalog_seq.value_or(s->catalog_seq));
                         }
                         events_.push_back({now, s->catalog_seq, all});
                       } else {
                         heartbeat_ = true;
                       }
                     },
                     {}});
    subscriber_->start();
  }
  ~Announcements() { subscriber_->stop(); }

  bool connected() {
    std::lock_guard lock(mu_);
    return heartbeat_;
  }
  // When the first announcement covering `seq` arrived, if one did; with
  // `complete`, the first whose every file covers it.
  std::optional<Clock::time_point> covered_at(std::int64_t seq, bool complete = false) {
    std::lock_guard lock(mu_);
    for (const auto& e : events_) {
      if ((complete ? e.all_seq : e.seq) >= seq) return e.at;
    }
    return std::nullopt;
  }
  std::size_t count() {
    std::lock_guard lock(mu_);
    return events_.size();
  }

 private:
  std::mutex mu_;
  struct Event {
    Clock::time_point at;
    std::int64_t seq = 0;
    std::int64_t all_seq = 0;
  };
  std::vector<Event> events_;
  bool heartbeat_ = false;
  std::unique_ptr<cocktail::bus::Subscriber> subscriber_;
};

struct Mutation {
  Clock::time_point committed;  // response received
  std::int64_t seq = 0;
};

struct Figures {
  std::size_t n = 0;
  std::size_t missing = 0;
  double p50 = 0, p90 = 0, p99 = 0, max = 0, mean = 0;
  std::size_t announcements = 0;
};

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto i = static_cast<std::size_t>(std::ceil(p * static_cast<double>(sorted.size()))) - 1;
  return sorted[std::min(i, sorted.size() - 1)];
}

Figures measure(Announcements& announcements, const std::vector<Mutation>& mutations, std::size_t before,
                bool show_slowest, bool complete = false) {
  // Wait (bounded) for the last one to be covered.
  cocktail::testing::wait_until(
      [&] { return announcements.covered_at(mutations.back().seq, complete).has_value(); }, 30s);
  Figures f;
  std::vector<double> ms;
  for (const auto& m : mutations) {
    auto at = announcements.covered_at(m.seq, complete);
    if (!at) {
      ++f.missing;
      continue;
    }
    ms.push_back(std::chrono::duration<double, std::milli>(*at - m.committed).count());
  }
  if (show_slowest) {
    std::vector<std::pair<double, std::int64_t>> by_seq;
    for (const auto& m : mutations) {
      if (auto at = announcements.covered_at(m.seq, complete)) {
        by_seq.emplace_back(std::chrono::duration<double, std::milli>(*at - m.committed).count(), m.seq);
      }
    }
    std::sort(by_seq.rbegin(), by_seq.rend());
    std::printf("  slowest:");
    for (std::size_t i = 0; i < std::min<std::size_t>(5, by_seq.size()); ++i) {
      std::printf(" seq %lld %.0f ms;", static_cast<long long>(by_seq[i].second), by_seq[i].first);
    }
    std::printf("\n");
  }
  std::sort(ms.begin(), ms.end());
  f.n = ms.size();
  if (!ms.empty()) {
    f.p50 = percentile(ms, 0.50);
    f.p90 = percentile(ms, 0.90);
    f.p99 = percentile(ms, 0.99);
    f.max = ms.back();
    double sum = 0;
    for (double v : ms) sum += v;
    f.mean = sum / static_cast<double>(ms.size());
  }
  f.announcements = announcements.count() - before;
  return f;
}

Mutation mutate(HttpClient& client, int i) {
  // An ingredient under one of the seeded roots: every analytic changes.
  const std::string body =
      R"({"name":"Freshness )" + std::to_string(i) + R"(","parent_id":)" + std::to_string(1 + i % 8) + "}";
  auto r = client.post("/api/v1/ingredients", body, {{"Authorization", std::string("Bearer ") + kToken}});
  Mutation m;
  m.committed = Clock::now();
  if (r.status != 201)
    throw std::runtime_error("mutation refused: " + std::to_string(r.status) + " " + r.body);
  rapidjson::Document d;
  d.Parse(r.body.c_str(), r.body.size());
  m.seq = d["catalog_seq"].GetInt64();
  return m;
}

std::string json_figures(const char* name, const Figures& f) {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                R"("%s":{"n":%zu,"missing":%zu,"p50_ms":%.1f,"p90_ms":%.1f,"p99_ms":%.1f,"max_ms":%.1f,)"
                R"("mean_ms":%.1f,"announcements":%zu})",
                name, f.n, f.missing, f.p50, f.p90, f.p99, f.max, f.mean, f.announcements);
  return buf;
}

void print(const char* what, const Figures& f) {
  std::printf(
      "%-28s n=%zu  p50 %7.1f ms  p90 %7.1f ms  p99 %7.1f ms  max %7.1f ms  mean %7.1f ms  (%zu "
      "snapshots%s)\n",
      what, f.n, f.p50, f.p90, f.p99, f.max, f.mean, f.announcements,
      f.missing ? ", some never covered!" : "");
}

}  // namespace

int main(int argc, char** argv) {
  cocktail::core::Options o("freshness-bench", "Mutation-to-announcement freshness of analytics-regen.");
  o.add_string("--bin-dir", "", COCKTAIL_BIN_DIR, "where catalog-seed, catalog-api and analytics-regen are")
      .add_int("--recipes", "", 1356, "recipes in the seeded catalog")
      .add_int("--spaced", "", 200, "mutations in the spaced phase (0: skip)")
      .add_int("--interval-ms", "", 400, "pause between spaced mutations, ms")
      .add_int("--rate", "", 50, "mutations per second in the stream phase")
      .add_int("--stream-seconds", "", 10, "length of the stream phase, s (0: skip)")
      .add_int("--quiet-ms", "", 200, "analytics-regen --quiet-ms")
      .add_int("--max-delay-ms", "", 2000, "analytics-regen --max-delay-ms")
      .add_string("--regen-args", "", "", "more analytics-regen arguments, space-separated");
  o.parse_or_exit(argc, argv);
  const std::string bin = o.get("--bin-dir");

  cocktail::testing::TempDir dir("freshness-bench");
  const std::string db = dir.file("catalog.db");
  cocktail::testing::write_file(dir.file("token"), std::string(kToken) + "\n");
  {
    ChildProcess seed(bin + "/catalog-seed",
                      {"--db", db, "--recipes", std::to_string(o.get_int("--recipes"))});
    auto st = seed.wait_for(120s);
    if (!st || !st->success()) {
      std::cerr << "catalog-seed failed:\n" << seed.stderr_text();
      return 1;
    }
  }
  const auto api_http = cocktail::testing::free_loopback_port();
  const std::string api_pub = "tcp://127.0.0.1:" + std::to_string(cocktail::testing::free_loopback_port());
  ChildProcess api(bin + "/catalog-api", {"--db", db, "--http", "127.0.0.1:" + std::to_string(api_http),
                                          "--pub", api_pub, "--token-file", dir.file("token"), "--log-level",
                                          "warn", "--access-log=false", "--allow-anonymous-bus"});
  const auto regen_http = cocktail::testing::free_loopback_port();
  const std::string regen_pub = "tcp://127.0.0.1:" + std::to_string(cocktail::testing::free_loopback_port());
  std::vector<std::string> regen_args = {"--db",
                                         db,
                                         "--analytics-path",
                                         dir.file("analytics"),
                                         "--http",
                                         "127.0.0.1:" + std::to_string(regen_http),
                                         "--sub",
                                         api_pub,
                                         "--pub",
                                         regen_pub,
                                         "--quiet-ms",
                                         std::to_string(o.get_int("--quiet-ms")),
                                         "--max-delay-ms",
                                         std::to_string(o.get_int("--max-delay-ms")),
                                         "--log-level",
                                         "info",
                                         "--allow-anonymous-bus"};
  {
    std::istringstream extra(o.get("--regen-args"));
    for (std::string word; extra >> word;) regen_args.push_back(word);
  }
  ChildProcess regen(bin + "/analytics-regen", regen_args);

  auto healthy = [](std::uint16_t port) {
    return cocktail::testing::wait_until(
        [&] {
          try {
            return HttpClient(port, 1s).get("/health").status == 200;
          } catch (const std::exception&) {
            return false;
          }
        },
        30s, 20ms);
  };
  if (!healthy(api_http) || !healthy(regen_http)) {
    std::cerr << "services did not start:\n" << api.stderr_text() << regen.stderr_text();
    return 1;
  }
  Announcements announcements(regen_pub);
  if (!cocktail::testing::wait_until([&] { return announcements.connected(); }, 10s)) {
    std::cerr << "no analytics.heartbeat received\n";
    return 1;
  }
  // Let the start-up regeneration and catalog-api's first heartbeats pass.
  std::this_thread::sleep_for(3s);
  HttpClient client(api_http, 10s);
  int counter = 0;

  std::string json = "{";
  json += R"("recipes":)" + std::to_string(o.get_int("--recipes")) + R"(,"quiet_ms":)" +
          std::to_string(o.get_int("--quiet-ms")) + R"(,"max_delay_ms":)" +
          std::to_string(o.get_int("--max-delay-ms"));

  if (const auto n = o.get_int("--spaced"); n > 0) {
    const auto interval = std::chrono::milliseconds(o.get_int("--interval-ms"));
    const std::size_t before = announcements.count();
    std::vector<Mutation> ms;
    for (std::int64_t i = 0; i < n; ++i) {
      ms.push_back(mutate(client, counter++));
      std::this_thread::sleep_for(interval);
    }
    const Figures f = measure(announcements, ms, before, true);
    char what[64];
    std::snprintf(what, sizeof what, "spaced (every %lld ms)", static_cast<long long>(interval.count()));
    print(what, f);
    json += "," + json_figures("spaced", f);
    const Figures all = measure(announcements, ms, before, false, /*complete=*/true);
    print("  every file covered", all);
    json += "," + json_figures("spaced_complete", all);
  }
  if (const auto seconds = o.get_int("--stream-seconds"); seconds > 0) {
    std::this_thread::sleep_for(3s);  // the previous phase's tail is over
    const auto rate = o.get_int("--rate");
    const auto period =
        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / rate));
    const std::size_t before = announcements.count();
    std::vector<Mutation> ms;
    auto next = Clock::now();
    for (std::int64_t i = 0; i < rate * seconds; ++i) {
      std::this_thread::sleep_until(next);
      ms.push_back(mutate(client, counter++));
      next += period;
    }
    const Figures f = measure(announcements, ms, before, true);
    char what[64];
    std::snprintf(what, sizeof what, "stream (%lld/s for %lld s)", static_cast<long long>(rate),
                  static_cast<long long>(seconds));
    print(what, f);
    json += "," + json_figures("stream", f);
    const Figures all = measure(announcements, ms, before, false, /*complete=*/true);
    print("  every file covered", all);
    json += "," + json_figures("stream_complete", all);
  }

  // The regeneration cost on this catalog, from analytics-regen's own metrics.
  const std::string metrics = HttpClient(regen_http, 5s).get("/metrics").body;
  std::istringstream in(metrics);
  double total_sum = 0, total_count = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(R"(cocktail_regen_duration_seconds_sum{stage="total"} )", 0) == 0)
      total_sum = std::stod(line.substr(line.find(' ') + 1));
    if (line.rfind(R"(cocktail_regen_duration_seconds_count{stage="total"} )", 0) == 0)
      total_count = std::stod(line.substr(line.find(' ') + 1));
  }
  const double mean_run_ms = total_count > 0 ? 1000.0 * total_sum / total_count : 0;
  // Which stages the slow regenerations spent their time in: observations
  // above 250 ms per stage, from the histogram buckets.
  {
    std::map<std::string, std::pair<double, double>> stages;  // stage -> (count, count <= 0.25 s)
    std::istringstream text(metrics);
    for (std::string line; std::getline(text, line);) {
      const auto stage_at = line.find(R"(stage=")");
      if (line.rfind("cocktail_regen_duration_seconds_", 0) != 0 || stage_at == std::string::npos) continue;
      const std::string stage = line.substr(stage_at + 7, line.find('"', stage_at + 7) - stage_at - 7);
      const double value = std::stod(line.substr(line.rfind(' ') + 1));
      if (line.rfind("cocktail_regen_duration_seconds_count", 0) == 0) stages[stage].first = value;
      if (line.find(R"(le="0.25")") != std::string::npos) stages[stage].second = value;
    }
    std::printf("stages over 250 ms:");
    for (const auto& [stage, c] : stages) {
      if (c.first > c.second) std::printf(" %s %.0f;", stage.c_str(), c.first - c.second);
    }
    std::printf("\n");
  }
  // The slowest regenerations, from analytics-regen's "regen.done" log lines
  // (stage timings explain outliers: a slow fsync shows in "write").
  std::vector<std::pair<double, std::string>> runs;
  {
    std::istringstream log(regen.stderr_text());
    for (std::string line; std::getline(log, line);) {
      if (line.find("event=regen.done") == std::string::npos) continue;
      const auto at = line.find(" ms=");
      if (at != std::string::npos) runs.emplace_back(std::stod(line.substr(at + 4)), line);
    }
  }
  std::sort(runs.rbegin(), runs.rend());
  if (!runs.empty()) {
    std::printf("regeneration ms: median %.1f, slowest %.1f %.1f %.1f\n", runs[runs.size() / 2].first,
                runs[0].first, runs.size() > 1 ? runs[1].first : 0.0, runs.size() > 2 ? runs[2].first : 0.0);
  }
  std::printf("regenerations: %.0f, mean %.1f ms each (load, analytics, fsynced write, gc)\n", total_count,
              mean_run_ms);
  char tail[128];
  std::snprintf(tail, sizeof tail, R"(,"regenerations":%.0f,"mean_regeneration_ms":%.1f})", total_count,
                mean_run_ms);
  json += tail;
  std::printf("%s\n", json.c_str());

  regen.signal(SIGTERM);
  api.signal(SIGTERM);
  regen.wait_for(10s);
  api.wait_for(10s);
  return 0;
}

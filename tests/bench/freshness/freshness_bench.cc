// freshness-bench: how long after a mutation's commit can a user read
// analytics that cover it? Starts the real processes on free loopback ports
// (catalog-seed, catalog-api, analytics-regen with the given windows,
// analytics-api with its defaults), then
//
//   spaced: N mutations, one every --interval-ms (beyond the quiet window),
//   stream: mutations at --rate per second for --stream-seconds,
//   burst:  --burst mutations as fast as they go within one second,
//
// and for each mutation measures, on one monotonic clock in this process,
// from the moment its HTTP response (carrying catalog_seq S) is received:
//   - visible: until analytics-api answers 200 to a read with min_seq=S
//     (ingredient-usage for the exact analytics, cocktail-space-em for the
//     maps), issued at once and parked by analytics-api until covered;
//   - announced: until an analytics.snapshot event covering S arrives.
// Also reports the snapshot directory's disk use (each inode once) before
// and after each phase, and how many fast and map generations a phase cost.
// Prints p50 / p90 / p99 / max per phase and one JSON line. Then, from
// analytics-regen's regen.trace and analytics-api's snapshot.load_trace log
// lines (steady-clock times this process shares), where each mutation's
// time went: before its run started, each stage of the run (load, compute,
// waiting for the snapshot store, the write's files / manifest / CURRENT /
// legacy copies, gc), the announcement, analytics-api noticing it, loading
// the generation, and answering the parked read; percentiles per segment
// and the slowest mutations in full. Driven by tests/bench/freshness.sh;
// never run by ctest.
#include <rapidjson/document.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
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
      if ((complete ? e.all_seq : e.seq) >= seq) {
        return e.at;
      }
    }
    return std::nullopt;
  }
  std::size_t count() {
    std::lock_guard lock(mu_);
    return events_.size();
  }
  // Announcements from index `from` on that moved every file's seq (a map
  // generation) rather than only the exact analytics'.
  std::size_t map_count(std::size_t from) {
    std::lock_guard lock(mu_);
    std::size_t n = 0;
    for (std::size_t i = from; i < events_.size(); ++i) {
      if (events_[i].all_seq > (i == 0 ? 0 : events_[i - 1].all_seq)) {
        ++n;
      }
    }
    return n;
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

// Reads with min_seq as a user would: each mutation's read starts as soon
// as its write is acknowledged, on a pool of threads with one keep-alive
// connection each (enough threads that a read never waits for a free one at
// the rates measured here; a read that did would only look slower).
class VisibleReads {
 public:
  VisibleReads(std::uint16_t port, std::size_t threads) {
    for (std::size_t i = 0; i < threads; ++i) {
      workers_.emplace_back([this, port] { work(port); });
    }
  }
  ~VisibleReads() {
    {
      std::lock_guard lock(mu_);
      exit_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) {
      t.join();
    }
  }
  // Reads `path` with min_seq=seq; the result is taken by `visible_at`.
  void submit(const std::string& path, std::int64_t seq) {
    std::lock_guard lock(mu_);
    queue_.push_back(Job{path, seq});
    cv_.notify_one();
  }
  // When `path` first answered 200 for min_seq=seq (nullopt: never did).
  std::optional<Clock::time_point> visible_at(const std::string& path, std::int64_t seq) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, 30s, [&] { return queue_.empty() && busy_ == 0; });
    auto it = done_.find({path, seq});
    if (it == done_.end()) {
      return std::nullopt;
    }
    return it->second;
  }

 private:
  struct Job {
    std::string path;
    std::int64_t seq;
  };
  void work(std::uint16_t port) {
    HttpClient client(port, 15s);
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return exit_ || !queue_.empty(); });
      if (queue_.empty()) {
        return;
      }
      Job job = std::move(queue_.front());
      queue_.erase(queue_.begin());
      ++busy_;
      lock.unlock();
      std::optional<Clock::time_point> at;
      try {
        const auto r = client.get(job.path + "?min_seq=" + std::to_string(job.seq) + "&wait_ms=10000");
        if (r.status == 200) {
          at = Clock::now();
        }
      } catch (const std::exception&) {
      }
      lock.lock();
      --busy_;
      if (at) {
        done_[{job.path, job.seq}] = *at;
      }
      cv_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Job> queue_;
  std::size_t busy_ = 0;
  bool exit_ = false;
  std::map<std::pair<std::string, std::int64_t>, Clock::time_point> done_;
  std::vector<std::thread> workers_;
};

constexpr const char* kExactPath = "/api/v1/analytics/ingredient-usage";
constexpr const char* kMapPath = "/api/v1/analytics/cocktail-space-em";

// Bytes under `dir` on disk, each inode once (hard links share blocks).
std::int64_t disk_bytes(const std::string& dir) {
  std::set<std::pair<dev_t, ino_t>> seen;
  std::int64_t total = 0;
  std::error_code ec;
  for (std::filesystem::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
      continue;
    }
    if (seen.insert({st.st_dev, st.st_ino}).second) {
      total += static_cast<std::int64_t>(st.st_blocks) * 512;
    }
  }
  return total;
}

struct Mutation {
  Clock::time_point committed;  // response received
  std::int64_t seq = 0;
};

std::int64_t micros(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

// The value of `key` in a logfmt line ("" when absent; quotes not handled:
// the trace fields never need them).
std::string logfmt(const std::string& line, const std::string& key) {
  const std::string k = " " + key + "=";
  const auto at = line.find(k);
  if (at == std::string::npos) {
    return "";
  }
  const auto from = at + k.size();
  return line.substr(from, line.find(' ', from) - from);
}

std::int64_t logfmt_int(const std::string& line, const std::string& key) {
  const std::string v = logfmt(line, key);
  return v.empty() ? 0 : std::stoll(v);
}

double logfmt_double(const std::string& line, const std::string& key) {
  const std::string v = logfmt(line, key);
  return v.empty() ? 0.0 : std::stod(v);
}

// One published run of analytics-regen (event=regen.trace).
struct RunTrace {
  std::string lane;
  std::int64_t generation = 0, seq = 0, files_seq = 0;
  std::int64_t oldest_us = 0, start_us = 0, returned_us = 0, announced_us = 0, fsyncs = 0;
  std::map<std::string, double> stages;  // ms

  double stage(const std::string& name) const {
    auto it = stages.find(name);
    return it == stages.end() ? 0.0 : it->second;
  }
  // The sum of the stages named `prefix`...
  double stages_with(const std::string& prefix) const {
    double sum = 0;
    for (const auto& [name, ms] : stages) {
      if (name.rfind(prefix, 0) == 0 && name.find('.', prefix.size()) == std::string::npos) {
        sum += ms;
      }
    }
    return sum;
  }
};

// One generation analytics-api loaded (event=snapshot.load_trace).
struct LoadTrace {
  std::int64_t generation = 0, heard_us = 0, start_us = 0, swapped_us = 0, notified_us = 0;
  double read_ms = 0, build_ms = 0, gzip_ms = 0, trim_ms = 0;
};

std::vector<RunTrace> run_traces(const std::string& log) {
  std::vector<RunTrace> out;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    if (line.find(" event=regen.trace ") == std::string::npos) {
      continue;
    }
    RunTrace t;
    t.lane = logfmt(line, "lane");
    t.generation = logfmt_int(line, "generation");
    t.seq = logfmt_int(line, "seq");
    t.files_seq = logfmt_int(line, "files_seq");
    t.oldest_us = logfmt_int(line, "oldest_us");
    t.start_us = logfmt_int(line, "start_us");
    t.returned_us = logfmt_int(line, "returned_us");
    t.announced_us = logfmt_int(line, "announced_us");
    t.fsyncs = logfmt_int(line, "fsyncs");
    std::istringstream stages(logfmt(line, "stages"));
    for (std::string item; std::getline(stages, item, ',');) {
      const auto colon = item.rfind(':');
      if (colon != std::string::npos) {
        t.stages[item.substr(0, colon)] = std::stod(item.substr(colon + 1));
      }
    }
    out.push_back(std::move(t));
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.announced_us < b.announced_us; });
  return out;
}

std::vector<LoadTrace> load_traces(const std::string& log) {
  std::vector<LoadTrace> out;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    if (line.find(" event=snapshot.load_trace ") == std::string::npos) {
      continue;
    }
    LoadTrace t;
    t.generation = logfmt_int(line, "generation");
    t.heard_us = logfmt_int(line, "heard_us");
    t.start_us = logfmt_int(line, "start_us");
    t.swapped_us = logfmt_int(line, "swapped_us");
    t.notified_us = logfmt_int(line, "notified_us");
    t.read_ms = logfmt_double(line, "read_ms");
    t.build_ms = logfmt_double(line, "build_ms");
    t.gzip_ms = logfmt_double(line, "gzip_ms");
    t.trim_ms = logfmt_double(line, "trim_ms");
    out.push_back(t);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.swapped_us < b.swapped_us; });
  return out;
}

struct Figures {
  std::size_t n = 0;
  std::size_t missing = 0;
  double p50 = 0, p90 = 0, p99 = 0, max = 0, mean = 0;
};

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) {
    return 0;
  }
  const auto i = static_cast<std::size_t>(std::ceil(p * static_cast<double>(sorted.size()))) - 1;
  return sorted[std::min(i, sorted.size() - 1)];
}

using When = std::function<std::optional<Clock::time_point>(const Mutation&)>;

Figures measure(const std::vector<Mutation>& mutations, const When& when, bool show_slowest) {
  Figures f;
  std::vector<double> ms;
  std::vector<std::pair<double, std::int64_t>> by_seq;
  for (const auto& m : mutations) {
    auto at = when(m);
    if (!at) {
      ++f.missing;
      continue;
    }
    ms.push_back(std::chrono::duration<double, std::milli>(*at - m.committed).count());
    by_seq.emplace_back(ms.back(), m.seq);
  }
  if (show_slowest) {
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
    for (double v : ms) {
      sum += v;
    }
    f.mean = sum / static_cast<double>(ms.size());
  }
  return f;
}

Mutation mutate(HttpClient& client, int i) {
  // An ingredient under one of the seeded roots: every analytic changes.
  const std::string body =
      R"({"name":"Freshness )" + std::to_string(i) + R"(","parent_id":)" + std::to_string(1 + i % 8) + "}";
  auto r = client.post("/api/v1/ingredients", body, {{"Authorization", std::string("Bearer ") + kToken}});
  Mutation m;
  m.committed = Clock::now();
  if (r.status != 201) {
    throw std::runtime_error("mutation refused: " + std::to_string(r.status) + " " + r.body);
  }
  rapidjson::Document d;
  d.Parse(r.body.c_str(), r.body.size());
  m.seq = d["catalog_seq"].GetInt64();
  return m;
}

std::string json_figures(const char* name, const Figures& f) {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                R"("%s":{"n":%zu,"missing":%zu,"p50_ms":%.1f,"p90_ms":%.1f,"p99_ms":%.1f,"max_ms":%.1f,)"
                R"("mean_ms":%.1f})",
                name, f.n, f.missing, f.p50, f.p90, f.p99, f.max, f.mean);
  return buf;
}

void print(const char* what, const Figures& f) {
  std::printf("  %-30s n=%zu  p50 %7.1f ms  p90 %7.1f ms  p99 %7.1f ms  max %7.1f ms  mean %7.1f ms%s\n",
              what, f.n, f.p50, f.p90, f.p99, f.max, f.mean, f.missing ? "  (some never covered!)" : "");
}

// Where each mutation's time went, from its acknowledgement to its read's
// answer at `visible`: the run that first covered it (its exact analytics,
// or with `maps` its every file), the load that made that visible, and the
// segments in between. Prints percentiles per segment and the slowest
// mutations in full.
void breakdown(const char* what, const std::vector<Mutation>& ms, bool maps,
               const std::vector<RunTrace>& runs, const std::vector<LoadTrace>& loads,
               const std::function<std::optional<Clock::time_point>(const Mutation&)>& visible) {
  static const std::vector<std::string> kSegments = {"to run start",
                                                     "  of which event->regen",
                                                     "run: load",
                                                     "run: compute",
                                                     "run: wait for store",
                                                     "run: carry",
                                                     "run: write",
                                                     "  files",
                                                     "  manifest",
                                                     "  CURRENT",
                                                     "  legacy",
                                                     "  lock",
                                                     "run: gc",
                                                     "announce",
                                                     "api: bus",
                                                     "api: loader busy",
                                                     "api: read+verify",
                                                     "api: build",
                                                     "answer",
                                                     "total"};
  std::map<std::string, std::vector<double>> seg;
  std::vector<std::pair<double, std::string>> slowest;
  std::size_t unmatched = 0;
  for (const auto& m : ms) {
    const auto at = visible(m);
    if (!at) {
      continue;
    }
    const std::int64_t ack = micros(m.committed);
    const RunTrace* run = nullptr;
    for (const auto& r : runs) {
      if ((maps ? r.files_seq : r.seq) >= m.seq && r.announced_us >= ack) {
        run = &r;
        break;
      }
    }
    const LoadTrace* load = nullptr;
    for (const auto& l : loads) {
      if (run != nullptr && l.generation >= run->generation && l.swapped_us >= run->announced_us) {
        load = &l;
        break;
      }
    }
    if (run == nullptr || load == nullptr) {
      ++unmatched;
      continue;
    }
    const std::string w = run->lane == "slow" ? "write" : "write.fast";
    std::map<std::string, double> v;
    v["to run start"] = static_cast<double>(run->start_us - ack) / 1e3;
    v["  of which event->regen"] =
        run->oldest_us > ack ? static_cast<double>(run->oldest_us - ack) / 1e3 : 0.0;
    v["run: load"] = run->stage("open") + run->stage("load") + run->stage("model");
    v["run: compute"] = run->stages_with("produce.");
    v["run: wait for store"] = run->stage("wait.store");
    v["run: carry"] = run->stage("carry");
    v["run: write"] = run->stage(w);
    v["  files"] = run->stage(w + ".files");
    v["  manifest"] = run->stage(w + ".manifest");
    v["  CURRENT"] = run->stage(w + ".current");
    v["  legacy"] = run->stage(w + ".legacy");
    v["  lock"] = run->stage(w + ".lock");
    v["run: gc"] = run->stage("gc");
    v["announce"] = static_cast<double>(run->announced_us - run->returned_us) / 1e3;
    v["api: bus"] = load->heard_us > 0 ? static_cast<double>(load->heard_us - run->announced_us) / 1e3 : 0.0;
    v["api: loader busy"] =
        static_cast<double>(load->start_us - std::max(run->announced_us, load->heard_us)) / 1e3;
    v["api: read+verify"] = load->read_ms;
    v["api: build"] = load->build_ms;
    v["answer"] = static_cast<double>(micros(*at) - load->swapped_us) / 1e3;
    v["total"] = static_cast<double>(micros(*at) - ack) / 1e3;
    std::string line;
    char buf[96];
    for (const auto& name : kSegments) {
      seg[name].push_back(v[name]);
      if (v[name] >= 0.05 && name != "total") {
        std::snprintf(buf, sizeof buf, " %s %.1f;", name.c_str() + (name[0] == ' ' ? 2 : 0), v[name]);
        line += buf;
      }
    }
    std::snprintf(buf, sizeof buf, "seq %lld gen %lld (%s) %.0f ms:", static_cast<long long>(m.seq),
                  static_cast<long long>(run->generation), run->lane.c_str(), v["total"]);
    slowest.emplace_back(v["total"], buf + line);
  }
  std::printf("  where the time went, %s (ms; %zu mutations, %zu unmatched):\n", what, ms.size() - unmatched,
              unmatched);
  std::printf("    %-26s %8s %8s %8s %8s\n", "segment", "p50", "p90", "p99", "max");
  for (const auto& name : kSegments) {
    auto& v = seg[name];
    if (v.empty()) {
      continue;
    }
    std::sort(v.begin(), v.end());
    std::printf("    %-26s %8.1f %8.1f %8.1f %8.1f\n", name.c_str(), percentile(v, 0.5), percentile(v, 0.9),
                percentile(v, 0.99), v.back());
  }
  std::sort(slowest.rbegin(), slowest.rend());
  for (std::size_t i = 0; i < std::min<std::size_t>(5, slowest.size()); ++i) {
    std::printf("    slowest: %s\n", slowest[i].second.c_str());
  }
}

// One phase's mutations, measured every way; returns its JSON members.
std::string report_phase(const char* name, Announcements& announcements, VisibleReads& reads,
                         const std::vector<Mutation>& ms, std::size_t before, std::int64_t disk_before,
                         const std::string& analytics_dir, ChildProcess& regen, ChildProcess& api) {
  // Wait (bounded) for the last one to be covered everywhere.
  cocktail::testing::wait_until([&] { return announcements.covered_at(ms.back().seq, true).has_value(); },
                                60s);
  reads.visible_at(kMapPath, ms.back().seq);
  std::this_thread::sleep_for(500ms);  // let retention run after the last generation
  const std::int64_t disk_after = disk_bytes(analytics_dir);
  std::string json;
  auto one = [&](const char* label, const char* key, const When& when, bool slowest) {
    const Figures f = measure(ms, when, slowest);
    print(label, f);
    json += std::string(json.empty() ? "" : ",") + json_figures(key, f);
  };
  one(
      "exact visible (min_seq read)", "exact_visible",
      [&](const Mutation& m) { return reads.visible_at(kExactPath, m.seq); }, true);
  one(
      "maps visible (min_seq read)", "maps_visible",
      [&](const Mutation& m) { return reads.visible_at(kMapPath, m.seq); }, true);
  one(
      "exact announced", "exact_announced",
      [&](const Mutation& m) { return announcements.covered_at(m.seq); }, false);
  one(
      "every file announced", "complete_announced",
      [&](const Mutation& m) { return announcements.covered_at(m.seq, true); }, false);
  {
    const auto runs = run_traces(regen.stderr_text());
    const auto loads = load_traces(api.stderr_text());
    breakdown("exact visible", ms, false, runs, loads,
              [&](const Mutation& m) { return reads.visible_at(kExactPath, m.seq); });
    breakdown("maps visible", ms, true, runs, loads,
              [&](const Mutation& m) { return reads.visible_at(kMapPath, m.seq); });
  }
  const std::size_t generations = announcements.count() - before;
  const std::size_t maps = announcements.map_count(before);
  std::printf("  generations: %zu (%zu with new maps); snapshot dir %.1f MB -> %.1f MB (+%.1f MB)\n",
              generations, maps, static_cast<double>(disk_before) / 1e6,
              static_cast<double>(disk_after) / 1e6, static_cast<double>(disk_after - disk_before) / 1e6);
  char tail[256];
  std::snprintf(tail, sizeof tail,
                R"(,"generations":%zu,"map_generations":%zu,"disk_before":%lld,"disk_after":%lld)",
                generations, maps, static_cast<long long>(disk_before), static_cast<long long>(disk_after));
  return std::string("\"") + name + "\":{" + json + tail + "}";
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
      .add_int("--burst", "", 100, "writes in the one-second burst phase (0: skip)")
      .add_int("--readers", "", 192, "threads reading with min_seq")
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
    for (std::string word; extra >> word;) {
      regen_args.push_back(word);
    }
  }
  ChildProcess regen(bin + "/analytics-regen", regen_args);
  // analytics-api with its defaults (access log on), on regen's announcements.
  const auto read_http = cocktail::testing::free_loopback_port();
  ChildProcess reader(bin + "/analytics-api", {"--analytics-path", dir.file("analytics"), "--http",
                                               "127.0.0.1:" + std::to_string(read_http), "--sub", regen_pub,
                                               "--allow-anonymous-bus"});

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
  if (!healthy(api_http) || !healthy(regen_http) || !healthy(read_http)) {
    std::cerr << "services did not start:\n"
              << api.stderr_text() << regen.stderr_text() << reader.stderr_text();
    return 1;
  }
  Announcements announcements(regen_pub);
  if (!cocktail::testing::wait_until([&] { return announcements.connected(); }, 10s)) {
    std::cerr << "no analytics.heartbeat received\n";
    return 1;
  }
  // Let the start-up regeneration (every file) and catalog-api's first
  // heartbeats pass.
  cocktail::testing::wait_until(
      [&] {
        try {
          return HttpClient(read_http, 5s).get(kMapPath).status == 200;
        } catch (const std::exception&) {
          return false;
        }
      },
      300s, 100ms);
  std::this_thread::sleep_for(2s);
  HttpClient client(api_http, 10s);
  int counter = 0;

  std::string json = "{";
  json += R"("recipes":)" + std::to_string(o.get_int("--recipes")) + R"(,"quiet_ms":)" +
          std::to_string(o.get_int("--quiet-ms")) + R"(,"max_delay_ms":)" +
          std::to_string(o.get_int("--max-delay-ms"));

  VisibleReads reads(read_http, static_cast<std::size_t>(o.get_int("--readers")));
  const std::string analytics_dir = dir.file("analytics");
  // Every mutation is read twice (exact analytics, the EM map) right after
  // its acknowledgement.
  auto write_and_read = [&](std::vector<Mutation>& ms) {
    ms.push_back(mutate(client, counter++));
    reads.submit(kExactPath, ms.back().seq);
    reads.submit(kMapPath, ms.back().seq);
  };
  auto phase = [&](const char* name, const std::string& title,
                   const std::function<void(std::vector<Mutation>&)>& body) {
    std::this_thread::sleep_for(3s);  // the previous phase's tail is over
    const std::size_t before = announcements.count();
    const std::int64_t disk_before = disk_bytes(analytics_dir);
    std::vector<Mutation> ms;
    const auto started = Clock::now();
    body(ms);
    const double took = std::chrono::duration<double>(Clock::now() - started).count();
    std::printf("%s: %zu writes in %.2f s\n", title.c_str(), ms.size(), took);
    json +=
        "," + report_phase(name, announcements, reads, ms, before, disk_before, analytics_dir, regen, reader);
  };
  if (const auto n = o.get_int("--spaced"); n > 0) {
    const auto interval = std::chrono::milliseconds(o.get_int("--interval-ms"));
    phase("spaced", "spaced (one every " + std::to_string(interval.count()) + " ms)", [&](auto& ms) {
      for (std::int64_t i = 0; i < n; ++i) {
        write_and_read(ms);
        std::this_thread::sleep_for(interval);
      }
    });
  }
  if (const auto seconds = o.get_int("--stream-seconds"); seconds > 0) {
    const auto rate = o.get_int("--rate");
    phase("stream", "stream (" + std::to_string(rate) + "/s for " + std::to_string(seconds) + " s)",
          [&](auto& ms) {
            const auto period =
                std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / rate));
            auto next = Clock::now();
            for (std::int64_t i = 0; i < rate * seconds; ++i) {
              std::this_thread::sleep_until(next);
              write_and_read(ms);
              next += period;
            }
          });
  }
  if (const auto n = o.get_int("--burst"); n > 0) {
    phase("burst", "burst (" + std::to_string(n) + " writes within one second)", [&](auto& ms) {
      const auto period = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(0.9 / n));
      auto next = Clock::now();
      for (std::int64_t i = 0; i < n; ++i) {
        std::this_thread::sleep_until(next);
        write_and_read(ms);
        next += period;
      }
    });
  }

  // The regeneration cost on this catalog, from analytics-regen's own metrics.
  const std::string metrics = HttpClient(regen_http, 5s).get("/metrics").body;
  std::istringstream in(metrics);
  double total_sum = 0, total_count = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(R"(cocktail_regen_duration_seconds_sum{stage="total"} )", 0) == 0) {
      total_sum = std::stod(line.substr(line.find(' ') + 1));
    }
    if (line.rfind(R"(cocktail_regen_duration_seconds_count{stage="total"} )", 0) == 0) {
      total_count = std::stod(line.substr(line.find(' ') + 1));
    }
  }
  const double mean_run_ms = total_count > 0 ? 1000.0 * total_sum / total_count : 0;
  // Which stages the slow regenerations spent their time in: observations
  // above 250 ms per stage, from the histogram buckets.
  {
    std::map<std::string, std::pair<double, double>> stages;  // stage -> (count, count <= 0.25 s)
    std::istringstream text(metrics);
    for (std::string line; std::getline(text, line);) {
      const auto stage_at = line.find(R"(stage=")");
      if (line.rfind("cocktail_regen_duration_seconds_", 0) != 0 || stage_at == std::string::npos) {
        continue;
      }
      const std::string stage = line.substr(stage_at + 7, line.find('"', stage_at + 7) - stage_at - 7);
      const double value = std::stod(line.substr(line.rfind(' ') + 1));
      if (line.rfind("cocktail_regen_duration_seconds_count", 0) == 0) {
        stages[stage].first = value;
      }
      if (line.find(R"(le="0.25")") != std::string::npos) {
        stages[stage].second = value;
      }
    }
    std::printf("stages over 250 ms:");
    for (const auto& [stage, c] : stages) {
      if (c.first > c.second) {
        std::printf(" %s %.0f;", stage.c_str(), c.first - c.second);
      }
    }
    std::printf("\n");
  }
  // The slowest regenerations, from analytics-regen's "regen.done" log lines
  // (stage timings explain outliers: a slow fsync shows in "write").
  std::vector<std::pair<double, std::string>> runs;
  {
    std::istringstream log(regen.stderr_text());
    for (std::string line; std::getline(log, line);) {
      if (line.find("event=regen.done") == std::string::npos) {
        continue;
      }
      const auto at = line.find(" ms=");
      if (at != std::string::npos) {
        runs.emplace_back(std::stod(line.substr(at + 4)), line);
      }
    }
  }
  std::sort(runs.rbegin(), runs.rend());
  if (!runs.empty()) {
    std::printf("regeneration ms: median %.1f, slowest %.1f %.1f %.1f\n", runs[runs.size() / 2].first,
                runs[0].first, runs.size() > 1 ? runs[1].first : 0.0, runs.size() > 2 ? runs[2].first : 0.0);
  }
  std::printf("regenerations: %.0f, mean %.1f ms each (load, analytics, fsynced write, gc)\n", total_count,
              mean_run_ms);
  // What each lane wrote to disk over the whole run (carried files are hard
  // links and write nothing); absent from builds without the counters.
  {
    std::istringstream text(metrics);
    for (std::string line; std::getline(text, line);) {
      if (line.rfind("cocktail_regen_bytes_written_total{", 0) == 0 ||
          line.rfind("cocktail_regen_files_written_total{", 0) == 0 ||
          line.rfind("cocktail_regen_files_linked_total{", 0) == 0 ||
          line.rfind("cocktail_regen_lane_runs_total{", 0) == 0) {
        std::printf("  %s\n", line.c_str());
      }
    }
  }
  char tail[128];
  std::snprintf(tail, sizeof tail, R"(,"regenerations":%.0f,"mean_regeneration_ms":%.1f})", total_count,
                mean_run_ms);
  json += tail;
  std::printf("%s\n", json.c_str());

  reader.signal(SIGTERM);
  regen.signal(SIGTERM);
  api.signal(SIGTERM);
  reader.wait_for(10s);
  regen.wait_for(10s);
  api.wait_for(10s);
  return 0;
}

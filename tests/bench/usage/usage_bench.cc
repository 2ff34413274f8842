// The usage database at the size the roll-up target is set for: 30 days of
// events at 10,000 events an hour (7.2 million events, ~500 sessions an
// hour), written through UsageStore as usage-api writes them, ending now.
//
//   BM_Rollups/168        GET rollups?hours=168's query: UsageStore::rollups_since
//   BM_Rollups/720        the same over 30 days
//   BM_DistinctSessionsFromEvents/168      the alternative: COUNT(DISTINCT) over the events
//   BM_DistinctSessionsFromHourSets/168    ... over the per-hour session sets
//   BM_EventsPage         GET track?hours=24&limit=100's queries
//
//   build/bin/usage_bench                          # builds the file on first use (~1-2 min)
//   build/bin/usage_bench --make-db PATH           # only writes the file (tests/bench/usage_api.sh)
//   COCKTAIL_BENCH_DIR=/some/disk build/bin/usage_bench
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <random>
#include <string>

#include "cocktail/core/time.h"
#include "cocktail/usage/usage_store.h"

namespace cocktail::usage {
namespace {

constexpr int kDays = 30;
constexpr int kEventsPerHour = 10'000;

// Writes the database; returns the `now` it ends at.
std::int64_t make_db(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::filesystem::remove(path + suffix);
  }
  catalog::DatabaseOptions options;
  options.synchronous = catalog::Synchronous::kOff;  // generation only
  auto db = open_usage_db(path, options);
  UsageStore store(*db);
  const std::int64_t now = core::system_now_ms();
  const std::int64_t first_hour = hour_of(now) - (kDays * 24 - 1) * kHourMs;
  const char* types[] = {"tool_used", "page_view", "drill_down", "search", "open", "risk_mode_changed"};
  const char* tools[] = {"ingredient-usage", "recipe-complexity", "cocktail-space", "recipe-similar",
                         "ingredient-tree"};
  const char* risks[] = {"protect", "neutral", "aggressive"};
  std::mt19937_64 rng(42);
  long long session_base = 0;
  long long id = 0;
  const auto started = std::chrono::steady_clock::now();
  std::vector<UsageEvent> events(kEventsPerHour);
  for (std::int64_t hour = first_hour; hour <= hour_of(now); hour += kHourMs) {
    // ~500 sessions an hour of ~20 events; one in ten goes on from the previous hour.
    for (int i = 0; i < kEventsPerHour; ++i) {
      UsageEvent& e = events[static_cast<std::size_t>(i)];
      const long long session = session_base + static_cast<long long>(rng() % 550) - 50;
      e.id = "evt_bench_" + std::to_string(++id);
      e.session_id = "session_" + std::to_string(session);
      e.event_type = types[rng() % 6];
      e.tool_name = rng() % 4 ? std::optional<std::string>(tools[rng() % 5]) : std::nullopt;
      e.action = "viewed";
      e.distribution_value = rng() % 3 == 0 ? std::optional<std::string>(risks[rng() % 3]) : std::nullopt;
      e.properties = e.distribution_value ? R"({"risk_mode":")" + *e.distribution_value + R"(","page":"/a"})"
                                          : std::optional<std::string>(R"({"page":"/a"})");
      e.timestamp_ms = hour + static_cast<std::int64_t>(rng() % kHourMs);
      e.received_at_ms = e.timestamp_ms;
    }
    session_base += 500;
    catalog::Transaction tx(*db, catalog::Transaction::Kind::kWrite);
    RollupDelta delta;
    store.insert_events(events, delta);
    store.apply(delta, now);
    tx.commit();
  }
  db->exec("PRAGMA wal_checkpoint(TRUNCATE)");
  db->exec("ANALYZE");
  std::cerr << "usage_bench: wrote " << id << " events in "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count() << " s, "
            << database_bytes(path) / (1 << 20) << " MiB: " << path << "\n";
  return now;
}

struct Fixture {
  std::string path;
  std::int64_t now = 0;
  std::unique_ptr<catalog::Database> db;
  std::unique_ptr<UsageStore> store;
};

Fixture& fixture() {
  static Fixture f = [] {
    Fixture out;
    const char* env = std::getenv("COCKTAIL_BENCH_DIR");
    std::filesystem::path dir = env && *env ? env : COCKTAIL_BENCH_DIR;
    std::filesystem::create_directories(dir);
    out.path = (dir / "usage-30d.db").string();
    out.now = make_db(out.path);
    catalog::DatabaseOptions ro;
    ro.read_only = true;
    out.db = catalog::Database::open(out.path, ro);
    out.store = std::make_unique<UsageStore>(*out.db);
    return out;
  }();
  return f;
}

void BM_Rollups(benchmark::State& state) {
  auto& f = fixture();
  const std::int64_t from = hour_of(f.now) - (state.range(0) - 1) * kHourMs;
  RollupRange range;
  for (auto _ : state) {
    catalog::Transaction tx(*f.db, catalog::Transaction::Kind::kRead);
    range = f.store->rollups_since(from);
    benchmark::DoNotOptimize(range.total_sessions);
  }
  state.counters["rows"] = static_cast<double>(range.rows.size());
  state.counters["events"] = static_cast<double>(range.total_events);
  state.counters["sessions"] = static_cast<double>(range.total_sessions);
}
BENCHMARK(BM_Rollups)->Arg(168)->Arg(720)->Unit(benchmark::kMillisecond);

void distinct(benchmark::State& state, const char* sql, std::int64_t from) {
  auto& f = fixture();
  auto s = f.db->prepare(sql);
  std::int64_t n = 0;
  for (auto _ : state) {
    s.bind(1, from);
    s.step();
    n = s.column_int(0);
    s.reset();
  }
  state.counters["sessions"] = static_cast<double>(n);
}

void BM_DistinctSessionsFromEvents(benchmark::State& state) {
  const std::int64_t from = hour_of(fixture().now) - (state.range(0) - 1) * kHourMs;
  distinct(state, "SELECT COUNT(DISTINCT session_id) FROM usage_events WHERE timestamp_ms >= ?1", from);
}
BENCHMARK(BM_DistinctSessionsFromEvents)->Arg(168)->Unit(benchmark::kMillisecond);

void BM_DistinctSessionsFromHourSets(benchmark::State& state) {
  const std::int64_t from = hour_of(fixture().now) - (state.range(0) - 1) * kHourMs;
  distinct(state, "SELECT COUNT(DISTINCT session_id) FROM usage_hour_sessions WHERE hour_ms >= ?1", from);
}
BENCHMARK(BM_DistinctSessionsFromHourSets)->Arg(168)->Unit(benchmark::kMillisecond);

void BM_EventsPage(benchmark::State& state) {
  auto& f = fixture();
  EventPage page;
  for (auto _ : state) {
    catalog::Transaction tx(*f.db, catalog::Transaction::Kind::kRead);
    page = f.store->events_since(f.now - 24 * kHourMs - 1234, 100);
    benchmark::DoNotOptimize(page.total_in_range);
  }
  state.counters["total_in_range"] = static_cast<double>(page.total_in_range);
}
BENCHMARK(BM_EventsPage)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace cocktail::usage

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--make-db") {
    cocktail::usage::make_db(argv[2]);
    return 0;
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

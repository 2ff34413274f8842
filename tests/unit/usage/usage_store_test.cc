// The usage store through its real writer (group commit and the one-commit
// baseline), retention driven by an injected wall clock, and backfill:
// after any mix of them the roll-ups equal a recount of the stored events.
#include "cocktail/usage/usage_store.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "cocktail/bus/events.h"
#include "cocktail/testing/sqlite_lock.h"
#include "cocktail/testing/temp_dir.h"
#include "cocktail/usage/backfill.h"
#include "cocktail/usage/event_decoding.h"
#include "cocktail/usage/retention.h"
#include "cocktail/usage/usage_writer.h"

namespace cocktail::usage {
namespace {

using catalog::CommitMode;

// "s" + std::to_string(i), built by appending: GCC 12 reports a false
// -Wrestrict on such `+` chains at -O3.
std::string numbered(std::string_view prefix, long long i) {
  std::string out(prefix);
  out.append(std::to_string(i));
  return out;
}
constexpr std::int64_t kDay = 24 * kHourMs;

// The roll-ups of every hour >= from, recounted from usage_events alone
// with plain SQL (independent of the store's increments).
struct Recount {
  std::map<std::int64_t, RollupRow> hours;
  std::int64_t distinct_sessions = 0;
};

Recount recount(catalog::Database& db, std::int64_t from) {
  Recount out;
  auto totals = db.prepare(
      "SELECT timestamp_ms - timestamp_ms % 3600000 AS h, COUNT(*), COUNT(DISTINCT session_id) FROM "
      "usage_events "
      "WHERE timestamp_ms >= ?1 GROUP BY h");
  totals.bind(1, from);
  while (totals.step()) {
    RollupRow& row = out.hours[totals.column_int(0)];
    row.hour_ms = totals.column_int(0);
    row.total_events = totals.column_int(1);
    row.unique_sessions = totals.column_int(2);
  }
  auto by = [&](const char* expr, auto member) {
    auto s = db.prepare(
        std::string("SELECT timestamp_ms - timestamp_ms % 3600000 AS h, ") + expr +
        " AS k, COUNT(*) FROM usage_events WHERE timestamp_ms >= ?1 AND k IS NOT NULL GROUP BY h, k");
    s.bind(1, from);
    while (s.step()) {
      (out.hours[s.column_int(0)].*member)[s.column_text(1)] = s.column_int(2);
    }
  };
  by("event_type", &RollupRow::event_counts);
  by("tool_name", &RollupRow::tool_usage);
  by("json_extract(properties, '$.risk_mode')", &RollupRow::risk_distribution);
  auto sessions = db.prepare("SELECT COUNT(DISTINCT session_id) FROM usage_events WHERE timestamp_ms >= ?1");
  sessions.bind(1, from);
  sessions.step();
  out.distinct_sessions = sessions.column_int(0);
  return out;
}

class UsageStoreTest : public ::testing::TestWithParam<CommitMode> {
 protected:
  UsageStoreTest() : path_(dir_.file("usage.db")) { open_usage_db(path_); }

  std::int64_t now() const { return now_.load(); }
  std::function<std::int64_t()> clock() {
    return [this] { return now_.load(); };
  }

  std::unique_ptr<UsageWriter> writer(std::size_t max_batch = 512,
                                      std::chrono::milliseconds max_wait = std::chrono::seconds(5)) {
    UsageWriterOptions o;
    o.mode = GetParam();
    o.max_batch = max_batch;
    o.max_wait = max_wait;
    o.now_ms = clock();
    o.on_durable = [this](const std::set<std::int64_t>& hours) {
      std::lock_guard lock(mu_);
      announced_.insert(hours.begin(), hours.end());
    };
    auto w = std::make_unique<UsageWriter>(path_, registry_, o);
    w->start();
    return w;
  }

  // Submits and waits; the outcome.
  static UsageWriter::Result write(UsageWriter& w, std::vector<UsageEvent> events) {
    std::promise<UsageWriter::Result> p;
    auto f = p.get_future();
    EXPECT_TRUE(w.submit_events(std::move(events), [&](const UsageWriter::Result& r) { p.set_value(r); }));
    return f.get();
  }

  RollupRange read_rollups(std::int64_t from) {
    auto db = catalog::Database::open(path_, {});
    UsageStore store(*db);
    catalog::Transaction tx(*db, catalog::Transaction::Kind::kRead);
    return store.rollups_since(from);
  }

  // Every hour from `from` on: stored roll-ups == recount, and total_sessions
  // == distinct sessions of the events since then.
  void expect_exact(std::int64_t from) {
    auto db = catalog::Database::open(path_, {});
    const Recount expected = recount(*db, from);
    const RollupRange got = read_rollups(from);
    std::map<std::int64_t, RollupRow> stored;
    for (auto row : got.rows) {
      row.sessions_ending = 0;
      stored[row.hour_ms] = row;
    }
    ASSERT_EQ(stored.size(), expected.hours.size());
    for (const auto& [hour, row] : expected.hours) {
      SCOPED_TRACE(bus::format_utc_timestamp(hour));
      ASSERT_TRUE(stored.count(hour));
      EXPECT_EQ(stored[hour], row);
    }
    EXPECT_EQ(got.total_sessions, expected.distinct_sessions);
    std::int64_t events = 0;
    for (const auto& [hour, row] : expected.hours) {
      events += row.total_events;
    }
    EXPECT_EQ(got.total_events, events);
  }

  testing::TempDir dir_{"usage-store"};
  std::string path_;
  prometheus::Registry registry_;
  std::atomic<std::int64_t> now_{*bus::parse_utc_timestamp("2026-11-18T08:30:00.000Z")};
  std::mutex mu_;
  std::set<std::int64_t> announced_;
};

UsageEvent event(std::string session, std::string type, std::int64_t ts, std::optional<std::string> tool = {},
                 std::optional<std::string> risk = {}) {
  UsageEvent e;
  e.session_id = std::move(session);
  e.event_type = std::move(type);
  e.timestamp_ms = ts;
  e.received_at_ms = ts;
  e.tool_name = std::move(tool);
  if (risk) {
    e.properties = R"({"risk_mode":")" + *risk + "\"}";
    e.distribution_value = risk;
  }
  static std::atomic<int> n{0};
  e.id = numbered("evt_test_", ++n);
  return e;
}

TEST_P(UsageStoreTest, EventsAndTheirRollupsCommitTogetherAndSessionsAreExact) {
  auto w = writer();
  const std::int64_t h = hour_of(now());
  auto r =
      write(*w, {event("a", "tool_used", h + 1, "FAAB", "protect"), event("a", "tool_used", h + 2, "FAAB"),
                 event("b", "risk_mode_changed", h + 3, {}, "aggressive"),
                 event("a", "tool_used", h - kHourMs, "Start/Sit")});
  EXPECT_EQ(r.outcome, UsageWriter::Outcome::kDurable);
  EXPECT_EQ(r.inserted, 4u);
  const RollupRange range = read_rollups(h - kHourMs);
  ASSERT_EQ(range.rows.size(), 2u);
  EXPECT_EQ(range.rows[1].total_events, 3);
  EXPECT_EQ(range.rows[1].unique_sessions, 2);
  EXPECT_EQ(range.rows[1].event_counts,
            (std::map<std::string, std::int64_t>{{"risk_mode_changed", 1}, {"tool_used", 2}}));
  EXPECT_EQ(range.rows[1].tool_usage, (std::map<std::string, std::int64_t>{{"FAAB", 2}}));
  EXPECT_EQ(range.rows[1].risk_distribution,
            (std::map<std::string, std::int64_t>{{"aggressive", 1}, {"protect", 1}}));
  EXPECT_EQ(range.total_sessions, 2);  // a and b over both hours, not 1 + 2
  EXPECT_EQ(read_rollups(h).total_sessions, 2);
  // An id already stored is not counted twice.
  UsageEvent again = event("c", "tool_used", h + 5);
  auto first = write(*w, {again});
  auto second = write(*w, {again});
  EXPECT_EQ(first.inserted, 1u);
  EXPECT_EQ(second.inserted, 0u);
  EXPECT_EQ(second.outcome, UsageWriter::Outcome::kDurable);
  expect_exact(h - kHourMs);
  w->stop();
  std::lock_guard lock(mu_);
  EXPECT_EQ(announced_, (std::set<std::int64_t>{h - kHourMs, h}));
}

TEST_P(UsageStoreTest, RetentionFollowsTheInjectedClockInBoundedBatches) {
  auto w = writer();
  const std::int64_t start = now();
  std::vector<UsageEvent> events;
  events.reserve(50);
  for (int i = 0; i < 50; ++i) {
    events.push_back(event(numbered("s", i % 7), "t", start - i * std::int64_t{60'000}));
  }
  ASSERT_EQ(write(*w, events).inserted, 50u);

  RetentionOptions o;
  o.events_max_age_ms = 30 * kDay;
  o.rollups_max_age_ms = 90 * kDay;
  o.batch_rows = 7;
  o.now_ms = clock();
  RetentionSweeper sweeper(*w, registry_, o);
  auto report = sweeper.sweep_once();
  EXPECT_TRUE(report.ok);
  EXPECT_EQ(report.events, 0);
  EXPECT_EQ(read_rollups(0).total_events, 50);

  now_ += 31 * kDay;  // the events are past their retention, their roll-ups are not
  report = sweeper.sweep_once();
  EXPECT_TRUE(report.ok);
  EXPECT_EQ(report.events, 50);
  EXPECT_GE(report.batches, 8);  // 50 rows, 7 at a time
  RollupRange kept = read_rollups(0);
  EXPECT_EQ(kept.total_events, 50);
  EXPECT_EQ(kept.total_sessions, 7);
  {
    auto db = catalog::Database::open(path_, {});
    UsageStore store(*db);
    EXPECT_EQ(store.stats().events, 0);
  }
  // New events meanwhile are unaffected and exact.
  ASSERT_EQ(write(*w, {event("s1", "t", now())}).inserted, 1u);
  expect_exact(hour_of(now()));

  now_ += 60 * kDay;  // the old roll-ups are past theirs
  report = sweeper.sweep_once();
  EXPECT_TRUE(report.ok);
  EXPECT_GT(report.rollup_rows, 0);
  kept = read_rollups(0);
  EXPECT_EQ(kept.total_events, 1);
  EXPECT_EQ(kept.total_sessions, 1);
  auto db = catalog::Database::open(path_, {});
  auto orphans = db->prepare(
      "SELECT (SELECT COUNT(*) FROM usage_sessions) + (SELECT COUNT(*) FROM usage_hour_sessions)"
      " + (SELECT COUNT(*) FROM usage_rollup_counts WHERE hour_ms < ?1)");
  orphans.bind(1, hour_of(now()) - kDay);
  orphans.step();
  EXPECT_EQ(orphans.column_int(0), 2);  // the live session, and its hour's session set
}

TEST_P(UsageStoreTest, BehindAHeldLockWritesAndRetentionAreRefusedUnrunWithinTheBound) {
  using namespace std::chrono_literals;
  constexpr auto kBound = 300ms;
  auto w = writer(512, kBound);
  const std::int64_t h = hour_of(now());
  ASSERT_EQ(write(*w, {event("a", "t", h + 1)}).outcome, UsageWriter::Outcome::kDurable);
  {
    testing::SqliteWriteLock lock(path_);  // as another process holding BEGIN EXCLUSIVE
    std::vector<std::future<UsageWriter::Result>> pending;
    std::vector<std::unique_ptr<std::promise<UsageWriter::Result>>> promises;
    const auto begin = std::chrono::steady_clock::now();
    for (int i = 0; i < 6; ++i) {
      promises.push_back(std::make_unique<std::promise<UsageWriter::Result>>());
      pending.push_back(promises.back()->get_future());
      auto* p = promises.back().get();
      ASSERT_TRUE(w->submit_events({event(numbered("b", i), "t", h + 2 + i)},
                                   [p](const UsageWriter::Result& r) { p->set_value(r); }));
    }
    for (auto& f : pending) {
      const auto r = f.get();  // every Done is called
      EXPECT_EQ(r.outcome, UsageWriter::Outcome::kNotRun) << r.error;
      EXPECT_EQ(r.inserted, 0u);
    }
    // Together, about the bound after they were queued, not one busy timeout after another.
    EXPECT_LT(std::chrono::steady_clock::now() - begin, kBound + 3s);
    // A retention sweep is refused the same way, and says so instead of waiting.
    RetentionOptions o;
    o.now_ms = clock();
    RetentionSweeper sweeper(*w, registry_, o);
    EXPECT_FALSE(sweeper.sweep_once().ok);
  }
  // Nothing of them was written; the roll-ups count what was.
  EXPECT_EQ(read_rollups(h).total_events, 1);
  expect_exact(h);
  // Once the lock is gone, writes go through.
  EXPECT_EQ(write(*w, {event("c", "t", h + 9)}).outcome, UsageWriter::Outcome::kDurable);
  expect_exact(h);
}

TEST_P(UsageStoreTest, AFailingRequestIsUndoneAloneAndTheOthersOfItsBatchAreStored) {
  UsageWriterOptions o;
  o.mode = GetParam();
  o.now_ms = clock();
  UsageWriter w(path_, registry_, o);
  const std::int64_t h = hour_of(now());
  // Queued before the writer starts, so that they share one batch.
  std::vector<std::promise<UsageWriter::Result>> promises(3);
  ASSERT_TRUE(w.submit_events({event("a", "t", h + 1), event("b", "t", h + 2)},
                              [&](const UsageWriter::Result& r) { promises[0].set_value(r); }));
  ASSERT_TRUE(w.submit_task(
      [&](UsageStore& store) -> std::int64_t {
        RollupDelta ignored;
        store.insert_events({event("c", "t", h + 3)}, ignored);  // half done, then it fails
        throw std::runtime_error("a failing request");
      },
      [&](const UsageWriter::Result& r) { promises[1].set_value(r); }));
  ASSERT_TRUE(w.submit_events({event("d", "t", h + 4)},
                              [&](const UsageWriter::Result& r) { promises[2].set_value(r); }));
  w.start();
  EXPECT_EQ(promises[0].get_future().get().outcome, UsageWriter::Outcome::kDurable);
  const auto failed = promises[1].get_future().get();
  EXPECT_EQ(failed.outcome, UsageWriter::Outcome::kFailed);
  EXPECT_NE(failed.error.find("a failing request"), std::string::npos);
  const auto last = promises[2].get_future().get();
  EXPECT_EQ(last.outcome, UsageWriter::Outcome::kDurable);
  EXPECT_EQ(last.inserted, 1u);
  w.stop();
  // Three events stored, counted once each; the failing request's event is not.
  EXPECT_EQ(read_rollups(h).total_events, 3);
  EXPECT_EQ(read_rollups(h).total_sessions, 3);
  expect_exact(h);
}

TEST_P(UsageStoreTest, BackfillIsIdempotentAndRebuildsTheHoursItTouched) {
  auto db = open_usage_db(path_);
  const std::int64_t h = hour_of(now());
  auto ts = [&](std::int64_t offset) { return "\"" + bus::format_utc_timestamp(h + offset) + "\""; };
  const std::string file =
      "[" + std::string(R"({"event_type":"tool_used","session_id":"x","tool_name":"FAAB","timestamp":)") +
      ts(-2 * kHourMs) + "}," +
      R"({"event_type":"tool_used","session_id":"y","risk_mode":"protect","timestamp":)" +
      ts(-2 * kHourMs + 5) + "}," + R"({"event_type":"page_view","session_id":"x","timestamp":)" +
      ts(-kHourMs) + "}," +
      R"({"event_type":"ancient","session_id":"x","timestamp":"2020-01-01T00:00:00Z"}])";
  DecodeLimits limits;
  auto first = backfill(*db, file, now(), limits, {});
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->read, 4);
  EXPECT_EQ(first->inserted, 3);
  EXPECT_EQ(first->skipped_too_old, 1);
  EXPECT_EQ(first->hours_rebuilt, 2);
  const RollupRange after_first = read_rollups(h - 2 * kHourMs);
  auto second = backfill(*db, file, now(), limits, {});
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->inserted, 0);
  EXPECT_EQ(second->already_stored, 3);
  const RollupRange after_second = read_rollups(h - 2 * kHourMs);
  EXPECT_EQ(after_second.rows, after_first.rows);
  EXPECT_EQ(after_second.total_sessions, 2);
  expect_exact(h - 2 * kHourMs);

  // A roll-up that disagrees with its events (edited by hand) is repaired by
  // a backfill touching its hour.
  db->exec("UPDATE usage_hourly_rollups SET total_events = 99");
  db->exec("DELETE FROM usage_rollup_counts");
  ASSERT_TRUE(backfill(*db, file, now(), limits, {}).ok());
  expect_exact(h - 2 * kHourMs);
}

TEST_P(UsageStoreTest, RollupsEqualARecountAfterARandomMixOfWritesRetentionAndBackfills) {
  auto w = writer(/*max_batch=*/16);
  RetentionOptions ro;
  ro.events_max_age_ms = 3 * kDay;
  ro.rollups_max_age_ms = 6 * kDay;
  ro.batch_rows = 50;
  ro.now_ms = clock();
  RetentionSweeper sweeper(*w, registry_, ro);
  DecodeLimits limits;
  limits.max_age_ms = ro.events_max_age_ms;
  auto admin = open_usage_db(path_);

  std::mt19937 rng(12345);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  const char* types[] = {"tool_used", "risk_mode_changed", "page_view", "search"};
  const char* tools[] = {"Start/Sit", "FAAB", "Decisions"};
  const char* risks[] = {"protect", "neutral", "aggressive"};
  std::vector<std::string> saved_files;

  auto random_event_json = [&](std::int64_t ts) {
    std::string e = R"({"event_type":")" + std::string(types[pick(4)]) + R"(","session_id":"s)" +
                    std::to_string(pick(40)) + R"(","timestamp":")" + bus::format_utc_timestamp(ts) + "\"";
    if (pick(3) > 0) {
      e += R"(,"tool_name":")" + std::string(tools[pick(3)]) + "\"";
    }
    if (pick(2) == 0) {
      e += R"(,"properties":{"risk_mode":")" + std::string(risks[pick(3)]) + "\"}";
    }
    if (pick(5) == 0) {
      e += R"(,"page":"/p)" + std::to_string(pick(3)) + "\"";
    }
    return e + "}";
  };
  // A timestamp within the events retention (a few minutes ahead allowed).
  auto random_ts = [&] {
    return now() - static_cast<std::int64_t>(rng() % (3 * kDay - 60'000)) + pick(120'000);
  };

  for (int round = 0; round < 120; ++round) {
    const int op = pick(10);
    if (op < 6) {
      // Concurrent requests, so that the writer groups them.
      std::vector<std::future<UsageWriter::Result>> pending;
      std::vector<std::promise<UsageWriter::Result>> promises(1 + pick(8));
      for (auto& p : promises) {
        std::string body = "[";
        const int n = 1 + pick(30);
        for (int i = 0; i < n; ++i) {
          body.append(i ? "," : "").append(random_event_json(random_ts()));
        }
        body += "]";
        auto batch = decode_track(body, now(), limits);
        ASSERT_TRUE(batch.ok()) << batch.error().message;
        for (auto& e : batch->events) {
          e.id = "evt_r" + std::to_string(round) + "_" + std::to_string(rng());
        }
        pending.push_back(p.get_future());
        ASSERT_TRUE(w->submit_events(std::move(batch->events),
                                     [&p](const UsageWriter::Result& r) { p.set_value(r); }));
      }
      for (auto& f : pending) {
        ASSERT_EQ(f.get().outcome, UsageWriter::Outcome::kDurable);
      }
    } else if (op < 8) {
      now_ += pick(30) * kHourMs + pick(3'600'000);
      ASSERT_TRUE(sweeper.sweep_once().ok);
    } else {
      // A new backup file, or one imported before (idempotence).
      std::string file;
      if (!saved_files.empty() && pick(2) == 0) {
        file = saved_files[static_cast<std::size_t>(pick(static_cast<int>(saved_files.size())))];
      } else {
        file = "[";
        const int n = 1 + pick(40);
        for (int i = 0; i < n; ++i) {
          file += (i ? "," : "") + random_event_json(random_ts());
        }
        file += "]";
        saved_files.push_back(file);
      }
      ASSERT_TRUE(backfill(*admin, file, now(), limits, {}).ok());
    }
    // Hours whose events retention has not touched are recounted exactly.
    expect_exact(hour_of(now() - ro.events_max_age_ms) + kHourMs);
    if (HasFatalFailure()) {
      return;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(CommitModes, UsageStoreTest,
                         ::testing::Values(CommitMode::kGroup, CommitMode::kEach), [](const auto& info) {
                           return info.param == CommitMode::kGroup ? "group" : "each";
                         });

}  // namespace
}  // namespace cocktail::usage

#include "cocktail/usage/usage_store.h"

#include <simdjson.h>

#include <filesystem>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "cocktail/usage/event_decoding.h"

namespace cocktail::usage {
namespace {

using catalog::Database;
using catalog::Statement;

// Version 1. The view presents the roll-ups in the seed's HourlyRollup shape
// for operators using the sqlite3 shell; the service reads the tables.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE usage_events(
  seq            INTEGER PRIMARY KEY,
  id             TEXT NOT NULL UNIQUE,
  user_id        TEXT,
  session_id     TEXT NOT NULL,
  event_type     TEXT NOT NULL,
  tool_name      TEXT,
  action         TEXT,
  properties     TEXT,
  demo_mode      INTEGER NOT NULL DEFAULT 1 CHECK (demo_mode IN (0, 1)),
  timestamp_ms   INTEGER NOT NULL,
  received_at_ms INTEGER NOT NULL
);
CREATE INDEX usage_events_user_type ON usage_events(user_id, event_type);
CREATE INDEX usage_events_timestamp ON usage_events(timestamp_ms);
CREATE INDEX usage_events_session ON usage_events(session_id);
CREATE INDEX usage_events_type_timestamp ON usage_events(event_type, timestamp_ms);
CREATE INDEX usage_events_tool_timestamp ON usage_events(tool_name, timestamp_ms);

CREATE TABLE usage_hourly_rollups(
  hour_ms         INTEGER PRIMARY KEY,
  total_events    INTEGER NOT NULL DEFAULT 0,
  unique_sessions INTEGER NOT NULL DEFAULT 0,
  sessions_ending INTEGER NOT NULL DEFAULT 0,
  created_at_ms   INTEGER NOT NULL,
  updated_at_ms   INTEGER NOT NULL
);
CREATE TABLE usage_rollup_counts(
  hour_ms   INTEGER NOT NULL,
  dimension INTEGER NOT NULL,
  key       TEXT NOT NULL,
  count     INTEGER NOT NULL,
  PRIMARY KEY (hour_ms, dimension, key)
) WITHOUT ROWID;
CREATE TABLE usage_hour_sessions(
  hour_ms    INTEGER NOT NULL,
  session_id TEXT NOT NULL,
  PRIMARY KEY (hour_ms, session_id)
) WITHOUT ROWID;
CREATE TABLE usage_sessions(
  session_id   TEXT PRIMARY KEY,
  last_hour_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX usage_sessions_last_hour ON usage_sessions(last_hour_ms);

-- sessions_ending[h] = sessions whose latest hour is h, whoever changes usage_sessions.
CREATE TRIGGER usage_sessions_insert AFTER INSERT ON usage_sessions BEGIN
  INSERT INTO usage_hourly_rollups(hour_ms, sessions_ending, created_at_ms, updated_at_ms)
  VALUES (NEW.last_hour_ms, 1, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER),
          CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))
  ON CONFLICT(hour_ms) DO UPDATE SET sessions_ending = sessions_ending + 1;
END;
CREATE TRIGGER usage_sessions_update AFTER UPDATE OF last_hour_ms ON usage_sessions BEGIN
  UPDATE usage_hourly_rollups SET sessions_ending = sessions_ending - 1 WHERE hour_ms = OLD.last_hour_ms;
  INSERT INTO usage_hourly_rollups(hour_ms, sessions_ending, created_at_ms, updated_at_ms)
  VALUES (NEW.last_hour_ms, 1, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER),
          CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))
  ON CONFLICT(hour_ms) DO UPDATE SET sessions_ending = sessions_ending + 1;
END;
CREATE TRIGGER usage_sessions_delete AFTER DELETE ON usage_sessions BEGIN
  UPDATE usage_hourly_rollups SET sessions_ending = sessions_ending - 1 WHERE hour_ms = OLD.last_hour_ms;
END;

CREATE VIEW hourly_rollup AS
SELECT r.hour_ms,
       strftime('%Y-%m-%dT%H:%M:%fZ', r.hour_ms / 1000, 'unixepoch') AS hour,
       (SELECT json_group_object(key, count) FROM usage_rollup_counts c
         WHERE c.hour_ms = r.hour_ms AND c.dimension = 0) AS event_counts,
       (SELECT json_group_object(key, count) FROM usage_rollup_counts c
         WHERE c.hour_ms = r.hour_ms AND c.dimension = 1) AS tool_usage,
       (SELECT json_group_object(key, count) FROM usage_rollup_counts c
         WHERE c.hour_ms = r.hour_ms AND c.dimension = 2) AS risk_distribution,
       r.unique_sessions, r.total_events, r.created_at_ms, r.updated_at_ms
  FROM usage_hourly_rollups r;
)sql";

const char* kEventColumns =
    "id, user_id, session_id, event_type, tool_name, action, properties, demo_mode, timestamp_ms, "
    "received_at_ms";

std::optional<std::string> optional_text(const Statement& s, int col) {
  if (s.is_null(col)) {
    return std::nullopt;
  }
  return s.column_text(col);
}

UsageEvent read_event(const Statement& s) {
  UsageEvent e;
  e.id = s.column_text(0);
  e.user_id = optional_text(s, 1);
  e.session_id = s.column_text(2);
  e.event_type = s.column_text(3);
  e.tool_name = optional_text(s, 4);
  e.action = optional_text(s, 5);
  e.properties = optional_text(s, 6);
  e.demo_mode = s.column_int(7) != 0;
  e.timestamp_ms = s.column_int(8);
  e.received_at_ms = s.column_int(9);
  return e;
}

std::map<std::string, std::int64_t>& counts_of(RollupRow& row, Dimension d) {
  switch (d) {
    case Dimension::kEventType: return row.event_counts;
    case Dimension::kTool: return row.tool_usage;
    case Dimension::kDistribution: return row.risk_distribution;
  }
  return row.event_counts;
}

std::int64_t file_size(const std::string& path) {
  std::error_code ec;
  const auto n = std::filesystem::file_size(path, ec);
  return ec ? 0 : static_cast<std::int64_t>(n);
}

}  // namespace

std::unique_ptr<Database> open_usage_db(const std::string& path, const catalog::DatabaseOptions& options) {
  if (Database::is_postgres_location(path)) {
    // The schema (triggers, WITHOUT ROWID, JSON functions) is SQLite's.
    throw std::invalid_argument("the usage database is a SQLite file, not '" + path + "'");
  }
  auto db = Database::open(path, options);
  if (options.read_only) {
    return db;
  }
  auto version_stmt = db->prepare("PRAGMA user_version");
  version_stmt.step();
  const auto version = version_stmt.column_int(0);
  version_stmt.reset();
  if (version > kSchemaVersion) {
    throw std::runtime_error("usage database '" + path + "' has schema version " + std::to_string(version) +
                             ", newer than this build knows (" + std::to_string(kSchemaVersion) +
                             "): refusing to touch it");
  }
  if (version < 1) {
    catalog::Transaction tx(*db, catalog::Transaction::Kind::kWrite);
    db->exec(kSchemaV1);
    db->exec("PRAGMA user_version = 1");
    tx.commit();
  }
  return db;
}

// ---- RollupDelta

void RollupDelta::add_event(const UsageEvent& e, bool new_session_in_hour) {
  Hour& h = hours_[hour_of(e.timestamp_ms)];
  ++h.events;
  if (new_session_in_hour) {
    ++h.new_sessions;
  }
  ++h.counts[{Dimension::kEventType, e.event_type}];
  if (e.tool_name) {
    ++h.counts[{Dimension::kTool, *e.tool_name}];
  }
  if (e.distribution_value) {
    ++h.counts[{Dimension::kDistribution, *e.distribution_value}];
  }
}

void RollupDelta::merge(const RollupDelta& other) {
  for (const auto& [hour, add] : other.hours_) {
    Hour& h = hours_[hour];
    h.events += add.events;
    h.new_sessions += add.new_sessions;
    for (const auto& [key, n] : add.counts) {
      h.counts[key] += n;
    }
  }
}

// ---- UsageStore

struct UsageStore::Statements {
  std::unique_ptr<Statement> insert_event, insert_hour_session, upsert_session, upsert_totals, update_count,
      keys_in_hour, insert_count, events_page, events_partial_count, rollup_total_since, rollup_rows,
      rollup_counts, hour_row, hour_counts;
};

UsageStore::UsageStore(Database& db, StoreOptions options)
    : db_(db), options_(std::move(options)), s_(std::make_unique<Statements>()) {}

UsageStore::~UsageStore() = default;

Statement& UsageStore::stmt(std::unique_ptr<Statement>& slot, const char* sql) {
  if (!slot) {
    slot = std::make_unique<Statement>(db_.prepare(sql));
  }
  return *slot;
}

std::size_t UsageStore::insert_events(const std::vector<UsageEvent>& events, RollupDelta& delta,
                                      std::vector<bool>* inserted) {
  auto& insert =
      stmt(s_->insert_event,
           "INSERT OR IGNORE INTO usage_events(id, user_id, session_id, event_type, tool_name, action, "
           "properties, demo_mode, timestamp_ms, received_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
           "?8, ?9, ?10)");
  auto& hour_session = stmt(s_->insert_hour_session,
                            "INSERT OR IGNORE INTO usage_hour_sessions(hour_ms, session_id) VALUES (?1, ?2)");
  auto& session = stmt(s_->upsert_session,
                       "INSERT INTO usage_sessions(session_id, last_hour_ms) VALUES (?1, ?2) "
                       "ON CONFLICT(session_id) DO UPDATE SET last_hour_ms = excluded.last_hour_ms "
                       "WHERE excluded.last_hour_ms > usage_sessions.last_hour_ms");
  std::size_t added = 0;
  if (inserted) {
    inserted->assign(events.size(), false);
  }
  for (std::size_t i = 0; i < events.size(); ++i) {
    const UsageEvent& e = events[i];
    // The event's strings outlive each run() (which resets): bound in place.
    insert.bind_unowned(1, e.id)
        .bind_unowned(2, e.user_id)
        .bind_unowned(3, e.session_id)
        .bind_unowned(4, e.event_type)
        .bind_unowned(5, e.tool_name)
        .bind_unowned(6, e.action)
        .bind_unowned(7, e.properties)
        .bind(8, e.demo_mode ? 1 : 0)
        .bind(9, e.timestamp_ms)
        .bind(10, e.received_at_ms)
        .run();
    if (db_.changes() == 0) {
      continue;  // an id already stored: counted once, the first time
    }
    ++added;
    if (inserted) {
      (*inserted)[i] = true;
    }
    const std::int64_t hour = hour_of(e.timestamp_ms);
    hour_session.bind(1, hour).bind_unowned(2, e.session_id).run();
    const bool new_in_hour = db_.changes() > 0;
    if (new_in_hour) {
      session.bind_unowned(1, e.session_id).bind(2, hour).run();
    }
    delta.add_event(e, new_in_hour);
  }
  return added;
}

void UsageStore::add_count(std::int64_t hour_ms, Dimension dimension, const std::string& key,
                           std::int64_t n) {
  auto& update =
      stmt(s_->update_count,
           "UPDATE usage_rollup_counts SET count = count + ?4 WHERE hour_ms = ?1 AND dimension = ?2 "
           "AND key = ?3");
  update.bind(1, hour_ms).bind(2, static_cast<int>(dimension)).bind(3, key).bind(4, n).run();
  if (db_.changes() > 0) {
    return;
  }
  auto& keys = stmt(s_->keys_in_hour,
                    "SELECT COUNT(*) FROM usage_rollup_counts WHERE hour_ms = ?1 AND dimension = ?2");
  keys.bind(1, hour_ms).bind(2, static_cast<int>(dimension));
  keys.step();
  const bool full = keys.column_int(0) >= options_.max_keys_per_hour;
  keys.reset();
  auto& insert =
      stmt(s_->insert_count,
           "INSERT INTO usage_rollup_counts(hour_ms, dimension, key, count) VALUES (?1, ?2, ?3, ?4) "
           "ON CONFLICT(hour_ms, dimension, key) DO UPDATE SET count = count + excluded.count");
  insert.bind(1, hour_ms)
      .bind(2, static_cast<int>(dimension))
      .bind(3, full ? kOverflowKey : key)
      .bind(4, n)
      .run();
}

void UsageStore::apply(const RollupDelta& delta, std::int64_t now_ms) {
  auto& totals =
      stmt(s_->upsert_totals,
           "INSERT INTO usage_hourly_rollups(hour_ms, total_events, unique_sessions, sessions_ending, "
           "created_at_ms, updated_at_ms) VALUES (?1, ?2, ?3, 0, ?4, ?4) "
           "ON CONFLICT(hour_ms) DO UPDATE SET total_events = total_events + excluded.total_events, "
           "unique_sessions = unique_sessions + excluded.unique_sessions, "
           "updated_at_ms = excluded.updated_at_ms");
  for (const auto& [hour, h] : delta.hours()) {
    totals.bind(1, hour).bind(2, h.events).bind(3, h.new_sessions).bind(4, now_ms).run();
    for (const auto& [key, n] : h.counts) {
      add_count(hour, key.first, key.second, n);
    }
  }
}

void UsageStore::rebuild_hours(const std::set<std::int64_t>& hours, std::int64_t now_ms) {
  auto select = db_.prepare(
      "SELECT session_id, event_type, tool_name, properties FROM usage_events "
      "WHERE timestamp_ms >= ?1 AND timestamp_ms < ?2 ORDER BY seq");
  auto clear_sessions = db_.prepare("DELETE FROM usage_hour_sessions WHERE hour_ms = ?1");
  auto clear_counts = db_.prepare("DELETE FROM usage_rollup_counts WHERE hour_ms = ?1");
  auto& hour_session = stmt(s_->insert_hour_session,
                            "INSERT OR IGNORE INTO usage_hour_sessions(hour_ms, session_id) VALUES (?1, ?2)");
  auto& session = stmt(s_->upsert_session,
                       "INSERT INTO usage_sessions(session_id, last_hour_ms) VALUES (?1, ?2) "
                       "ON CONFLICT(session_id) DO UPDATE SET last_hour_ms = excluded.last_hour_ms "
                       "WHERE excluded.last_hour_ms > usage_sessions.last_hour_ms");
  auto set_totals = db_.prepare(
      "INSERT INTO usage_hourly_rollups(hour_ms, total_events, unique_sessions, sessions_ending, "
      "created_at_ms, "
      "updated_at_ms) VALUES (?1, ?2, ?3, 0, ?4, ?4) ON CONFLICT(hour_ms) DO UPDATE SET "
      "total_events = excluded.total_events, unique_sessions = excluded.unique_sessions, "
      "updated_at_ms = excluded.updated_at_ms");
  simdjson::dom::parser parser;
  for (const std::int64_t hour : hours) {
    clear_sessions.bind(1, hour).run();
    clear_counts.bind(1, hour).run();
    // Events in insertion order, as the increments saw them (the key cap
    // keeps the first keys seen).
    RollupDelta delta;
    select.bind(1, hour).bind(2, hour + kHourMs);
    while (select.step()) {
      UsageEvent e;
      e.timestamp_ms = hour;
      e.session_id = select.column_text(0);
      e.event_type = select.column_text(1);
      e.tool_name = optional_text(select, 2);
      if (!select.is_null(3)) {
        e.distribution_value = distribution_value(select.column_text_view(3), options_.distribution_property);
      }
      hour_session.bind(1, hour).bind(2, e.session_id).run();
      const bool new_in_hour = db_.changes() > 0;
      if (new_in_hour) {
        session.bind(1, e.session_id).bind(2, hour).run();
      }
      delta.add_event(e, new_in_hour);
    }
    select.reset();
    const auto it = delta.hours().find(hour);
    const std::int64_t events = it == delta.hours().end() ? 0 : it->second.events;
    const std::int64_t sessions = it == delta.hours().end() ? 0 : it->second.new_sessions;
    set_totals.bind(1, hour).bind(2, events).bind(3, sessions).bind(4, now_ms).run();
    if (it != delta.hours().end()) {
      for (const auto& [key, n] : it->second.counts) {
        add_count(hour, key.first, key.second, n);
      }
    }
  }
}

namespace {

// Runs a bounded DELETE taking (?1 cutoff, ?2 row limit); the rows deleted.
std::int64_t delete_batch(Database& db, const char* sql, std::int64_t cutoff, std::int64_t max_rows) {
  auto s = db.prepare(sql);
  s.bind(1, cutoff).bind(2, max_rows).run();
  return db.changes();
}

}  // namespace

std::int64_t UsageStore::delete_events_before(std::int64_t cutoff_ms, std::int64_t max_rows) {
  return delete_batch(db_,
                      "DELETE FROM usage_events WHERE seq IN (SELECT seq FROM usage_events "
                      "WHERE timestamp_ms < ?1 ORDER BY timestamp_ms LIMIT ?2)",
                      cutoff_ms, max_rows);
}

std::int64_t UsageStore::delete_hour_sessions_before(std::int64_t cutoff_hour_ms, std::int64_t max_rows) {
  return delete_batch(db_,
                      "DELETE FROM usage_hour_sessions WHERE (hour_ms, session_id) IN "
                      "(SELECT hour_ms, session_id FROM usage_hour_sessions WHERE hour_ms < ?1 LIMIT ?2)",
                      cutoff_hour_ms, max_rows);
}

std::int64_t UsageStore::delete_rollups_before(std::int64_t cutoff_hour_ms, std::int64_t max_rows) {
  // In this order (statements, not one expression: the order matters):
  // sessions first, as their triggers update the rows about to go.
  std::int64_t deleted =
      delete_batch(db_,
                   "DELETE FROM usage_sessions WHERE session_id IN (SELECT session_id FROM "
                   "usage_sessions WHERE last_hour_ms < ?1 LIMIT ?2)",
                   cutoff_hour_ms, max_rows);
  deleted +=
      delete_batch(db_,
                   "DELETE FROM usage_rollup_counts WHERE (hour_ms, dimension, key) IN (SELECT hour_ms, "
                   "dimension, key FROM usage_rollup_counts WHERE hour_ms < ?1 LIMIT ?2)",
                   cutoff_hour_ms, max_rows);
  deleted += delete_batch(db_,
                          "DELETE FROM usage_hourly_rollups WHERE hour_ms IN (SELECT hour_ms FROM "
                          "usage_hourly_rollups WHERE hour_ms < ?1 LIMIT ?2)",
                          cutoff_hour_ms, max_rows);
  return deleted;
}

EventPage UsageStore::events_since(std::int64_t since_ms, std::int64_t limit) {
  static const std::string page_sql = std::string("SELECT ") + kEventColumns +
                                      " FROM usage_events WHERE timestamp_ms >= ?1 "
                                      "ORDER BY timestamp_ms DESC, seq DESC LIMIT ?2";
  auto& page = stmt(s_->events_page, page_sql.c_str());
  EventPage out;
  page.bind(1, since_ms).bind(2, limit);
  while (page.step()) {
    out.events.push_back(read_event(page));
  }
  page.reset();
  // Whole hours from the roll-ups (exact, one row per hour), the partial
  // first hour from the events.
  const std::int64_t first_whole = hour_of(since_ms) == since_ms ? since_ms : hour_of(since_ms) + kHourMs;
  auto& whole = stmt(s_->rollup_total_since,
                     "SELECT COALESCE(SUM(total_events), 0) FROM usage_hourly_rollups WHERE hour_ms >= ?1");
  whole.bind(1, first_whole);
  whole.step();
  out.total_in_range = whole.column_int(0);
  whole.reset();
  auto& partial = stmt(s_->events_partial_count,
                       "SELECT COUNT(*) FROM usage_events WHERE timestamp_ms >= ?1 AND timestamp_ms < ?2");
  partial.bind(1, since_ms).bind(2, first_whole);
  partial.step();
  out.total_in_range += partial.column_int(0);
  partial.reset();
  return out;
}

RollupRange UsageStore::rollups_since(std::int64_t from_hour_ms) {
  auto& rows =
      stmt(s_->rollup_rows,
           "SELECT hour_ms, total_events, unique_sessions, sessions_ending FROM usage_hourly_rollups "
           "WHERE hour_ms >= ?1 ORDER BY hour_ms");
  auto& counts = stmt(s_->rollup_counts,
                      "SELECT hour_ms, dimension, key, count FROM usage_rollup_counts WHERE hour_ms >= ?1 "
                      "ORDER BY hour_ms, dimension, key");
  RollupRange out;
  std::map<std::int64_t, std::size_t> index;
  rows.bind(1, from_hour_ms);
  while (rows.step()) {
    RollupRow row;
    row.hour_ms = rows.column_int(0);
    row.total_events = rows.column_int(1);
    row.unique_sessions = rows.column_int(2);
    row.sessions_ending = rows.column_int(3);
    out.total_events += row.total_events;
    out.total_sessions += row.sessions_ending;
    if (row.total_events == 0) {
      continue;  // only the sessions of a row retention is emptying
    }
    index[row.hour_ms] = out.rows.size();
    out.rows.push_back(std::move(row));
  }
  rows.reset();
  counts.bind(1, from_hour_ms);
  while (counts.step()) {
    const auto it = index.find(counts.column_int(0));
    if (it == index.end()) {
      continue;
    }
    counts_of(out.rows[it->second], static_cast<Dimension>(counts.column_int(1)))[counts.column_text(2)] =
        counts.column_int(3);
  }
  counts.reset();
  return out;
}

std::vector<RollupRow> UsageStore::hour_totals(const std::vector<std::int64_t>& hours) {
  auto& row = stmt(
      s_->hour_row,
      "SELECT total_events, unique_sessions, sessions_ending FROM usage_hourly_rollups WHERE hour_ms = ?1");
  std::vector<RollupRow> out;
  for (const std::int64_t hour : hours) {
    row.bind(1, hour);
    if (row.step()) {
      out.push_back({hour, row.column_int(0), row.column_int(1), row.column_int(2), {}, {}, {}});
    }
    row.reset();
  }
  return out;
}

StoreStats UsageStore::stats() {
  StoreStats out;
  auto events = db_.prepare("SELECT COUNT(*), MIN(timestamp_ms), MAX(timestamp_ms) FROM usage_events");
  events.step();
  out.events = events.column_int(0);
  out.oldest_event_ms = events.column_optional_int(1);
  out.newest_event_ms = events.column_optional_int(2);
  auto rollups = db_.prepare("SELECT COUNT(*), MIN(hour_ms), MAX(hour_ms) FROM usage_hourly_rollups");
  rollups.step();
  out.rollup_hours = rollups.column_int(0);
  out.oldest_hour_ms = rollups.column_optional_int(1);
  out.newest_hour_ms = rollups.column_optional_int(2);
  auto sessions = db_.prepare("SELECT COUNT(*) FROM usage_sessions");
  sessions.step();
  out.sessions = sessions.column_int(0);
  out.database_bytes = database_bytes(db_.path());
  return out;
}

std::int64_t database_bytes(const std::string& path) { return file_size(path) + file_size(path + "-wal"); }

}  // namespace cocktail::usage

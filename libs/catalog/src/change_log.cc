#include "cocktail/catalog/change_log.h"

#include <algorithm>
#include <array>
#include <stdexcept>

#include "backend.h"
#include "cocktail/catalog/schema.h"
#include "pg_database.h"
#include "pg_outbox.h"

namespace cocktail::catalog {
namespace {

struct LoggedTable {
  const char* table;
  const char* entity;
};

constexpr std::array<LoggedTable, 4> kLoggedTables{{
    {"ingredients", "ingredient"},
    {"units", "unit"},
    {"recipes", "recipe"},
    {"recipe_ingredients", "recipe_ingredient"},
}};

// Wall clock in ms since the epoch, evaluated once per statement by SQLite.
// julianday('now') has millisecond resolution; ROUND undoes the float error.
#define SQLITE_NOW_MS "CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)"

std::string trigger_name(const LoggedTable& t, const char* op) {
  return std::string("change_log_") + t.table + "_" + op;
}

constexpr const char* kInsertLog = "INSERT INTO change_log(ts, entity, op, row_id) ";

// CREATE TRIGGER IF NOT EXISTS change_log_<table>_<op> AFTER <event> ON <table> BEGIN <body> END
void create_trigger(Database& db, const LoggedTable& t, const char* op, const char* event,
                    const std::string& body) {
  std::string sql = "CREATE TRIGGER IF NOT EXISTS ";
  sql.append(trigger_name(t, op)).append(" AFTER ").append(event).append(" ON ").append(t.table);
  sql.append(" BEGIN ").append(body).append(" END");
  db.exec(sql);
}

bool outbox_exists(Database& db) {
  auto st = db.prepare(Dialect{"SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'change_log'",
                               "SELECT 1 WHERE to_regclass('cocktail.change_log') IS NOT NULL"}
                           .of(db));
  return st.step();
}

}  // namespace

void install_change_log_triggers(Database& db) {
  if (db.backend() == Backend::kPostgres) {
    pg::install_capture_triggers(db);
    return;
  }
  // The SQL text is built from the constants above, never from input.
  for (const auto& t : kLoggedTables) {
    const std::string now_entity = std::string(SQLITE_NOW_MS ", '").append(t.entity).append("', ");
    std::string body = kInsertLog;
    create_trigger(db, t, "insert", "INSERT",
                   body.append("VALUES (").append(now_entity).append("'insert', NEW.id);"));
    // An update that changes the id itself is logged as a delete of the old
    // id and an insert of the new one, so that no subscriber keeps a stale id.
    body = kInsertLog;
    body.append("SELECT ").append(now_entity).append("'delete', OLD.id WHERE OLD.id IS NOT NEW.id; ");
    body.append(kInsertLog).append("SELECT ").append(now_entity);
    body.append("CASE WHEN OLD.id IS NEW.id THEN 'update' ELSE 'insert' END, NEW.id;");
    create_trigger(db, t, "update", "UPDATE", body);
    body = kInsertLog;
    create_trigger(db, t, "delete", "DELETE",
                   body.append("VALUES (").append(now_entity).append("'delete', OLD.id);"));
  }
}

void drop_change_log_triggers(Database& db) {
  if (db.backend() == Backend::kPostgres) {
    pg::disable_capture_triggers(db);
    return;
  }
  for (const auto& t : kLoggedTables) {
    for (const char* op : {"insert", "update", "delete"}) {
      db.exec("DROP TRIGGER IF EXISTS " + trigger_name(t, op));
    }
  }
}

bool change_log_triggers_installed(Database& db) {
  if (db.backend() == Backend::kPostgres) {
    return pg::capture_triggers_installed(db);
  }
  auto st = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = ?1 AND tbl_name = ?2");
  for (const auto& t : kLoggedTables) {
    for (const char* op : {"insert", "update", "delete"}) {
      st.bind(1, trigger_name(t, op)).bind(2, t.table);
      bool found = st.step();
      st.reset();
      if (!found) {
        return false;
      }
    }
  }
  return true;
}

ChangeLog::ChangeLog(Database& db) : db_(db) {
  if (!outbox_exists(db_)) {
    throw SchemaError("catalog '" + db_.path() +
                          "' has no change_log outbox (it was never migrated by this program): run "
                          "`catalog-admin migrate --db " +
                          db_.path() + "` first",
                      0);
  }
}

std::unique_ptr<ChangeWatch> ChangeLog::watch(std::function<void()> on_change) {
  if (db_.backend() != Backend::kPostgres) {
    return nullptr;
  }
  return pg::watch_changes(static_cast<PgDatabase&>(db_), std::move(on_change));
}

Statement& ChangeLog::statement(std::string_view sql) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) {
    it = statements_.emplace(sql, db_.prepare(sql)).first;
  }
  return it->second;
}

std::int64_t ChangeLog::latest_seq() {
  auto& st = statement(kLatestSeq.of(db_));
  std::int64_t seq = st.step() ? st.column_int(0) : 0;
  st.reset();
  return seq;
}

std::vector<Change> ChangeLog::read_after(std::int64_t after_seq, int limit) {
  std::vector<Change> out;
  if (limit <= 0) {
    return out;
  }
  auto& st = statement(Dialect{
      "SELECT seq, ts, entity, op, row_id FROM change_log WHERE seq > ?1 ORDER BY seq LIMIT ?2",
      "SELECT seq, ts, entity, op, row_id FROM cocktail.change_log WHERE seq > ?1 ORDER BY seq LIMIT ?2"}
                           .of(db_));
  st.bind(1, after_seq).bind(2, limit);
  try {
    while (st.step()) {
      out.push_back(
          {st.column_int(0), st.column_int(1), st.column_text(2), st.column_text(3), st.column_int(4)});
    }
  } catch (...) {
    st.reset();
    throw;
  }
  st.reset();
  return out;
}

void ChangeLog::mark_published(std::string_view name, std::int64_t seq) {
  if (name.empty()) {
    throw std::invalid_argument("publication cursor name is empty");
  }
  if (seq < 0 || seq > latest_seq()) {
    throw std::invalid_argument("cannot mark seq " + std::to_string(seq) + " published: latest seq is " +
                                std::to_string(latest_seq()));
  }
  auto& st = statement(Dialect{
      "INSERT INTO outbox_cursor(name, published_seq, updated_ms) VALUES (?1, ?2, " SQLITE_NOW_MS
      ") ON CONFLICT(name) DO UPDATE SET published_seq = MAX(published_seq, excluded.published_seq), "
      "updated_ms = excluded.updated_ms",
      "INSERT INTO cocktail.outbox_cursor AS c(name, published_seq, updated_ms) VALUES (?1, ?2, " PG_NOW_MS
      ") ON CONFLICT(name) DO UPDATE SET published_seq = GREATEST(c.published_seq, excluded.published_seq), "
      "updated_ms = excluded.updated_ms"}
                           .of(db_));
  st.bind(1, name).bind(2, seq);
  st.run();
}

std::int64_t ChangeLog::published_seq(std::string_view name) {
  auto& st = statement(Dialect{"SELECT published_seq FROM outbox_cursor WHERE name = ?1",
                               "SELECT published_seq FROM cocktail.outbox_cursor WHERE name = ?1"}
                           .of(db_));
  st.bind(1, name);
  std::int64_t seq = st.step() ? st.column_int(0) : 0;
  st.reset();
  return seq;
}

std::optional<std::int64_t> ChangeLog::min_published_seq() {
  auto& st = statement(Dialect{"SELECT MIN(published_seq) FROM outbox_cursor",
                               "SELECT MIN(published_seq) FROM cocktail.outbox_cursor"}
                           .of(db_));
  std::optional<std::int64_t> seq;
  if (st.step()) {
    seq = st.column_optional_int(0);
  }
  st.reset();
  return seq;
}

std::int64_t ChangeLog::prune(const PruneOptions& options, std::int64_t now_ms) {
  Transaction tx(db_, Transaction::Kind::kWrite);
  // SQLite: everything is read inside the write transaction, so a
  // publisher's cursor cannot move and no row can be appended between the
  // reads and the delete. PostgreSQL: cursors only move forward and new rows
  // only take higher seqs, so the bound stays safe if they do.
  auto published = min_published_seq();
  if (!published || *published <= 0) {
    return 0;
  }
  std::int64_t bound = std::min(*published, latest_seq() - std::max<std::int64_t>(options.keep_count, 0));
  if (bound <= 0 || options.max_rows <= 0) {
    return 0;
  }
  std::int64_t cutoff_ms = now_ms - options.max_age.count();
  // Rows are removed oldest first, at most max_rows of them: the seq range is
  // capped at the first seq still present plus max_rows.
  auto& st = statement(Dialect{
      "DELETE FROM change_log WHERE seq <= MIN(?1, (SELECT MIN(seq) FROM change_log) + ?3 - 1) AND ts < ?2",
      "WITH gone AS (DELETE FROM cocktail.change_log WHERE seq <= LEAST(?1, (SELECT MIN(seq) FROM "
      "cocktail.change_log) + ?3 - 1) AND ts < ?2 RETURNING seq), "
      "mark AS (INSERT INTO cocktail.outbox_state AS s(key, value) SELECT 'pruned_through', MAX(seq) FROM "
      "gone "
      "HAVING COUNT(*) > 0 ON CONFLICT (key) DO UPDATE SET value = GREATEST(s.value, excluded.value)) "
      "SELECT COUNT(*) FROM gone"}
                           .of(db_));
  st.bind(1, bound).bind(2, cutoff_ms).bind(3, options.max_rows);
  std::int64_t removed = 0;
  if (db_.backend() == Backend::kPostgres) {
    removed = st.step() ? st.column_int(0) : 0;
    st.reset();
  } else {
    st.run();
    removed = db_.changes();
  }
  tx.commit();
  return removed;
}

#undef SQLITE_NOW_MS

}  // namespace cocktail::catalog

// ChangeLog: the catalog's outbox.
//
// SQLite triggers (AFTER INSERT / UPDATE / DELETE on ingredients, units,
// recipes and recipe_ingredients) append one change_log row per changed row,
// inside the writer's own transaction. SQLite admits one writer at a time and
// the seq is allocated inside that transaction, so:
//   - every committed change, by any writer (this library, another process,
//     the sqlite3 shell), has a seq;
//   - seq order is commit order, and the committed seqs are always a gapless
//     prefix: a reader that has seen seq N will never later find a committed
//     seq below N it had not seen (rolled back transactions give their seqs
//     back; AUTOINCREMENT never reuses a pruned seq).
// A publisher tails the table with read_after(), records how far it got with
// mark_published() (durable, so a restarted publisher resumes where it
// stopped), and prune() removes old published rows.
//
// ChangeLog borrows a Database (which must outlive it) and caches prepared
// statements on it: one ChangeLog per connection, used by one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cocktail/catalog/database.h"

namespace cocktail::catalog {

// One change_log row.
struct Change {
  std::int64_t seq = 0;
  std::int64_t ts_ms = 0;   // commit-time wall clock, ms since the Unix epoch (UTC)
  std::string entity;       // "ingredient", "unit", "recipe", "recipe_ingredient"
  std::string op;           // "insert", "update", "delete"
  std::int64_t row_id = 0;  // id of the changed row in its table
};

// Retention of published rows. A row is removed only when all hold:
//   - every publication cursor is at or past it (never an unpublished row;
//     with no cursor recorded, nothing is removed);
//   - at least keep_count newer rows exist;
//   - it is older than max_age.
// So both settings are floors: the table keeps at least keep_count rows and
// at least max_age of history (and any unpublished tail).
struct PruneOptions {
  std::int64_t keep_count = 100'000;
  std::chrono::milliseconds max_age = std::chrono::hours(24 * 7);
  // Upper bound on rows removed per call, so that pruning never holds the
  // write lock for long; call again while it returns max_rows.
  std::int64_t max_rows = 100'000;
};

// Wakes a tailer as soon as a change commits, where the backend can tell:
// on PostgreSQL a connection and thread of its own LISTEN to the channel the
// capture triggers NOTIFY (see docs/catalog.md), reconnecting after errors.
// On SQLite there is no such signal: tailers keep polling. Destroying it
// stops the thread.
class ChangeWatch {
 public:
  virtual ~ChangeWatch() = default;
};

class ChangeLog {
 public:
  // Throws SchemaError (schema.h) when the catalog has no change_log: one
  // never migrated, whose message says which command to run.
  explicit ChangeLog(Database& db);

  // Calls on_change (on the watch's own thread; it must not block) after
  // changes commit; nullptr when the backend has no such signal.
  std::unique_ptr<ChangeWatch> watch(std::function<void()> on_change);

  // The highest committed seq, 0 when nothing was ever logged.
  std::int64_t latest_seq();
  // Rows with seq > after_seq, ascending, at most limit of them.
  std::vector<Change> read_after(std::int64_t after_seq, int limit);

  // Durably records that `name` (a publisher) has published every row up to
  // and including seq. Never moves a cursor backwards. Throws
  // std::invalid_argument for a seq above latest_seq().
  void mark_published(std::string_view name, std::int64_t seq);
  // The seq recorded for `name`, 0 when it never published.
  std::int64_t published_seq(std::string_view name);
  // The lowest cursor over all publishers; nullopt when there is none.
  std::optional<std::int64_t> min_published_seq();

  // Removes old published rows (see PruneOptions); returns how many.
  // now_ms is the wall clock in ms since the epoch (injected for tests).
  std::int64_t prune(const PruneOptions& options, std::int64_t now_ms);

 private:
  Statement& statement(std::string_view sql);
  Database& db_;
  std::unordered_map<std::string_view, Statement> statements_;
};

// Creates the change_log triggers on the four catalog tables if they are
// missing (idempotent). Used by migrate(); callers rarely need it.
void install_change_log_triggers(Database& db);
// Drops them. Only for a bulk writer that logs its own rows in the same
// transaction and re-installs them before committing (see seeder.h), so that
// no other writer can ever commit without them.
void drop_change_log_triggers(Database& db);
// True when all twelve triggers exist.
bool change_log_triggers_installed(Database& db);

}  // namespace cocktail::catalog

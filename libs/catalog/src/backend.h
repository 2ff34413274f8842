// The backend side of Statement: what a SQLite or PostgreSQL statement
// implements. Internal to libs/catalog.
#pragma once

#include <cstdint>
#include <string_view>

#include "cocktail/catalog/database.h"

namespace cocktail::catalog {

class StatementImpl {
 public:
  virtual ~StatementImpl() = default;
  virtual void bind_int(int index, std::int64_t value) = 0;
  virtual void bind_double(int index, double value) = 0;
  virtual void bind_text(int index, std::string_view value) = 0;
  // The caller keeps `value` alive and unchanged until the next reset: a
  // backend may read it in place. Default: a copy, as bind_text.
  virtual void bind_text_unowned(int index, std::string_view value) { bind_text(index, value); }
  virtual void bind_null(int index) = 0;
  virtual void send() = 0;
  virtual bool step() = 0;
  virtual void reset() = 0;
  virtual bool is_null(int col) const = 0;
  virtual std::int64_t column_int(int col) const = 0;
  virtual double column_double(int col) const = 0;
  virtual std::string_view column_text(int col) const = 0;
};

// SQL for the backend a connection speaks: most statements are the same text
// on both (with `?N` parameters), a few differ.
struct Dialect {
  std::string_view sqlite;
  std::string_view postgres;
  std::string_view of(const Database& db) const {
    return db.backend() == Backend::kPostgres ? postgres : sqlite;
  }
};

// The highest committed change_log seq. MAX(seq) alone would fall to 0 once
// a prune emptied the table. SQLite: sqlite_sequence keeps the highest seq
// ever committed (it is updated in the writer's transaction, so a rollback
// gives the seq back). PostgreSQL: prune records the highest seq it removed
// (the sequence's own last_value is not transactional: it may name a seq
// not yet committed).
inline constexpr Dialect kLatestSeq{
    "SELECT MAX(COALESCE((SELECT MAX(seq) FROM change_log), 0), "
    "COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'change_log'), 0))",
    "SELECT GREATEST(COALESCE((SELECT MAX(seq) FROM cocktail.change_log), 0), "
    "COALESCE((SELECT value FROM cocktail.outbox_state WHERE key = 'pruned_through'), 0))"};

}  // namespace cocktail::catalog

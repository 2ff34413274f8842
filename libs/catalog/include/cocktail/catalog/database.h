// Database: one SQLite connection to a catalog file, with the pragmas the
// catalog relies on (WAL, foreign keys, busy timeout, synchronous level), and
// a thin RAII layer over prepared statements and transactions.
//
// A Database is not thread-safe: use one per thread (SQLite in WAL mode lets
// any number of readers run beside one writer). All SQL goes through
// Statement, which only binds parameters: no SQL is built from user strings.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace cocktail::catalog {

// Thrown on I/O failures, locked databases past the busy timeout, corrupt
// files, and misuse; never for invalid user input (see Repository).
class DatabaseError : public std::runtime_error {
 public:
  DatabaseError(int sqlite_code, const std::string& what) : std::runtime_error(what), code_(sqlite_code) {}
  int sqlite_code() const { return code_; }
  // The underlying error is a UNIQUE/FOREIGN KEY/CHECK constraint.
  bool is_constraint() const { return (code_ & 0xff) == SQLITE_CONSTRAINT; }

 private:
  int code_;
};

enum class Synchronous { kOff, kNormal, kFull };

struct DatabaseOptions {
  bool read_only = false;
  bool create_if_missing = true;
  int busy_timeout_ms = 5000;
  // NORMAL in WAL mode: a commit survives a process crash (SIGKILL) but the
  // last commits may be lost on power loss; FULL also fsyncs the WAL on
  // every commit. See docs/catalog.md for the measured trade-off.
  Synchronous synchronous = Synchronous::kFull;
};

class Statement;

class Database {
 public:
  // Opens (and creates, unless read_only or !create_if_missing) the file.
  // Does not migrate: see schema.h. Throws DatabaseError.
  static std::unique_ptr<Database> open(const std::string& path, const DatabaseOptions& options = {});
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Runs SQL text that takes no parameters (schema, pragmas). Throws.
  void exec(std::string_view sql);
  // Compiles a statement; statements are cheap to keep and reuse.
  Statement prepare(std::string_view sql);
  std::int64_t last_insert_rowid() const;
  int changes() const;
  const std::string& path() const { return path_; }
  bool read_only() const { return read_only_; }
  sqlite3* handle() { return db_; }

  // Waiting for a lock another connection holds (SQLITE_BUSY) lasts at most
  // busy_timeout_ms; while a deadline is set, until that deadline instead, so
  // that work owed an answer by a given time (a queued write) gives up then,
  // however long it already waited for its turn. nullopt restores the busy
  // timeout. A deadline already passed means: do not wait at all.
  void set_lock_deadline(std::optional<std::chrono::steady_clock::time_point> deadline);

 private:
  Database(sqlite3* db, std::string path, bool read_only, int busy_timeout_ms);
  static int wait_for_lock(void* self, int attempts);
  sqlite3* db_;
  std::string path_;
  bool read_only_;
  int busy_timeout_ms_;
  std::chrono::steady_clock::time_point lock_deadline_;
};

// A prepared statement. Bind indexes start at 1 as in SQLite.
class Statement {
 public:
  Statement(Database& db, sqlite3_stmt* stmt) : db_(&db), stmt_(stmt) {}
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  ~Statement();

  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
  Statement& bind(int index, double value);
  Statement& bind(int index, std::string_view value);
  Statement& bind(int index, const char* value) { return bind(index, std::string_view(value)); }
  Statement& bind(int index, const std::string& value) { return bind(index, std::string_view(value)); }
  Statement& bind_null(int index);
  template <typename T>
  Statement& bind(int index, const std::optional<T>& value) {
    return value ? bind(index, *value) : bind_null(index);
  }

  // Advances; true while a row is available. Throws DatabaseError.
  bool step();
  // Runs a statement that returns no rows, then resets it.
  void run();
  // Resets for reuse and clears bindings.
  void reset();

  bool is_null(int col) const;
  std::int64_t column_int(int col) const;
  double column_double(int col) const;
  std::string column_text(int col) const;
  std::string_view column_text_view(int col) const;  // valid until the next step()
  std::optional<std::int64_t> column_optional_int(int col) const;
  std::optional<double> column_optional_double(int col) const;

 private:
  Database* db_;
  sqlite3_stmt* stmt_;
};

// A transaction that rolls back unless committed. BEGIN IMMEDIATE for
// writers (takes the write lock up front, so busy handling applies at BEGIN
// rather than failing at the first write), BEGIN DEFERRED for readers.
class Transaction {
 public:
  enum class Kind { kRead, kWrite };
  Transaction(Database& db, Kind kind);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  Database& db_;
  bool open_ = true;
};

}  // namespace cocktail::catalog

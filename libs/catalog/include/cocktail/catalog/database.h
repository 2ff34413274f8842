// Database: one connection to a catalog, on either backend, with a thin RAII
// layer over prepared statements and transactions.
//
// The backend is chosen by the location given to open():
//   - a `postgresql://` or `postgres://` URI: a PostgreSQL database (libpq);
//   - anything else: a SQLite file (WAL, foreign keys on, busy timeout,
//     the synchronous level of the options).
// Nothing outside libs/catalog needs to know which one it holds: Repository,
// ChangeLog, load_state(), migrate() and the seeder speak both dialects.
//
// SQL handed to prepare() uses SQLite's numbered parameters (`?1`, `?2`);
// on PostgreSQL they are rewritten to `$1`, `$2` (outside quoted text) and
// sent as untyped text, so the server infers each parameter's type from its
// use. Statement only binds parameters: no SQL is built from user strings.
//
// Round trips. On PostgreSQL every statement that is waited for costs a
// round trip to the server; Statement::send() lets several statements (and
// a transaction's BEGIN and COMMIT) share one, in libpq's pipeline mode.
// Code written with send() runs unchanged on SQLite, where a statement sent
// simply runs at once.
//
// A Database is not thread-safe: use one per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace cocktail::catalog {

enum class Backend { kSqlite, kPostgres };

// Thrown on I/O failures, locked databases past the busy timeout, lost
// connections, corrupt files, and misuse; never for invalid user input (see
// Repository).
class DatabaseError : public std::runtime_error {
 public:
  enum class Kind {
    kOther,
    kConstraint,  // a UNIQUE / FOREIGN KEY / CHECK constraint refused a write
    kBusy,        // locked past the busy timeout, a deadlock or serialisation failure: retry later
    kConnection,  // the server cannot be reached or the connection was lost
  };
  DatabaseError(Kind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  Kind kind() const { return kind_; }
  bool is_constraint() const { return kind_ == Kind::kConstraint; }
  // Worth retrying: another writer holds a lock, or the server is away.
  bool is_transient() const { return kind_ == Kind::kBusy || kind_ == Kind::kConnection; }

 private:
  Kind kind_;
};

enum class Synchronous { kOff, kNormal, kFull };

struct DatabaseOptions {
  bool read_only = false;
  // SQLite: create the file when it does not exist. PostgreSQL: ignored
  // (the database must exist).
  bool create_if_missing = true;
  // SQLite, with read_only: the connection makes one read and is closed (a
  // batch run, a stats report). A WAL-mode file that no other connection has
  // open is then read as an immutable copy, so that the read creates no -wal
  // or -shm file beside someone else's catalog; a commit made meanwhile
  // fails the read (kBusy), never goes unseen. A long-lived connection must
  // leave this off: an immutable copy never sees a later commit.
  bool one_read = false;
  // SQLite: how long a statement waits for a lock. PostgreSQL: the
  // lock_timeout of the session.
  int busy_timeout_ms = 5000;
  // SQLite: NORMAL in WAL mode survives a process crash (SIGKILL) but the
  // last commits may be lost on power loss; FULL also fsyncs the WAL on
  // every commit. PostgreSQL: FULL is synchronous_commit=on, NORMAL and OFF
  // are synchronous_commit=off (a commit returns before its WAL is flushed;
  // sync_commits() then makes them durable). See docs/catalog.md.
  Synchronous synchronous = Synchronous::kFull;
};

class Statement;

class Database {
 public:
  // Opens a connection (and creates a SQLite file unless read_only or
  // !create_if_missing). Does not migrate: see schema.h. Throws
  // DatabaseError.
  static std::unique_ptr<Database> open(const std::string& location, const DatabaseOptions& options = {});
  // True for a location open() treats as a PostgreSQL connection URI.
  static bool is_postgres_location(std::string_view location);

  virtual ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  virtual Backend backend() const = 0;
  // Runs SQL text that takes no parameters (schema, settings). Throws.
  virtual void exec(std::string_view sql) = 0;
  // Compiles a statement; statements are cheap to keep and reuse.
  virtual Statement prepare(std::string_view sql) = 0;
  // Rows changed by the last INSERT / UPDATE / DELETE run on this connection.
  virtual std::int64_t changes() const = 0;
  // Makes every transaction this connection committed so far durable, when
  // it runs with Synchronous::kNormal or kOff: one sync for many commits
  // (group commit). Call between transactions. Returns false (and leaves the
  // reason in `error`) when the sync failed: those commits may be lost on
  // power failure.
  virtual bool sync_commits(std::string& error) = 0;
  // Requests this connection sent to its server and waited for: PostgreSQL
  // round trips (several statements sent together count once). Always 0 on
  // SQLite, which runs in the process. For tests and profiling.
  virtual std::int64_t round_trips() const { return 0; }
  // Waiting for a lock another connection holds lasts at most the busy
  // timeout (DatabaseOptions::busy_timeout_ms); while a deadline is set,
  // until that deadline instead, so that work owed an answer by a given time
  // (a queued write) gives up then, however long it already waited for its
  // turn: the statement fails with a kBusy DatabaseError and its transaction
  // is rolled back. nullopt restores the busy timeout. A deadline already
  // passed means: do not wait at all. Call between transactions.
  virtual void set_lock_deadline(std::optional<std::chrono::steady_clock::time_point> deadline) = 0;

  // The location for messages and logs (a PostgreSQL URI without its
  // password).
  const std::string& path() const { return display_; }
  bool read_only() const { return read_only_; }

 protected:
  Database(std::string display, bool read_only) : display_(std::move(display)), read_only_(read_only) {}
  enum class TxOp { kBeginRead, kBeginWrite, kCommit, kRollback };

 private:
  friend class Transaction;
  virtual void transaction(TxOp op) = 0;

  std::string display_;
  bool read_only_;
};

// One prepared statement of a backend (internal to libs/catalog).
class StatementImpl;

// A prepared statement. Bind indexes start at 1 as in SQLite. step() runs
// the statement (on first call after a reset) and advances; column readers
// apply to the current row. Booleans read as integers 0 and 1.
//
// send() runs the statement without waiting for its outcome, after every
// statement sent before it; its rows (or its error) are read later with
// step() as usual, also after the transaction committed. On PostgreSQL the
// statements sent wait in the connection's pipeline and reach the server
// together, with the next statement that is waited for: a step() of one
// not sent, the first step() of one sent, or the commit. So
//
//   check.send(); next_id.send();   // one round trip...
//   check.step();                   // ...here
//   insert.send(); read_back.send();
//   tx.commit();                    // one more, COMMIT included
//   read_back.step();               // no round trip
//
// On SQLite send() runs the statement at once: a read stops on its first row
// (read the rest before sending changes to what it reads), a change runs to
// its end and its RETURNING rows are kept. A statement sent inside a
// transaction that fails makes the commit fail (throw) on both backends,
// even if nobody stepped it.
class Statement {
 public:
  explicit Statement(std::unique_ptr<StatementImpl> impl);
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
  // Text the caller keeps alive and unchanged until the statement is reset
  // or the parameter bound again (run() resets it): SQLite reads it in place
  // instead of copying it (a malloc, a copy and a free per value, a visible
  // cost for a statement run tens of thousands of times a second). Anything
  // shorter-lived is bind(); temporaries are refused at compile time.
  Statement& bind_unowned(int index, std::string_view value);
  Statement& bind_unowned(int index, const std::string& value) {
    return bind_unowned(index, std::string_view(value));
  }
  Statement& bind_unowned(int index, const std::optional<std::string>& value) {
    return value ? bind_unowned(index, *value) : bind_null(index);
  }
  Statement& bind_unowned(int index, std::string&& value) = delete;
  Statement& bind_unowned(int index, std::optional<std::string>&& value) = delete;

  // Runs it after the statements sent before it, without waiting for it
  // (see above). Bind first; reset() forgets a statement sent and not read.
  void send();
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
  std::unique_ptr<StatementImpl> impl_;
};

// A transaction that rolls back unless committed. Writers take the write
// lock up front on SQLite (BEGIN IMMEDIATE, so busy handling applies at
// BEGIN rather than failing at the first write); readers get one consistent
// snapshot (a WAL read transaction; REPEATABLE READ on PostgreSQL, READ ONLY
// there too).
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

#include "sqlite_database.h"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <new>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "backend.h"

namespace cocktail::catalog {
namespace {

DatabaseError::Kind kind_of(int code) {
  switch (code & 0xff) {
    case SQLITE_CONSTRAINT: return DatabaseError::Kind::kConstraint;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return DatabaseError::Kind::kBusy;
    default: return DatabaseError::Kind::kOther;
  }
}

[[noreturn]] void fail(sqlite3* db, int rc, std::string_view context) {
  std::string msg(context);
  msg += ": ";
  msg += db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  throw DatabaseError(kind_of(db ? sqlite3_extended_errcode(db) : rc), msg);
}

const char* synchronous_pragma(Synchronous s) {
  switch (s) {
    case Synchronous::kOff: return "PRAGMA synchronous=OFF";
    case Synchronous::kNormal: return "PRAGMA synchronous=NORMAL";
    case Synchronous::kFull: return "PRAGMA synchronous=FULL";
  }
  return "PRAGMA synchronous=FULL";
}

// A file name as a SQLite URI path: %, ? and # escaped.
std::string uri_path(const std::string& path) {
  std::string out;
  for (char c : path) {
    if (c == '%' || c == '?' || c == '#') {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned char>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

// True when the file's header says WAL mode (file format bytes 18 and 19).
// Read through SQLite, on an immutable connection (no lock taken, no -wal or
// -shm created): POSIX locks belong to the process, so a descriptor of the
// database file opened and closed by other code (fopen, fclose) would drop
// every lock this process's connections hold on it; another process closing
// its connection would then take itself for the last one and delete the WAL
// those connections are still writing to, with every commit since. SQLite's
// own close keeps the descriptor open while the process holds locks.
bool header_says_wal(const std::string& path) {
  sqlite3* db = nullptr;
  const std::string uri = "file:" + uri_path(path) + "?immutable=1";
  if (sqlite3_open_v2(uri.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return false;
  }
  std::array<unsigned char, 20> header{};
  sqlite3_file* file = nullptr;
  const bool read =
      sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &file) == SQLITE_OK && file != nullptr &&
      file->pMethods != nullptr &&
      file->pMethods->xRead(file, header.data(), static_cast<int>(header.size()), 0) == SQLITE_OK;
  sqlite3_close(db);
  return read && header[18] == 2 && header[19] == 2;
}

class SqliteStatement final : public StatementImpl {
 public:
  SqliteStatement(SqliteDatabase& db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~SqliteStatement() override {
    clear_sent();
    sqlite3_finalize(stmt_);
  }

  void bind_int(int index, std::int64_t value) override {
    rewind();
    check(sqlite3_bind_int64(stmt_, index, value));
  }
  void bind_double(int index, double value) override {
    rewind();
    check(sqlite3_bind_double(stmt_, index, value));
  }
  void bind_text(int index, std::string_view value) override {
    rewind();
    check(sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  }
  void bind_text_unowned(int index, std::string_view value) override {
    rewind();
    check(sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_STATIC, SQLITE_UTF8));
  }
  void bind_null(int index) override {
    rewind();
    check(sqlite3_bind_null(stmt_, index));
  }

  // Runs now. A read stays on its first row and is read on by step() (a
  // pending read does not hold up COMMIT); a change runs to its end, and the
  // rows it returns (RETURNING) are copied, since COMMIT refuses to run while
  // a change is still pending. An error is kept for step().
  void send() override {
    rewind();
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW && sqlite3_stmt_readonly(stmt_)) {
      sent_ = Sent::kFirstRow;
      return;
    }
    sent_ = Sent::kCopied;
    while (rc == SQLITE_ROW) {
      std::vector<sqlite3_value*> row(static_cast<std::size_t>(sqlite3_column_count(stmt_)));
      for (std::size_t c = 0; c < row.size(); ++c) {
        row[c] = sqlite3_value_dup(sqlite3_column_value(stmt_, static_cast<int>(c)));
        if (row[c] == nullptr) {
          throw std::bad_alloc();
        }
      }
      rows_.push_back(std::move(row));
      rc = sqlite3_step(stmt_);
    }
    if (rc != SQLITE_DONE) {
      error_.emplace(kind_of(sqlite3_extended_errcode(db_.handle())),
                     std::string("step: ") + sqlite3_errmsg(db_.handle()));
      db_.note_failed_send(*error_);
    }
    sqlite3_reset(stmt_);
  }

  bool step() override {
    if (sent_ == Sent::kFirstRow) {
      sent_ = Sent::kNo;
      return true;
    }
    if (sent_ == Sent::kCopied) {
      if (error_) {
        DatabaseError e = std::move(*error_);
        clear_sent();
        throw e;
      }
      return ++row_ < static_cast<std::ptrdiff_t>(rows_.size());
    }
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) {
      return true;
    }
    if (rc == SQLITE_DONE) {
      return false;
    }
    // Keep the error text before reset() clears it.
    std::string msg = std::string("step: ") + sqlite3_errmsg(db_.handle());
    int code = sqlite3_extended_errcode(db_.handle());
    sqlite3_reset(stmt_);
    throw DatabaseError(kind_of(code), msg);
  }
  void reset() override {
    clear_sent();
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  bool is_null(int col) const override {
    return copied() ? sqlite3_value_type(value(col)) == SQLITE_NULL
                    : sqlite3_column_type(stmt_, col) == SQLITE_NULL;
  }
  std::int64_t column_int(int col) const override {
    return copied() ? sqlite3_value_int64(value(col)) : sqlite3_column_int64(stmt_, col);
  }
  double column_double(int col) const override {
    return copied() ? sqlite3_value_double(value(col)) : sqlite3_column_double(stmt_, col);
  }
  std::string_view column_text(int col) const override {
    const unsigned char* p = copied() ? sqlite3_value_text(value(col)) : sqlite3_column_text(stmt_, col);
    if (p == nullptr) {
      return {};
    }
    const int bytes = copied() ? sqlite3_value_bytes(value(col)) : sqlite3_column_bytes(stmt_, col);
    return {reinterpret_cast<const char*>(p), static_cast<std::size_t>(bytes)};
  }

 private:
  void check(int rc) {
    if (rc != SQLITE_OK) {
      fail(db_.handle(), rc, "bind");
    }
  }
  sqlite3_value* value(int col) const {
    return rows_[static_cast<std::size_t>(row_)][static_cast<std::size_t>(col)];
  }
  bool copied() const { return sent_ == Sent::kCopied; }
  // A statement sent and not reset since (a read may still be on a row) is
  // put back to its start, keeping its bindings.
  void rewind() {
    if (sent_ == Sent::kNo) {
      return;
    }
    clear_sent();
    sqlite3_reset(stmt_);
  }
  void clear_sent() {
    for (auto& row : rows_) {
      for (sqlite3_value* v : row) {
        sqlite3_value_free(v);
      }
    }
    rows_.clear();
    error_.reset();
    row_ = -1;
    sent_ = Sent::kNo;
  }

  SqliteDatabase& db_;
  sqlite3_stmt* stmt_;
  // A statement sent: a read on its first row, or a change with its rows
  // copied (the one being read, its error).
  enum class Sent { kNo, kFirstRow, kCopied };
  Sent sent_ = Sent::kNo;
  std::vector<std::vector<sqlite3_value*>> rows_;
  std::ptrdiff_t row_ = -1;
  std::optional<DatabaseError> error_;
};

}  // namespace

SqliteDatabase::FileStamp SqliteDatabase::stamp(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return {};
  }
  return {true, static_cast<std::int64_t>(st.st_size),
          static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

std::unique_ptr<Database> SqliteDatabase::open(const std::string& path, const DatabaseOptions& options) {
  int flags = SQLITE_OPEN_NOMUTEX;
  std::string target = path;
  bool immutable = false;
  FileStamp before;
  if (options.read_only) {
    flags |= SQLITE_OPEN_READONLY;
    // See check_unchanged(): a WAL-mode file that no connection has open
    // (no -wal, no -shm) is read without creating either.
    if (options.one_read && header_says_wal(path) && !stamp(path + "-wal").exists &&
        !stamp(path + "-shm").exists) {
      immutable = true;
      before = stamp(path);
      flags |= SQLITE_OPEN_URI;
      target = "file:" + uri_path(path) + "?immutable=1";
    }
  } else {
    flags |= SQLITE_OPEN_READWRITE;
    if (options.create_if_missing) {
      flags |= SQLITE_OPEN_CREATE;
    }
  }
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(target.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = "cannot open catalog '" + path + "': " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    if (db) {
      sqlite3_close(db);
    }
    throw DatabaseError(kind_of(rc), msg);
  }
  sqlite3_extended_result_codes(db, 1);
  std::unique_ptr<SqliteDatabase> out(
      new SqliteDatabase(db, path, options.read_only, options.busy_timeout_ms));
  out->immutable_ = immutable;
  out->file_stamp_ = before;
  sqlite3_busy_timeout(db, options.busy_timeout_ms);
  out->exec("PRAGMA foreign_keys=ON");
  if (!options.read_only) {
    out->exec("PRAGMA journal_mode=WAL");
    out->exec(synchronous_pragma(options.synchronous));
  }
  return out;
}

SqliteDatabase::SqliteDatabase(sqlite3* db, std::string path, bool read_only, int busy_timeout_ms)
    : Database(path, read_only), db_(db), file_(std::move(path)), busy_timeout_ms_(busy_timeout_ms) {}

void SqliteDatabase::set_lock_deadline(std::optional<std::chrono::steady_clock::time_point> deadline) {
  if (!deadline) {
    sqlite3_busy_timeout(db_, busy_timeout_ms_);
    return;
  }
  lock_deadline_ = *deadline;
  sqlite3_busy_handler(db_, &SqliteDatabase::wait_for_lock, this);
}

// SQLite's own busy handler sleeps in growing steps up to a total; this one
// uses the same steps but stops at the deadline. Returns 0 to give up (the
// statement then fails with SQLITE_BUSY), 1 to try again.
int SqliteDatabase::wait_for_lock(void* self, int attempts) {
  static constexpr int kStepsMs[] = {1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100};
  const auto& db = *static_cast<SqliteDatabase*>(self);
  const auto now = std::chrono::steady_clock::now();
  if (now >= db.lock_deadline_) {
    return 0;
  }
  const auto step = std::chrono::milliseconds(
      kStepsMs[std::min<std::size_t>(static_cast<std::size_t>(attempts), std::size(kStepsMs) - 1)]);
  std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(step, db.lock_deadline_ - now));
  return 1;
}

SqliteDatabase::~SqliteDatabase() { sqlite3_close_v2(db_); }

void SqliteDatabase::exec(std::string_view sql) {
  std::string text(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    throw DatabaseError(kind_of(sqlite3_extended_errcode(db_)), "sql failed: " + msg);
  }
}

Statement SqliteDatabase::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt,
                              nullptr);
  if (rc != SQLITE_OK) {
    fail(db_, rc, "prepare");
  }
  return Statement(std::make_unique<SqliteStatement>(*this, stmt));
}

std::int64_t SqliteDatabase::changes() const { return sqlite3_changes64(db_); }

void SqliteDatabase::transaction(TxOp op) {
  switch (op) {
    case TxOp::kBeginRead:
      send_error_.reset();
      exec("BEGIN DEFERRED");
      break;
    case TxOp::kBeginWrite:
      send_error_.reset();
      exec("BEGIN IMMEDIATE");
      break;
    case TxOp::kCommit:
      // As on PostgreSQL, where a failed statement aborts the transaction.
      if (send_error_) {
        throw DatabaseError(send_error_->kind(), std::string("commit refused: ") + send_error_->what());
      }
      exec("COMMIT");
      if (immutable_) {
        check_unchanged();
      }
      break;
    case TxOp::kRollback:
      send_error_.reset();
      exec("ROLLBACK");
      break;
  }
}

void SqliteDatabase::note_failed_send(const DatabaseError& error) {
  if (!send_error_ && sqlite3_get_autocommit(db_) == 0) {
    send_error_ = error;
  }
}

void SqliteDatabase::check_unchanged() const {
  if (!immutable_) {
    return;
  }
  if (stamp(file_) != file_stamp_ || stamp(file_ + "-wal").exists) {
    throw DatabaseError(DatabaseError::Kind::kBusy,
                        "catalog '" + file_ + "' was written while it was read; read it again");
  }
}

// The WAL file object of this connection, obtained from SQLite
// (SQLITE_FCNTL_JOURNAL_POINTER), is synced through SQLite's VFS: the same
// call, on the same file handle, that a synchronous=FULL commit makes (the
// VFS also syncs the directory after the file was created). Every frame of
// the commits since the last sync is in that file, so they become durable
// together.
bool SqliteDatabase::sync_commits(std::string& error) {
  // Nothing written since the last sync: nothing to make durable.
  const sqlite3_int64 changes = sqlite3_total_changes64(db_);
  if (changes == synced_changes_) {
    return true;
  }
  sqlite3_file* wal = nullptr;
  int rc = sqlite3_file_control(db_, "main", SQLITE_FCNTL_JOURNAL_POINTER, &wal);
  if (rc == SQLITE_OK && (wal == nullptr || wal->pMethods == nullptr)) {
    return true;  // no WAL open: nothing was written through this connection yet
  }
  if (rc == SQLITE_OK) {
    rc = wal->pMethods->xSync(wal, SQLITE_SYNC_NORMAL);
  }
  if (rc != SQLITE_OK) {
    error = std::string("sqlite: ") + sqlite3_errstr(rc);
    return false;
  }
  synced_changes_ = changes;
  return true;
}

}  // namespace cocktail::catalog

#include "cocktail/catalog/database.h"

#include <algorithm>
#include <thread>
#include <utility>

namespace cocktail::catalog {
namespace {

[[noreturn]] void fail(sqlite3* db, int rc, std::string_view context) {
  std::string msg(context);
  msg += ": ";
  msg += db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  throw DatabaseError(db ? sqlite3_extended_errcode(db) : rc, msg);
}

const char* synchronous_pragma(Synchronous s) {
  switch (s) {
    case Synchronous::kOff: return "PRAGMA synchronous=OFF";
    case Synchronous::kNormal: return "PRAGMA synchronous=NORMAL";
    case Synchronous::kFull: return "PRAGMA synchronous=FULL";
  }
  return "PRAGMA synchronous=FULL";
}

}  // namespace

std::unique_ptr<Database> Database::open(const std::string& path, const DatabaseOptions& options) {
  int flags = SQLITE_OPEN_NOMUTEX;
  if (options.read_only) {
    flags |= SQLITE_OPEN_READONLY;
  } else {
    flags |= SQLITE_OPEN_READWRITE;
    if (options.create_if_missing) flags |= SQLITE_OPEN_CREATE;
  }
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = "cannot open catalog '" + path + "': " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    if (db) sqlite3_close(db);
    throw DatabaseError(rc, msg);
  }
  sqlite3_extended_result_codes(db, 1);
  std::unique_ptr<Database> out(new Database(db, path, options.read_only, options.busy_timeout_ms));
  sqlite3_busy_timeout(db, options.busy_timeout_ms);
  out->exec("PRAGMA foreign_keys=ON");
  if (!options.read_only) {
    out->exec("PRAGMA journal_mode=WAL");
    out->exec(synchronous_pragma(options.synchronous));
  }
  return out;
}

Database::Database(sqlite3* db, std::string path, bool read_only, int busy_timeout_ms)
    : db_(db), path_(std::move(path)), read_only_(read_only), busy_timeout_ms_(busy_timeout_ms) {}

void Database::set_lock_deadline(std::optional<std::chrono::steady_clock::time_point> deadline) {
  if (!deadline) {
    sqlite3_busy_timeout(db_, busy_timeout_ms_);
    return;
  }
  lock_deadline_ = *deadline;
  sqlite3_busy_handler(db_, &Database::wait_for_lock, this);
}

// SQLite's own busy handler sleeps in growing steps up to a total; this one
// uses the same steps but stops at the deadline. Returns 0 to give up (the
// statement then fails with SQLITE_BUSY), 1 to try again.
int Database::wait_for_lock(void* self, int attempts) {
  static constexpr int kStepsMs[] = {1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100};
  const auto& db = *static_cast<Database*>(self);
  const auto now = std::chrono::steady_clock::now();
  if (now >= db.lock_deadline_) return 0;
  const int step =
      kStepsMs[std::min<std::size_t>(static_cast<std::size_t>(attempts), std::size(kStepsMs) - 1)];
  std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(std::chrono::milliseconds(step),
                                                                            db.lock_deadline_ - now));
  return 1;
}

Database::~Database() { sqlite3_close_v2(db_); }

void Database::exec(std::string_view sql) {
  std::string text(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    throw DatabaseError(sqlite3_extended_errcode(db_), "sql failed: " + msg);
  }
}

Statement Database::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt,
                              nullptr);
  if (rc != SQLITE_OK) fail(db_, rc, "prepare");
  return Statement(*this, stmt);
}

std::int64_t Database::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
int Database::changes() const { return sqlite3_changes(db_); }

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    db_ = other.db_;
    stmt_ = std::exchange(other.stmt_, nullptr);
  }
  return *this;
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement& Statement::bind(int index, std::int64_t value) {
  if (int rc = sqlite3_bind_int64(stmt_, index, value); rc != SQLITE_OK) fail(db_->handle(), rc, "bind");
  return *this;
}
Statement& Statement::bind(int index, double value) {
  if (int rc = sqlite3_bind_double(stmt_, index, value); rc != SQLITE_OK) fail(db_->handle(), rc, "bind");
  return *this;
}
Statement& Statement::bind(int index, std::string_view value) {
  int rc = sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK) fail(db_->handle(), rc, "bind");
  return *this;
}
Statement& Statement::bind_null(int index) {
  if (int rc = sqlite3_bind_null(stmt_, index); rc != SQLITE_OK) fail(db_->handle(), rc, "bind");
  return *this;
}

bool Statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  // Keep the error text before reset() clears it.
  std::string msg = std::string("step: ") + sqlite3_errmsg(db_->handle());
  int code = sqlite3_extended_errcode(db_->handle());
  sqlite3_reset(stmt_);
  throw DatabaseError(code, msg);
}

void Statement::run() {
  while (step()) {
  }
  reset();
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

bool Statement::is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
std::int64_t Statement::column_int(int col) const { return sqlite3_column_int64(stmt_, col); }
double Statement::column_double(int col) const { return sqlite3_column_double(stmt_, col); }
std::string Statement::column_text(int col) const { return std::string(column_text_view(col)); }
std::string_view Statement::column_text_view(int col) const {
  const unsigned char* p = sqlite3_column_text(stmt_, col);
  if (p == nullptr) return {};
  return {reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col))};
}
std::optional<std::int64_t> Statement::column_optional_int(int col) const {
  if (is_null(col)) return std::nullopt;
  return column_int(col);
}
std::optional<double> Statement::column_optional_double(int col) const {
  if (is_null(col)) return std::nullopt;
  return column_double(col);
}

Transaction::Transaction(Database& db, Kind kind) : db_(db) {
  db_.exec(kind == Kind::kWrite ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED");
}

Transaction::~Transaction() {
  if (open_) {
    try {
      db_.exec("ROLLBACK");
    } catch (...) {
      // A failed rollback leaves SQLite to roll back when the connection closes.
    }
  }
}

void Transaction::commit() {
  db_.exec("COMMIT");
  open_ = false;
}

}  // namespace cocktail::catalog

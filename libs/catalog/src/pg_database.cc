#include "pg_database.h"

#include <poll.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <utility>

#include "backend.h"

namespace cocktail::catalog {
namespace {

DatabaseError::Kind kind_of_state(std::string_view state) {
  if (state.substr(0, 2) == "23") {
    return DatabaseError::Kind::kConstraint;
  }
  if (state == "40001" || state == "40P01" || state == "55P03" || state == "57014") {
    return DatabaseError::Kind::kBusy;
  }
  if (state.substr(0, 2) == "08" || state == "57P01" || state == "57P02" || state == "57P03") {
    return DatabaseError::Kind::kConnection;
  }
  return DatabaseError::Kind::kOther;
}

// `?N` parameters (SQLite's numbered form) become `$N`; quoted text,
// quoted identifiers and comments are copied as they are. Returns the
// highest parameter number seen.
int translate_parameters(std::string_view sql, std::string& out) {
  out.clear();
  out.reserve(sql.size() + 8);
  int highest = 0;
  int sequential = 0;
  for (std::size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    if (c == '\'' || c == '"') {
      std::size_t end = i + 1;
      while (end < sql.size() && sql[end] != c) {
        ++end;
      }
      out.append(sql.substr(i, end + 1 - i));
      i = end;
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      std::size_t end = sql.find('\n', i);
      if (end == std::string_view::npos) {
        end = sql.size();
      }
      out.append(sql.substr(i, end - i));
      i = end - 1;
    } else if (c == '?') {
      std::size_t end = i + 1;
      while (end < sql.size() && sql[end] >= '0' && sql[end] <= '9') {
        ++end;
      }
      int number = 0;
      if (end == i + 1) {
        number = ++sequential;
      } else {
        std::from_chars(sql.data() + i + 1, sql.data() + end, number);
      }
      highest = std::max(highest, number);
      out += '$';
      out += std::to_string(number);
      i = end - 1;
    } else {
      out += c;
    }
  }
  return highest;
}

}  // namespace

std::string redact_postgres_uri(std::string_view uri) {
  std::string out(uri);
  const std::size_t scheme = out.find("://");
  if (scheme != std::string::npos) {
    const std::size_t start = scheme + 3;
    std::size_t authority_end = out.find_first_of("/?", start);
    if (authority_end == std::string::npos) {
      authority_end = out.size();
    }
    const std::size_t at = out.rfind('@', authority_end);
    if (at != std::string::npos && at >= start) {
      const std::size_t colon = out.find(':', start);
      if (colon != std::string::npos && colon < at) {
        out.replace(colon, at - colon, ":***");
      }
    }
  }
  // A password given as a query parameter.
  for (std::size_t p = out.find("password="); p != std::string::npos; p = out.find("password=", p + 1)) {
    if (p > 0 && out[p - 1] != '?' && out[p - 1] != '&') {
      continue;
    }
    std::size_t end = out.find('&', p);
    if (end == std::string::npos) {
      end = out.size();
    }
    out.replace(p + 9, end - p - 9, "***");
  }
  return out;
}

// ---------------------------------------------------------------- statement

// A statement is sent into the connection's pipeline (PgDatabase::send_prepared)
// and its result delivered by the flush that collects the pipeline's results,
// whoever triggers it.
class PgStatement final : public StatementImpl {
 public:
  PgStatement(PgDatabase& db, std::string_view sql) : db_(db) {
    nparams_ = translate_parameters(sql, sql_);
    values_.resize(static_cast<std::size_t>(nparams_));
    name_ = "cocktail_" + std::to_string(++db_.next_statement_);
    prepare();
  }
  ~PgStatement() override {
    if (state_ == State::kAwaiting) {
      db_.forget(this);
    }
    clear_result();
    if (prepared_generation_ == db_.generation_) {
      db_.deallocate(name_);
    }
  }

  void bind_int(int index, std::int64_t value) override { set(index, std::to_string(value)); }
  void bind_double(int index, double value) override {
    if (!std::isfinite(value)) {
      set(index, std::isnan(value) ? "NaN" : (value > 0 ? "Infinity" : "-Infinity"));
      return;
    }
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
    (void)ec;
    set(index, std::string(buf, end));
  }
  void bind_text(int index, std::string_view value) override { set(index, std::string(value)); }
  void bind_null(int index) override {
    check_index(index);
    discard_sent();
    values_[static_cast<std::size_t>(index - 1)].reset();
  }

  void send() override {
    discard_sent();
    db_.ensure_connected();
    if (prepared_generation_ != db_.generation_) {
      prepare();
    }
    std::vector<const char*> pointers(values_.size());
    for (std::size_t i = 0; i < values_.size(); ++i) {
      pointers[i] = values_[i] ? values_[i]->c_str() : nullptr;
    }
    db_.send_prepared(this, name_, nparams_, pointers.data());
    state_ = State::kAwaiting;
  }

  bool step() override {
    if (state_ == State::kIdle) {
      send();
    }
    if (state_ == State::kAwaiting) {
      db_.flush();
    }
    if (state_ == State::kDelivered) {
      if (error_) {
        DatabaseError e = std::move(*error_);
        clear_result();
        throw e;
      }
      db_.note_changes(result_);
      state_ = State::kReading;
      row_ = 0;
    } else {
      ++row_;
    }
    return row_ < PQntuples(result_);
  }
  void reset() override {
    discard_sent();
    for (auto& v : values_) {
      v.reset();
    }
  }
  bool is_null(int col) const override { return PQgetisnull(result_, row_, col) != 0; }
  std::int64_t column_int(int col) const override {
    std::string_view text = column_text(col);
    if (text == "t") {
      return 1;
    }
    if (text == "f") {
      return 0;
    }
    std::int64_t value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || ptr != text.data() + text.size()) {
      // A numeric or floating value read as an integer, as SQLite would.
      return static_cast<std::int64_t>(std::strtod(std::string(text).c_str(), nullptr));
    }
    return value;
  }
  double column_double(int col) const override {
    std::string_view text = column_text(col);
    if (text.empty()) {
      return 0.0;
    }
    return std::strtod(std::string(text).c_str(), nullptr);
  }
  std::string_view column_text(int col) const override {
    if (PQgetisnull(result_, row_, col)) {
      return {};
    }
    return {PQgetvalue(result_, row_, col), static_cast<std::size_t>(PQgetlength(result_, row_, col))};
  }

  // From PgDatabase::flush(): the result of the execution sent, or its error.
  void deliver(PGresult* result, std::optional<DatabaseError> error) {
    result_ = result;
    error_ = std::move(error);
    state_ = State::kDelivered;
  }

 private:
  enum class State {
    kIdle,       // not sent since the last reset
    kAwaiting,   // sent, its result not collected yet
    kDelivered,  // collected, not read yet
    kReading,    // step() is going through the rows
  };

  void check_index(int index) const {
    if (index < 1 || index > nparams_) {
      throw DatabaseError(DatabaseError::Kind::kOther,
                          "bind: parameter " + std::to_string(index) + " out of range in: " + sql_);
    }
  }
  void set(int index, std::string value) {
    check_index(index);
    discard_sent();
    values_[static_cast<std::size_t>(index - 1)] = std::move(value);
  }
  // Binding starts the statement over: what it was sent with is forgotten.
  void discard_sent() {
    if (state_ == State::kIdle) {
      return;
    }
    if (state_ == State::kAwaiting) {
      db_.forget(this);
    }
    clear_result();
  }
  void prepare() {
    db_.prepare_statement(name_, sql_, nparams_);
    prepared_generation_ = db_.generation_;
  }
  void clear_result() {
    if (result_ != nullptr) {
      PQclear(result_);
    }
    result_ = nullptr;
    error_.reset();
    state_ = State::kIdle;
  }

  PgDatabase& db_;
  std::string sql_;
  std::string name_;
  int nparams_ = 0;
  std::vector<std::optional<std::string>> values_;
  std::uint64_t prepared_generation_ = 0;
  State state_ = State::kIdle;
  PGresult* result_ = nullptr;
  std::optional<DatabaseError> error_;
  int row_ = 0;
};

// ----------------------------------------------------------------- database

std::unique_ptr<PgDatabase> PgDatabase::open(const std::string& uri, const DatabaseOptions& options) {
  PGconn* conn = PQconnectdb(uri.c_str());
  if (conn == nullptr || PQstatus(conn) != CONNECTION_OK) {
    std::string msg = "cannot connect to catalog '" + redact_postgres_uri(uri) +
                      "': " + (conn ? PQerrorMessage(conn) : "out of memory");
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) {
      msg.pop_back();
    }
    if (conn) {
      PQfinish(conn);
    }
    throw DatabaseError(DatabaseError::Kind::kConnection, msg);
  }
  std::unique_ptr<PgDatabase> db(new PgDatabase(conn, uri, options));
  db->configure();
  return db;
}

PgDatabase::PgDatabase(PGconn* conn, std::string uri, const DatabaseOptions& options)
    : Database(redact_postgres_uri(uri), options.read_only),
      conn_(conn),
      uri_(std::move(uri)),
      options_(options) {}

PgDatabase::~PgDatabase() { PQfinish(conn_); }

// plan_cache_mode: the statements this program prepares are lookups by key
// and small set operations, for which the generic plan is the right one;
// with the default (auto), a statement over a list parameter (unnest) keeps
// being planned anew on every run, because each custom plan looks cheaper
// than the generic one, which spends more time planning than running.
void PgDatabase::configure() {
  lock_timeout_ms_ = 0;  // a new session starts at busy_timeout_ms
  std::string settings =
      "SET client_encoding = 'UTF8'; SET extra_float_digits = 1; SET application_name = "
      "'cocktaildb-analytics'; SET plan_cache_mode = force_generic_plan; SET lock_timeout = " +
      std::to_string(std::max(options_.busy_timeout_ms, 1)) + ";";
  if (options_.read_only) {
    settings += " SET default_transaction_read_only = on;";
  }
  if (options_.synchronous != Synchronous::kFull) {
    settings += " SET synchronous_commit = off;";
  }
  ++round_trips_;
  PQclear(check(PQexec(conn_, settings.c_str()), "configure"));
}

void PgDatabase::ensure_connected() {
  if (PQstatus(conn_) == CONNECTION_OK) {
    return;
  }
  if (in_transaction_) {
    throw DatabaseError(DatabaseError::Kind::kConnection,
                        "connection to '" + path() + "' lost inside a transaction");
  }
  flush();  // what was sent gets its connection error
  PQreset(conn_);
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(conn_);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) {
      msg.pop_back();
    }
    throw DatabaseError(DatabaseError::Kind::kConnection, "cannot reconnect to '" + path() + "': " + msg);
  }
  ++generation_;
  configure();
}

DatabaseError PgDatabase::error_of(PGresult* result, std::string_view context) const {
  std::string state;
  std::string message;
  if (result != nullptr) {
    if (const char* s = PQresultErrorField(result, PG_DIAG_SQLSTATE)) {
      state = s;
    }
    message = PQresultErrorMessage(result);
  }
  if (message.empty()) {
    message = PQerrorMessage(conn_);
  }
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
    message.pop_back();
  }
  DatabaseError::Kind kind = kind_of_state(state);
  if (PQstatus(conn_) != CONNECTION_OK) {
    kind = DatabaseError::Kind::kConnection;
  }
  return DatabaseError(kind, std::string(context) + ": " + message);
}

void PgDatabase::fail(PGresult* result, std::string_view context) {
  DatabaseError error = error_of(result, context);
  if (result != nullptr) {
    PQclear(result);
  }
  throw error;
}

PGresult* PgDatabase::check(PGresult* result, std::string_view context) {
  const ExecStatusType status = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
    note_changes(result);
    return result;
  }
  fail(result, context);
}

void PgDatabase::note_changes(PGresult* result) {
  const char* tuples = result ? PQcmdTuples(result) : nullptr;
  changes_ = (tuples && *tuples) ? std::atoll(tuples) : 0;
}

// ------------------------------------------------------------------ pipeline

void PgDatabase::enter_pipeline() {
  if (PQpipelineStatus(conn_) == PQ_PIPELINE_OFF && PQenterPipelineMode(conn_) != 1) {
    fail(nullptr, "pipeline");
  }
}

void PgDatabase::send_prepared(PgStatement* owner, const std::string& name, int nparams,
                               const char* const* values) {
  enter_pipeline();
  if (PQsendQueryPrepared(conn_, name.c_str(), nparams, values, nullptr, nullptr, 0) != 1) {
    fail(nullptr, "send");
  }
  pending_.push_back({owner, Pending::kStatement});
}

void PgDatabase::send_command(const std::string& sql, Pending::Kind kind) {
  enter_pipeline();
  if (PQsendQueryParams(conn_, sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0) != 1) {
    fail(nullptr, "send");
  }
  pending_.push_back({nullptr, kind});
}

void PgDatabase::prepare_statement(const std::string& name, const std::string& sql, int nparams) {
  if (pending_.empty()) {
    ++round_trips_;
    PQclear(check(PQprepare(conn_, name.c_str(), sql.c_str(), nparams, nullptr), "prepare"));
    return;
  }
  // Behind statements already sent: prepared in the same round trip. A
  // failure shows as the error of whatever runs after it.
  enter_pipeline();
  if (PQsendPrepare(conn_, name.c_str(), sql.c_str(), nparams, nullptr) != 1) {
    fail(nullptr, "prepare");
  }
  pending_.push_back({nullptr, Pending::kCommand});
}

void PgDatabase::forget(PgStatement* owner) {
  for (auto& p : pending_) {
    if (p.owner == owner) {
      p.owner = nullptr;
    }
  }
}

// One round trip: a sync point ends what was sent, and every result up to
// it is collected and handed to its statement. After an error the server
// skips the rest of the pipeline: those statements get an error naming the
// first one. Never throws: errors go to the statements (and, inside a
// transaction, to tx_error_, which makes the commit fail).
void PgDatabase::flush() {
  if (pending_.empty()) {
    return;
  }
  ++round_trips_;
  std::vector<Pending> batch;
  batch.swap(pending_);
  std::optional<DatabaseError> first;
  const bool synced = PQpipelineSync(conn_) == 1;
  for (const Pending& p : batch) {
    PGresult* result = synced ? PQgetResult(conn_) : nullptr;
    if (result != nullptr) {
      // Each statement's results end with a null.
      while (PGresult* extra = PQgetResult(conn_)) {
        PQclear(extra);
      }
    }
    const ExecStatusType status = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
    std::optional<DatabaseError> error;
    if (status == PGRES_PIPELINE_ABORTED) {
      error.emplace(
          first ? first->kind() : DatabaseError::Kind::kOther,
          std::string("not run, an earlier statement failed: ") + (first ? first->what() : "unknown"));
    } else if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      error = error_of(result, p.kind == Pending::kCommit ? "commit" : "step");
      if (!first) {
        first = error;
      }
    }
    if (p.kind == Pending::kCommit && !error) {
      committed_ = std::string(PQcmdStatus(result)) == "COMMIT";
    }
    if (p.owner != nullptr && p.kind == Pending::kStatement) {
      if (error && result != nullptr) {
        PQclear(result);
        result = nullptr;
      }
      p.owner->deliver(result, std::move(error));
    } else if (result != nullptr) {
      PQclear(result);
    }
  }
  if (synced) {
    if (PGresult* sync = PQgetResult(conn_)) {
      PQclear(sync);  // PGRES_PIPELINE_SYNC
    }
  }
  if (PQexitPipelineMode(conn_) != 1 && PQstatus(conn_) == CONNECTION_OK) {
    // Results left over would be read as answers to the wrong statements.
    PQreset(conn_);
    ++generation_;
  }
  if (first && in_transaction_ && !tx_error_) {
    tx_error_ = first;
  }
}

void PgDatabase::deallocate(const std::string& name) noexcept {
  if (PQstatus(conn_) != CONNECTION_OK || tx_error_) {
    return;
  }
  try {
    if (pending_.empty() && !in_transaction_) {
      ++round_trips_;
      PQclear(PQexec(conn_, ("DEALLOCATE " + name).c_str()));
    } else {
      send_command("DEALLOCATE " + name, Pending::kCommand);
    }
  } catch (...) {
    // The server drops it with the connection.
  }
}

void PgDatabase::exec(std::string_view sql) {
  flush();
  ensure_connected();
  ++round_trips_;
  PQclear(check(PQexec(conn_, std::string(sql).c_str()), "sql failed"));
}

Statement PgDatabase::prepare(std::string_view sql) {
  ensure_connected();
  return Statement(std::make_unique<PgStatement>(*this, sql));
}

// The session's lock_timeout is set to what is left until the deadline, but
// only when that differs from the current setting by more than a little:
// in the usual case (a write that waited microseconds for its turn) the
// round trip of a SET is saved, at the cost of waiting up to that little
// more than the deadline.
void PgDatabase::set_lock_deadline(std::optional<std::chrono::steady_clock::time_point> deadline) {
  constexpr int kSlackMs = 50;
  int wanted = std::max(options_.busy_timeout_ms, 1);
  if (deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - std::chrono::steady_clock::now());
    // lock_timeout 0 would mean "wait forever": a passed deadline waits 1 ms.
    wanted = static_cast<int>(std::clamp<std::int64_t>(left.count(), 1, std::numeric_limits<int>::max()));
  }
  const int current = lock_timeout_ms_ > 0 ? lock_timeout_ms_ : std::max(options_.busy_timeout_ms, 1);
  if (std::abs(current - wanted) <= kSlackMs) {
    return;
  }
  exec("SET lock_timeout = " + std::to_string(wanted));
  lock_timeout_ms_ = wanted;
}

// BEGIN and COMMIT travel in the pipeline: BEGIN with the transaction's
// first statements, COMMIT with its last ones.
void PgDatabase::transaction(TxOp op) {
  switch (op) {
    case TxOp::kBeginRead:
    case TxOp::kBeginWrite:
      ensure_connected();
      tx_error_.reset();
      send_command(op == TxOp::kBeginRead ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN",
                   Pending::kCommand);
      in_transaction_ = true;
      break;
    case TxOp::kCommit: {
      committed_ = false;
      send_command("COMMIT", Pending::kCommit);
      flush();
      // Not committed: the server still holds the failed transaction (or
      // ended it itself); Transaction's destructor rolls back.
      if (tx_error_) {
        throw DatabaseError(*tx_error_);
      }
      if (!committed_) {
        throw DatabaseError(DatabaseError::Kind::kOther, "commit: the transaction was rolled back");
      }
      in_transaction_ = false;
      if (options_.synchronous != Synchronous::kFull) {
        ++unsynced_commits_;
      }
      break;
    }
    case TxOp::kRollback:
      in_transaction_ = false;
      tx_error_.reset();
      if (PQstatus(conn_) != CONNECTION_OK) {
        flush();
        break;
      }
      send_command("ROLLBACK", Pending::kCommand);
      flush();
      break;
  }
}

// A commit made with synchronous_commit=on waits until the WAL is flushed up
// to its own commit record, and the WAL is one sequential log: so one small
// synchronous transaction (it takes a transaction id, so that it has a
// commit record to flush) makes every earlier asynchronous commit of any
// session durable with it.
bool PgDatabase::sync_commits(std::string& error) {
  if (unsynced_commits_ == 0) {
    return true;
  }
  try {
    exec("BEGIN; SET LOCAL synchronous_commit = on; SELECT pg_current_xact_id(); COMMIT");
  } catch (const DatabaseError& e) {
    error = e.what();
    try {
      exec("ROLLBACK");
    } catch (...) {
    }
    return false;
  }
  unsynced_commits_ = 0;
  return true;
}

void PgDatabase::copy_out(std::string_view copy_sql, const std::function<void(std::string_view)>& on_line) {
  flush();
  ensure_connected();
  ++round_trips_;
  PGresult* r = PQexec(conn_, std::string(copy_sql).c_str());
  if (PQresultStatus(r) != PGRES_COPY_OUT) {
    fail(r, "copy");
  }
  PQclear(r);
  for (;;) {
    char* buffer = nullptr;
    const int n = PQgetCopyData(conn_, &buffer, 0);
    if (n == -1) {
      break;
    }
    if (n == -2) {
      fail(nullptr, "copy");
    }
    std::string_view line(buffer, static_cast<std::size_t>(n));
    if (!line.empty() && line.back() == '\n') {
      line.remove_suffix(1);
    }
    try {
      on_line(line);
    } catch (...) {
      PQfreemem(buffer);
      // Drain the rest so that the connection stays usable.
      while (PQgetCopyData(conn_, &buffer, 0) >= 0) {
        PQfreemem(buffer);
      }
      while (PGresult* rest = PQgetResult(conn_)) {
        PQclear(rest);
      }
      throw;
    }
    PQfreemem(buffer);
  }
  PGresult* last = PQgetResult(conn_);
  PQclear(check(last, "copy"));
  while (PGresult* rest = PQgetResult(conn_)) {
    PQclear(rest);
  }
}

PgDatabase::CopyIn::CopyIn(PgDatabase& db, std::string_view copy_sql) : db_(db) {
  db_.flush();
  db_.ensure_connected();
  ++db_.round_trips_;
  PGresult* r = PQexec(db_.conn_, std::string(copy_sql).c_str());
  if (PQresultStatus(r) != PGRES_COPY_IN) {
    db_.fail(r, "copy");
  }
  PQclear(r);
}

PgDatabase::CopyIn::~CopyIn() {
  if (!open_) {
    return;
  }
  PQputCopyEnd(db_.conn_, "abandoned");
  while (PGresult* r = PQgetResult(db_.conn_)) {
    PQclear(r);
  }
}

void PgDatabase::CopyIn::put_row(const std::vector<std::optional<std::string>>& fields) {
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i) {
      buffer_ += '\t';
    }
    if (!fields[i]) {
      buffer_ += "\\N";
      continue;
    }
    for (char c : *fields[i]) {
      switch (c) {
        case '\\': buffer_ += "\\\\"; break;
        case '\t': buffer_ += "\\t"; break;
        case '\n': buffer_ += "\\n"; break;
        case '\r': buffer_ += "\\r"; break;
        default: buffer_ += c;
      }
    }
  }
  buffer_ += '\n';
  if (buffer_.size() >= (1 << 20)) {
    flush();
  }
}

void PgDatabase::CopyIn::flush() {
  if (buffer_.empty()) {
    return;
  }
  if (PQputCopyData(db_.conn_, buffer_.data(), static_cast<int>(buffer_.size())) != 1) {
    db_.fail(nullptr, "copy");
  }
  buffer_.clear();
}

void PgDatabase::CopyIn::finish() {
  flush();
  open_ = false;
  if (PQputCopyEnd(db_.conn_, nullptr) != 1) {
    db_.fail(nullptr, "copy");
  }
  PGresult* r = PQgetResult(db_.conn_);
  PQclear(db_.check(r, "copy"));
  while (PGresult* rest = PQgetResult(db_.conn_)) {
    PQclear(rest);
  }
}

bool PgDatabase::wait_for_notification(int timeout_ms, int wake_fd) {
  flush();
  ensure_connected();
  auto take = [&] {
    bool any = false;
    while (PGnotify* n = PQnotifies(conn_)) {
      any = true;
      PQfreemem(n);
    }
    return any;
  };
  if (take()) {
    return true;
  }
  pollfd fds[2] = {{PQsocket(conn_), POLLIN, 0}, {wake_fd, POLLIN, 0}};
  const int rc = ::poll(fds, wake_fd >= 0 ? 2 : 1, timeout_ms);
  if (rc > 0 && (fds[0].revents & (POLLIN | POLLERR | POLLHUP))) {
    if (PQconsumeInput(conn_) == 0) {
      fail(nullptr, "listen");
    }
    return take();
  }
  return false;
}

}  // namespace cocktail::catalog

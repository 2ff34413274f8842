// PgDatabase: a Database on a PostgreSQL server, over libpq. Internal to
// libs/catalog.
//
// Statements are server-side prepared statements (named per connection),
// with text parameters of unspecified type and text results. Everything
// they run goes through libpq's pipeline mode: a statement sent
// (Statement::send), BEGIN and COMMIT wait in the pipeline and reach the
// server with the next statement that is waited for, in one round trip;
// the pipeline is left again once its results are in, so plain commands
// (exec, COPY, LISTEN) see an idle connection. A lost
// connection is reported as a DatabaseError of kind kConnection; the next
// use outside a transaction reconnects (and re-prepares what it runs), so a
// long-lived service survives a server restart without being rebuilt.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cocktail/catalog/database.h"

namespace cocktail::catalog {

class PgStatement;

class PgDatabase final : public Database {
 public:
  static std::unique_ptr<PgDatabase> open(const std::string& uri, const DatabaseOptions& options);
  ~PgDatabase() override;

  Backend backend() const override { return Backend::kPostgres; }
  void exec(std::string_view sql) override;
  Statement prepare(std::string_view sql) override;
  std::int64_t changes() const override { return changes_; }
  bool sync_commits(std::string& error) override;
  std::int64_t round_trips() const override { return round_trips_; }
  void set_lock_deadline(std::optional<std::chrono::steady_clock::time_point> deadline) override;

  const std::string& uri() const { return uri_; }
  const DatabaseOptions& options() const { return options_; }

  // COPY ... TO STDOUT: calls on_line once per row with the row's text (the
  // trailing newline removed). Throws DatabaseError.
  void copy_out(std::string_view copy_sql, const std::function<void(std::string_view line)>& on_line);
  // COPY ... FROM STDIN: rows are appended with put_row() and sent by
  // finish(); see CopyIn.
  class CopyIn {
   public:
    CopyIn(PgDatabase& db, std::string_view copy_sql);
    ~CopyIn();
    // One row; nullopt fields are NULL.
    void put_row(const std::vector<std::optional<std::string>>& fields);
    void finish();

   private:
    void flush();
    PgDatabase& db_;
    std::string buffer_;
    bool open_ = true;
  };

  // Blocks until a NOTIFY arrives on a channel this connection LISTENs to,
  // the timeout passes, or `wake_fd` becomes readable (when >= 0). Returns
  // true when a notification arrived. Throws DatabaseError on a lost
  // connection.
  bool wait_for_notification(int timeout_ms, int wake_fd);

  // Collects the results of everything sent (one round trip). Never throws:
  // errors go to the statements they belong to.
  void flush();

 private:
  friend class PgStatement;
  // What waits in the pipeline: a statement's execution (owner null once
  // the statement was reset or destroyed), a command nobody reads (BEGIN,
  // a prepare, DEALLOCATE), or COMMIT.
  struct Pending {
    enum Kind { kStatement, kCommand, kCommit };
    PgStatement* owner;
    Kind kind;
  };

  PgDatabase(PGconn* conn, std::string uri, const DatabaseOptions& options);
  void transaction(TxOp op) override;
  void configure();
  // Reconnects when the connection was lost and no transaction is open.
  void ensure_connected();
  DatabaseError error_of(PGresult* result, std::string_view context) const;
  [[noreturn]] void fail(PGresult* result, std::string_view context);
  PGresult* check(PGresult* result, std::string_view context);
  void note_changes(PGresult* result);

  void enter_pipeline();
  void send_prepared(PgStatement* owner, const std::string& name, int nparams, const char* const* values);
  void send_command(const std::string& sql, Pending::Kind kind);
  void prepare_statement(const std::string& name, const std::string& sql, int nparams);
  void forget(PgStatement* owner);
  void deallocate(const std::string& name) noexcept;

  PGconn* conn_;
  std::string uri_;
  DatabaseOptions options_;
  bool in_transaction_ = false;
  std::vector<Pending> pending_;
  // The first error inside the open transaction: the server has aborted
  // it, so the commit must fail.
  std::optional<DatabaseError> tx_error_;
  bool committed_ = false;  // the last COMMIT's outcome
  std::int64_t round_trips_ = 0;
  // The session's lock_timeout, ms (busy_timeout_ms until a deadline changes it).
  int lock_timeout_ms_ = 0;
  // Bumped by every reconnect: statements prepared before are gone.
  std::uint64_t generation_ = 1;
  std::uint64_t next_statement_ = 0;
  std::int64_t changes_ = 0;
  // Commits made with synchronous_commit=off since the last sync_commits().
  std::int64_t unsynced_commits_ = 0;
};

// The URI without its password, for messages.
std::string redact_postgres_uri(std::string_view uri);

}  // namespace cocktail::catalog

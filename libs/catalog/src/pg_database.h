// PgDatabase: a Database on a PostgreSQL server, over libpq. Internal to
// libs/catalog.
//
// Statements are server-side prepared statements (named per connection),
// with text parameters of unspecified type and text results. A lost
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

class PgDatabase final : public Database {
 public:
  static std::unique_ptr<PgDatabase> open(const std::string& uri, const DatabaseOptions& options);
  ~PgDatabase() override;

  Backend backend() const override { return Backend::kPostgres; }
  void exec(std::string_view sql) override;
  Statement prepare(std::string_view sql) override;
  std::int64_t changes() const override { return changes_; }
  bool sync_commits(std::string& error) override;
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

  // Runs a statement and returns its result, or throws. The caller owns it.
  PGresult* run(const std::string& name, int nparams, const char* const* values);

 private:
  friend class PgStatement;
  PgDatabase(PGconn* conn, std::string uri, const DatabaseOptions& options);
  void transaction(TxOp op) override;
  void configure();
  // Reconnects when the connection was lost and no transaction is open.
  void ensure_connected();
  [[noreturn]] void fail(PGresult* result, std::string_view context);
  PGresult* check(PGresult* result, std::string_view context);

  PGconn* conn_;
  std::string uri_;
  DatabaseOptions options_;
  bool in_transaction_ = false;
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

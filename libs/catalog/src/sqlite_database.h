// SqliteDatabase: a Database on a SQLite file. Internal to libs/catalog.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "cocktail/catalog/database.h"

namespace cocktail::catalog {

class SqliteDatabase final : public Database {
 public:
  static std::unique_ptr<Database> open(const std::string& path, const DatabaseOptions& options);
  ~SqliteDatabase() override;

  Backend backend() const override { return Backend::kSqlite; }
  void exec(std::string_view sql) override;
  Statement prepare(std::string_view sql) override;
  std::int64_t changes() const override;
  bool sync_commits(std::string& error) override;
  void set_lock_deadline(std::optional<std::chrono::steady_clock::time_point> deadline) override;

  sqlite3* handle() { return db_; }
  // One-read connections (DatabaseOptions::one_read) to a WAL-mode file
  // that no other connection had open are opened `immutable` (a read-only connection would otherwise
  // create the -wal and -shm files beside it and leave them there). Such a
  // read is only right if nobody wrote meanwhile: this throws a transient
  // DatabaseError when the file or its WAL changed since the open.
  void check_unchanged() const;
  // A statement sent (Statement::send) inside a transaction failed: the
  // commit is refused.
  void note_failed_send(const DatabaseError& error);

 private:
  struct FileStamp {
    bool exists = false;
    std::int64_t size = 0;
    std::int64_t mtime_ns = 0;
    bool operator==(const FileStamp&) const = default;
  };
  static FileStamp stamp(const std::string& path);
  SqliteDatabase(sqlite3* db, std::string path, bool read_only, int busy_timeout_ms);
  void transaction(TxOp op) override;
  static int wait_for_lock(void* self, int attempts);

  sqlite3* db_;
  std::string file_;
  bool immutable_ = false;
  FileStamp file_stamp_;
  // sqlite3_total_changes64() at the last successful sync_commits().
  std::int64_t synced_changes_ = 0;
  // The first failed send of the open transaction.
  std::optional<DatabaseError> send_error_;
  int busy_timeout_ms_;
  std::chrono::steady_clock::time_point lock_deadline_;
};

}  // namespace cocktail::catalog

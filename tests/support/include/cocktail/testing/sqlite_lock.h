// SqliteWriteLock: holds a SQLite file's write lock on a connection of the
// test's own, as `BEGIN EXCLUSIVE` left open in the sqlite3 shell does. To a
// service under test (a child process) it is another process holding the
// lock: its writes wait for it, or give up.
//
//   SqliteWriteLock lock(db_path);   // held from here
//   ...                              // writes arrive meanwhile
//   lock.release();                  // or at destruction
//
// Not thread-safe: release() from one thread at a time.
#pragma once

#include <string>

struct sqlite3;

namespace cocktail::testing {

class SqliteWriteLock {
 public:
  // Throws std::runtime_error when the lock cannot be taken.
  explicit SqliteWriteLock(const std::string& path);
  ~SqliteWriteLock();  // release()
  SqliteWriteLock(const SqliteWriteLock&) = delete;
  SqliteWriteLock& operator=(const SqliteWriteLock&) = delete;

  // Rolls back and closes; idempotent.
  void release();

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace cocktail::testing

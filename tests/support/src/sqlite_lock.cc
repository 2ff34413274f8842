#include "cocktail/testing/sqlite_lock.h"

#include <sqlite3.h>

#include <stdexcept>

namespace cocktail::testing {

SqliteWriteLock::SqliteWriteLock(const std::string& path) {
  if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK ||
      sqlite3_exec(db_, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr) != SQLITE_OK) {
    const std::string error = db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw std::runtime_error("cannot lock " + path + ": " + error);
  }
}

SqliteWriteLock::~SqliteWriteLock() { release(); }

void SqliteWriteLock::release() {
  if (db_ == nullptr) {
    return;
  }
  sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(db_);
  db_ = nullptr;
}

}  // namespace cocktail::testing

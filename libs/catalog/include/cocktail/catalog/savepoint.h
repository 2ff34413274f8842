// Savepoint: a unit of work that can be undone without undoing the
// transaction around it. Outside a transaction, SAVEPOINT starts one and
// RELEASE commits it; inside one (a GroupCommit batch), it nests. Rolled back
// (ROLLBACK TO, then RELEASE) unless release() was called.
//
// A caller that opens one per request keeps its statements compiled in a
// Savepoint::Prepared (compiling them costs about as much as running them).
//
// Used by the thread owning the connection; not copyable.
#pragma once

#include <optional>

#include "cocktail/catalog/database.h"

namespace cocktail::catalog {

class Savepoint {
 public:
  // The three statements, compiled once for a connection.
  class Prepared {
   public:
    explicit Prepared(Database& db);

   private:
    friend class Savepoint;
    Statement begin_, release_, rollback_;
  };

  explicit Savepoint(Database& db);
  explicit Savepoint(Prepared& prepared);
  ~Savepoint();
  Savepoint(const Savepoint&) = delete;
  Savepoint& operator=(const Savepoint&) = delete;

  // Keeps the work (commits it when the savepoint began the transaction).
  void release();

 private:
  void run(Statement Prepared::*statement, const char* sql);

  Database* db_ = nullptr;
  Prepared* prepared_ = nullptr;
  bool open_ = true;
};

}  // namespace cocktail::catalog

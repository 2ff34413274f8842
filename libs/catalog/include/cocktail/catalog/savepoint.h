// Savepoint: a unit of work that can be undone without undoing the
// transaction around it. Outside a transaction, SAVEPOINT starts one and
// RELEASE commits it; inside one (a GroupCommit batch), it nests. Rolled back
// (ROLLBACK TO, then RELEASE) unless release() was called.
//
// Used by the thread owning the connection; not copyable.
#pragma once

#include "cocktail/catalog/database.h"

namespace cocktail::catalog {

class Savepoint {
 public:
  explicit Savepoint(Database& db);
  ~Savepoint();
  Savepoint(const Savepoint&) = delete;
  Savepoint& operator=(const Savepoint&) = delete;

  // Keeps the work (commits it when the savepoint began the transaction).
  void release();

 private:
  Database& db_;
  bool open_ = true;
};

}  // namespace cocktail::catalog

#include "cocktail/catalog/savepoint.h"

namespace cocktail::catalog {

Savepoint::Savepoint(Database& db) : db_(db) { db_.exec("SAVEPOINT job"); }

Savepoint::~Savepoint() {
  if (open_) {
    try {
      db_.exec("ROLLBACK TO job");
      db_.exec("RELEASE job");
    } catch (...) {
      // The enclosing transaction (or the connection's close) rolls back.
    }
  }
}

void Savepoint::release() {
  db_.exec("RELEASE job");
  open_ = false;
}

}  // namespace cocktail::catalog

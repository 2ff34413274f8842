#include "cocktail/catalog/savepoint.h"

namespace cocktail::catalog {

Savepoint::Prepared::Prepared(Database& db)
    : begin_(db.prepare("SAVEPOINT job")),
      release_(db.prepare("RELEASE job")),
      rollback_(db.prepare("ROLLBACK TO job")) {}

Savepoint::Savepoint(Database& db) : db_(&db) { run(&Prepared::begin_, "SAVEPOINT job"); }

Savepoint::Savepoint(Prepared& prepared) : prepared_(&prepared) { run(&Prepared::begin_, "SAVEPOINT job"); }

void Savepoint::run(Statement Prepared::*statement, const char* sql) {
  if (prepared_) {
    (prepared_->*statement).run();
  } else {
    db_->exec(sql);
  }
}

Savepoint::~Savepoint() {
  if (open_) {
    try {
      run(&Prepared::rollback_, "ROLLBACK TO job");
      run(&Prepared::release_, "RELEASE job");
    } catch (...) {
      // The enclosing transaction (or the connection's close) rolls back.
    }
  }
}

void Savepoint::release() {
  run(&Prepared::release_, "RELEASE job");
  open_ = false;
}

}  // namespace cocktail::catalog

#include "cocktail/catalog/database.h"

#include <utility>

#include "backend.h"
#include "pg_database.h"
#include "sqlite_database.h"

namespace cocktail::catalog {

bool Database::is_postgres_location(std::string_view location) {
  return location.rfind("postgresql://", 0) == 0 || location.rfind("postgres://", 0) == 0;
}

std::unique_ptr<Database> Database::open(const std::string& location, const DatabaseOptions& options) {
  if (is_postgres_location(location)) {
    return PgDatabase::open(location, options);
  }
  return SqliteDatabase::open(location, options);
}

Database::~Database() = default;

Statement::Statement(std::unique_ptr<StatementImpl> impl) : impl_(std::move(impl)) {}
Statement::Statement(Statement&& other) noexcept = default;
Statement& Statement::operator=(Statement&& other) noexcept = default;
Statement::~Statement() = default;

Statement& Statement::bind(int index, std::int64_t value) {
  impl_->bind_int(index, value);
  return *this;
}
Statement& Statement::bind(int index, double value) {
  impl_->bind_double(index, value);
  return *this;
}
Statement& Statement::bind(int index, std::string_view value) {
  impl_->bind_text(index, value);
  return *this;
}
Statement& Statement::bind_unowned(int index, std::string_view value) {
  impl_->bind_text_unowned(index, value);
  return *this;
}
Statement& Statement::bind_null(int index) {
  impl_->bind_null(index);
  return *this;
}

void Statement::send() { impl_->send(); }
bool Statement::step() { return impl_->step(); }

void Statement::run() {
  while (step()) {
  }
  reset();
}

void Statement::reset() { impl_->reset(); }

bool Statement::is_null(int col) const { return impl_->is_null(col); }
std::int64_t Statement::column_int(int col) const { return impl_->column_int(col); }
double Statement::column_double(int col) const { return impl_->column_double(col); }
std::string Statement::column_text(int col) const { return std::string(impl_->column_text(col)); }
std::string_view Statement::column_text_view(int col) const { return impl_->column_text(col); }
std::optional<std::int64_t> Statement::column_optional_int(int col) const {
  if (is_null(col)) {
    return std::nullopt;
  }
  return column_int(col);
}
std::optional<double> Statement::column_optional_double(int col) const {
  if (is_null(col)) {
    return std::nullopt;
  }
  return column_double(col);
}

Transaction::Transaction(Database& db, Kind kind) : db_(db) {
  db_.transaction(kind == Kind::kWrite ? Database::TxOp::kBeginWrite : Database::TxOp::kBeginRead);
}

Transaction::~Transaction() {
  if (open_) {
    try {
      db_.transaction(Database::TxOp::kRollback);
    } catch (...) {
      // A failed rollback leaves the backend to roll back when the connection closes.
    }
  }
}

void Transaction::commit() {
  db_.transaction(Database::TxOp::kCommit);
  open_ = false;
}

}  // namespace cocktail::catalog

// The catalog schema and its migrations.
//
// The tables and columns are those of the existing CocktailDB catalog, so an
// existing catalog file opens in place: migrate() adds whatever is missing
// (tables, columns, indexes, the change_log outbox and its triggers), computes
// missing ingredient paths, and never drops or rewrites a row of data. Tables
// it does not know (ratings, tags, recipe_tags, user_ingredients, ...) are
// left untouched. The version is recorded in the schema_migrations table; a
// file recorded with a version newer than kSchemaVersion is refused.
//
// Free functions over a Database the caller owns; the same thread-safety as
// Database (one thread at a time per connection). Several processes may call
// migrate() on the same file at once: the write lock serialises them and the
// later ones find nothing to do.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include "cocktail/catalog/database.h"

namespace cocktail::catalog {

// The schema version this code writes and understands.
//   1: catalog tables, missing columns, ingredient paths, indexes, standard units
//   2: change_log outbox with its triggers, outbox_cursor
inline constexpr int kSchemaVersion = 2;

// The file cannot be used by this code: its schema is newer than
// kSchemaVersion, or a core table lacks a column no migration can invent.
class SchemaError : public std::runtime_error {
 public:
  SchemaError(const std::string& what, int file_version)
      : std::runtime_error(what), file_version_(file_version) {}
  int file_version() const { return file_version_; }

 private:
  int file_version_;
};

// The version recorded in the file: 0 for a file never migrated (empty, or a
// legacy CocktailDB catalog). Read-only.
int schema_version(Database& db);

// Brings the file to kSchemaVersion in one write transaction (all or
// nothing) and returns kSchemaVersion. A file already at kSchemaVersion is
// only checked (and a dropped change_log trigger re-created), so reopening is
// a no-op. Throws SchemaError for a file newer than the code, DatabaseError on
// I/O failures or a read-only connection that would need a change.
int migrate(Database& db);

// Database::open followed by migrate(): what services call at start-up.
std::unique_ptr<Database> open_catalog(const std::string& path, const DatabaseOptions& options = {});

}  // namespace cocktail::catalog

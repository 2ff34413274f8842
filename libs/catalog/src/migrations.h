// The course every backend's migrate() follows, over the steps the backend
// provides (schema.cc for SQLite, pg_schema.cc for PostgreSQL). Internal to
// libs/catalog.
#pragma once

#include <functional>

#include "cocktail/catalog/database.h"

namespace cocktail::catalog {

struct MigrationSteps {
  // The version the catalog records (0: none).
  std::function<int()> version;
  // Serialises concurrent migrations, inside the write transaction, before
  // the version is read again (SQLite's BEGIN IMMEDIATE already does).
  std::function<void()> lock;
  // Each brings the catalog from the version before to its own and records it.
  std::function<void()> to_1;
  std::function<void()> to_2;
  // The outbox's change capture.
  std::function<bool()> triggers_installed;
  std::function<void()> install_triggers;
};

// A catalog newer than kSchemaVersion is refused (SchemaError) and left as
// it is; one already at kSchemaVersion is only checked; otherwise the
// missing steps run in one write transaction, and a capture trigger someone
// dropped is put back. Returns kSchemaVersion (or the version found, when
// nothing was to do).
int run_migrations(Database& db, const MigrationSteps& steps);

}  // namespace cocktail::catalog

// CatalogStats: a summary of a catalog file for operators (catalog-admin
// stats): the schema version, the row count of every table, the latest
// change_log seq and each publication cursor. Read in one read transaction;
// works on any file, migrated or not, and never writes.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "cocktail/catalog/database.h"

namespace cocktail::catalog {

struct CatalogStats {
  int schema_version = 0;
  std::int64_t catalog_seq = 0;                                      // 0 when the file has no change_log yet
  std::vector<std::pair<std::string, std::int64_t>> tables;          // name, rows; by name
  std::vector<std::pair<std::string, std::int64_t>> published_seqs;  // outbox_cursor rows; by name
};

CatalogStats read_stats(Database& db);

}  // namespace cocktail::catalog

// CatalogProbe: reads the catalog's latest committed seq (change_log) over a
// read-only connection, so that analytics-regen can tell at start-up, and
// periodically while the publisher is silent, whether the catalog moved past
// the newest snapshot without it hearing about it.
//
// The connection is opened on first use and kept; after an error it is
// dropped and reopened on the next call (the catalog file may not exist yet
// when the service starts, or may be replaced). Never writes: a missing
// file is an error, not created.
//
// Not thread-safe: one thread at a time (the service's loop).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "cocktail/core/result.h"

namespace cocktail::catalog {
class Database;
}

namespace cocktail::regen_service {

class CatalogProbe {
 public:
  explicit CatalogProbe(std::string db_path);
  ~CatalogProbe();
  CatalogProbe(const CatalogProbe&) = delete;
  CatalogProbe& operator=(const CatalogProbe&) = delete;

  // The highest committed change_log seq (0 for a catalog that never
  // changed). An kUnavailable error naming the file when it cannot be read.
  core::Result<std::int64_t> latest_seq();

 private:
  std::string db_path_;
  std::unique_ptr<catalog::Database> db_;
};

}  // namespace cocktail::regen_service

#include "cocktail/regen_service/catalog_probe.h"

#include <exception>
#include <utility>

#include "cocktail/catalog/change_log.h"
#include "cocktail/catalog/database.h"

namespace cocktail::regen_service {

CatalogProbe::CatalogProbe(std::string db_path) : db_path_(std::move(db_path)) {}

CatalogProbe::~CatalogProbe() = default;

core::Result<std::int64_t> CatalogProbe::latest_seq() {
  try {
    if (!db_) {
      catalog::DatabaseOptions options;
      options.read_only = true;
      options.create_if_missing = false;
      options.busy_timeout_ms = 1000;  // the loop must not stall behind a long write
      db_ = catalog::Database::open(db_path_, options);
    }
    catalog::ChangeLog log(*db_);
    return log.latest_seq();
  } catch (const std::exception& e) {
    db_.reset();
    core::Error error;
    error.code = core::ErrorCode::kUnavailable;
    error.field = "catalog";
    error.message = "cannot read the latest seq of " + db_path_ + ": " + e.what();
    return error;
  }
}

}  // namespace cocktail::regen_service

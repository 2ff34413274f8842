// Backfill: imports a saved array of usage events (the seed's localStorage
// backup, see decode_backfill) into a usage database, idempotently, and
// rebuilds the roll-ups of every hour it touched from the stored events.
//
// Events are inserted 1,000 per transaction with their roll-up increments
// (ids already stored are skipped: importing a file twice adds nothing);
// then each touched hour still wholly inside the events retention (so that
// none of its events was deleted) is recounted from the events table in
// transactions of 24 hours, which also repairs a roll-up that disagreed.
// Events older than the retention are skipped (counted); any invalid event
// refuses the whole file before anything is written.
//
// Runs on the caller's connection (usage-admin's), beside a running
// usage-api: SQLite serialises the two writers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cocktail/catalog/database.h"
#include "cocktail/core/result.h"
#include "cocktail/usage/event_decoding.h"
#include "cocktail/usage/usage_store.h"

namespace cocktail::usage {

struct BackfillReport {
  std::int64_t read = 0;             // events in the file
  std::int64_t inserted = 0;         // new to the database
  std::int64_t already_stored = 0;   // ids already present
  std::int64_t skipped_too_old = 0;  // older than the events retention
  std::int64_t hours_rebuilt = 0;
};

core::Result<BackfillReport> backfill(catalog::Database& db, std::string_view text, std::int64_t now_ms,
                                      const DecodeLimits& limits, const StoreOptions& store_options);

}  // namespace cocktail::usage

// The catalog on PostgreSQL: what migrate() adds to a database, how a
// change gets its seq there. Internal to libs/catalog; docs/catalog.md tells the same
// story for operators.
//
// Everything this program adds lives in the schema `cocktail` (tables,
// sequence, function), except one trigger per catalog table, named
// `cocktail_change_capture`. Existing tables, their triggers and data (the
// deployment's own statement-level triggers and its
// analytics_refresh_state flag included) are left as they are.
//
// Seqs in commit order. A seq is taken when the writing transaction
// commits, not when it changes a row: the capture triggers are constraint
// triggers, DEFERRABLE INITIALLY DEFERRED, so they run in the writer's own
// transaction just before its commit, once per changed row, in the order
// the rows were changed. The first of them takes a transaction-scoped
// advisory lock (kSeqLockKey) that is only released once the transaction has
// committed and is visible to others; the seqs come from a sequence while
// the lock is held. So transactions take their seqs one after another, in
// commit order: a reader that has seen seq N can never later find a
// committed seq below N it had not seen, whatever the writers' isolation
// levels and however long their transactions ran. A transaction that fails
// after taking its seqs (at commit itself) leaves a gap, which consumers
// already handle (a seq gap makes them read the whole state). The cost:
// catalog-changing transactions of all writers commit one at a time (from
// their capture triggers to the end of their commit). catalog-api's own
// writer reads its seq before committing, with SET CONSTRAINTS ... IMMEDIATE.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "cocktail/catalog/change_log.h"
#include "cocktail/catalog/database.h"
#include "pg_database.h"

// Wall clock in ms since the epoch, on the server.
#define PG_NOW_MS "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"

namespace cocktail::catalog::pg {

// pg_advisory_xact_lock keys: seq assignment, and migrate() itself.
inline constexpr std::int64_t kSeqLockKey = 0x636f636b7461696c;      // "cocktail"
inline constexpr std::int64_t kMigrateLockKey = 0x636f636b6d696772;  // "cockmigr"
// The NOTIFY channel raised by every capturing transaction.
inline constexpr const char* kNotifyChannel = "cocktail_catalog_change";
// The name of the capture trigger on each catalog table.
inline constexpr const char* kCaptureTrigger = "cocktail_change_capture";

int schema_version(Database& db);
// True when the database holds any of the catalog tables.
bool holds_catalog(Database& db);
int migrate(Database& db);
void install_capture_triggers(Database& db);
void disable_capture_triggers(Database& db);
bool capture_triggers_installed(Database& db);
// Fires this transaction's pending capture triggers now, so that its seqs
// can be read before it commits (a statement to prepare and send).
inline constexpr const char* kCaptureNowSql = "SET CONSTRAINTS cocktail_change_capture IMMEDIATE";

// LISTENs to kNotifyChannel on a new connection to db's server.
std::unique_ptr<ChangeWatch> watch_changes(PgDatabase& db, std::function<void()> on_change);

}  // namespace cocktail::catalog::pg

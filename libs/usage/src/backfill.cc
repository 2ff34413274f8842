#include "cocktail/usage/backfill.h"

#include <algorithm>
#include <iterator>
#include <set>
#include <vector>

namespace cocktail::usage {

namespace {
constexpr std::size_t kEventsPerTransaction = 1000;
constexpr std::size_t kHoursPerTransaction = 24;
}  // namespace

core::Result<BackfillReport> backfill(catalog::Database& db, std::string_view text, std::int64_t now_ms,
                                      const DecodeLimits& limits, const StoreOptions& store_options) {
  auto decoded = decode_backfill(text, now_ms, limits);
  if (!decoded.ok()) {
    return decoded.error();
  }
  BackfillReport report;
  report.read = static_cast<std::int64_t>(decoded->events.size() + decoded->skipped_too_old);
  report.skipped_too_old = static_cast<std::int64_t>(decoded->skipped_too_old);

  UsageStore store(db, store_options);
  const auto& events = decoded->events;
  std::set<std::int64_t> hours;
  for (std::size_t begin = 0; begin < events.size(); begin += kEventsPerTransaction) {
    const std::size_t end = std::min(events.size(), begin + kEventsPerTransaction);
    const std::vector<UsageEvent> chunk(events.begin() + static_cast<std::ptrdiff_t>(begin),
                                        events.begin() + static_cast<std::ptrdiff_t>(end));
    catalog::Transaction tx(db, catalog::Transaction::Kind::kWrite);
    RollupDelta delta;
    report.inserted += static_cast<std::int64_t>(store.insert_events(chunk, delta));
    store.apply(delta, now_ms);
    tx.commit();
    for (const auto& e : chunk) {
      hours.insert(hour_of(e.timestamp_ms));
    }
  }
  report.already_stored = static_cast<std::int64_t>(events.size()) - report.inserted;

  // An hour whose oldest events retention may already have taken cannot be
  // recounted from the events: it keeps its increments. One hour of margin
  // covers a sweep running meanwhile.
  const std::int64_t first_whole = hour_of(now_ms - limits.max_age_ms) + 2 * kHourMs;
  std::vector<std::int64_t> rebuild;
  std::copy_if(hours.begin(), hours.end(), std::back_inserter(rebuild),
               [&](std::int64_t h) { return h >= first_whole; });
  for (std::size_t begin = 0; begin < rebuild.size(); begin += kHoursPerTransaction) {
    const std::size_t end = std::min(rebuild.size(), begin + kHoursPerTransaction);
    catalog::Transaction tx(db, catalog::Transaction::Kind::kWrite);
    store.rebuild_hours({rebuild.begin() + static_cast<std::ptrdiff_t>(begin),
                         rebuild.begin() + static_cast<std::ptrdiff_t>(end)},
                        now_ms);
    tx.commit();
  }
  report.hours_rebuilt = static_cast<std::int64_t>(rebuild.size());
  return report;
}

}  // namespace cocktail::usage

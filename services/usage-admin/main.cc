// usage-admin: offline tools for a usage database.
//   usage-admin backfill FILE.json --db F   import a saved array of events
//                                           (idempotent; rebuilds the hours it touched)
//   usage-admin stats --db F                row counts, time ranges and size, as JSON
// Both print one JSON object on stdout; exit 0 on success, 1 on a failure,
// 2 on bad arguments or an invalid file (nothing imported).
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <exception>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>

#include "cocktail/bus/events.h"
#include "cocktail/core/log.h"
#include "cocktail/core/options.h"
#include "cocktail/core/time.h"
#include "cocktail/usage/backfill.h"
#include "cocktail/usage/usage_store.h"

namespace core = cocktail::core;
namespace usage = cocktail::usage;

namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

[[noreturn]] void usage_error(const std::string& message) {
  std::cerr << "usage-admin: " << message << " (see usage-admin --help)\n";
  std::exit(2);
}

void number(Writer& w, const char* key, std::int64_t value) {
  w.Key(key);
  w.Int64(value);
}

void time_or_null(Writer& w, const char* key, const std::optional<std::int64_t>& ms) {
  w.Key(key);
  if (ms) {
    const std::string text = cocktail::bus::format_utc_timestamp(*ms);
    w.String(text.c_str());
  } else {
    w.Null();
  }
}

int backfill(const core::Options& o, const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    usage_error("cannot read " + file);
  }
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto db = usage::open_usage_db(o.get("--db"));
  usage::DecodeLimits limits;
  limits.max_age_ms = o.get_int("--events-retention-days") * 24 * usage::kHourMs;
  limits.max_properties_bytes = static_cast<std::size_t>(o.get_int("--max-properties-bytes"));
  limits.max_future_ms = o.get_int("--max-clock-skew-s") * 1000;
  usage::StoreOptions store;
  store.distribution_property = o.get("--distribution-property");
  store.max_keys_per_hour = static_cast<int>(o.get_int("--max-keys-per-hour"));
  limits.distribution_property = store.distribution_property;
  auto report = usage::backfill(*db, text, core::system_now_ms(), limits, store);
  if (!report.ok()) {
    rapidjson::StringBuffer b;
    Writer w(b);
    w.StartObject();
    w.Key("ok");
    w.Bool(false);
    w.Key("field");
    w.String(report.error().field.c_str());
    w.Key("error");
    w.String(report.error().message.c_str());
    w.EndObject();
    std::cout << b.GetString() << "\n";
    std::cerr << "usage-admin: " << file << ": " << report.error().message << "; nothing was imported\n";
    return 2;
  }
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  w.Key("ok");
  w.Bool(true);
  number(w, "read", report->read);
  number(w, "inserted", report->inserted);
  number(w, "already_stored", report->already_stored);
  number(w, "skipped_too_old", report->skipped_too_old);
  number(w, "hours_rebuilt", report->hours_rebuilt);
  w.EndObject();
  std::cout << buffer.GetString() << "\n";
  return 0;
}

int stats(const core::Options& o) {
  auto db = usage::open_usage_db(o.get("--db"));
  usage::UsageStore store(*db);
  cocktail::catalog::Transaction read(*db, cocktail::catalog::Transaction::Kind::kRead);
  const auto s = store.stats();
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  number(w, "schema_version", usage::kSchemaVersion);
  number(w, "events", s.events);
  time_or_null(w, "oldest_event", s.oldest_event_ms);
  time_or_null(w, "newest_event", s.newest_event_ms);
  number(w, "rollup_hours", s.rollup_hours);
  time_or_null(w, "oldest_hour", s.oldest_hour_ms);
  time_or_null(w, "newest_hour", s.newest_hour_ms);
  number(w, "sessions", s.sessions);
  number(w, "database_bytes", s.database_bytes);
  w.EndObject();
  std::cout << buffer.GetString() << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  core::Options o("usage-admin", "Offline tools for a usage database: backfill FILE.json, stats.");
  o.add_command("backfill", "import a saved array of events (the localStorage backup); idempotent")
      .add_command("stats", "row counts, time ranges and size of the database, as JSON")
      .add_string("--db", "USAGE_DB", "/var/lib/cocktaildb/usage/usage.db", "usage SQLite file")
      .add_int("--events-retention-days", "USAGE_EVENTS_RETENTION_DAYS", 30,
               "backfill skips events older than this, days (as usage-api's retention would delete them)")
      .add_int("--max-properties-bytes", "USAGE_MAX_PROPERTIES_BYTES", 8192,
               "an event's properties as JSON, bytes at most")
      .add_int("--max-clock-skew-s", "USAGE_MAX_CLOCK_SKEW_S", 300,
               "how far an event's timestamp may be ahead of this clock, s")
      .add_string("--distribution-property", "USAGE_DISTRIBUTION_PROPERTY", "risk_mode",
                  "the property whose values the roll-ups' risk_distribution counts")
      .add_int("--max-keys-per-hour", "USAGE_MAX_KEYS_PER_HOUR", 1000,
               "distinct keys per roll-up hour and dimension; more are counted as (other)");
  o.parse_or_exit(argc, argv);
  core::log::set_level(core::log::Level::kWarn);
  const auto& words = o.positional();
  try {
    if (!words.empty() && words[0] == "backfill") {
      if (words.size() != 2) {
        usage_error("backfill takes one file: usage-admin backfill FILE.json --db F");
      }
      return backfill(o, words[1]);
    }
    if (!words.empty() && words[0] == "stats") {
      return stats(o);
    }
  } catch (const std::exception& e) {
    std::cerr << "usage-admin: " << e.what() << "\n";
    return 1;
  }
  usage_error("a command is required: backfill FILE.json or stats");
}

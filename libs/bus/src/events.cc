#include "cocktail/bus/events.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <simdjson.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <utility>

#include "cocktail/core/time.h"

namespace cocktail::bus {
namespace {

using core::Error;

constexpr std::array<std::pair<Entity, std::string_view>, 4> kEntities = {{
    {Entity::kIngredient, "ingredient"},
    {Entity::kUnit, "unit"},
    {Entity::kRecipe, "recipe"},
    {Entity::kRecipeIngredient, "recipe_ingredient"},
}};
constexpr std::array<std::pair<Op, std::string_view>, 3> kOps = {{
    {Op::kInsert, "insert"},
    {Op::kUpdate, "update"},
    {Op::kDelete, "delete"},
}};

// Analytic type names become file names: keep them to a safe alphabet.
constexpr std::size_t kMaxFileTypeLength = 64;

// "'<name>' <rest>", or "'<name>'" without rest. Built by appending: GCC 12 reports a false -Wrestrict
// on `"'" + std::string(...)` at -O3.
std::string quoted(std::string_view name, std::string_view rest) {
  std::string out;
  out.reserve(name.size() + rest.size() + 3);
  out += '\'';
  out += name;
  out += '\'';
  if (!rest.empty()) {
    out += ' ';
    out += rest;
  }
  return out;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool valid_file_type(std::string_view type) {
  if (type.empty() || type.size() > kMaxFileTypeLength) {
    return false;
  }
  auto ok_first = [](char c) { return is_digit(c) || (c >= 'a' && c <= 'z'); };
  if (!ok_first(type.front())) {
    return false;
  }
  for (char c : type) {
    if (!ok_first(c) && c != '-' && c != '_' && c != '.') {
      return false;
    }
  }
  return true;
}

bool valid_sha256(std::string_view hex) {
  if (hex.size() != 64) {
    return false;
  }
  for (char c : hex) {
    if (!is_digit(c) && !(c >= 'a' && c <= 'f')) {
      return false;
    }
  }
  return true;
}

std::optional<Error> check_timestamp(std::string_view field, std::int64_t ms) {
  if (ms < 0 || ms > core::kMaxEpochMs) {
    return Error::invalid(std::string(field), "timestamp outside 1970..9999");
  }
  return std::nullopt;
}

std::optional<Error> check_at_least(std::string_view field, std::int64_t value, std::int64_t minimum) {
  if (value < minimum) {
    return Error::invalid(std::string(field), std::string(field) + " must be >= " + std::to_string(minimum) +
                                                  ", got " + std::to_string(value));
  }
  return std::nullopt;
}

// The contract's rules beyond JSON types; shared by encode and decode so that
// what we send is exactly what we accept.
std::optional<Error> check(const CatalogChange& e) {
  if (auto err = check_at_least("seq", e.seq, 1)) {
    return err;
  }
  return check_timestamp("ts", e.ts_ms);
}
std::optional<Error> check(const CatalogHeartbeat& e) {
  if (auto err = check_at_least("seq", e.seq, 0)) {
    return err;
  }
  return check_timestamp("ts", e.ts_ms);
}
std::optional<Error> check(const AnalyticsSnapshot& e) {
  if (auto err = check_at_least("generation", e.generation, 1)) {
    return err;
  }
  if (auto err = check_at_least("catalog_seq", e.catalog_seq, 0)) {
    return err;
  }
  if (auto err = check_timestamp("generated_at", e.generated_at_ms)) {
    return err;
  }
  if (e.files.empty()) {
    return Error::invalid("files", "a snapshot lists at least one file");
  }
  for (const auto& [type, file] : e.files) {
    if (!valid_file_type(type)) {
      return Error::invalid("files", "file type '" + type + "' is not [a-z0-9][a-z0-9._-]{0,63}");
    }
    if (!valid_sha256(file.sha256)) {
      return Error::invalid("files." + type + ".sha256", "sha256 must be 64 lowercase hex digits");
    }
    if (auto err = check_at_least("files." + type + ".bytes", file.bytes, 0)) {
      return err;
    }
    if (file.catalog_seq) {
      if (auto err = check_at_least("files." + type + ".catalog_seq", *file.catalog_seq, 0)) {
        return err;
      }
    }
  }
  return std::nullopt;
}
std::optional<Error> check(const AnalyticsHeartbeat& e) {
  if (auto err = check_at_least("generation", e.generation, 0)) {
    return err;
  }
  if (auto err = check_at_least("catalog_seq", e.catalog_seq, 0)) {
    return err;
  }
  return check_timestamp("ts", e.ts_ms);
}
std::optional<Error> check(const UsageHour& e) {
  if (auto err = check_timestamp("hour", e.hour_ms)) {
    return err;
  }
  if (e.hour_ms % 3'600'000 != 0) {
    return Error::invalid("hour", "'hour' must be a whole UTC hour");
  }
  if (auto err = check_at_least("total_events", e.total_events, 0)) {
    return err;
  }
  if (auto err = check_at_least("unique_sessions", e.unique_sessions, 0)) {
    return err;
  }
  return check_timestamp("ts", e.ts_ms);
}

std::optional<Error> check(const AnalyticsRepair& e) {
  if (auto err = check_at_least("generation", e.generation, 0)) {
    return err;
  }
  if (e.file != "CURRENT" && !valid_file_type(e.file)) {
    return Error::invalid("file",
                          "'file' must be a snapshot file name ([a-z0-9][a-z0-9._-]{0,63}) or CURRENT");
  }
  if (e.reason != "corrupt" && e.reason != "malformed" && e.reason != "not_found") {
    return Error::invalid("reason", "'reason' must be corrupt, malformed or not_found");
  }
  return check_timestamp("ts", e.ts_ms);
}

// ---- Encoding (RapidJSON writer: escapes strings, never builds a DOM).

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void key(Writer& w, std::string_view k) { w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size())); }
void str(Writer& w, std::string_view s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); }
void timestamp(Writer& w, std::string_view k, std::int64_t ms) {
  key(w, k);
  str(w, format_utc_timestamp(ms));
}
void integer(Writer& w, std::string_view k, std::int64_t v) {
  key(w, k);
  w.Int64(v);
}

void write(Writer& w, const CatalogChange& e) {
  integer(w, "seq", e.seq);
  timestamp(w, "ts", e.ts_ms);
  key(w, "entity");
  str(w, entity_name(e.entity));
  key(w, "op");
  str(w, op_name(e.op));
  integer(w, "id", e.id);
}
void write(Writer& w, const CatalogHeartbeat& e) {
  integer(w, "seq", e.seq);
  timestamp(w, "ts", e.ts_ms);
}
void write(Writer& w, const AnalyticsSnapshot& e) {
  integer(w, "generation", e.generation);
  integer(w, "catalog_seq", e.catalog_seq);
  timestamp(w, "generated_at", e.generated_at_ms);
  key(w, "files");
  w.StartObject();
  for (const auto& [type, file] : e.files) {
    key(w, type);
    w.StartObject();
    key(w, "sha256");
    str(w, file.sha256);
    integer(w, "bytes", file.bytes);
    if (file.catalog_seq) {
      integer(w, "catalog_seq", *file.catalog_seq);
    }
    w.EndObject();
  }
  w.EndObject();
}
void write(Writer& w, const AnalyticsHeartbeat& e) {
  integer(w, "generation", e.generation);
  integer(w, "catalog_seq", e.catalog_seq);
  timestamp(w, "ts", e.ts_ms);
}
void write(Writer& w, const UsageHour& e) {
  timestamp(w, "hour", e.hour_ms);
  integer(w, "total_events", e.total_events);
  integer(w, "unique_sessions", e.unique_sessions);
  timestamp(w, "ts", e.ts_ms);
}

void write(Writer& w, const AnalyticsRepair& e) {
  integer(w, "generation", e.generation);
  key(w, "file");
  str(w, e.file);
  key(w, "reason");
  str(w, e.reason);
  timestamp(w, "ts", e.ts_ms);
}

// ---- Decoding (simdjson DOM: bodies are small, and the DOM lets each field
// be checked for presence and type with a precise reason).

using simdjson::dom::element;
using simdjson::dom::object;

// Reads one field of an object; each getter returns an Error naming the field.
class Fields {
 public:
  explicit Fields(object obj, std::string prefix = {}) : obj_(obj), prefix_(std::move(prefix)) {}

  core::Result<element> get(std::string_view name) const {
    element value;
    if (obj_.at_key(name).get(value) != simdjson::SUCCESS) {
      return Error::invalid(path(name), "missing field " + quoted(path(name), ""));
    }
    return value;
  }

  core::Result<std::int64_t> integer(std::string_view name) const {
    auto value = get(name);
    if (!value) {
      return value.error();
    }
    std::int64_t out = 0;
    auto err = value->get_int64().get(out);
    if (err == simdjson::NUMBER_OUT_OF_RANGE) {
      return Error::invalid(path(name), quoted(path(name), "is out of the signed 64-bit range"));
    }
    if (err != simdjson::SUCCESS) {
      return Error::invalid(path(name), quoted(path(name), "must be an integer"));
    }
    return out;
  }

  core::Result<std::string_view> string(std::string_view name) const {
    auto value = get(name);
    if (!value) {
      return value.error();
    }
    std::string_view out;
    if (value->get_string().get(out) != simdjson::SUCCESS) {
      return Error::invalid(path(name), quoted(path(name), "must be a string"));
    }
    return out;
  }

  core::Result<std::int64_t> timestamp(std::string_view name) const {
    auto text = string(name);
    if (!text) {
      return text.error();
    }
    auto ms = parse_utc_timestamp(*text);
    if (!ms) {
      return Error::invalid(
          path(name), quoted(path(name), "must be an ISO 8601 UTC timestamp like 2026-11-24T10:00:00.123Z"));
    }
    return *ms;
  }

  core::Result<object> child(std::string_view name) const {
    auto value = get(name);
    if (!value) {
      return value.error();
    }
    object out;
    if (value->get_object().get(out) != simdjson::SUCCESS) {
      return Error::invalid(path(name), quoted(path(name), "must be an object"));
    }
    return out;
  }

 private:
  std::string path(std::string_view name) const {
    return prefix_.empty() ? std::string(name) : prefix_ + "." + std::string(name);
  }

  object obj_;
  std::string prefix_;
};

// Unwraps a Result or returns its error from the enclosing function.
#define COCKTAIL_BUS_ASSIGN(lhs, expr) \
  auto lhs##_result = (expr);          \
  if (!lhs##_result) return lhs##_result.error();

core::Result<Event> read_change(const Fields& f) {
  COCKTAIL_BUS_ASSIGN(seq, f.integer("seq"));
  COCKTAIL_BUS_ASSIGN(ts, f.timestamp("ts"));
  COCKTAIL_BUS_ASSIGN(entity_text, f.string("entity"));
  COCKTAIL_BUS_ASSIGN(op_text, f.string("op"));
  COCKTAIL_BUS_ASSIGN(id, f.integer("id"));
  auto entity = parse_entity(*entity_text_result);
  if (!entity) {
    return Error::invalid("entity", "unknown entity '" + std::string(*entity_text_result) +
                                        "' (ingredient, unit, recipe, recipe_ingredient)");
  }
  auto op = parse_op(*op_text_result);
  if (!op) {
    return Error::invalid("op", "unknown op '" + std::string(*op_text_result) + "' (insert, update, delete)");
  }
  return Event(CatalogChange{*seq_result, *ts_result, *entity, *op, *id_result});
}

core::Result<Event> read_catalog_heartbeat(const Fields& f) {
  COCKTAIL_BUS_ASSIGN(seq, f.integer("seq"));
  COCKTAIL_BUS_ASSIGN(ts, f.timestamp("ts"));
  return Event(CatalogHeartbeat{*seq_result, *ts_result});
}

core::Result<Event> read_snapshot(const Fields& f) {
  COCKTAIL_BUS_ASSIGN(generation, f.integer("generation"));
  COCKTAIL_BUS_ASSIGN(catalog_seq, f.integer("catalog_seq"));
  COCKTAIL_BUS_ASSIGN(generated_at, f.timestamp("generated_at"));
  COCKTAIL_BUS_ASSIGN(files, f.child("files"));
  AnalyticsSnapshot snapshot{*generation_result, *catalog_seq_result, *generated_at_result, {}};
  for (auto [type_key, value] : *files_result) {
    std::string type(type_key);
    object file_obj;
    if (value.get_object().get(file_obj) != simdjson::SUCCESS) {
      return Error::invalid("files." + type, quoted("files." + type, "must be an object"));
    }
    Fields file(file_obj, "files." + type);
    COCKTAIL_BUS_ASSIGN(sha, file.string("sha256"));
    COCKTAIL_BUS_ASSIGN(bytes, file.integer("bytes"));
    SnapshotFile entry{std::string(*sha_result), *bytes_result, std::nullopt};
    if (file_obj.at_key("catalog_seq").error() != simdjson::NO_SUCH_FIELD) {
      COCKTAIL_BUS_ASSIGN(file_seq, file.integer("catalog_seq"));
      entry.catalog_seq = *file_seq_result;
    }
    auto [it, inserted] = snapshot.files.emplace(type, std::move(entry));
    if (!inserted) {
      return Error::invalid("files", "file type '" + type + "' appears twice");
    }
  }
  return Event(std::move(snapshot));
}

core::Result<Event> read_analytics_heartbeat(const Fields& f) {
  COCKTAIL_BUS_ASSIGN(generation, f.integer("generation"));
  COCKTAIL_BUS_ASSIGN(catalog_seq, f.integer("catalog_seq"));
  COCKTAIL_BUS_ASSIGN(ts, f.timestamp("ts"));
  return Event(AnalyticsHeartbeat{*generation_result, *catalog_seq_result, *ts_result});
}

core::Result<Event> read_usage_hour(const Fields& f) {
  COCKTAIL_BUS_ASSIGN(hour, f.timestamp("hour"));
  COCKTAIL_BUS_ASSIGN(total_events, f.integer("total_events"));
  COCKTAIL_BUS_ASSIGN(unique_sessions, f.integer("unique_sessions"));
  COCKTAIL_BUS_ASSIGN(ts, f.timestamp("ts"));
  return Event(UsageHour{*hour_result, *total_events_result, *unique_sessions_result, *ts_result});
}

core::Result<Event> read_analytics_repair(const Fields& f) {
  COCKTAIL_BUS_ASSIGN(generation, f.integer("generation"));
  COCKTAIL_BUS_ASSIGN(file, f.string("file"));
  COCKTAIL_BUS_ASSIGN(reason, f.string("reason"));
  COCKTAIL_BUS_ASSIGN(ts, f.timestamp("ts"));
  return Event(AnalyticsRepair{*generation_result, std::string(*file_result), std::string(*reason_result),
                               *ts_result});
}

#undef COCKTAIL_BUS_ASSIGN

// Digits at text[pos, pos+n) as a number; -1 if any is not a digit.
int digits(std::string_view text, std::size_t pos, std::size_t n) {
  int value = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (!is_digit(text[i])) {
      return -1;
    }
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

}  // namespace

std::string_view entity_name(Entity entity) {
  for (const auto& [e, name] : kEntities) {
    if (e == entity) {
      return name;
    }
  }
  throw std::invalid_argument("unknown Entity value");
}

std::optional<Entity> parse_entity(std::string_view name) {
  for (const auto& [e, n] : kEntities) {
    if (n == name) {
      return e;
    }
  }
  return std::nullopt;
}

std::string_view op_name(Op op) {
  for (const auto& [o, name] : kOps) {
    if (o == op) {
      return name;
    }
  }
  throw std::invalid_argument("unknown Op value");
}

std::optional<Op> parse_op(std::string_view name) {
  for (const auto& [o, n] : kOps) {
    if (n == name) {
      return o;
    }
  }
  return std::nullopt;
}

std::string_view topic_of(const Event& event) {
  struct Visitor {
    std::string_view operator()(const CatalogChange&) const { return kCatalogChangeTopic; }
    std::string_view operator()(const CatalogHeartbeat&) const { return kCatalogHeartbeatTopic; }
    std::string_view operator()(const AnalyticsSnapshot&) const { return kAnalyticsSnapshotTopic; }
    std::string_view operator()(const AnalyticsHeartbeat&) const { return kAnalyticsHeartbeatTopic; }
    std::string_view operator()(const UsageHour&) const { return kUsageHourTopic; }
    std::string_view operator()(const AnalyticsRepair&) const { return kAnalyticsRepairTopic; }
  };
  return std::visit(Visitor{}, event);
}

std::string encode_body(const Event& event) {
  std::visit(
      [&](const auto& e) {
        if (auto err = check(e)) {
          throw std::invalid_argument("cannot encode " + std::string(topic_of(event)) + ": " + err->message);
        }
      },
      event);
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  integer(w, "v", kEventVersion);
  std::visit([&](const auto& e) { write(w, e); }, event);
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

core::Result<Event> decode(std::string_view topic, std::string_view body) {
  core::Result<Event> (*reader)(const Fields&) = nullptr;
  if (topic == kCatalogChangeTopic) {
    reader = read_change;
  } else if (topic == kCatalogHeartbeatTopic) {
    reader = read_catalog_heartbeat;
  } else if (topic == kAnalyticsSnapshotTopic) {
    reader = read_snapshot;
  } else if (topic == kAnalyticsHeartbeatTopic) {
    reader = read_analytics_heartbeat;
  } else if (topic == kUsageHourTopic) {
    reader = read_usage_hour;
  } else if (topic == kAnalyticsRepairTopic) {
    reader = read_analytics_repair;
  } else {
    return Error::invalid("topic", "unknown topic '" + std::string(topic.substr(0, 64)) + "'");
  }

  // An empty view may have no bytes at all (a null data pointer), which the
  // parser must not be handed.
  if (body.empty()) {
    return Error::invalid("", "body is not valid JSON: it is empty");
  }
  // One parser per thread: it keeps its buffers between messages, and
  // parsers are not shareable across threads.
  thread_local simdjson::dom::parser parser;
  element root;
  if (auto err = parser.parse(body.data(), body.size()).get(root); err != simdjson::SUCCESS) {
    return Error::invalid("", std::string("body is not valid JSON: ") + simdjson::error_message(err));
  }
  object obj;
  if (root.get_object().get(obj) != simdjson::SUCCESS) {
    return Error::invalid("", "body must be a JSON object");
  }
  Fields fields(obj);
  auto version = fields.integer("v");
  if (!version) {
    return version.error();
  }
  if (*version != kEventVersion) {
    return Error::invalid("v", "unsupported version " + std::to_string(*version) +
                                   " (this build reads v=" + std::to_string(kEventVersion) + ")");
  }
  auto event = reader(fields);
  if (!event) {
    return event;
  }
  auto problem = std::visit([](const auto& e) { return check(e); }, *event);
  if (problem) {
    return *problem;
  }
  return event;
}

std::optional<std::int64_t> parse_utc_timestamp(std::string_view t) {
  // YYYY-MM-DDTHH:MM:SS is 19 characters, then an optional fraction, then Z.
  if (t.size() < 20 || t.back() != 'Z') {
    return std::nullopt;
  }
  if (t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' || t[16] != ':') {
    return std::nullopt;
  }
  const int year = digits(t, 0, 4), month = digits(t, 5, 2), day = digits(t, 8, 2);
  const int hour = digits(t, 11, 2), minute = digits(t, 14, 2), second = digits(t, 17, 2);
  if (year < 1970 || month < 0 || day < 0 || hour < 0 || hour > 23 || minute < 0 || minute > 59 ||
      second < 0 || second > 59) {
    return std::nullopt;
  }
  int millis = 0;
  const std::size_t rest = t.size() - 20;  // characters between seconds and 'Z'
  if (rest > 0) {
    if (t[19] != '.' || rest < 2 || rest > 10) {
      return std::nullopt;
    }
    const std::size_t n = rest - 1;
    if (digits(t, 20, n) < 0) {
      return std::nullopt;
    }
    // Milliseconds from the first three fraction digits, padding with zeros.
    for (std::size_t i = 0; i < 3; ++i) {
      millis = millis * 10 + (i < n ? t[20 + i] - '0' : 0);
    }
  }
  const std::chrono::year_month_day date{std::chrono::year(year),
                                         std::chrono::month(static_cast<unsigned>(month)),
                                         std::chrono::day(static_cast<unsigned>(day))};
  if (!date.ok()) {
    return std::nullopt;
  }
  const auto days = std::chrono::sys_days(date).time_since_epoch().count();
  return ((static_cast<std::int64_t>(days) * 24 + hour) * 60 + minute) * 60000 +
         static_cast<std::int64_t>(second) * 1000 + millis;
}

std::string format_utc_timestamp(std::int64_t epoch_ms) {
  const std::chrono::sys_days day{std::chrono::floor<std::chrono::days>(std::chrono::milliseconds(epoch_ms))};
  const std::chrono::year_month_day ymd{day};
  std::int64_t in_day =
      epoch_ms - std::chrono::duration_cast<std::chrono::milliseconds>(day.time_since_epoch()).count();
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(in_day / 3600000), static_cast<int>(in_day / 60000 % 60),
                static_cast<int>(in_day / 1000 % 60), static_cast<int>(in_day % 1000));
  return buf;
}

}  // namespace cocktail::bus

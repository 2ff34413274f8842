// The events exchanged on ZeroMQ and their JSON encoding: the system's wire
// contract, written down as JSON Schemas in proto/events/ (see proto/README.md).
//
// A message is two frames, [topic, json]. Every body is a JSON object with a
// version field "v" (currently 1). Timestamps travel as ISO 8601 UTC strings
// with millisecond precision ("2026-11-24T10:00:00.123Z") and are held here as
// milliseconds since the Unix epoch.
//
// Decoding never throws on bad input: a malformed body, a wrong type, a
// missing field, an unknown topic or an unsupported version is returned as a
// core::Error (code kInvalidArgument, `field` naming the culprit). Unknown
// fields are ignored, so that additive changes keep the version.
//
// All functions here are thread-safe (decoding uses a per-thread parser).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "cocktail/core/result.h"

namespace cocktail::bus {

// The version this code writes and the only one it accepts.
inline constexpr std::int64_t kEventVersion = 1;

inline constexpr std::string_view kCatalogChangeTopic = "catalog.change";
inline constexpr std::string_view kCatalogHeartbeatTopic = "catalog.heartbeat";
inline constexpr std::string_view kAnalyticsSnapshotTopic = "analytics.snapshot";
inline constexpr std::string_view kAnalyticsHeartbeatTopic = "analytics.heartbeat";
inline constexpr std::string_view kUsageHourTopic = "usage.hour";
inline constexpr std::string_view kAnalyticsRepairTopic = "analytics.repair";

// The catalog tables whose rows produce change events.
enum class Entity { kIngredient, kUnit, kRecipe, kRecipeIngredient };
enum class Op { kInsert, kUpdate, kDelete };

// "ingredient", "unit", "recipe", "recipe_ingredient".
std::string_view entity_name(Entity entity);
std::optional<Entity> parse_entity(std::string_view name);
// "insert", "update", "delete".
std::string_view op_name(Op op);
std::optional<Op> parse_op(std::string_view name);

// One committed change_log row. seq >= 1, strictly increasing in commit order.
struct CatalogChange {
  std::int64_t seq = 0;
  std::int64_t ts_ms = 0;  // when the change was committed (wall clock)
  Entity entity = Entity::kRecipe;
  Op op = Op::kInsert;
  std::int64_t id = 0;  // the changed row's id in its table

  bool operator==(const CatalogChange&) const = default;
};

// The latest committed seq (0 for a catalog that never changed), sent every second.
struct CatalogHeartbeat {
  std::int64_t seq = 0;
  std::int64_t ts_ms = 0;

  bool operator==(const CatalogHeartbeat&) const = default;
};

// One file of a snapshot generation: lowercase hex SHA-256 of its bytes, and its size.
// catalog_seq: the seq the file was computed from when it differs from the
// generation's (a file carried forward unchanged); absent: the generation's.
struct SnapshotFile {
  SnapshotFile() = default;
  SnapshotFile(std::string sha256_hex, std::int64_t size, std::optional<std::int64_t> seq = std::nullopt)
      : sha256(std::move(sha256_hex)), bytes(size), catalog_seq(seq) {}

  std::string sha256;
  std::int64_t bytes = 0;
  std::optional<std::int64_t> catalog_seq;

  bool operator==(const SnapshotFile&) const = default;
};

// A new snapshot generation is current. generation >= 1.
struct AnalyticsSnapshot {
  std::int64_t generation = 0;
  std::int64_t catalog_seq = 0;  // the catalog seq the generation was computed from
  std::int64_t generated_at_ms = 0;
  // Keyed by analytic type ("ingredient-usage", "recipe-distances-em", ...).
  std::map<std::string, SnapshotFile> files;

  bool operator==(const AnalyticsSnapshot&) const = default;
};

// What is current, sent every second. generation 0: no generation yet.
struct AnalyticsHeartbeat {
  std::int64_t generation = 0;
  std::int64_t catalog_seq = 0;
  std::int64_t ts_ms = 0;

  bool operator==(const AnalyticsHeartbeat&) const = default;
};

// An hour's usage roll-up changed (usage-api, rate-limited): its totals now.
// hour_ms is a whole UTC hour (a multiple of 3,600,000).
struct UsageHour {
  std::int64_t hour_ms = 0;
  std::int64_t total_events = 0;
  std::int64_t unique_sessions = 0;
  std::int64_t ts_ms = 0;  // when it was sent

  bool operator==(const UsageHour&) const = default;
};

// A reader (analytics-api) refused the current generation because one of its
// files failed verification, and asks analytics-regen for a fresh one. A
// hint like every event: analytics-regen verifies the file itself before
// anything is rewritten, so a wrong or forged request costs one read.
struct AnalyticsRepair {
  std::int64_t generation = 0;  // the generation refused; 0: CURRENT itself unreadable
  // The file that failed, as the manifest names it ("recipe-similar.json"),
  // "manifest.json", or "CURRENT".
  std::string file;
  std::string reason;  // "corrupt", "malformed" or "not_found"
  std::int64_t ts_ms = 0;

  bool operator==(const AnalyticsRepair&) const = default;
};

using Event = std::variant<CatalogChange, CatalogHeartbeat, AnalyticsSnapshot, AnalyticsHeartbeat, UsageHour,
                           AnalyticsRepair>;

// The topic an event is published under.
std::string_view topic_of(const Event& event);

// The JSON body of an event (without the topic frame). Throws
// std::invalid_argument if the event breaks the contract (negative seq, a
// sha256 that is not 64 lowercase hex digits, ...): that is a caller bug, and
// sending it would only make every consumer drop it.
std::string encode_body(const Event& event);

// Decodes the body of a message received under `topic`. The topic decides
// the expected type; an unknown topic is an error.
core::Result<Event> decode(std::string_view topic, std::string_view body);

// ISO 8601 UTC timestamp as used on the wire: "YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z",
// years 1970..9999. Fractions beyond milliseconds are truncated. nullopt on
// anything else (offsets other than Z, missing parts, out-of-range fields).
std::optional<std::int64_t> parse_utc_timestamp(std::string_view text);
// The inverse: always millisecond precision, e.g. "2026-11-24T10:00:00.123Z".
std::string format_utc_timestamp(std::int64_t epoch_ms);

}  // namespace cocktail::bus

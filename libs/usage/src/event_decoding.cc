#include "cocktail/usage/event_decoding.h"

#include <openssl/sha.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <simdjson.h>

#include <array>
#include <optional>
#include <utility>

#include "cocktail/bus/events.h"

namespace cocktail::usage {
namespace {

using core::Error;
using core::FieldError;
using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

constexpr std::size_t kMaxReportedProblems = 100;
constexpr std::size_t kMaxEventIdBytes = 64;

// Problems of one body; the first one becomes the error's field and message.
class Problems {
 public:
  void add(int index, std::string field, std::string message) {
    if (list_.size() < kMaxReportedProblems) {
      list_.push_back({index, std::move(field), std::move(message)});
    }
    ++count_;
  }
  bool empty() const { return count_ == 0; }
  Error error() const {
    Error e = Error::invalid(list_.front().field, list_.front().message);
    if (count_ > 1) {
      e.message += " (and " + std::to_string(count_ - 1) + " more problems)";
    }
    e.details = list_;
    return e;
  }

 private:
  std::vector<FieldError> list_;
  std::size_t count_ = 0;
};

// The field's name as the client sees it: "session_id", or "[3].session_id".
// Strings are built by appending: GCC 12 reports a false -Wrestrict on
// `"x" + std::string(...)` chains at -O3.
std::string path(int index, std::string_view field) {
  std::string out;
  if (index >= 0) {
    out.append("[").append(std::to_string(index)).append("]");
    if (!field.empty()) {
      out.append(".");
    }
  }
  // A client's key may be long: names in messages are cut (at a character boundary).
  constexpr std::size_t kMaxShown = 64;
  if (field.size() > kMaxShown) {
    std::size_t cut = kMaxShown;
    while (cut > 0 && (static_cast<unsigned char>(field[cut]) & 0xC0) == 0x80) {
      --cut;
    }
    out.append(field.substr(0, cut)).append("...");
  } else {
    out.append(field);
  }
  return out;
}

std::string say(const std::string& field, std::string_view what) {
  std::string out;
  out.reserve(field.size() + what.size() + 3);
  out.append("'").append(field).append("' ").append(what);
  return out;
}

bool has_control_character(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) {
      return true;
    }
  }
  return false;
}

bool valid_event_id(std::string_view s) {
  if (s.empty() || s.size() > kMaxEventIdBytes) {
    return false;
  }
  for (char c : s) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) {
      return false;
    }
  }
  return true;
}

// What the roll-ups' distribution counts: a short printable string.
bool countable(std::string_view value) {
  return !value.empty() && value.size() <= kMaxKeyBytes && !has_control_character(value);
}

enum class Mode { kTrack, kBackfill };

// Decodes one event object. Appends problems; returns the event when none.
class EventReader {
 public:
  EventReader(const DecodeLimits& limits, std::int64_t now_ms, Mode mode, Problems& problems)
      : limits_(limits), now_ms_(now_ms), mode_(mode), problems_(problems) {}

  enum class Verdict { kOk, kInvalid, kTooOld };

  Verdict read(element value, int index, UsageEvent& out) {
    index_ = index;
    bad_ = false;
    object obj;
    if (value.get_object().get(obj) != simdjson::SUCCESS) {
      fail(index < 0 ? "" : path(index, ""), index < 0 ? std::string("an event must be a JSON object")
                                                       : say(path(index, ""), "must be an event object"));
      return Verdict::kInvalid;
    }
    out = UsageEvent{};
    out.received_at_ms = now_ms_;
    std::optional<std::int64_t> timestamp;
    std::optional<object> properties;
    std::vector<std::pair<std::string_view, element>> unknown;
    std::array<bool, 9> seen{};
    static constexpr std::array<std::string_view, 9> kKnown = {"event_type", "session_id", "user_id",
                                                               "tool_name",  "action",     "properties",
                                                               "demo_mode",  "timestamp",  "event_id"};

    for (auto [key, field] : obj) {
      std::size_t k = kKnown.size();
      for (std::size_t i = 0; i < kKnown.size(); ++i) {
        if (kKnown[i] == key) {
          k = i;
        }
      }
      if (k == kKnown.size() && mode_ == Mode::kBackfill && key == "id") {
        k = 8;  // a backup's own id is the event id
      }
      if (k == kKnown.size()) {
        for (const auto& [name, ignored] : unknown) {
          if (name == key) {
            fail(path(index, key), say(path(index, key), "appears twice"));
          }
        }
        unknown.emplace_back(key, field);
        continue;
      }
      if (seen[k]) {
        fail(path(index, kKnown[k]), say(path(index, kKnown[k]), "appears twice"));
        continue;
      }
      seen[k] = true;
      switch (k) {
        case 0: read_string(field, "event_type", kMaxTypeBytes, true, &out.event_type); break;
        case 1: read_string(field, "session_id", kMaxNameBytes, true, &out.session_id); break;
        case 2: read_optional(field, "user_id", kMaxNameBytes, out.user_id); break;
        case 3: read_optional(field, "tool_name", kMaxNameBytes, out.tool_name); break;
        case 4: read_optional(field, "action", kMaxTypeBytes, out.action); break;
        case 5:
          if (!field.is_null()) {
            object props;
            if (field.get_object().get(props) != simdjson::SUCCESS) {
              fail(path(index, "properties"), say(path(index, "properties"), "must be an object or null"));
            } else {
              properties = props;
            }
          }
          break;
        case 6:
          if (!field.is_null()) {
            bool flag = true;
            if (field.get_bool().get(flag) != simdjson::SUCCESS) {
              fail(path(index, "demo_mode"), say(path(index, "demo_mode"), "must be true, false or null"));
            }
            out.demo_mode = flag;
          }
          break;
        case 7: timestamp = read_timestamp(field); break;
        case 8: {
          std::optional<std::string> id;
          read_optional(field, "event_id", kMaxEventIdBytes, id);
          if (id && !valid_event_id(*id)) {
            fail(path(index, "event_id"), say(path(index, "event_id"), "must match [A-Za-z0-9_-]{1,64}"));
          } else if (id) {
            out.id = std::move(*id);
          }
          break;
        }
        default: break;
      }
    }
    if (!seen[0]) {
      fail(path(index, "event_type"), say(path(index, "event_type"), "is required"));
    }
    if (!seen[1]) {
      fail(path(index, "session_id"), say(path(index, "session_id"), "is required"));
    }
    if (mode_ == Mode::kBackfill && !timestamp && !bad_) {
      // The import time would give the event another derived id on every import.
      fail(path(index, "timestamp"), say(path(index, "timestamp"), "is required in a backup"));
    }
    merge_properties(properties, unknown, out);
    if (bad_) {
      return Verdict::kInvalid;
    }

    out.timestamp_ms = timestamp.value_or(now_ms_);
    if (out.timestamp_ms > now_ms_ + limits_.max_future_ms) {
      fail(path(index, "timestamp"),
           say(path(index, "timestamp"), "is in the future (more than " +
                                             std::to_string(limits_.max_future_ms / 1000) +
                                             " s ahead of the server's clock)"));
      return Verdict::kInvalid;
    }
    if (out.timestamp_ms < now_ms_ - limits_.max_age_ms) {
      if (mode_ == Mode::kBackfill) {
        return Verdict::kTooOld;
      }
      fail(path(index, "timestamp"),
           say(path(index, "timestamp"), "is older than the events retention (" +
                                             std::to_string(limits_.max_age_ms / kHourMs) + " hours)"));
      return Verdict::kInvalid;
    }
    return Verdict::kOk;
  }

 private:
  void fail(std::string field, std::string message) {
    bad_ = true;
    problems_.add(index_, std::move(field), std::move(message));
  }

  // A string of 1..max bytes without control characters; false (and a
  // problem) otherwise.
  bool check_string(element field, std::string_view name, std::size_t max, std::string_view* out) {
    const std::string p = path(index_, name);
    if (field.get_string().get(*out) != simdjson::SUCCESS) {
      fail(p, say(p, "must be a string"));
      return false;
    }
    if (out->empty()) {
      fail(p, say(p, "must not be empty"));
      return false;
    }
    if (out->size() > max) {
      fail(p, say(p, "is longer than " + std::to_string(max) + " bytes"));
      return false;
    }
    if (has_control_character(*out)) {
      fail(p, say(p, "must not contain control characters"));
      return false;
    }
    return true;
  }

  void read_string(element field, std::string_view name, std::size_t max, bool required, std::string* out) {
    if (field.is_null()) {
      if (required) {
        fail(path(index_, name), say(path(index_, name), "must be a string, not null"));
      }
      return;
    }
    std::string_view s;
    if (check_string(field, name, max, &s)) {
      *out = std::string(s);
    }
  }

  void read_optional(element field, std::string_view name, std::size_t max, std::optional<std::string>& out) {
    if (field.is_null()) {
      return;
    }
    std::string_view s;
    if (check_string(field, name, max, &s)) {
      out = std::string(s);
    }
  }

  std::optional<std::int64_t> read_timestamp(element field) {
    if (field.is_null()) {
      return std::nullopt;
    }
    const std::string p = path(index_, "timestamp");
    std::string_view text;
    std::optional<std::int64_t> ms;
    if (field.get_string().get(text) == simdjson::SUCCESS) {
      ms = bus::parse_utc_timestamp(text);
    }
    if (!ms) {
      fail(p, say(p, "must be an ISO 8601 UTC timestamp like 2026-11-24T10:00:00.123Z, or null"));
    }
    return ms;
  }

  // properties plus the unknown top-level fields, minified; the
  // distribution property's value when it is a short string.
  void merge_properties(const std::optional<object>& properties,
                        const std::vector<std::pair<std::string_view, element>>& unknown, UsageEvent& out) {
    if (!properties && unknown.empty()) {
      return;
    }
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartObject();
    bool distribution_seen = false;
    auto member = [&](std::string_view key, element value) {
      w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
      const std::string raw = simdjson::to_string(value);
      w.RawValue(raw.data(), raw.size(), rapidjson::kObjectType);
      std::string_view text;
      if (key == limits_.distribution_property && !distribution_seen) {
        distribution_seen = true;
        if (value.get_string().get(text) == simdjson::SUCCESS && countable(text)) {
          out.distribution_value = std::string(text);
        }
      }
    };
    if (properties) {
      for (auto [key, value] : *properties) {
        member(key, value);
      }
    }
    for (const auto& [key, value] : unknown) {
      element clash;
      if (properties && properties->at_key(key).get(clash) == simdjson::SUCCESS) {
        const std::string p = path(index_, key);
        fail(p, say(p, "is both a top-level field and a key of properties"));
        continue;
      }
      member(key, value);
    }
    w.EndObject();
    if (buffer.GetSize() > limits_.max_properties_bytes) {
      const std::string p = path(index_, "properties");
      fail(p, say(p, "is " + std::to_string(buffer.GetSize()) + " bytes of JSON (unknown top-level fields " +
                         "included); at most " + std::to_string(limits_.max_properties_bytes)));
      return;
    }
    out.properties = std::string(buffer.GetString(), buffer.GetSize());
  }

  const DecodeLimits& limits_;
  const std::int64_t now_ms_;
  const Mode mode_;
  Problems& problems_;
  int index_ = -1;
  bool bad_ = false;
};

// Parses the whole text; a body-level error when it is not valid JSON.
core::Result<element> parse(simdjson::dom::parser& parser, std::string_view text) {
  element root;
  const auto err = parser.parse(text.data(), text.size()).get(root);
  if (err == simdjson::UTF8_ERROR) {
    return Error::invalid("body", "the body is not valid UTF-8");
  }
  if (err != simdjson::SUCCESS) {
    return Error::invalid("body", std::string("the body is not valid JSON: ") + simdjson::error_message(err));
  }
  return root;
}

}  // namespace

core::Result<TrackBatch> decode_track(std::string_view body, std::int64_t now_ms,
                                      const DecodeLimits& limits) {
  thread_local simdjson::dom::parser parser;
  auto root = parse(parser, body);
  if (!root) {
    return root.error();
  }
  Problems problems;
  EventReader reader(limits, now_ms, Mode::kTrack, problems);
  TrackBatch batch;
  array items;
  if (root->get_array().get(items) == simdjson::SUCCESS) {
    batch.is_array = true;
    const std::size_t n = items.size();
    if (n == 0) {
      return Error::invalid("body", "the body is an empty array; send at least one event");
    }
    if (n > limits.max_events) {
      std::string message = "the body holds ";
      message.append(std::to_string(n)).append(" events; at most ").append(std::to_string(limits.max_events));
      message.append(" per request");
      return Error::invalid("body", message);
    }
    batch.events.reserve(n);
    int index = 0;
    for (element item : items) {
      UsageEvent event;
      if (reader.read(item, index++, event) == EventReader::Verdict::kOk) {
        batch.events.push_back(std::move(event));
      }
    }
  } else if (root->is_object()) {
    UsageEvent event;
    if (reader.read(*root, -1, event) == EventReader::Verdict::kOk) {
      batch.events.push_back(std::move(event));
    }
  } else {
    return Error::invalid("body", "the body must be an event object or an array of event objects");
  }
  if (!problems.empty()) {
    return problems.error();
  }
  return batch;
}

core::Result<BackfillBatch> decode_backfill(std::string_view text, std::int64_t now_ms,
                                            const DecodeLimits& limits) {
  simdjson::dom::parser parser;
  auto root = parse(parser, text);
  if (!root) {
    return root.error();
  }
  // localStorage holds a string: a copy of it may be the JSON text quoted once more.
  std::string inner;
  simdjson::dom::parser inner_parser;
  std::string_view quoted;
  if (root->get_string().get(quoted) == simdjson::SUCCESS) {
    inner = std::string(quoted);
    root = parse(inner_parser, inner);
    if (!root) {
      return root.error();
    }
  }
  array items;
  object wrapper;
  if (root->get_object().get(wrapper) == simdjson::SUCCESS) {
    if (wrapper.at_key("events").get_array().get(items) != simdjson::SUCCESS) {
      return Error::invalid("events", "a backup object must hold an array 'events'");
    }
  } else if (root->get_array().get(items) != simdjson::SUCCESS) {
    return Error::invalid("body", "the body of a backup must be an array of events (or {\"events\": [...]})");
  }
  Problems problems;
  EventReader reader(limits, now_ms, Mode::kBackfill, problems);
  BackfillBatch batch;
  batch.events.reserve(items.size());
  int index = 0;
  for (element item : items) {
    UsageEvent event;
    switch (reader.read(item, index++, event)) {
      case EventReader::Verdict::kOk:
        if (event.id.empty()) {
          event.id = derived_event_id(event);
        }
        batch.events.push_back(std::move(event));
        break;
      case EventReader::Verdict::kTooOld: ++batch.skipped_too_old; break;
      case EventReader::Verdict::kInvalid: break;
    }
  }
  if (!problems.empty()) {
    return problems.error();
  }
  return batch;
}

std::optional<std::string> distribution_value(std::string_view properties_json, std::string_view property) {
  thread_local simdjson::dom::parser parser;
  object obj;
  if (parser.parse(properties_json.data(), properties_json.size()).get_object().get(obj) !=
      simdjson::SUCCESS) {
    return std::nullopt;
  }
  std::string_view text;
  if (obj.at_key(property).get_string().get(text) != simdjson::SUCCESS || !countable(text)) {
    return std::nullopt;
  }
  return std::string(text);
}

std::string derived_event_id(const UsageEvent& e) {
  // Each field with a presence marker and a terminator, so that no two
  // different events hash the same text.
  std::string text;
  auto add = [&](const std::optional<std::string>& field) {
    if (field) {
      text.append("1").append(*field);
    } else {
      text.append("0");
    }
    text.push_back('\0');
  };
  add(e.session_id);
  add(e.event_type);
  add(e.user_id);
  add(e.tool_name);
  add(e.action);
  add(e.properties);
  text += e.demo_mode ? "1" : "0";
  text += std::to_string(e.timestamp_ms);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = "evt_";
  for (int i = 0; i < 16; ++i) {
    id += kHex[digest[i] >> 4];
    id += kHex[digest[i] & 0xf];
  }
  return id;
}

}  // namespace cocktail::usage

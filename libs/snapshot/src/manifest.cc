#include "cocktail/snapshot/manifest.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <simdjson.h>

#include <optional>

#include "cocktail/core/time.h"

namespace cocktail::snapshot {

bool is_valid_file_name(std::string_view name) {
  if (name.empty() || name.size() > 64 || name == kManifestName) {
    return false;
  }
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!(alnum || (i > 0 && (c == '.' || c == '_' || c == '-')))) {
      return false;
    }
  }
  return true;
}

std::string manifest_json(const Manifest& m) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("generation");
  w.Int64(m.generation);
  w.Key("catalog_seq");
  w.Int64(m.catalog_seq);
  w.Key("generated_at");
  const std::string ts = core::format_utc_iso8601(m.generated_at_ms);
  w.String(ts.data(), static_cast<rapidjson::SizeType>(ts.size()));
  w.Key("generated_at_ms");
  w.Int64(m.generated_at_ms);
  w.Key("files");
  w.StartObject();
  for (const auto& [name, entry] : m.files) {
    w.Key(name.data(), static_cast<rapidjson::SizeType>(name.size()));
    w.StartObject();
    w.Key("sha256");
    w.String(entry.sha256.data(), static_cast<rapidjson::SizeType>(entry.sha256.size()));
    w.Key("bytes");
    w.Int64(entry.bytes);
    if (entry.catalog_seq) {
      w.Key("catalog_seq");
      w.Int64(*entry.catalog_seq);
    }
    w.EndObject();
  }
  w.EndObject();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

namespace {

// "YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z" -> Unix epoch ms.
std::optional<std::int64_t> parse_utc_iso8601(std::string_view s) {
  auto digits = [&](std::size_t pos, std::size_t n, int* out) {
    if (pos + n > s.size()) {
      return false;
    }
    int v = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
      if (s[i] < '0' || s[i] > '9') {
        return false;
      }
      v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
  };
  int year, month, day, hour, minute, second;
  if (!digits(0, 4, &year) || s.size() < 20 || s[4] != '-' || !digits(5, 2, &month) || s[7] != '-' ||
      !digits(8, 2, &day) || s[10] != 'T' || !digits(11, 2, &hour) || s[13] != ':' ||
      !digits(14, 2, &minute) || s[16] != ':' || !digits(17, 2, &second)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  std::size_t pos = 19;
  std::int64_t millis = 0;
  if (pos < s.size() && s[pos] == '.') {
    std::size_t start = ++pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (pos - start < 3) {
        millis = millis * 10 + (s[pos] - '0');
      }
      ++pos;
    }
    const std::size_t n = pos - start;
    if (n == 0 || n > 9) {
      return std::nullopt;
    }
    for (std::size_t k = n; k < 3; ++k) {
      millis *= 10;
    }
  }
  if (pos + 1 != s.size() || s[pos] != 'Z') {
    return std::nullopt;
  }
  // Days from civil (proleptic Gregorian), H. Hinnant's algorithm.
  const int y = year - (month <= 2 ? 1 : 0);
  const int era = y / 400;
  const int yoe = y - era * 400;
  const int doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const std::int64_t days = static_cast<std::int64_t>(era) * 146097 + doe - 719468;
  return ((days * 24 + hour) * 60 + minute) * 60000LL + second * 1000LL + millis;
}

bool is_hex_digest(std::string_view s) {
  if (s.size() != 64) {
    return false;
  }
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

}  // namespace

core::Result<Manifest> parse_manifest(std::string_view json) {
  // An empty view may have no bytes at all (a null data pointer), which the
  // parser must not be handed.
  if (json.empty()) {
    return core::Error::invalid("", "manifest is not valid JSON: it is empty");
  }
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto err = parser.parse(json.data(), json.size()).get(doc); err) {
    return core::Error::invalid("",
                                std::string("manifest is not valid JSON: ") + simdjson::error_message(err));
  }
  Manifest m;
  if (doc["generation"].get_int64().get(m.generation) || m.generation <= 0) {
    return core::Error::invalid("generation", "expected a positive integer");
  }
  if (doc["catalog_seq"].get_int64().get(m.catalog_seq) || m.catalog_seq < 0) {
    return core::Error::invalid("catalog_seq", "expected a non-negative integer");
  }
  std::string_view generated_at;
  if (doc["generated_at"].get_string().get(generated_at)) {
    return core::Error::invalid("generated_at", "expected an ISO 8601 UTC timestamp");
  }
  // generated_at_ms is ours (exact milliseconds); a manifest without it
  // falls back to the timestamp text. Either must lie in 1970..9999, so that
  // ages computed from it cannot overflow.
  if (doc["generated_at_ms"].get_int64().get(m.generated_at_ms)) {
    auto ms = parse_utc_iso8601(generated_at);
    if (!ms || *ms < 0 || *ms > core::kMaxEpochMs) {
      return core::Error::invalid("generated_at", "expected an ISO 8601 UTC timestamp from 1970 on");
    }
    m.generated_at_ms = *ms;
  } else if (m.generated_at_ms < 0 || m.generated_at_ms > core::kMaxEpochMs) {
    return core::Error::invalid("generated_at_ms", "expected milliseconds since 1970, before the year 10000");
  }
  simdjson::dom::object files;
  if (doc["files"].get_object().get(files)) {
    return core::Error::invalid("files", "expected an object");
  }
  for (auto field : files) {
    std::string name(field.key);
    if (!is_valid_file_name(name)) {
      return core::Error::invalid("files", "invalid file name '" + name + "'");
    }
    FileEntry entry;
    std::string_view digest;
    if (field.value["sha256"].get_string().get(digest) || !is_hex_digest(digest)) {
      return core::Error::invalid("files." + name + ".sha256", "expected 64 lowercase hex digits");
    }
    entry.sha256 = std::string(digest);
    if (field.value["bytes"].get_int64().get(entry.bytes) || entry.bytes < 0) {
      return core::Error::invalid("files." + name + ".bytes", "expected a non-negative integer");
    }
    if (auto seq = field.value["catalog_seq"]; seq.error() != simdjson::NO_SUCH_FIELD) {
      std::int64_t v = 0;
      if (seq.get_int64().get(v) || v < 0) {
        return core::Error::invalid("files." + name + ".catalog_seq", "expected a non-negative integer");
      }
      entry.catalog_seq = v;
    }
    m.files.emplace(std::move(name), std::move(entry));
  }
  return m;
}

std::optional<std::int64_t> Manifest::file_catalog_seq(std::string_view name) const {
  const auto it = files.find(std::string(name));
  if (it == files.end()) {
    return std::nullopt;
  }
  return it->second.catalog_seq.value_or(catalog_seq);
}

}  // namespace cocktail::snapshot

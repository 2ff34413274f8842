#include "cocktail/analytics/envelope.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "cocktail/core/time.h"

namespace cocktail::analytics {

std::string make_envelope(std::string_view data_json, const EnvelopeMetadata& m) {
  rapidjson::StringBuffer meta;
  rapidjson::Writer<rapidjson::StringBuffer> w(meta);
  w.StartObject();
  w.Key("generated_at");
  std::string ts = core::format_utc_iso8601(m.generated_at_ms);
  w.String(ts.c_str(), static_cast<rapidjson::SizeType>(ts.size()));
  w.Key("storage_version");
  w.String(kStorageVersion.data(), static_cast<rapidjson::SizeType>(kStorageVersion.size()));
  w.Key("analytics_type");
  w.String(m.analytics_type.c_str(), static_cast<rapidjson::SizeType>(m.analytics_type.size()));
  w.Key("generation");
  w.Int64(m.generation);
  w.Key("catalog_seq");
  w.Int64(m.catalog_seq);
  for (const auto& [key, value] : m.extras) {
    w.Key(key.c_str(), static_cast<rapidjson::SizeType>(key.size()));
    w.RawValue(value.c_str(), value.size(), rapidjson::kObjectType);
  }
  w.EndObject();

  std::string out;
  out.reserve(data_json.size() + meta.GetSize() + 32);
  out.append("{\"data\":").append(data_json).append(",\"metadata\":");
  out.append(meta.GetString(), meta.GetSize());
  out.push_back('}');
  return out;
}

}  // namespace cocktail::analytics

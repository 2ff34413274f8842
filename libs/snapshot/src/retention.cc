#include "cocktail/snapshot/retention.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "cocktail/core/time.h"

namespace cocktail::snapshot {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void text(Writer& w, const std::string& s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); }

void optional_int(Writer& w, const std::optional<std::int64_t>& v) {
  if (v) {
    w.Int64(*v);
  } else {
    w.Null();
  }
}

}  // namespace

std::string retention_json(const RetentionResult& r) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("dry_run");
  w.Bool(r.dry_run);
  w.Key("current");
  optional_int(w, r.current);
  w.Key(r.dry_run ? "would_remove" : "removed");
  w.StartArray();
  for (const auto& g : r.removed) {
    w.StartObject();
    w.Key("generation");
    w.Int64(g.generation);
    w.Key("reason");
    text(w, g.reason);
    w.Key("bytes");
    w.Int64(g.bytes);
    w.Key("age_seconds");
    w.Int64(g.age_ms / 1000);
    w.EndObject();
  }
  w.EndArray();
  w.Key("kept");
  w.StartArray();
  for (auto g : r.kept) {
    w.Int64(g);
  }
  w.EndArray();
  w.Key(r.dry_run ? "bytes_would_free" : "bytes_freed");
  w.Int64(r.bytes_freed);
  w.Key(r.dry_run ? "store_bytes_after" : "store_bytes");
  w.Int64(r.store_bytes);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

std::string generations_json(const std::vector<GenerationInfo>& generations) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartArray();
  for (const auto& g : generations) {
    w.StartObject();
    w.Key("generation");
    w.Int64(g.generation);
    w.Key("complete");
    w.Bool(g.complete);
    w.Key("current");
    w.Bool(g.current);
    w.Key("catalog_seq");
    w.Int64(g.catalog_seq);
    w.Key("generated_at");
    text(w, core::format_utc_iso8601(g.generated_at_ms));
    w.Key("age_seconds");
    w.Int64(g.age_ms / 1000);
    w.Key("files");
    w.Int64(g.files);
    w.Key("bytes");
    w.Int64(g.bytes);
    w.EndObject();
  }
  w.EndArray();
  return std::string(buf.GetString(), buf.GetSize());
}

std::string report_json(const StoreReport& r) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("analytics_path");
  text(w, r.path);
  w.Key("current");
  optional_int(w, r.current);
  w.Key("generations");
  std::string generations = generations_json(r.generations);
  w.RawValue(generations.c_str(), generations.size(), rapidjson::kArrayType);
  w.Key("generation_count");
  w.Int64(static_cast<std::int64_t>(r.generations.size()));
  w.Key("generation_bytes");
  w.Int64(r.generation_bytes);
  w.Key("legacy_bytes");
  w.Int64(r.legacy_bytes);
  w.Key("total_bytes");
  w.Int64(r.total_bytes);
  w.Key("filesystem");
  w.StartObject();
  w.Key("total_bytes");
  w.Int64(r.fs_total_bytes);
  w.Key("free_bytes");
  w.Int64(r.fs_free_bytes);
  w.Key("available_bytes");
  w.Int64(r.fs_available_bytes);
  w.EndObject();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace cocktail::snapshot

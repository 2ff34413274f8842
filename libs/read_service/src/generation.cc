#include "cocktail/read_service/generation.h"

#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <simdjson.h>

#include <algorithm>
#include <limits>
#include <stdexcept>

#include "cocktail/analytics/artifacts.h"
#include "cocktail/analytics/envelope.h"
#include "cocktail/analytics/exact_json.h"

namespace cocktail::read_service {
namespace {

constexpr std::string_view kJsonSuffix = ".json";
constexpr std::string_view kJsonType = "application/json";
constexpr std::string_view kBinaryType = "application/octet-stream";

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string_view trim_right(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

core::Error bad_file(const std::string& name, std::string_view what) {
  return core::Error{core::ErrorCode::kInternal, name, name + ": " + std::string(what), {}};
}

// The raw text of the envelope's "metadata" object; empty when the document
// is not an envelope.
std::string envelope_metadata(std::string_view json) {
  simdjson::padded_string padded(json);
  simdjson::ondemand::parser parser;
  simdjson::ondemand::document doc;
  if (parser.iterate(padded).get(doc)) {
    return {};
  }
  simdjson::ondemand::object root;
  if (doc.get_object().get(root)) {
    return {};
  }
  std::string out;
  for (auto field : root) {
    std::string_view key;
    if (field.unescaped_key().get(key)) {
      return {};
    }
    if (key != "metadata") {
      continue;
    }
    simdjson::ondemand::object meta;
    std::string_view raw;
    if (field.value().get_object().get(meta) || meta.raw_json().get(raw)) {
      return {};
    }
    out.assign(raw);
    break;
  }
  return out;
}

// `metadata` (a JSON object's text) with `extra` members ("\"k\":v,...")
// appended before its closing brace.
std::string extend_metadata(std::string_view metadata, std::string_view extra) {
  std::string out;
  metadata = trim_right(metadata);
  if (metadata.size() < 2 || metadata.back() != '}') {
    out.append("{").append(extra).append("}");
    return out;
  }
  std::string_view head = trim_right(metadata.substr(0, metadata.size() - 1));
  out.append(head);
  if (head.back() != '{') {
    out.push_back(',');
  }
  out.append(extra).push_back('}');
  return out;
}

}  // namespace

// Indexes recipe-similar in one SAX pass (RapidJSON's Reader over the bytes
// in place: no copy, no DOM, no parser buffers proportional to the file,
// which is the largest JSON file of a generation): per recipe its id, its
// name (re-escaped) and the byte range of each neighbour object, plus the
// range of the envelope's metadata object.
//
// Nesting: 1 root object, 2 "data" array / "metadata" object (its
// max_neighbors read too), 3 a recipe, 4 its "neighbors" array, 5 a
// neighbour object.
struct Generation::SimilarScan : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, SimilarScan> {
  SimilarScan(const std::string& text, std::vector<SimilarEntry>& entries, std::vector<Span>& spans)
      : text(text), entries(entries), spans(spans) {}

  std::size_t at() const { return stream->Tell(); }

  bool Key(const char* s, rapidjson::SizeType len, bool) {
    if (depth == 1) {
      key1.assign(s, len);
    }
    if (depth == 2) {
      key2.assign(s, len);
    }
    if (depth == 3) {
      key3.assign(s, len);
    }
    return true;
  }
  bool StartObject() {
    ++depth;
    if (depth == 2 && key1 == "metadata") {
      metadata_start = at() - 1;
    }
    if (depth == 3 && in_data) {
      entry = SimilarEntry{};
      entry.first = static_cast<std::uint32_t>(spans.size());
      has_id = false;
      key3.clear();
    }
    if (depth == 5 && in_neighbors) {
      span_start = at() - 1;
    }
    if (depth == 2 && key1 == "data") {
      return fail("data is not an array");
    }
    if (depth == 3 && !in_data && key1 == "data") {
      return fail("a recipe is not an object");
    }
    return true;
  }
  bool EndObject(rapidjson::SizeType) {
    if (depth == 5 && in_neighbors) {
      spans.push_back(
          Span{static_cast<std::uint32_t>(span_start), static_cast<std::uint32_t>(at() - span_start)});
    }
    if (depth == 3 && in_data) {
      if (!has_id || entry_name.empty()) {
        return fail("a recipe lacks recipe_id or recipe_name");
      }
      entry.count = static_cast<std::uint32_t>(spans.size()) - entry.first;
      entry.name_at = static_cast<std::uint32_t>(names.size());
      entry.name_len = static_cast<std::uint32_t>(entry_name.size());
      names += entry_name;
      entry_name.clear();
      entries.push_back(entry);
    }
    if (depth == 2 && key1 == "metadata") {
      metadata_end = at();
    }
    --depth;
    return true;
  }
  bool StartArray() {
    ++depth;
    if (depth == 2 && key1 == "data") {
      in_data = true;
      seen_data = true;
    }
    if (depth == 4 && in_data && key3 == "neighbors") {
      in_neighbors = true;
    }
    if (depth == 5 && in_neighbors) {
      return fail("a neighbour is not an object");
    }
    if (depth == 3 && in_data) {
      return fail("a recipe is not an object");
    }
    return true;
  }
  bool EndArray(rapidjson::SizeType) {
    if (depth == 4) {
      in_neighbors = false;
    }
    if (depth == 2) {
      in_data = false;
    }
    --depth;
    return true;
  }
  bool id(std::int64_t v) {
    if (depth == 2 && key1 == "metadata" && key2 == "max_neighbors") {
      max_neighbors = v;
    }
    if (depth == 3 && in_data && key3 == "recipe_id") {
      entry.recipe_id = v;
      has_id = true;
    }
    return true;
  }
  bool Int(int v) { return id(v); }
  bool Uint(unsigned v) { return id(v); }
  bool Int64(std::int64_t v) { return id(v); }
  bool Uint64(std::uint64_t v) {
    return v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())
               ? fail("recipe_id out of range")
               : id(static_cast<std::int64_t>(v));
  }
  bool String(const char* s, rapidjson::SizeType len, bool) {
    if (depth == 3 && in_data && key3 == "recipe_name") {
      rapidjson::StringBuffer buf;
      rapidjson::Writer<rapidjson::StringBuffer> w(buf);
      w.String(s, len);
      entry_name.assign(buf.GetString(), buf.GetSize());
    }
    return true;
  }
  bool fail(const char* what) {
    if (error.empty()) {
      error = what;
    }
    return false;
  }

  const std::string& text;
  std::vector<SimilarEntry>& entries;
  std::vector<Span>& spans;
  const rapidjson::StringStream* stream = nullptr;
  std::string names;  // recipe names as JSON string literals, addressed by name_at / name_len
  int depth = 0;
  std::string key1, key2, key3;
  std::int64_t max_neighbors = 0;  // metadata.max_neighbors; 0: not given
  bool in_data = false, in_neighbors = false, seen_data = false, has_id = false;
  SimilarEntry entry;
  std::string entry_name;
  std::size_t span_start = 0;
  std::size_t metadata_start = 0, metadata_end = 0;
  std::string error;
};

core::Result<std::shared_ptr<const Generation::SimilarIndex>> Generation::index_similar(
    std::shared_ptr<const std::string> source) {
  const std::string name = std::string(kSimilarType) + std::string(kJsonSuffix);
  const std::string& text = *source;
  if (text.size() > std::numeric_limits<std::uint32_t>::max()) {
    return bad_file(name, "file too large");
  }
  auto index = std::make_shared<SimilarIndex>();
  SimilarScan scan(text, index->entries, index->spans);
  rapidjson::Reader reader;
  rapidjson::StringStream stream(text.c_str());
  scan.stream = &stream;
  if (!reader.Parse(stream, scan)) {
    return bad_file(name, scan.error.empty()
                              ? "not valid JSON (offset " + std::to_string(reader.GetErrorOffset()) + ")"
                              : scan.error);
  }
  if (!scan.seen_data) {
    return bad_file(name, "no data array");
  }
  index->names = std::move(scan.names);
  if (scan.max_neighbors > 0) {
    index->stored = static_cast<int>(std::min<std::int64_t>(scan.max_neighbors, 1 << 20));
  }
  if (scan.metadata_end > scan.metadata_start) {
    index->metadata.assign(text, scan.metadata_start, scan.metadata_end - scan.metadata_start);
  }
  auto& entries = index->entries;
  std::sort(entries.begin(), entries.end(),
            [](const SimilarEntry& a, const SimilarEntry& b) { return a.recipe_id < b.recipe_id; });
  for (std::size_t i = 1; i < entries.size(); ++i) {
    if (entries[i].recipe_id == entries[i - 1].recipe_id) {
      return bad_file(name, "duplicate recipe_id");
    }
  }
  index->source = std::move(source);
  return std::shared_ptr<const SimilarIndex>(std::move(index));
}

core::Result<std::shared_ptr<const Generation>> Generation::build(snapshot::Snapshot snapshot,
                                                                  std::int64_t loaded_at_ms,
                                                                  const Generation* previous) {
  std::shared_ptr<Generation> g(new Generation());
  g->manifest_ = std::move(snapshot.manifest);
  g->loaded_at_ms_ = loaded_at_ms;
  g->generation_text_ = std::to_string(g->manifest_.generation);
  g->catalog_seq_text_ = std::to_string(g->manifest_.catalog_seq);
  const std::string gen_tag = "g" + std::to_string(g->manifest_.generation) + "-";

  for (const auto& [name, entry] : g->manifest_.files) {
    const bool json = ends_with(name, kJsonSuffix);
    std::string type = json ? name.substr(0, name.size() - kJsonSuffix.size()) : std::string();
    auto read = snapshot.files.find(name);
    File file;
    if (read == snapshot.files.end()) {
      // Unchanged since the previous generation: share what it built.
      const File* same = previous != nullptr ? previous->file(name) : nullptr;
      if (same == nullptr || same->sha256 != entry.sha256 || same->bytes != entry.bytes) {
        return bad_file(name, "neither read nor held by the previous generation");
      }
      file = *same;
      if (json && type == kUsageAllType) {
        g->usage_index_ = previous->usage_index_;
        if (g->usage_metadata_.empty()) {
          g->usage_metadata_ = previous->usage_metadata_;
        }
      }
      if (json && type == kUsageType) {
        g->usage_metadata_ = previous->usage_metadata_;
      }
      if (json && type == kSimilarType) {
        g->similar_ = previous->similar_;
      }
    } else {
      std::string& bytes = read->second;
      file.name = name;
      file.sha256 = entry.sha256;
      file.bytes = entry.bytes;
      const analytics::ArtifactSpec* spec = analytics::artifact_by_file(name);
      if (spec != nullptr && spec->form == analytics::ArtifactForm::kBareJson &&
          envelope_metadata(bytes).empty()) {
        // A bare ids object: served as an envelope like every other body.
        analytics::EnvelopeMetadata meta;
        meta.analytics_type = std::string(spec->type);
        meta.generation = g->manifest_.generation;
        meta.catalog_seq = entry.catalog_seq.value_or(g->manifest_.catalog_seq);
        meta.generated_at_ms = g->manifest_.generated_at_ms;
        bytes = analytics::make_envelope(trim_right(bytes), meta);
      }
      if (json && type == kUsageAllType) {
        auto index = analytics::IngredientUsageIndex::from_json(bytes);
        if (!index.ok()) {
          return bad_file(name, index.error().message);
        }
        g->usage_index_ = std::make_shared<const analytics::IngredientUsageIndex>(std::move(index).value());
        if (g->usage_metadata_.empty()) {
          g->usage_metadata_ = envelope_metadata(bytes);
        }
      }
      if (json && type == kUsageType) {
        g->usage_metadata_ = envelope_metadata(bytes);  // the root view's metadata wins
      }
      file.representation = make_representation(std::move(bytes), json ? kJsonType : kBinaryType,
                                                gen_tag + file.sha256.substr(0, 16), 256, kEagerGzipMaxBytes);
      if (json && type == kSimilarType) {
        auto index = index_similar(file.representation->identity);
        if (!index.ok()) {
          return index.error();
        }
        g->similar_ = std::move(index).value();
      }
    }
    const analytics::ArtifactSpec* spec = analytics::artifact_by_file(name);
    if (json && (spec == nullptr || spec->form != analytics::ArtifactForm::kBareJson)) {
      g->analytics_.emplace(type, file.representation);
      g->types_.push_back(type);
    }
    g->files_.emplace(name, std::move(file));
  }
  std::sort(g->types_.begin(), g->types_.end());
  return std::shared_ptr<const Generation>(std::move(g));
}

std::vector<std::shared_ptr<const Representation>> Generation::pending_gzip() const {
  std::vector<std::shared_ptr<const Representation>> out;
  for (const auto& [name, f] : files_) {
    if (f.representation->gzip_pending) {
      out.push_back(f.representation);
    }
  }
  return out;
}

std::shared_ptr<const Generation> Generation::with_representations(const RepresentationMap& done) const {
  bool any = false;
  for (const auto& [name, f] : files_) {
    any = any || done.count(f.representation) != 0;
  }
  if (!any) {
    return nullptr;
  }
  std::shared_ptr<Generation> g(new Generation());
  g->manifest_ = manifest_;
  g->generation_text_ = generation_text_;
  g->catalog_seq_text_ = catalog_seq_text_;
  g->loaded_at_ms_ = loaded_at_ms_;
  g->files_ = files_;
  g->analytics_ = analytics_;
  g->types_ = types_;
  g->usage_index_ = usage_index_;
  g->usage_metadata_ = usage_metadata_;
  g->similar_ = similar_;
  for (auto& [name, f] : g->files_) {
    const auto it = done.find(f.representation);
    if (it == done.end()) {
      continue;
    }
    for (auto& [type, rep] : g->analytics_) {
      if (rep == f.representation) {
        rep = it->second;
      }
    }
    f.representation = it->second;
  }
  return g;
}

std::shared_ptr<const Generation> Generation::with_gzip() const {
  RepresentationMap done;
  for (const auto& rep : pending_gzip()) {
    done.emplace(rep, read_service::with_gzip(*rep));
  }
  return with_representations(done);
}

const Representation* Generation::analytic(std::string_view type) const {
  auto it = analytics_.find(std::string(type));
  return it == analytics_.end() ? nullptr : it->second.get();
}

const Generation::File* Generation::file(std::string_view name) const {
  auto it = files_.find(std::string(name));
  return it == files_.end() ? nullptr : &it->second;
}

std::string Generation::tag(std::string_view suffix) const {
  std::string t = "g" + std::to_string(manifest_.generation) + "-";
  t.append(suffix);
  return t;
}

std::shared_ptr<const Representation> Generation::cached(const std::string& key) const {
  std::lock_guard<std::mutex> lock(views_mu_);
  auto it = views_.find(key);
  return it == views_.end() ? nullptr : it->second;
}

std::shared_ptr<const Representation> Generation::remember(const std::string& key,
                                                           std::shared_ptr<const Representation> view) const {
  std::lock_guard<std::mutex> lock(views_mu_);
  if (views_.size() >= kMaxCachedViews) {
    return view;  // served, not kept: the cache stays bounded
  }
  auto [it, inserted] = views_.emplace(key, std::move(view));
  return it->second;  // a racing request may have built it first: serve one version
}

std::size_t Generation::cached_views() const {
  std::lock_guard<std::mutex> lock(views_mu_);
  return views_.size();
}

std::shared_ptr<const Representation> Generation::usage_view(std::optional<std::int64_t> parent_id,
                                                             std::optional<int> level) const {
  if (!usage_index_) {
    return nullptr;
  }
  std::string key = "u";
  key.append(parent_id ? std::to_string(*parent_id) : "-").append("/");
  key.append(level ? std::to_string(*level) : "-");
  if (auto hit = cached(key)) {
    return hit;
  }

  const auto rows = usage_index_->query(parent_id, level);
  const std::string data = analytics::usage_rows_json(rows);
  std::string extra = "\"parent_id\":";
  extra.append(parent_id ? std::to_string(*parent_id) : "null").append(",\"level\":");
  extra.append(level ? std::to_string(*level) : "null");
  std::string body;
  const std::string metadata = extend_metadata(usage_metadata_, extra);
  body.reserve(data.size() + metadata.size() + 24);
  body.append("{\"data\":").append(data).append(",\"metadata\":").append(metadata).append("}");

  const File* source = file(std::string(kUsageAllType) + std::string(kJsonSuffix));
  std::string suffix = source ? source->sha256.substr(0, 16) : std::string("usage");
  suffix.append("-p").append(parent_id ? std::to_string(*parent_id) : "").append("-l");
  suffix.append(level ? std::to_string(*level) : "");
  return remember(key, make_representation(std::move(body), kJsonType, tag(suffix)));
}

const Generation::SimilarEntry* Generation::find_similar(std::int64_t recipe_id) const {
  if (!similar_) {
    return nullptr;
  }
  const auto& entries = similar_->entries;
  auto it = std::lower_bound(entries.begin(), entries.end(), recipe_id,
                             [](const SimilarEntry& e, std::int64_t id) { return e.recipe_id < id; });
  return it != entries.end() && it->recipe_id == recipe_id ? &*it : nullptr;
}

std::shared_ptr<const Representation> Generation::similar_view(std::int64_t recipe_id, int limit) const {
  const SimilarEntry* entry = find_similar(recipe_id);
  if (entry == nullptr) {
    return nullptr;
  }
  limit = std::clamp(limit, 1, similar_stored());
  const std::string key = "s" + std::to_string(recipe_id) + "/" + std::to_string(limit);
  if (auto hit = cached(key)) {
    return hit;
  }

  // recipe_id, recipe_name and neighbors both at the top level (what the
  // older front ends read) and under data (the envelope every body has).
  const std::string& text = *similar_->source;
  std::string fields = "\"recipe_id\":";
  fields.append(std::to_string(recipe_id)).append(",\"recipe_name\":");
  fields.append(similar_->names, entry->name_at, entry->name_len).append(",\"neighbors\":[");
  const std::uint32_t n = std::min<std::uint32_t>(entry->count, static_cast<std::uint32_t>(limit));
  for (std::uint32_t i = 0; i < n; ++i) {
    const Span& s = similar_->spans[entry->first + i];
    if (i > 0) {
      fields.push_back(',');
    }
    fields.append(text, s.at, s.len);
  }
  fields.push_back(']');
  std::string body;
  body.reserve(2 * fields.size() + similar_->metadata.size() + 64);
  body.append("{").append(fields).append(",\"data\":{").append(fields).append("},\"metadata\":");
  body.append(extend_metadata(similar_->metadata, "\"recipe_id\":" + std::to_string(recipe_id) +
                                                      ",\"limit\":" + std::to_string(limit)));
  body.push_back('}');
  const File* source = file(std::string(kSimilarType) + std::string(kJsonSuffix));
  std::string suffix = source ? source->sha256.substr(0, 16) : std::string("similar");
  suffix.append("-r").append(std::to_string(recipe_id)).append("-n").append(std::to_string(limit));
  return remember(key, make_representation(std::move(body), kJsonType, tag(suffix)));
}

bool Generation::lane_present(std::string_view file) const {
  const analytics::ArtifactSpec* spec = analytics::artifact_by_file(file);
  if (spec == nullptr) {
    return true;  // not a file any lane makes: nothing to wait for
  }
  return std::any_of(manifest_.files.begin(), manifest_.files.end(), [&](const auto& entry) {
    const analytics::ArtifactSpec* other = analytics::artifact_by_file(entry.first);
    return other != nullptr && other->lane == spec->lane;
  });
}

std::int64_t Generation::covered_seq(const std::vector<std::string>& files) const {
  std::int64_t seq = manifest_.catalog_seq;
  for (const auto& name : files) {
    if (const auto own = manifest_.file_catalog_seq(name)) {
      seq = std::min(seq, *own);
    } else if (!lane_present(name)) {
      return 0;
    }
  }
  return seq;
}

}  // namespace cocktail::read_service

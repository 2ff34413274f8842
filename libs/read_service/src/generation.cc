#include "cocktail/read_service/generation.h"

#include <simdjson.h>

#include <algorithm>
#include <limits>
#include <stdexcept>

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
  if (parser.iterate(padded).get(doc)) return {};
  simdjson::ondemand::object root;
  if (doc.get_object().get(root)) return {};
  std::string out;
  for (auto field : root) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return {};
    if (key != "metadata") continue;
    simdjson::ondemand::object meta;
    std::string_view raw;
    if (field.value().get_object().get(meta) || meta.raw_json().get(raw)) return {};
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
  if (head.back() != '{') out.push_back(',');
  out.append(extra).push_back('}');
  return out;
}

}  // namespace

core::Result<std::shared_ptr<const Generation>> Generation::build(snapshot::Snapshot snapshot,
                                                                  std::int64_t loaded_at_ms) {
  std::shared_ptr<Generation> g(new Generation());
  g->manifest_ = std::move(snapshot.manifest);
  g->loaded_at_ms_ = loaded_at_ms;
  const std::string gen_tag = "g" + std::to_string(g->manifest_.generation) + "-";

  for (auto& [name, bytes] : snapshot.files) {
    auto entry = g->manifest_.files.find(name);
    if (entry == g->manifest_.files.end()) continue;  // read_current only returns listed files
    File file;
    file.name = name;
    file.sha256 = entry->second.sha256;
    file.bytes = entry->second.bytes;
    const bool json = ends_with(name, kJsonSuffix);
    std::string type = json ? name.substr(0, name.size() - kJsonSuffix.size()) : std::string();

    if (name == kDistanceIdsFile && envelope_metadata(bytes).empty()) {
      // A bare ids object: served as an envelope like every other body.
      analytics::EnvelopeMetadata meta;
      meta.analytics_type = std::string(kDistanceIdsType);
      meta.generation = g->manifest_.generation;
      meta.catalog_seq = g->manifest_.catalog_seq;
      meta.generated_at_ms = g->manifest_.generated_at_ms;
      bytes = analytics::make_envelope(trim_right(bytes), meta);
    }
    if (json && type == kUsageAllType) {
      auto index = analytics::IngredientUsageIndex::from_json(bytes);
      if (!index.ok()) return bad_file(name, index.error().message);
      g->usage_index_ = std::make_unique<analytics::IngredientUsageIndex>(std::move(index).value());
      if (g->usage_metadata_.empty()) g->usage_metadata_ = envelope_metadata(bytes);
    }
    if (json && type == kUsageType) {
      g->usage_metadata_ = envelope_metadata(bytes);  // the root view's metadata wins
    }

    file.representation = make_representation(std::move(bytes), json ? kJsonType : kBinaryType,
                                              gen_tag + file.sha256.substr(0, 16));
    if (json && name != kDistanceIdsFile) {
      g->analytics_.emplace(type, file.representation);
      g->types_.push_back(type);
    }
    if (json && type == kSimilarType) {
      g->similar_source_ = file.representation->identity;
    }
    g->files_.emplace(name, std::move(file));
  }
  std::sort(g->types_.begin(), g->types_.end());

  if (g->similar_source_) {
    // Index recipe-similar by recipe id: the byte ranges of each recipe's
    // name and neighbour objects, so a view is assembled from slices.
    const std::string& text = *g->similar_source_;
    const std::string name = std::string(kSimilarType) + std::string(kJsonSuffix);
    if (text.size() > std::numeric_limits<std::uint32_t>::max()) return bad_file(name, "file too large");
    simdjson::padded_string padded(text);
    const char* base = padded.data();
    auto offset = [&](std::string_view raw) { return static_cast<std::uint32_t>(raw.data() - base); };
    simdjson::ondemand::parser parser;
    simdjson::ondemand::document doc;
    simdjson::ondemand::object root;
    if (parser.iterate(padded).get(doc) || doc.get_object().get(root)) return bad_file(name, "not an object");
    bool seen_data = false;
    for (auto field : root) {
      std::string_view key;
      if (field.unescaped_key().get(key)) return bad_file(name, "bad key");
      if (key == "metadata") {
        simdjson::ondemand::object meta;
        std::string_view raw;
        if (field.value().get_object().get(meta) || meta.raw_json().get(raw))
          return bad_file(name, "bad metadata");
        g->similar_metadata_.assign(raw);
        continue;
      }
      if (key != "data") continue;
      seen_data = true;
      simdjson::ondemand::array recipes;
      if (field.value().get_array().get(recipes)) return bad_file(name, "data is not an array");
      for (auto item : recipes) {
        simdjson::ondemand::object recipe;
        if (item.get_object().get(recipe)) return bad_file(name, "a recipe is not an object");
        SimilarEntry entry;
        bool has_id = false, has_name = false;
        entry.first = static_cast<std::uint32_t>(g->similar_spans_.size());
        for (auto member : recipe) {
          std::string_view mkey;
          if (member.unescaped_key().get(mkey)) return bad_file(name, "bad key");
          if (mkey == "recipe_id") {
            if (member.value().get_int64().get(entry.recipe_id)) return bad_file(name, "recipe_id");
            has_id = true;
          } else if (mkey == "recipe_name") {
            std::string_view raw;
            if (member.value().raw_json_token().get(raw)) return bad_file(name, "recipe_name");
            raw = trim_right(raw);
            if (raw.empty() || raw.front() != '"') return bad_file(name, "recipe_name is not a string");
            entry.name_at = offset(raw);
            entry.name_len = static_cast<std::uint32_t>(raw.size());
            has_name = true;
          } else if (mkey == "neighbors") {
            simdjson::ondemand::array neighbors;
            if (member.value().get_array().get(neighbors)) return bad_file(name, "neighbors");
            for (auto n : neighbors) {
              simdjson::ondemand::object neighbor;
              std::string_view raw;
              if (n.get_object().get(neighbor) || neighbor.raw_json().get(raw)) {
                return bad_file(name, "a neighbour is not an object");
              }
              raw = trim_right(raw);
              g->similar_spans_.push_back(Span{offset(raw), static_cast<std::uint32_t>(raw.size())});
            }
          }
        }
        if (!has_id || !has_name) return bad_file(name, "a recipe lacks recipe_id or recipe_name");
        entry.count = static_cast<std::uint32_t>(g->similar_spans_.size()) - entry.first;
        g->similar_.push_back(entry);
      }
    }
    if (!seen_data) return bad_file(name, "no data");
    std::sort(g->similar_.begin(), g->similar_.end(),
              [](const SimilarEntry& a, const SimilarEntry& b) { return a.recipe_id < b.recipe_id; });
    for (std::size_t i = 1; i < g->similar_.size(); ++i) {
      if (g->similar_[i].recipe_id == g->similar_[i - 1].recipe_id)
        return bad_file(name, "duplicate recipe_id");
    }
  }
  return std::shared_ptr<const Generation>(std::move(g));
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
  if (views_.size() >= kMaxCachedViews) return view;  // served, not kept: the cache stays bounded
  auto [it, inserted] = views_.emplace(key, std::move(view));
  return it->second;  // a racing request may have built it first: serve one version
}

std::size_t Generation::cached_views() const {
  std::lock_guard<std::mutex> lock(views_mu_);
  return views_.size();
}

std::shared_ptr<const Representation> Generation::usage_view(std::optional<std::int64_t> parent_id,
                                                             std::optional<int> level) const {
  if (!usage_index_) return nullptr;
  std::string key = "u";
  key.append(parent_id ? std::to_string(*parent_id) : "-").append("/");
  key.append(level ? std::to_string(*level) : "-");
  if (auto hit = cached(key)) return hit;

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
  auto it = std::lower_bound(similar_.begin(), similar_.end(), recipe_id,
                             [](const SimilarEntry& e, std::int64_t id) { return e.recipe_id < id; });
  return it != similar_.end() && it->recipe_id == recipe_id ? &*it : nullptr;
}

std::shared_ptr<const Representation> Generation::similar_view(std::int64_t recipe_id, int limit) const {
  const SimilarEntry* entry = find_similar(recipe_id);
  if (entry == nullptr) return nullptr;
  limit = std::clamp(limit, 1, kMaxSimilarLimit);
  const std::string key = "s" + std::to_string(recipe_id) + "/" + std::to_string(limit);
  if (auto hit = cached(key)) return hit;

  const std::string& text = *similar_source_;
  std::string body = "{\"data\":{\"recipe_id\":";
  body.append(std::to_string(recipe_id)).append(",\"recipe_name\":");
  body.append(text, entry->name_at, entry->name_len).append(",\"neighbors\":[");
  const std::uint32_t n = std::min<std::uint32_t>(entry->count, static_cast<std::uint32_t>(limit));
  for (std::uint32_t i = 0; i < n; ++i) {
    const Span& s = similar_spans_[entry->first + i];
    if (i > 0) body.push_back(',');
    body.append(text, s.at, s.len);
  }
  body.append("]},\"metadata\":");
  body.append(extend_metadata(similar_metadata_, "\"recipe_id\":" + std::to_string(recipe_id) +
                                                     ",\"limit\":" + std::to_string(limit)));
  body.push_back('}');
  const File* source = file(std::string(kSimilarType) + std::string(kJsonSuffix));
  std::string suffix = source ? source->sha256.substr(0, 16) : std::string("similar");
  suffix.append("-r").append(std::to_string(recipe_id)).append("-n").append(std::to_string(limit));
  return remember(key, make_representation(std::move(body), kJsonType, tag(suffix)));
}

}  // namespace cocktail::read_service

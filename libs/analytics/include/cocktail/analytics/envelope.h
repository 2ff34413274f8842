// The {data, metadata} envelope every analytic is stored and served in.
//
// An analytic is computed as the JSON text of its `data` value; the envelope
// is assembled once the generation number is known, so that computing and
// numbering stay separate. Extras are per-type metadata (total_recipes …)
// given as already-serialised JSON values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cocktail::analytics {

inline constexpr std::string_view kStorageVersion = "v1";

struct EnvelopeMetadata {
  std::string analytics_type;
  std::int64_t generation = 0;
  std::int64_t catalog_seq = 0;
  std::int64_t generated_at_ms = 0;  // Unix epoch, rendered as ISO 8601 UTC
  // (key, JSON value text) pairs appended to metadata in order.
  std::vector<std::pair<std::string, std::string>> extras;
};

// {"data": <data_json>, "metadata": {...}}. data_json must be valid JSON.
std::string make_envelope(std::string_view data_json, const EnvelopeMetadata& metadata);

}  // namespace cocktail::analytics

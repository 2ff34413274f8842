// Artifacts: the one table of every file a snapshot generation may hold —
// its analytics type (the read API's route name, the key of an
// analytics.snapshot event, the envelope's analytics_type), its file name,
// the lane that computes it and its form. The producers name their files
// from here, the read API serves and indexes by it, and the snapshot store
// mirrors every file of the current generation in the legacy v1/ layout
// (docs/snapshots.md), so a new artifact is one line here plus its producer.
//
// Plain constants; thread-safe.
#pragma once

#include <array>
#include <string_view>

namespace cocktail::analytics {

enum class ArtifactLane {
  kExact,  // the exact analytics: the fast lane, every run
  kSpace,  // the cocktail space: the slow lane
};

enum class ArtifactForm {
  kEnvelopedJson,  // {"data", "metadata"} written by the producer
  kBareJson,       // a JSON object written as is (enveloped by the read API)
  kBinary,         // raw bytes (.npy)
};

struct ArtifactSpec {
  std::string_view type;
  std::string_view file;
  ArtifactLane lane;
  ArtifactForm form;
  // Produced only under a setting (the distance matrices: up to the dense
  // limit); otherwise in every complete generation.
  bool conditional = false;
};

inline constexpr std::array<ArtifactSpec, 11> kArtifacts = {{
    {"ingredient-usage", "ingredient-usage.json", ArtifactLane::kExact, ArtifactForm::kEnvelopedJson},
    {"ingredient-usage-all", "ingredient-usage-all.json", ArtifactLane::kExact, ArtifactForm::kEnvelopedJson},
    {"recipe-complexity", "recipe-complexity.json", ArtifactLane::kExact, ArtifactForm::kEnvelopedJson},
    {"ingredient-tree", "ingredient-tree.json", ArtifactLane::kExact, ArtifactForm::kEnvelopedJson},
    {"cocktail-space", "cocktail-space.json", ArtifactLane::kSpace, ArtifactForm::kEnvelopedJson},
    {"cocktail-space-em", "cocktail-space-em.json", ArtifactLane::kSpace, ArtifactForm::kEnvelopedJson},
    {"recipe-similar", "recipe-similar.json", ArtifactLane::kSpace, ArtifactForm::kEnvelopedJson},
    {"recipe-distances-em", "recipe-distances-em.npy", ArtifactLane::kSpace, ArtifactForm::kBinary, true},
    {"recipe-distances-em-ids", "recipe-distances-em.ids.json", ArtifactLane::kSpace, ArtifactForm::kBareJson,
     true},
    {"ingredient-distances-em", "ingredient-distances-em.npy", ArtifactLane::kSpace, ArtifactForm::kBinary,
     true},
    {"ingredient-distances-em-ids", "ingredient-distances-em.ids.json", ArtifactLane::kSpace,
     ArtifactForm::kBareJson, true},
}};

// The spec of a type or of a file name; null when there is none.
constexpr const ArtifactSpec* artifact_by_type(std::string_view type) {
  for (const auto& a : kArtifacts) {
    if (a.type == type) {
      return &a;
    }
  }
  return nullptr;
}
constexpr const ArtifactSpec* artifact_by_file(std::string_view file) {
  for (const auto& a : kArtifacts) {
    if (a.file == file) {
      return &a;
    }
  }
  return nullptr;
}
// The file name of a type known at compile time (a typo fails to compile).
consteval std::string_view artifact_file(std::string_view type) {
  const ArtifactSpec* a = artifact_by_type(type);
  return a == nullptr ? throw "unknown artifact type" : a->file;
}

}  // namespace cocktail::analytics

// Generation: one verified snapshot generation as the read API serves it —
// every file as a ready-to-send Representation (identity and gzip, with
// entity tags), plus the indexes behind the parameterised views:
//
//   ingredient-usage?parent_id=&level=   from ingredient-usage-all, through
//                                        analytics::IngredientUsageIndex
//   recipe-similar?recipe_id=&limit=     from recipe-similar, indexed by
//                                        recipe id at load time (byte ranges
//                                        into the file, nothing re-parsed)
//
// A parameterised view is serialised on first request and kept in a bounded
// per-generation cache, so a popular drill-down costs one lookup afterwards
// and a generation's views die with it.
//
// Built off the I/O threads from a Snapshot whose every file passed SHA-256
// verification; immutable afterwards except for that internal cache (which
// has its own lock). Shared read-only across threads via
// std::shared_ptr<const Generation>.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cocktail/analytics/artifacts.h"
#include "cocktail/analytics/usage_index.h"
#include "cocktail/core/result.h"
#include "cocktail/read_service/representation.h"
#include "cocktail/snapshot/manifest.h"
#include "cocktail/snapshot/snapshot_store.h"

namespace cocktail::read_service {

// Types and files the API gives a meaning to (beyond serving "<type>.json"
// as is), from the artifact table (analytics/artifacts.h).
inline constexpr std::string_view kUsageType = "ingredient-usage";
inline constexpr std::string_view kUsageAllType = "ingredient-usage-all";
inline constexpr std::string_view kSimilarType = "recipe-similar";

// A square EM matrix served for download: the .npy and, beside it, its row
// (and column) ids as a bare {"shape", "dtype", "<…>_ids"} object, served
// enveloped (wrapped at load time with analytics_type `ids_type`). Both are
// computed with the analytic `computed_with`: a generation holding that
// analytic but not the matrix left the matrix out (its size limit).
struct MatrixFiles {
  std::string_view name;  // routes <name>/download, <name>/ids
  std::string_view npy;
  std::string_view ids;
  std::string_view ids_type;
  std::string_view computed_with;
};
// File names from the artifact table (analytics/artifacts.h).
inline constexpr MatrixFiles kRecipeDistances{
    "recipe-distances-em", analytics::artifact_file("recipe-distances-em"),
    analytics::artifact_file("recipe-distances-em-ids"), "recipe-distances-em-ids", "cocktail-space-em"};
// The learned ingredient costs the recipe distances were computed under.
inline constexpr MatrixFiles kIngredientDistances{"ingredient-distances-em",
                                                  analytics::artifact_file("ingredient-distances-em"),
                                                  analytics::artifact_file("ingredient-distances-em-ids"),
                                                  "ingredient-distances-em-ids", "cocktail-space-em"};
inline constexpr MatrixFiles kMatrices[] = {kRecipeDistances, kIngredientDistances};
inline constexpr std::string_view kDistanceMatrixFile = kRecipeDistances.npy;
inline constexpr std::string_view kDistanceIdsFile = kRecipeDistances.ids;
inline constexpr std::string_view kDistanceIdsType = kRecipeDistances.ids_type;

// recipe-similar `limit`: 1 up to the neighbours stored per recipe (the
// file's metadata.max_neighbors; kDefaultStoredNeighbors for a file that
// does not say), default kDefaultSimilarLimit.
inline constexpr int kDefaultStoredNeighbors = 20;
inline constexpr int kDefaultSimilarLimit = 5;

class Generation {
 public:
  struct File {
    std::string name;  // "ingredient-usage.json"
    std::string sha256;
    std::int64_t bytes = 0;
    std::shared_ptr<const Representation> representation;
  };

  // Indexes a verified snapshot (its bytes are moved, not copied). A file
  // the manifest lists but `snapshot.files` lacks is taken from `previous`,
  // which must hold it with the same SHA-256 and size: its representation
  // and index are shared, not rebuilt. An error (kInternal, naming the file)
  // when a file the API indexes cannot be parsed, or a listed file is in
  // neither; such a generation is refused like a corrupt one.
  static core::Result<std::shared_ptr<const Generation>> build(snapshot::Snapshot snapshot,
                                                               std::int64_t loaded_at_ms,
                                                               const Generation* previous = nullptr);

  // Files above this size get their gzip copy after the generation is
  // served (with_gzip()): compressing a 15 MB recipe-similar takes hundreds
  // of milliseconds that would otherwise delay every generation behind it.
  static constexpr std::size_t kEagerGzipMaxBytes = std::size_t{512} * 1024;
  // The same generation with the gzip copies still pending made; null when
  // none is pending. Shares everything else (bytes, indexes).
  std::shared_ptr<const Generation> with_gzip() const;
  // The representations whose gzip copy is still to be made.
  std::vector<std::shared_ptr<const Representation>> pending_gzip() const;
  // Representations by the one they replace (the same bytes, now with their
  // gzip copy).
  using RepresentationMap =
      std::map<std::shared_ptr<const Representation>, std::shared_ptr<const Representation>>;
  // The same generation with every representation found in `done`
  // replaced; null when it holds none of them.
  std::shared_ptr<const Generation> with_representations(const RepresentationMap& done) const;

  std::int64_t generation() const { return manifest_.generation; }
  std::int64_t catalog_seq() const { return manifest_.catalog_seq; }
  // The oldest catalog seq any of `files` was computed from (the manifest's
  // per-file seq; files carried forward keep theirs); empty: catalog_seq().
  // A file the generation lacks covers nothing (0) while its lane has not
  // produced anything in this generation (the cocktail space before its
  // first run: a reader waiting with min_seq waits for it); when the lane's
  // other files are there it was left out on purpose (a matrix over its size
  // limit) and is ignored.
  std::int64_t covered_seq(const std::vector<std::string>& files) const;
  std::int64_t generated_at_ms() const { return manifest_.generated_at_ms; }
  std::int64_t loaded_at_ms() const { return loaded_at_ms_; }
  const snapshot::Manifest& manifest() const { return manifest_; }
  // The two numbers as decimal text, for response headers.
  const std::string& generation_text() const { return generation_text_; }
  const std::string& catalog_seq_text() const { return catalog_seq_text_; }
  // Every file, by name.
  const std::unordered_map<std::string, File>& files() const { return files_; }

  // The enveloped analytic "<type>.json"; null when the generation has none.
  const Representation* analytic(std::string_view type) const;
  // Any file by its name ("recipe-distances-em.npy"); null when absent.
  // Analytics served from JSON files are also reachable by type above; a
  // matrix's ids file is served (enveloped) as file(MatrixFiles::ids).
  const File* file(std::string_view name) const;
  // The analytic types present ("cocktail-space", ...), sorted.
  const std::vector<std::string>& analytic_types() const { return types_; }

  // ---- ingredient-usage drill-down (null index: no ingredient-usage-all).
  const analytics::IngredientUsageIndex* usage_index() const { return usage_index_.get(); }
  // {data: rows, metadata: the root file's metadata + parent_id + level}.
  // Requires usage_index().
  std::shared_ptr<const Representation> usage_view(std::optional<std::int64_t> parent_id,
                                                   std::optional<int> level) const;

  // ---- recipe-similar for one recipe.
  bool has_similar() const { return similar_ != nullptr; }
  bool has_similar_recipe(std::int64_t recipe_id) const { return find_similar(recipe_id) != nullptr; }
  // The largest `limit` a view takes: the neighbours stored per recipe.
  int similar_stored() const { return similar_ ? similar_->stored : kDefaultStoredNeighbors; }
  // {recipe_id, recipe_name, neighbors: first `limit` (nearest first),
  //  data: {the same three}, metadata: the file's metadata + recipe_id +
  //  limit}; null for an unknown recipe. `limit` is clamped to
  // 1..similar_stored().
  std::shared_ptr<const Representation> similar_view(std::int64_t recipe_id, int limit) const;

  // Views currently cached (tests, status).
  std::size_t cached_views() const;

 private:
  // Whether the manifest holds any file of the lane that makes `file`.
  bool lane_present(std::string_view file) const;
  struct SimilarEntry {
    std::int64_t recipe_id = 0;
    std::uint32_t name_at = 0, name_len = 0;  // JSON string literal in similar_names_
    std::uint32_t first = 0, count = 0;       // into similar_spans_
  };
  struct Span {
    std::uint32_t at = 0, len = 0;
  };

  struct SimilarScan;
  // recipe-similar indexed: shared by generations holding the same file.
  struct SimilarIndex {
    std::shared_ptr<const std::string> source;  // the recipe-similar file bytes
    std::string metadata;
    int stored = kDefaultStoredNeighbors;  // neighbours stored per recipe
    std::vector<SimilarEntry> entries;     // ascending recipe_id
    std::string names;
    std::vector<Span> spans;
  };
  static core::Result<std::shared_ptr<const SimilarIndex>> index_similar(
      std::shared_ptr<const std::string> text);
  Generation() = default;
  const SimilarEntry* find_similar(std::int64_t recipe_id) const;
  std::string tag(std::string_view suffix) const;
  std::shared_ptr<const Representation> cached(const std::string& key) const;
  std::shared_ptr<const Representation> remember(const std::string& key,
                                                 std::shared_ptr<const Representation> view) const;

  snapshot::Manifest manifest_;
  std::string generation_text_, catalog_seq_text_;
  std::int64_t loaded_at_ms_ = 0;
  std::unordered_map<std::string, File> files_;
  std::unordered_map<std::string, std::shared_ptr<const Representation>> analytics_;  // by type
  std::vector<std::string> types_;

  std::shared_ptr<const analytics::IngredientUsageIndex> usage_index_;
  std::string usage_metadata_;  // raw JSON object of the root view's metadata

  std::shared_ptr<const SimilarIndex> similar_;

  static constexpr std::size_t kMaxCachedViews = 4096;
  mutable std::mutex views_mu_;
  mutable std::unordered_map<std::string, std::shared_ptr<const Representation>> views_;
};

}  // namespace cocktail::read_service

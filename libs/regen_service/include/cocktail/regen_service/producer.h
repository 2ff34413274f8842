// Producer: one pluggable source of snapshot files. The Regenerator loads
// the catalog once, builds the model once, and hands both to every producer;
// each returns named artifacts (enveloped JSON analytics or raw files such
// as a .npy matrix), item counts for the summary, stage timings and
// warnings. Adding an analytic means adding a producer to default_producers()
// (regenerator.h); nothing else changes.
//
// A producer is called on the regenerating thread, one at a time; it may use
// threads internally. Its inputs are read-only.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cocktail/analytics/catalog_model.h"
#include "cocktail/analytics/exact_json.h"

namespace cocktail::catalog {
struct CatalogState;
}

namespace cocktail::regen_service {

struct Artifact {
  // Key of the summary's counts and, when `envelope`, the envelope's
  // analytics_type ("ingredient-usage", "recipe-distances-em").
  std::string analytics_type;
  // The snapshot file ("ingredient-usage.json", "recipe-distances-em.npy").
  std::string file_name;
  // With `envelope`: the JSON text of `data`, wrapped in {data, metadata}
  // once the generation number is known. Without: the file's bytes as is.
  std::string body;
  bool envelope = true;
  analytics::MetadataExtras extras;   // per-type metadata (enveloped only)
  std::optional<std::int64_t> count;  // items, reported in the summary when set
};

struct ProducerContext {
  const catalog::CatalogState& state;
  const analytics::CatalogModel& model;
};

struct ProducerOutput {
  std::vector<Artifact> artifacts;
  std::vector<std::pair<std::string, double>> durations_ms;  // stage -> milliseconds
  std::vector<std::string> warnings;

  // Runs f() and records its wall time as `stage`; returns what f returns.
  template <typename F>
  decltype(auto) timed(std::string stage, F&& f) {
    struct Record {
      ProducerOutput* out = nullptr;
      std::string stage;
      std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
      ~Record() {
        out->durations_ms.emplace_back(
            std::move(stage),
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
      }
    } record{this, std::move(stage)};
    return f();
  }
};

class Producer {
 public:
  virtual ~Producer() = default;
  virtual std::string_view name() const = 0;
  // A slow producer runs in the second lane when lanes are split (see
  // Regenerator): its files are carried forward into the first generation.
  virtual bool slow() const { return false; }
  // The files every run of it writes (not those it writes only under some
  // setting). A generation lacking one, or holding one older than the
  // generation, is behind on this producer (Regenerator::behind()). Empty:
  // not declared.
  virtual std::vector<std::string> outputs() const { return {}; }
  // Throws on failure; the regeneration then fails as a whole and the
  // previous generation stays current.
  virtual void produce(const ProducerContext& context, ProducerOutput& out) = 0;
};

}  // namespace cocktail::regen_service

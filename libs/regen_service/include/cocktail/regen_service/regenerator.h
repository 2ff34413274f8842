// Regenerator: one full regeneration. Opens the catalog read-only, loads its
// state and change_log seq in one read transaction, builds the model, runs
// every producer, and writes the result as one snapshot generation
// (enveloped with the generation number, catalog_seq and generated_at), then
// applies retention. A failure at any stage leaves the previous generation
// current and is returned as an error naming the stage.
//
// Cancellation: run(&flag) checks the flag between stages (after loading,
// after the model, before each producer, before writing, and before the
// commit that replaces CURRENT). Once it is set the run stops at the next
// check, removes its partial generation and returns a kUnavailable error
// whose field is "cancelled": the current generation is never touched. A
// producer in progress is not interrupted; the flag is seen when it returns.
//
// Holds a reference to the store, which must outlive it. run() is not
// reentrant: call it from one thread at a time (the service's single flight).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cocktail/analytics/cocktail_space.h"
#include "cocktail/core/result.h"
#include "cocktail/regen_service/producer.h"
#include "cocktail/snapshot/snapshot_store.h"

namespace cocktail::regen {

struct RegeneratorSettings {
  std::string db_path;  // the catalog file, opened read-only
  // Applied after each successful write; none: keep everything.
  std::optional<snapshot::RetentionPolicy> retention;
  // Wall clock for generated_at and retention ages (Unix epoch ms).
  std::function<std::int64_t()> now_ms;
  // Two generations per run (fast, then complete); see above.
  bool split_lanes = false;
};

struct RegenSummary {
  std::int64_t generation = 0;
  std::int64_t catalog_seq = 0;
  std::int64_t generated_at_ms = 0;
  std::vector<std::pair<std::string, std::int64_t>> counts;  // analytics type -> items, production order
  std::vector<std::pair<std::string, double>> durations_ms;  // stage -> milliseconds, in order
  std::vector<std::string> warnings;
  snapshot::Manifest manifest;  // what was published (for the analytics.snapshot event)
  std::optional<snapshot::RetentionResult> retention;
  // With lanes: the fast generation committed (and handed to on_fast) first.
  std::optional<std::int64_t> fast_generation;
};

// The producers of every analytic that exists, in output order: the exact
// analytics, then the cocktail-space family with the given settings.
std::vector<std::unique_ptr<Producer>> default_producers(const analytics::CocktailSpaceOptions& space = {});

class Regenerator {
 public:
  Regenerator(RegeneratorSettings settings, snapshot::SnapshotStore& store,
              std::vector<std::unique_ptr<Producer>> producers = default_producers());

  // One regeneration. Error message: "<stage>: <reason>"; field: the stage
  // (or "cancelled", code kUnavailable, when `cancel` was set; see above).
  // `on_fast` (lanes only) is called on this thread once the fast
  // generation is committed, before the slow lane starts.
  core::Result<RegenSummary> run(const std::atomic<bool>* cancel = nullptr,
                                 const std::function<void(const RegenSummary&)>& on_fast = {});

 private:
  // Runs `producers` on the loaded state, appending to `artifacts`.
  void produce(const std::vector<Producer*>& producers, const ProducerContext& context,
               const std::atomic<bool>* cancel, RegenSummary& summary, std::vector<Artifact>& artifacts);
  // Envelopes and writes `artifacts` (leaving each one's final bytes in
  // body, envelope off) plus `carried` files (name -> bytes, own seq), and
  // commits at summary.catalog_seq.
  void write(const char* stage_name, std::vector<Artifact>& artifacts,
             const std::vector<std::pair<Artifact, std::int64_t>>& carried, const std::atomic<bool>* cancel,
             RegenSummary& summary);

  RegeneratorSettings settings_;
  snapshot::SnapshotStore& store_;
  std::vector<std::unique_ptr<Producer>> producers_;
};

// {"status":"success","generation","catalog_seq","generated_at","counts":{},
//  "durations_ms":{},"warnings":[],"files":{name:{sha256,bytes}},"gc":{...}}
std::string summary_json(const RegenSummary& summary);
// {"status":"error","error":"Failed to regenerate analytics","stage","details"}
std::string failure_json(const core::Error& error);

}  // namespace cocktail::regen

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
// run_fast() and run_slow() may run at once on two threads (one of each):
// their reads of CURRENT, commits and retention are serialised by a mutex.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cocktail/analytics/catalog_model.h"
#include "cocktail/analytics/cocktail_space.h"
#include "cocktail/catalog/state.h"
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

// A catalog state loaded by a fast run, with its model: what the slow lane
// computes from. Immutable once made; shared between the two lanes.
struct LoadedCatalog {
  catalog::CatalogState state;
  analytics::CatalogModel model;
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

  // Concurrent lanes (the service): true when split_lanes is set and there
  // are both fast and slow producers. Then run_fast() and run_slow() may be
  // called from two threads at once (one call of each at a time).
  bool concurrent_lanes() const;
  // Loads the catalog, runs the fast producers and commits them with every
  // other file of the current generation carried forward (own seq). On
  // success `loaded` receives the state for run_slow().
  core::Result<RegenSummary> run_fast(const std::atomic<bool>* cancel,
                                      std::shared_ptr<const LoadedCatalog>& loaded);
  // Runs the slow producers on `loaded` (seq S) and commits them at S with
  // every other file of the generation current at commit time carried
  // forward: exact files newer than S stay. The generation's catalog_seq is
  // the newest file seq, so it never goes backwards.
  core::Result<RegenSummary> run_slow(const LoadedCatalog& loaded, const std::atomic<bool>* cancel);

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
  // Reads the current generation and writes `artifacts` (computed at
  // summary.catalog_seq) with its other files carried forward, under
  // commit_mu_ so that what is carried is what CURRENT names at commit.
  void carry_and_write(const char* stage_name, std::vector<Artifact>& artifacts,
                       const std::atomic<bool>* cancel, RegenSummary& summary);
  // Applies retention after a commit, logs, and adds the total.
  void finish(RegenSummary& summary, std::chrono::steady_clock::time_point start);
  void split(std::vector<Producer*>& fast, std::vector<Producer*>& slow) const;

  RegeneratorSettings settings_;
  snapshot::SnapshotStore& store_;
  std::vector<std::unique_ptr<Producer>> producers_;
  // Serialises "read CURRENT, carry, commit" between the two lanes.
  std::mutex commit_mu_;
};

// {"status":"success","message","generation","catalog_seq","generated_at",
//  "counts":{type:n},"<type>_count":n,…,"durations_ms":{},"warnings":[],
//  "files":{name:{sha256,bytes}},"removed_generations":[...]}
std::string summary_json(const RegenSummary& summary);
// {"status":"error","error":"Failed to regenerate analytics","stage","details"}
std::string failure_json(const core::Error& error);

}  // namespace cocktail::regen

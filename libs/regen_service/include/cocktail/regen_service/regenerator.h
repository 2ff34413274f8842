// Regenerator: computes analytics from the catalog and commits them as
// snapshot generations. It has two lanes:
//
//   fast lane  run_fast(): opens the catalog read-only, loads its state and
//              change_log seq in one read transaction, builds the model, runs
//              the fast producers (the exact analytics) and commits them with
//              every other file of the current generation carried forward.
//   slow lane  run_slow(): runs the slow producers (the cocktail space) on a
//              state a fast run loaded and commits them, carrying forward the
//              files of the generation current at commit time (exact files
//              newer than the state stay).
//
// run() is the composition: one fast run, then the slow lane on what it
// loaded. Without split lanes (or without producers of both kinds) it is one
// lane of every producer, committed as one generation carrying nothing.
//
// Carrying costs no read and no write: the new generation hard-links the
// previous generation's file and takes its SHA-256 and size from that
// generation's manifest (GenerationWriter::link). A file is trusted without
// reading it when its on-disk stamp (inode, size, mtime) is the one recorded
// when this Regenerator wrote or last verified it; any other file is read and
// verified against its manifest first (once per process, then it is known).
// A carried file that cannot be used (corrupt, missing, or the current
// generation itself unreadable: no CURRENT, a truncated manifest) is taken
// from the newest older generation that holds a verifying copy; when none
// does, the run computes it again with the producers of the other lane, so a
// file is never dropped from a generation. distrust() asks for a file to be
// verified again at the next carry (and so rewritten when it is bad).
//
// Space: before writing, a lane asks the file system (SnapshotStore::space)
// whether its new files fit; when they do not, the oldest generations other
// than the current one are removed first (SnapshotStore::make_room), so
// retention makes room before a write fails. The slow lane (whose files are
// large) also leaves `min_free_bytes` free: when it cannot, it fails
// ("write": not enough space) without writing a byte and is retried like any
// failure, while the fast lane's small write is always attempted.
//
// A failure at any stage leaves the previous generation current and is
// returned as a RunFailure naming the stage.
//
// Cancellation: every run checks the flag between stages (after loading,
// after the model, before each producer, before writing, and before the
// commit that replaces CURRENT). Once it is set the run stops at the next
// check, removes its partial generation and returns a RunFailure with
// `cancelled` set: the current generation is never touched. A producer in
// progress is not interrupted; the flag is seen when it returns.
//
// The slow lane never holds the store while it writes its large files: they
// go to a staged generation (SnapshotStore::stage_generation) and are made
// durable first; the carry, the manifest and CURRENT then take the lock for
// about as long as a fast commit does.
//
// Holds a reference to the store, which must outlive it. One run_fast() and
// one run_slow() may run at once on two threads; their reads of the current
// generation, commits and retention are serialised by a mutex. run() is one
// call of each in turn.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "cocktail/analytics/catalog_model.h"
#include "cocktail/analytics/cocktail_space.h"
#include "cocktail/catalog/state.h"
#include "cocktail/regen_service/producer.h"
#include "cocktail/snapshot/snapshot_store.h"

namespace cocktail::regen_service {

struct RegeneratorSettings {
  std::string db_path;  // the catalog file, opened read-only
  // Applied after each successful write; none: keep everything.
  std::optional<snapshot::RetentionPolicy> retention;
  // Wall clock for generated_at and retention ages (Unix epoch ms).
  std::function<std::int64_t()> now_ms;
  // Two lanes, two generations per run (fast, then complete); see above.
  bool split_lanes = false;
  // Bytes the slow lane leaves free on the file system for the fast lane.
  std::int64_t min_free_bytes = 64LL << 20;
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
  // Files carried forward by hard link, and files written.
  std::int64_t files_linked = 0;
  std::int64_t files_written = 0;
  std::int64_t bytes_written = 0;
  // fsync calls made writing the generation.
  std::int64_t fsyncs = 0;
  // When the run started (steady clock): with durations_ms, a trace of the
  // run on the clock every process on the machine shares.
  std::chrono::steady_clock::time_point started;
  // Files of the current generation whose copy failed verification when
  // this run carried them (taken from an older generation or recomputed).
  std::vector<std::string> corrupt_files;
  // Generations removed before writing to make room on the file system.
  std::vector<snapshot::RemovedGeneration> made_room;
};

// Why a run did not publish: the stage that failed (or that would have come
// next when cancelled) and the reason.
struct RunFailure {
  std::string stage;  // "load", "produce.cocktail_space", "write.fast", "commit", ...
  std::string reason;
  bool cancelled = false;  // stopped by its cancellation flag: not a failure of the run

  // "<stage>: <reason>", or "cancelled before <stage>".
  std::string message() const;
};

// A run's outcome: the summary of what it published, or why it did not.
class RunResult {
 public:
  RunResult(RegenSummary summary) : v_(std::move(summary)) {}  // NOLINT(google-explicit-constructor)
  RunResult(RunFailure failure) : v_(std::move(failure)) {}    // NOLINT(google-explicit-constructor)
  bool ok() const { return v_.index() == 0; }
  const RegenSummary& value() const { return std::get<0>(v_); }
  RegenSummary& value() { return std::get<0>(v_); }
  const RunFailure& failure() const { return std::get<1>(v_); }

 private:
  std::variant<RegenSummary, RunFailure> v_;
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

  // One complete regeneration (see above). `on_fast` (lanes only) is called
  // on this thread once the fast generation is committed, before the slow
  // lane starts. With `retain`, retention follows the commit (retain()).
  RunResult run(const std::atomic<bool>* cancel = nullptr,
                const std::function<void(const RegenSummary&)>& on_fast = {}, bool retain = true);

  // True when split_lanes is set and there are both fast and slow
  // producers: then run_fast() and run_slow() are the two lanes.
  bool concurrent_lanes() const;
  // The fast lane. On success `loaded` (when given) receives the state for
  // run_slow().
  RunResult run_fast(const std::atomic<bool>* cancel, std::shared_ptr<const LoadedCatalog>* loaded = nullptr);
  // The slow lane, on a state run_fast() loaded. The generation's
  // catalog_seq is its newest file's, so it never goes backwards.
  RunResult run_slow(const LoadedCatalog& loaded, const std::atomic<bool>* cancel);
  // Retention, when settings.retention is set, after a run published
  // `summary`: run_fast() and run_slow() leave it to the caller, which
  // announces the generation first (readers never wait for gc). Adds the
  // "gc" stage and summary.retention; a failure is a warning.
  void retain(RegenSummary& summary);

  // The catalog seq the slow lane's files in `manifest` cover: the oldest
  // file seq, or 0 when a file a slow producer always writes is missing.
  // Below the manifest's catalog_seq, the slow lane owes it (a slow run
  // failed or was killed before it caught up). Lanes only; else nullopt.
  std::optional<std::int64_t> slow_lane_seq(const snapshot::Manifest& manifest) const;

  // The next carry reads and verifies `file` instead of trusting its stamp;
  // a copy that fails is recomputed (the hook for a reader that found it
  // corrupt). Any thread.
  void distrust(const std::string& file);

 private:
  enum class Lane { kAll, kFast, kSlow };
  struct Known {
    snapshot::FileStamp stamp;
    std::string sha256;
  };
  // A file carried into a new generation: linked from `from`.
  struct Carried {
    std::string name;
    std::int64_t from = 0;
    snapshot::FileEntry entry;  // catalog_seq: the file's own (always set)
  };
  struct Carry {
    std::vector<Carried> files;
    // Files the base generation listed that no generation holds a verifying copy of.
    std::set<std::string> lost;
  };

  std::vector<Producer*> producers(Lane lane) const;
  // Opens the catalog, loads the state, builds the model.
  std::shared_ptr<LoadedCatalog> load(const std::atomic<bool>* cancel, RegenSummary& summary);
  // Runs `producers` on the loaded state, appending to `artifacts`.
  void produce(const std::vector<Producer*>& producers, const ProducerContext& context,
               const std::atomic<bool>* cancel, RegenSummary& summary, std::vector<Artifact>& artifacts);
  // Runs `lane`'s producers and commits their files; for kFast / kSlow with
  // the other files of the current generation carried forward (computed
  // again with the other lane's producers when they cannot be), under
  // commit_mu_ so that what is carried is what CURRENT names at commit.
  void produce_and_commit(Lane lane, const ProducerContext& context, const std::atomic<bool>* cancel,
                          RegenSummary& summary);
  // The slow lane's commit: its files are written and made durable in a
  // staged generation outside commit_mu_ and the store's lock; only the
  // carry, the manifest and CURRENT happen under them.
  void commit_staged(const ProducerContext& context, const std::atomic<bool>* cancel, RegenSummary& summary,
                     std::vector<Artifact>& artifacts);
  // plan_carry(), then any file no generation holds a usable copy of is
  // computed again by the other lane's producers (appended to `artifacts`).
  // Call under commit_mu_.
  std::vector<Carried> carry_or_recompute(Lane lane, const ProducerContext& context,
                                          const std::atomic<bool>* cancel, RegenSummary& summary,
                                          std::vector<Artifact>& artifacts);
  // What to carry: every file of the newest readable generation not in
  // `fresh`, each from a verifying copy. Call under commit_mu_.
  Carry plan_carry(const std::vector<Artifact>& fresh, RegenSummary& summary);
  // Whether generation `g`'s `name` holds the bytes `entry` describes
  // (stamp known, else read and verified). Call under commit_mu_.
  enum class Usable { kYes, kNotListed, kBad };
  Usable usable(std::int64_t g, const snapshot::Manifest& manifest, const std::string& name);
  // Makes room for `needed` bytes plus `reserve` left free (see above);
  // throws a StageFailure of `stage_name` when the reserve cannot be kept.
  void ensure_space(const char* stage_name, std::int64_t needed, std::int64_t reserve, RegenSummary& summary);
  // The bytes a generation of `artifacts` (but those in `skip`, linked) and
  // `linked` carried files adds to the file system, with some slack.
  static std::int64_t space_needed(const std::vector<Artifact>& artifacts, std::size_t linked,
                                   const std::vector<Carried>& skip = {});
  // Envelopes artifacts[from..] for `writer`'s generation and adds them,
  // but for those named in `skip`.
  void add_artifacts(snapshot::GenerationWriter& writer, std::vector<Artifact>& artifacts, std::size_t from,
                     RegenSummary& summary, const std::vector<Carried>& skip = {});
  // The bare artifacts whose bytes are those of the current generation's
  // file of the same name (usable: verified or stamp known), as links from
  // it that say `seq`, the state they were computed from. A current copy
  // that fails verification is noted in summary.corrupt_files.
  std::vector<Carried> same_as_current(const std::vector<Artifact>& artifacts, std::int64_t seq,
                                       RegenSummary& summary);
  // Links `carried`, then commits (the cancellation flag checked last).
  snapshot::WriteTimings link_and_commit(snapshot::GenerationWriter& writer,
                                         const std::vector<Carried>& carried, const std::atomic<bool>* cancel,
                                         RegenSummary& summary);
  // Records the write's step timings and what it wrote as known good.
  void finish_write(const char* stage_name, const snapshot::WriteTimings& timings,
                    std::vector<Artifact>& artifacts, RegenSummary& summary);
  // Adds the total and logs the run.
  void finish(RegenSummary& summary, std::chrono::steady_clock::time_point start);

  RegeneratorSettings settings_;
  snapshot::SnapshotStore& store_;
  std::vector<std::unique_ptr<Producer>> producers_;
  // Serialises "read CURRENT, carry, commit" between the two lanes.
  std::mutex commit_mu_;
  // Files whose bytes are known good by their stamp, by name.
  std::mutex known_mu_;
  std::map<std::string, Known> known_;
};

// {"status":"success","message","generation","catalog_seq","generated_at",
//  "counts":{type:n},"<type>_count":n,…,"durations_ms":{},"warnings":[],
//  "files":{name:{sha256,bytes}},"removed_generations":[...]}
std::string summary_json(const RegenSummary& summary);
// {"status":"error","error":"Failed to regenerate analytics","stage","details"}
std::string failure_json(const RunFailure& failure);

}  // namespace cocktail::regen_service

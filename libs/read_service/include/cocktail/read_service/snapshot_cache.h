// SnapshotCache: the generation the read API serves, kept current.
//
// Loads the generation CURRENT names from ANALYTICS_PATH, every file
// verified against the manifest's SHA-256 (snapshot::SnapshotStore), indexes
// it (Generation::build) and swaps it in atomically. A file whose manifest
// SHA-256 and size equal those of the served generation's file of the same
// name is not read again: its verified in-memory representation (bytes, gzip
// copy, parsed index) is shared with the new generation, so a generation
// that changed a few files costs loading those files only: a reader holding the
// previous generation keeps it until it lets go, and never sees a mix.
//
// Loading happens on the cache's own refresh thread, never on an I/O thread:
// it wakes when told a generation was announced (request_refresh(), from the
// bus subscriber), and every `check_interval` in case an announcement was
// lost (PUB/SUB drops messages). A generation that fails verification or
// indexing is never served: the previous one stays, the failure is counted
// (cocktail_snapshot_verification_failures_total for a SHA-256 or size
// mismatch), the log names the file, and that generation is not retried
// (generation numbers are never reused: a rewrite is a new generation).
// A generation whose manifest or a listed file is missing while CURRENT
// still names it, and a CURRENT that cannot be parsed, are refused alike.
//
// Fallback: when the generation CURRENT names (or CURRENT itself) is
// refused, the newest older generation on disk that verifies completely —
// newer than the one served, at most kFallbackCandidates looked at, a copy
// already found bad (same inode: generations share carried files by hard
// link) not read again — is served instead, whole and verified like any
// other. At start-up that is what stands between a corrupt file and 503s.
// fallback() says so (for /health), cocktail_snapshot_fallback is 1, and the
// staleness clock runs (CURRENT names a newer generation than the one
// served) until a generation CURRENT names loads.
//
// Repair: each refusal is reported to the repair handler (analytics-api
// publishes it as analytics.repair for analytics-regen), and again every
// `repair_interval` while CURRENT still names the refused generation (a
// request can be lost: PUB/SUB drops messages to a peer not yet connected).
//
// After each swap the listeners run on the refresh thread, in registration
// order (wake read-your-writes waiters, announce on event streams). Files
// over Generation::kEagerGzipMaxBytes get their gzip copy afterwards, on a
// gzip thread of their own at nice 10: until then they are served as
// identity, and a generation announced meanwhile never waits for them.
//
// Announcements are hints: a generation number heard on the bus only wakes
// the refresh thread; what counts is what CURRENT names. The cache is behind
// when CURRENT names a newer generation than the served one (not loaded yet,
// or refused); an announced generation that CURRENT does not reach (a forged
// or garbled event, say generation 2^62) is dropped when CURRENT is read and
// counted, and never holds the staleness clock.
//
// Metrics: cocktail_snapshot_generation, cocktail_snapshot_catalog_seq,
// cocktail_snapshot_age_seconds (now − generated_at of the served
// generation), cocktail_snapshot_staleness_seconds (how long CURRENT has
// named a newer generation than the served one, counted from when it was
// first announced: 0 when up to date),
// cocktail_snapshot_verification_failures_total,
// cocktail_snapshot_loads_total{result} (swapped, fallback, refused, failed),
// cocktail_snapshot_unverified_announcements_total, cocktail_snapshot_fallback.
//
// Thread-safety: current() and the note_/request_ methods from any thread;
// add_listener() before start(); start()/stop() from the owning thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cocktail/core/time.h"
#include "cocktail/metrics/registry.h"
#include "cocktail/read_service/generation.h"
#include "cocktail/snapshot/snapshot_store.h"

namespace cocktail::read_service {

struct SnapshotCacheOptions {
  std::filesystem::path analytics_path;
  // How often CURRENT is checked without an announcement.
  std::chrono::milliseconds check_interval{2000};
  // The monotonic clock behind the check interval and the staleness gauge
  // (borrowed; must outlive the cache). Null: the steady clock. The refresh
  // thread sleeps in real time, at most a second, between looks at it.
  const core::Clock* clock = nullptr;
  // How often a refusal is reported again while CURRENT names it.
  std::chrono::milliseconds repair_interval{5000};
};

// What one refresh did.
enum class RefreshOutcome {
  kUnchanged,   // CURRENT names the served (or an already refused) generation
  kNoSnapshot,  // nothing was ever published
  kSwapped,     // a new generation is served
  kRefused,     // the new generation failed verification or indexing; the previous stays
  kFellBack,    // it was refused, and an older generation that verifies is served instead
  kFailed,      // the store could not be read (I/O, a generation removed mid-read): retried
};
const char* refresh_outcome_name(RefreshOutcome outcome);

// The last refusal, for /status and the logs.
struct Refusal {
  std::int64_t generation = 0;  // 0: CURRENT itself
  std::string file;             // relative to ANALYTICS_PATH
  std::string reason;           // "corrupt", "malformed", "not_found", "index"
  std::string message;
  std::int64_t at_ms = 0;
};

// What a reader asks analytics-regen to rewrite (see "Repair").
struct RepairNeed {
  std::int64_t generation = 0;  // the refused generation; 0: CURRENT itself
  std::string file;             // a file name, "manifest.json" or "CURRENT"
  std::string reason;           // "corrupt", "malformed", "not_found"
};

// Serving an older generation than CURRENT names, because that one was refused.
struct Fallback {
  std::int64_t served = 0;   // the generation served
  std::int64_t current = 0;  // the one CURRENT names (0: CURRENT unreadable)
  Refusal refusal;           // why
};

class SnapshotCache {
 public:
  using Listener = std::function<void(const std::shared_ptr<const Generation>&)>;

  // Opens the store (creating ANALYTICS_PATH/v1/generations when missing;
  // throws snapshot::SnapshotIoError when it cannot). Loads nothing yet.
  SnapshotCache(SnapshotCacheOptions options, metrics::MetricsRegistry& registry);
  ~SnapshotCache();  // stop()
  SnapshotCache(const SnapshotCache&) = delete;
  SnapshotCache& operator=(const SnapshotCache&) = delete;

  void add_listener(Listener listener);
  // Called on the refresh thread for every refusal to report (see
  // "Repair"). Set before start().
  void set_repair_handler(std::function<void(const RepairNeed&)> handler);
  static constexpr std::size_t kFallbackCandidates = 8;

  // The served generation; null before the first load. Cheap (a lock and a
  // reference count); callers keep the pointer for the whole request.
  std::shared_ptr<const Generation> current() const;

  // Checks CURRENT and loads a new generation when there is one. Blocking:
  // call it off the I/O threads (the refresh thread does). Serialised.
  RefreshOutcome refresh();

  // Starts the refresh thread; its first refresh runs at once.
  void start();
  void stop();
  // Wakes the refresh thread (an announcement arrived).
  void request_refresh();
  // The publisher says `generation` is current (a snapshot event or a
  // heartbeat): wakes the refresh thread when it is newer than the served
  // one. The staleness clock starts from here once CURRENT confirms it.
  void note_announced(std::int64_t generation);

  std::optional<Refusal> last_refusal() const;
  // Set while an older generation is served because CURRENT's was refused.
  std::optional<Fallback> fallback() const;
  std::uint64_t verification_failures() const { return verification_failures_.load(); }
  const snapshot::SnapshotStore& store() const { return store_; }
  // Seconds CURRENT has named a newer generation than the served one (0 when current).
  double staleness_seconds() const;
  std::uint64_t unverified_announcements() const { return unverified_announcements_.load(); }

 private:
  // One generation loaded, or why not.
  struct Attempt {
    std::shared_ptr<const Generation> generation;
    std::optional<Refusal> refusal;              // it cannot be served
    std::vector<snapshot::FileStamp> bad_files;  // copies that failed verification
    bool vanished = false;                       // removed while read (gc): not a refusal
    std::int64_t read = 0;                       // files read (the rest reused)
  };
  void run();
  RefreshOutcome load_if_new();  // under refresh_mu_
  // Reads, verifies and indexes generation `g`; `strict`: a missing
  // manifest or file is a refusal while CURRENT names `g` (else: vanished).
  Attempt load_generation(std::int64_t g, const std::shared_ptr<const Generation>& served, bool strict);
  // The newest generation in (served, below) that loads; null when none.
  std::shared_ptr<const Generation> fall_back(std::int64_t below,
                                              const std::shared_ptr<const Generation>& served,
                                              std::vector<snapshot::FileStamp> bad, std::int64_t& read);
  // Serves `next`; `fallback`: instead of what CURRENT names. Then the gzip
  // copies of its large files are requested from the gzip thread.
  void swap_in(const std::shared_ptr<const Generation>& next, const std::shared_ptr<const Generation>& served,
               std::int64_t read, std::optional<Fallback> fallback);
  // The gzip thread: makes the pending gzip copies of the served
  // generation's large files at a lower CPU priority and swaps them in.
  void run_gzip();
  void request_gzip();
  void update_gauges();
  void refuse(const Refusal& refusal);
  // Reports the refusal to the repair handler, at most every repair_interval.
  void ask_repair(const Refusal& refusal, bool again);
  // CURRENT names `generation` (0: no snapshot), as read after the
  // announcement numbered `read_after`: settles announcements up to that
  // one against it and says whether the cache is behind. (Later ones woke
  // the refresh thread again and are settled by the next read.)
  void note_on_disk(std::int64_t generation, std::uint64_t read_after);
  std::uint64_t announcements_heard() const;

  SnapshotCacheOptions options_;
  core::SteadyClock steady_;
  const core::Clock& clock_;
  snapshot::SnapshotStore store_;

  mutable std::mutex current_mu_;
  std::shared_ptr<const Generation> current_;

  std::mutex refresh_mu_;  // one refresh at a time
  // The last load's timings (steady clock, microseconds; durations in ms),
  // logged as snapshot.load_trace. Under refresh_mu_.
  struct LoadTrace {
    std::int64_t generation = 0;
    std::int64_t heard_us = 0;  // the first announcement of a newer generation (0: none)
    std::int64_t start_us = 0;
    double read_ms = 0;  // CURRENT, manifest, changed files read and verified
    double build_ms = 0;
    std::int64_t swapped_us = 0;
    std::int64_t notified_us = 0;  // listeners (waiters, stream) ran
    double gzip_ms = 0;            // large files' deferred gzip copies
    double trim_ms = 0;
  };
  LoadTrace trace_;

  std::thread gzip_thread_;
  std::mutex gzip_mu_;
  std::condition_variable gzip_cv_;
  bool gzip_wake_ = false;
  bool gzip_stopping_ = false;
  std::vector<Listener> listeners_;
  std::function<void(const RepairNeed&)> repair_handler_;
  std::optional<std::int64_t> refused_generation_;  // 0: CURRENT unreadable
  std::optional<Refusal> refused_;                  // why, for reports again
  std::optional<core::Clock::time_point> repair_asked_at_;

  mutable std::mutex state_mu_;
  std::optional<Refusal> last_refusal_;
  std::optional<Fallback> fallback_;
  std::int64_t announced_generation_ = 0;  // newest generation CURRENT confirmed
  // The newest announced generation not yet checked against CURRENT, and
  // when a generation newer than the served one was first announced.
  std::int64_t claimed_generation_ = 0;
  std::uint64_t claims_ = 0;  // announcements newer than the served generation, numbered
  std::optional<core::Clock::time_point> claimed_since_;
  std::optional<core::Clock::time_point> behind_since_;

  std::mutex wake_mu_;
  std::condition_variable wake_cv_;
  bool wake_ = false;
  bool stopping_ = false;
  std::thread thread_;

  std::atomic<std::uint64_t> verification_failures_{0};
  std::atomic<std::uint64_t> unverified_announcements_{0};
  prometheus::Gauge& generation_gauge_;
  prometheus::Gauge& catalog_seq_gauge_;
  prometheus::Gauge& age_gauge_;
  prometheus::Gauge& staleness_gauge_;
  prometheus::Counter& verification_failures_total_;
  prometheus::Family<prometheus::Counter>& loads_;
  prometheus::Counter& unverified_total_;
  prometheus::Counter& files_read_;
  prometheus::Counter& files_reused_;
  prometheus::Gauge& fallback_gauge_;
};

}  // namespace cocktail::read_service

// Scrubber: reads the current generation back at a bounded rate and checks
// every file against its manifest, so that a file that went bad on disk (bit
// rot, a disk that lies, a careless hand) is found before a reader trips on
// it; and checks first the files a reader says are bad.
//
//   periodic pass  at start, then `interval` after the previous pass ended:
//                  each file of the generation CURRENT names, read in 1 MiB
//                  chunks and hashed as it goes (never held in memory). A
//                  file whose stamp (inode, size, mtime) was verified earlier
//                  in the same pass is not read again, so a pass that sees
//                  CURRENT move (generations share carried files by hard
//                  link) goes on with the new generation at little cost.
//   on request     check(file): that file of the current generation (or
//                  "manifest.json", or "CURRENT"), before the rest of a pass.
//                  Requests are deduplicated by name and at most
//                  kMaxPendingChecks wait: a flood of them costs at most one
//                  read of each file at the rate limit, never more.
//
// Every read (pass and request alike) draws on one token bucket of
// `bytes_per_second`, holding one second's worth: the scrub's I/O stays
// bounded whatever asks for it. 0: unlimited.
//
// What fails — a file of the wrong size or SHA-256, a file or manifest
// missing while CURRENT still names its generation, a manifest or CURRENT
// that cannot be parsed, no CURRENT while complete generations exist — is
// reported to `on_bad` on the scrubber's thread. A generation replaced while
// it is read is not a failure.
//
// Metrics: cocktail_regen_scrub_bytes_read_total,
// cocktail_regen_scrub_passes_total, cocktail_regen_scrub_last_pass_timestamp_seconds,
// cocktail_regen_repair_requests_total{result="confirmed|dismissed|dropped|merged"}.
//
// Time: intervals and the rate use the injected monotonic clock; the thread
// sleeps in real time, at most 100 ms at once, until its next deadline by
// that clock. Ownership: borrows the clock, store and registry, which must
// outlive it. Thread-safety: check(), stats() from any thread; start() and
// stop() from the owner.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "cocktail/core/time.h"
#include "cocktail/metrics/registry.h"
#include "cocktail/snapshot/snapshot_store.h"

namespace cocktail::regen_service {

struct ScrubberOptions {
  // Between periodic passes (the first runs at start); zero: no passes,
  // requests only.
  std::chrono::milliseconds interval{std::chrono::hours(1)};
  // Read budget of passes and requests together; 0: unlimited.
  std::int64_t bytes_per_second = 32LL << 20;
};

// One failed check.
struct ScrubFinding {
  std::int64_t generation = 0;  // 0: CURRENT itself
  std::string file;             // a file name, "manifest.json" or "CURRENT"
  std::string reason;           // "corrupt", "malformed", "not_found"
  std::string message;
  bool requested = false;  // found by a request (a reader's), not by a pass
};

struct ScrubberStats {
  std::uint64_t passes = 0;
  std::uint64_t bytes_read = 0;
  std::uint64_t requests_confirmed = 0;
  std::uint64_t requests_dismissed = 0;
  std::uint64_t requests_dropped = 0;
  std::uint64_t requests_merged = 0;              // folded into the same check already waiting
  std::optional<std::int64_t> last_pass_wall_ms;  // when the last pass ended
};

class Scrubber {
 public:
  static constexpr std::size_t kMaxPendingChecks = 64;

  Scrubber(ScrubberOptions options, const core::Clock& clock, const snapshot::SnapshotStore& store,
           metrics::MetricsRegistry& registry, std::function<void(const ScrubFinding&)> on_bad);
  ~Scrubber();  // stop()
  Scrubber(const Scrubber&) = delete;
  Scrubber& operator=(const Scrubber&) = delete;

  void start();
  void stop();

  // Asks for `file` of the current generation to be checked soon. False
  // (counted as dropped) when the name cannot be a snapshot file, or too
  // many checks wait; a name already waiting is not queued twice.
  bool check(const std::string& file);
  // Wakes the thread (after moving a manual clock).
  void wake();

  ScrubberStats stats() const;

 private:
  enum class Outcome { kGood, kBad, kMoved, kSkipped };
  void run();
  void pass();
  // Checks one file (or manifest.json / CURRENT) of the current generation.
  Outcome check_now(const std::string& file, bool requested);
  Outcome report(std::int64_t generation, const std::string& file, const snapshot::ReadError& error,
                 bool requested);
  // Serves waiting requests; false when stopping.
  bool serve_requests();
  // Draws `bytes` from the bucket, sleeping while it is empty.
  void pace(std::size_t bytes);
  bool stopping() const;

  ScrubberOptions options_;
  const core::Clock& clock_;
  const snapshot::SnapshotStore& store_;
  std::function<void(const ScrubFinding&)> on_bad_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::deque<std::string> pending_;
  ScrubberStats stats_;
  double tokens_ = 0;  // bytes; may go negative (a chunk drawn on credit)
  core::Clock::time_point refilled_{};
  std::thread thread_;

  prometheus::Counter& bytes_read_;
  prometheus::Counter& passes_;
  prometheus::Gauge& last_pass_;
  prometheus::Counter& confirmed_;
  prometheus::Counter& dismissed_;
  prometheus::Counter& dropped_;
  prometheus::Counter& merged_;
};

}  // namespace cocktail::regen_service

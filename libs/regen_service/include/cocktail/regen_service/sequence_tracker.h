// SequenceTracker: what analytics-regen knows of the catalog's sequence
// numbers and what it owes, deciding when a regeneration is needed. No
// threads, no I/O, no locking: the service feeds it events, reads of the
// catalog and published snapshots, on one thread (or under one lock), and it
// feeds the Debouncer.
//
// Events are hints. A catalog.change or catalog.heartbeat naming a seq
// beyond what is already owed changes no bookkeeping: it asks for the
// catalog's real newest seq to be read (wants_probe()), and only what that
// read confirms becomes owed. A seq above the catalog's real newest one
// (forged, or from another catalog) is rejected and counted, so one bad
// message can neither make later real changes look like redeliveries nor
// keep a regeneration owed forever: everything owed resolves from the
// catalog alone. When the catalog cannot be read, hinted work is scheduled
// anyway (the run reads the catalog itself).
//
// Trigger reasons (cocktail_regen_triggers_total): "change" (a change event
// confirmed), "seq_gap" (a change confirmed beyond the next expected seq:
// events were lost), "heartbeat_ahead" (a heartbeat revealed changes no event
// announced), "catalog_ahead" (a periodic read found changes no event
// announced: immediate), "startup" (catch-up at start: immediate).
//
// Ownership: borrows the clock and the debouncer, which must outlive it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cocktail/core/time.h"
#include "cocktail/regen_service/debouncer.h"

namespace cocktail::regen_service {

inline constexpr const char* kReasonChange = "change";
inline constexpr const char* kReasonGap = "seq_gap";
inline constexpr const char* kReasonHeartbeat = "heartbeat_ahead";
inline constexpr const char* kReasonCatalog = "catalog_ahead";
inline constexpr const char* kReasonStartup = "startup";
// Not the tracker's: a file of the current generation failed verification.
inline constexpr const char* kReasonRepair = "repair";

class SequenceTracker {
 public:
  SequenceTracker(const core::Clock& clock, Debouncer& debouncer);

  // At start: the newest snapshot's seq (nullopt: none) and the catalog's
  // newest seq (nullopt: unreadable). Schedules the catch-up run when the
  // catalog is ahead or there is no snapshot; returns whether it did.
  bool start(std::optional<std::int64_t> snapshot_seq, std::optional<std::int64_t> catalog_latest);

  // A catalog.change / catalog.heartbeat with its seq.
  void on_change(std::int64_t seq);
  void on_heartbeat(std::int64_t seq);
  // Whether hints wait for a read of the catalog.
  bool wants_probe() const { return !hints_.empty() || heartbeat_hint_ > 0; }

  // The catalog's newest seq, as read now. `periodic`: a scheduled check
  // (not one asked for by hints), whose findings beyond what is owed mean
  // events were lost: an immediate run.
  void on_probe(std::int64_t latest, bool periodic);
  // The catalog could not be read: hinted work is scheduled unverified.
  void on_probe_failed(const std::string& error);

  // A generation covering `seq` was published by a run that read the
  // catalog at `seq` (a confirmed seq).
  void on_published(std::int64_t seq);

  // The highest seq the catalog confirmed (reads and runs).
  std::int64_t confirmed_seq() const { return confirmed_; }
  // The highest seq owed: confirmed and not known to be covered yet, or covered.
  std::int64_t owed_seq() const { return owed_; }
  // The snapshot's seq, as last published or read at start.
  std::int64_t covered_seq() const { return covered_; }
  // The catalog's newest seq by the last read; nullopt before any.
  std::optional<std::int64_t> catalog_latest() const { return catalog_latest_; }
  const std::string& probe_error() const { return probe_error_; }
  // When the last event arrived; nullopt before any.
  std::optional<core::Clock::time_point> last_event() const { return last_event_; }
  // Events whose seq the catalog did not confirm, since start.
  std::uint64_t rejected() const { return rejected_; }
  // Triggers noted, in order since the last take_triggers() (for metrics).
  std::vector<std::string> take_triggers();
  // Age of the oldest change owed and not yet covered; 0 when covered.
  double staleness_seconds(core::Clock::time_point now) const;

 private:
  void trigger(const char* reason, TriggerMode mode, std::optional<std::int64_t> seq);

  const core::Clock& clock_;
  Debouncer& debouncer_;
  std::int64_t confirmed_ = 0;
  std::int64_t owed_ = 0;
  std::int64_t covered_ = 0;
  bool have_snapshot_ = false;
  std::optional<std::int64_t> catalog_latest_;
  std::string probe_error_;
  std::optional<core::Clock::time_point> last_event_;
  std::vector<std::int64_t> hints_;  // change seqs awaiting confirmation
  std::int64_t heartbeat_hint_ = 0;  // the highest heartbeat seq awaiting confirmation
  std::uint64_t rejected_ = 0;
  std::vector<std::string> triggers_;
};

}  // namespace cocktail::regen_service

#include "cocktail/regen_service/sequence_tracker.h"

#include <algorithm>

#include "cocktail/core/log.h"

namespace cocktail::regen_service {

SequenceTracker::SequenceTracker(const core::Clock& clock, Debouncer& debouncer)
    : clock_(clock), debouncer_(debouncer) {}

void SequenceTracker::trigger(const char* reason, TriggerMode mode, std::optional<std::int64_t> seq) {
  debouncer_.note_trigger(reason, mode, seq);
  triggers_.emplace_back(reason);
}

std::vector<std::string> SequenceTracker::take_triggers() {
  std::vector<std::string> out;
  out.swap(triggers_);
  return out;
}

bool SequenceTracker::start(std::optional<std::int64_t> snapshot_seq,
                            std::optional<std::int64_t> catalog_latest) {
  have_snapshot_ = snapshot_seq.has_value();
  covered_ = snapshot_seq.value_or(0);
  owed_ = covered_;
  confirmed_ = covered_;
  debouncer_.note_covered(covered_);
  if (catalog_latest) {
    catalog_latest_ = *catalog_latest;
    confirmed_ = std::max(confirmed_, *catalog_latest);
  }
  if (have_snapshot_ && (!catalog_latest || *catalog_latest <= covered_)) {
    return false;
  }
  core::log::info("regen.catch_up", {{"snapshot_seq", snapshot_seq ? *snapshot_seq : -1},
                                     {"catalog_seq", catalog_latest ? *catalog_latest : -1}});
  trigger(kReasonStartup, TriggerMode::kImmediate, std::nullopt);
  owed_ = std::max(owed_, catalog_latest.value_or(0));
  return true;
}

void SequenceTracker::on_change(std::int64_t seq) {
  last_event_ = clock_.now();
  if (seq <= owed_) {
    debouncer_.note_change(seq);  // a redelivery: counted as a duplicate there
    return;
  }
  hints_.push_back(seq);
}

void SequenceTracker::on_heartbeat(std::int64_t seq) {
  last_event_ = clock_.now();
  if (seq > owed_) {
    heartbeat_hint_ = std::max(heartbeat_hint_, seq);
  }
}

void SequenceTracker::begin_probe() {
  probe_hints_ = hints_.size();
  probe_heartbeat_ = heartbeat_hint_;
}

void SequenceTracker::on_probe(std::int64_t latest, bool periodic) {
  // Hints that came in while the catalog was read and stand above what it
  // saw wait for the next read (their commits may be newer than the read).
  std::vector<std::int64_t> later;
  std::int64_t later_heartbeat = 0;
  if (probe_hints_) {
    const auto judged = static_cast<std::ptrdiff_t>(std::min(*probe_hints_, hints_.size()));
    for (auto it = hints_.begin() + judged; it != hints_.end();) {
      if (*it > latest) {
        later.push_back(*it);
        it = hints_.erase(it);
      } else {
        ++it;
      }
    }
    if (heartbeat_hint_ > latest && heartbeat_hint_ != probe_heartbeat_) {
      later_heartbeat = heartbeat_hint_;
      heartbeat_hint_ = probe_heartbeat_;
    }
    probe_hints_.reset();
  }
  probe_error_.clear();
  catalog_latest_ = latest;
  confirmed_ = std::max(confirmed_, latest);
  // Nothing noted may stand above what the catalog holds.
  debouncer_.clamp_seq(std::max(latest, covered_));
  std::sort(hints_.begin(), hints_.end());
  const std::int64_t before = owed_;
  std::int64_t expected = owed_ + 1;
  bool gap = false;
  for (std::int64_t seq : hints_) {
    if (seq > latest) {
      ++rejected_;
      core::log::warn("regen.seq_rejected", {{"seq", seq}, {"catalog_seq", latest}});
      continue;
    }
    if (seq <= owed_) {
      debouncer_.note_change(seq);
      continue;
    }
    gap = gap || seq > expected;
    expected = seq + 1;
    debouncer_.note_change(seq);
    owed_ = seq;
  }
  hints_.clear();
  if (gap) {
    core::log::warn("regen.seq_gap", {{"expected", before + 1}, {"seq", owed_}});
    trigger(kReasonGap, TriggerMode::kDebounced, owed_);
  }
  if (heartbeat_hint_ > latest) {
    ++rejected_;
    core::log::warn("regen.seq_rejected", {{"heartbeat_seq", heartbeat_hint_}, {"catalog_seq", latest}});
  }
  const bool heartbeat = heartbeat_hint_ > owed_;
  heartbeat_hint_ = later_heartbeat;
  hints_ = std::move(later);
  if (latest <= owed_) {
    return;
  }
  // The catalog holds changes no confirmed event announced.
  if (heartbeat) {
    core::log::info("regen.heartbeat_ahead", {{"catalog_seq", latest}, {"known_seq", owed_}});
    trigger(kReasonHeartbeat, TriggerMode::kDebounced, latest);
  } else if (periodic) {
    core::log::info("regen.catalog_ahead", {{"catalog_seq", latest}, {"known_seq", owed_}});
    trigger(kReasonCatalog, TriggerMode::kImmediate, latest);
  } else {
    // Committed after the events that asked for this read: their own
    // events are on the way (and are counted as changes when they come);
    // the run is owed now.
    debouncer_.note_trigger(kReasonChange, TriggerMode::kDebounced, latest);
  }
  owed_ = latest;
}

void SequenceTracker::on_probe_failed(const std::string& error) {
  if (error != probe_error_) {
    core::log::warn("regen.catalog_unreadable", {{"error", error}});
  }
  probe_error_ = error;
  if (!wants_probe()) {
    return;
  }
  // Unverified: the run reads the catalog itself and settles what it holds.
  hints_.clear();
  heartbeat_hint_ = 0;
  trigger(kReasonChange, TriggerMode::kDebounced, std::nullopt);
}

void SequenceTracker::on_published(std::int64_t seq) {
  have_snapshot_ = true;
  covered_ = std::max(covered_, seq);
  confirmed_ = std::max(confirmed_, seq);
  owed_ = std::max(owed_, seq);
  catalog_latest_ = std::max(catalog_latest_.value_or(0), seq);
  if (debouncer_.drop_covered(seq)) {
    core::log::debug("regen.follow_up_covered", {{"seq", seq}});
  }
}

double SequenceTracker::staleness_seconds(core::Clock::time_point now) const {
  // Every seq known is in the current snapshot: a pending manual or
  // start-up run does not make the analytics stale.
  if (owed_ <= covered_ && have_snapshot_) {
    return 0.0;
  }
  const auto oldest = debouncer_.oldest_uncovered();
  return oldest ? std::max(0.0, std::chrono::duration<double>(now - *oldest).count()) : 0.0;
}

}  // namespace cocktail::regen_service

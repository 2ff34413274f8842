#include "cocktail/regen_service/debouncer.h"

#include <algorithm>
#include <random>
#include <stdexcept>

namespace cocktail::regen_service {
namespace {

using TimePoint = core::Clock::time_point;

Debouncer::RandomSource seeded_random() {
  return [engine = std::mt19937_64(std::random_device{}()),
          dist = std::uniform_real_distribution<double>(0.0, 1.0)]() mutable { return dist(engine); };
}

void add_reason(std::vector<std::string>& reasons, std::string reason) {
  if (std::find(reasons.begin(), reasons.end(), reason) == reasons.end()) {
    reasons.push_back(std::move(reason));
  }
}

}  // namespace

Debouncer::Debouncer(const core::Clock& clock, DebouncerOptions options, RandomSource random)
    : clock_(clock), options_(options), random_(random ? std::move(random) : seeded_random()) {
  using std::chrono::milliseconds;
  if (options_.quiet <= milliseconds(0) || options_.max_delay <= milliseconds(0)) {
    throw std::invalid_argument("debounce windows must be positive");
  }
  if (options_.backoff_initial <= milliseconds(0) || options_.backoff_initial > options_.backoff_max) {
    throw std::invalid_argument("backoff_initial must be positive and not above backoff_max");
  }
  if (!(options_.backoff_multiplier >= 1.0)) {
    throw std::invalid_argument("backoff_multiplier must be >= 1");
  }
  if (!(options_.backoff_jitter >= 0.0 && options_.backoff_jitter <= 1.0)) {
    throw std::invalid_argument("backoff_jitter must be in [0, 1]");
  }
}

Debouncer::Work& Debouncer::pending_work(TimePoint now) {
  if (!pending_) {
    pending_.emplace();
    pending_->work.oldest = now;
    pending_->newest = now;
  }
  return *pending_;
}

void Debouncer::note_change(std::int64_t seq) {
  if (seq <= newest_seq_) {
    ++stats_.duplicate_changes;
    return;
  }
  newest_seq_ = seq;
  ++stats_.changes;
  const TimePoint now = clock_.now();
  Work& w = pending_work(now);
  w.work.newest_seq = std::max(w.work.newest_seq, seq);
  ++w.work.changes;
  w.newest = now;
}

void Debouncer::note_covered(std::int64_t seq) { newest_seq_ = std::max(newest_seq_, seq); }

void Debouncer::note_trigger(std::string reason, TriggerMode mode, std::optional<std::int64_t> seq) {
  ++stats_.triggers;
  const TimePoint now = clock_.now();
  Work& w = pending_work(now);
  add_reason(w.work.reasons, std::move(reason));
  if (seq) {
    w.work.newest_seq = std::max(w.work.newest_seq, *seq);
  } else {
    w.work.unconditional = true;
  }
  if (mode == TriggerMode::kImmediate) {
    if (!w.immediate_since) {
      w.immediate_since = now;
    }
  } else {
    w.newest = now;
  }
}

void Debouncer::clamp_seq(std::int64_t latest) {
  newest_seq_ = std::min(newest_seq_, latest);
  for (auto* w : {&pending_, &running_}) {
    if (*w) {
      (*w)->work.newest_seq = std::min((*w)->work.newest_seq, latest);
    }
  }
}

bool Debouncer::drop_covered(std::int64_t seq) {
  if (!pending_ || pending_->work.unconditional || pending_->work.newest_seq > seq) {
    return false;
  }
  stats_.coalesced_changes += pending_->work.changes;
  ++stats_.dropped_as_covered;
  pending_.reset();
  return true;
}

std::optional<TimePoint> Debouncer::next_deadline() const {
  if (running_ || !pending_) {
    return std::nullopt;
  }
  const Work& w = *pending_;
  // Leading edge: at once when no run started within the quiet window;
  // otherwise one quiet window after the previous run started, and never
  // later than max_delay after the oldest pending change.
  TimePoint due = w.work.oldest;
  if (last_started_) {
    due = std::max(due, *last_started_ + options_.quiet);
  }
  due = std::min(due, w.work.oldest + options_.max_delay);
  if (w.immediate_since) {
    due = std::min(due, *w.immediate_since);
  }
  return std::max(due, not_before_);
}

bool Debouncer::poll(TimePoint now) const {
  auto due = next_deadline();
  return due && now >= *due;
}

PendingWork Debouncer::run_started() {
  if (running_) {
    throw std::logic_error("a regeneration is already running");
  }
  if (!pending_) {
    // A run nobody asked for through the debouncer (e.g. a forced one):
    // it covers nothing noted so far.
    pending_work(clock_.now());
  }
  running_ = std::move(pending_);
  pending_.reset();
  last_started_ = clock_.now();
  ++stats_.runs_started;
  return running_->work;
}

void Debouncer::run_finished(bool success) {
  if (!running_) {
    throw std::logic_error("no regeneration is running");
  }
  Work done = std::move(*running_);
  running_.reset();
  if (success) {
    ++stats_.runs_succeeded;
    if (done.work.changes > 1) {
      stats_.coalesced_changes += done.work.changes - 1;
    }
    stats_.consecutive_failures = 0;
    backoff_ = {};
    not_before_ = {};
    return;
  }

  ++stats_.runs_failed;
  ++stats_.consecutive_failures;
  backoff_ = next_backoff();
  not_before_ = clock_.now() + backoff_;
  // The failed run's work is still owed: merge it with what arrived meanwhile.
  if (!pending_) {
    pending_ = std::move(done);
    return;
  }
  Work& p = *pending_;
  p.work.oldest = std::min(p.work.oldest, done.work.oldest);
  p.work.newest_seq = std::max(p.work.newest_seq, done.work.newest_seq);
  p.work.changes += done.work.changes;
  p.work.unconditional = p.work.unconditional || done.work.unconditional;
  std::vector<std::string> reasons = std::move(done.work.reasons);
  for (auto& r : p.work.reasons) {
    add_reason(reasons, std::move(r));
  }
  p.work.reasons = std::move(reasons);
  p.newest = std::max(p.newest, done.newest);
  if (done.immediate_since) {
    p.immediate_since =
        p.immediate_since ? std::min(*p.immediate_since, *done.immediate_since) : done.immediate_since;
  }
}

std::optional<TimePoint> Debouncer::oldest_uncovered() const {
  std::optional<TimePoint> oldest;
  for (const auto* w : {&running_, &pending_}) {
    if (*w && (!oldest || (*w)->work.oldest < *oldest)) {
      oldest = (*w)->work.oldest;
    }
  }
  return oldest;
}

Debouncer::RandomSource Debouncer::default_random() { return seeded_random(); }

core::Clock::duration backoff_delay(const DebouncerOptions& options, std::uint32_t failures,
                                    double random01) {
  // In milliseconds as a double: the doubling cannot overflow before the cap.
  const double cap = static_cast<double>(options.backoff_max.count());
  double base = static_cast<double>(options.backoff_initial.count());
  for (std::uint32_t i = 1; i < failures && base < cap; ++i) {
    base *= options.backoff_multiplier;
  }
  base = std::min(base, cap);
  const double r = std::clamp(random01, 0.0, 1.0);
  const double ms = base * (1.0 - options.backoff_jitter * r);
  return std::chrono::duration_cast<core::Clock::duration>(std::chrono::duration<double, std::milli>(ms));
}

core::Clock::duration Debouncer::next_backoff() {
  return backoff_delay(options_, stats_.consecutive_failures, random_());
}

}  // namespace cocktail::regen_service

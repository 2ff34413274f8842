#include "cocktail/regen_service/regeneration_service.h"

#include <algorithm>
#include <exception>
#include <stdexcept>
#include <utility>

#include "cocktail/bus/publisher.h"
#include "cocktail/bus/subscriber.h"
#include "cocktail/core/log.h"

namespace cocktail::regen_service {
namespace {

namespace log = core::log;
using Clock = core::Clock;

// Trigger reasons: the label values of cocktail_regen_triggers_total.
constexpr const char* kReasonChange = "change";
constexpr const char* kReasonGap = "seq_gap";
constexpr const char* kReasonHeartbeat = "heartbeat_ahead";
constexpr const char* kReasonCatalog = "catalog_ahead";
constexpr const char* kReasonStartup = "startup";

// Stage durations range from well under a millisecond (open) to minutes
// (the cocktail-space layout on a large catalog).
const prometheus::Histogram::BucketBoundaries& stage_buckets() {
  static const prometheus::Histogram::BucketBoundaries buckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};
  return buckets;
}

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// The analytic type an analytics.snapshot event keys a file by: its name
// without the extension ("ingredient-usage.json" -> "ingredient-usage").
std::string type_of(const std::string& file_name) {
  const auto dot = file_name.rfind('.');
  return dot == std::string::npos || dot == 0 ? file_name : file_name.substr(0, dot);
}

bus::AnalyticsSnapshot snapshot_event(const snapshot::Manifest& m) {
  bus::AnalyticsSnapshot e;
  e.generation = m.generation;
  e.catalog_seq = m.catalog_seq;
  e.generated_at_ms = m.generated_at_ms;
  for (const auto& [name, entry] : m.files) {
    std::string key = type_of(name);
    if (e.files.count(key) != 0) {
      key = name;  // two files of one type: keep both
    }
    e.files[key] = bus::SnapshotFile{entry.sha256, entry.bytes, entry.catalog_seq};
  }
  return e;
}

}  // namespace

struct RegenerationService::Metrics {
  explicit Metrics(metrics::MetricsRegistry& r)
      : received(r.counter("cocktail_events_received_total", "Valid events taken from the bus, by topic")),
        received_change(received.Add({{"topic", std::string(bus::kCatalogChangeTopic)}})),
        received_heartbeat(received.Add({{"topic", std::string(bus::kCatalogHeartbeatTopic)}})),
        malformed(
            r.counter("cocktail_events_malformed_total", "Messages dropped because they could not be decoded")
                .Add({})),
        published(r.counter("cocktail_events_published_total", "Messages sent on the bus, by topic")),
        runs(
            r.counter("cocktail_regen_runs_total", "Regenerations, by result (success, failure, cancelled)")),
        runs_success(runs.Add({{"result", "success"}})),
        runs_failure(runs.Add({{"result", "failure"}})),
        runs_cancelled(runs.Add({{"result", "cancelled"}})),
        duration(r.histogram("cocktail_regen_duration_seconds",
                             "Duration of each stage of successful regenerations (total: the whole run)")),
        triggers(r.counter("cocktail_regen_triggers_total",
                           "Reasons to regenerate other than a change event, by reason")),
        coalesced(r.counter("cocktail_regen_coalesced_changes_total",
                            "Change events that needed no regeneration of their own")
                      .Add({})),
        generation(
            r.gauge("cocktail_snapshot_generation", "The current snapshot generation (0: none)").Add({})),
        catalog_seq(
            r.gauge("cocktail_snapshot_catalog_seq", "The catalog seq the current snapshot was computed from")
                .Add({})),
        staleness(r.gauge("cocktail_snapshot_staleness_seconds",
                          "Age of the oldest catalog change not yet covered by a snapshot; 0 when covered")
                      .Add({})),
        in_progress(r.gauge("cocktail_regen_in_progress", "1 while a regeneration runs").Add({})),
        consecutive_failures(
            r.gauge("cocktail_regen_consecutive_failures", "Failed regenerations since the last success")
                .Add({})),
        seq_seen(r.gauge("cocktail_regen_catalog_seq_seen",
                         "Highest catalog seq heard of (events, heartbeats, direct reads)")
                     .Add({})),
        last_success(r.gauge("cocktail_regen_last_success_timestamp_seconds",
                             "Unix time of the last successful regeneration (0: none since start)")
                         .Add({})) {
    for (const char* reason : {kReasonGap, kReasonHeartbeat, kReasonCatalog, kReasonStartup, "manual"}) {
      triggers.Add({{"reason", reason}});
    }
    published.Add({{"topic", std::string(bus::kAnalyticsSnapshotTopic)}});
    published.Add({{"topic", std::string(bus::kAnalyticsHeartbeatTopic)}});
  }

  void observe_stage(const std::string& stage, double ms) {
    metrics::MetricsRegistry::histogram_in(duration, {{"stage", stage}}, stage_buckets())
        .Observe(ms / 1000.0);
  }

  prometheus::Family<prometheus::Counter>& received;
  prometheus::Counter& received_change;
  prometheus::Counter& received_heartbeat;
  prometheus::Counter& malformed;
  prometheus::Family<prometheus::Counter>& published;
  prometheus::Family<prometheus::Counter>& runs;
  prometheus::Counter& runs_success;
  prometheus::Counter& runs_failure;
  prometheus::Counter& runs_cancelled;
  prometheus::Family<prometheus::Histogram>& duration;
  prometheus::Family<prometheus::Counter>& triggers;
  prometheus::Counter& coalesced;
  prometheus::Gauge& generation;
  prometheus::Gauge& catalog_seq;
  prometheus::Gauge& staleness;
  prometheus::Gauge& in_progress;
  prometheus::Gauge& consecutive_failures;
  prometheus::Gauge& seq_seen;
  prometheus::Gauge& last_success;
};

const char* stop_result_name(RegenerationService::StopResult result) {
  switch (result) {
    case RegenerationService::StopResult::kIdle: return "idle";
    case RegenerationService::StopResult::kFinished: return "finished";
    case RegenerationService::StopResult::kCancelled: return "cancelled";
    case RegenerationService::StopResult::kAbandoned: return "abandoned";
  }
  return "unknown";
}

RegenerationService::RegenerationService(RegenerationServiceOptions options, const core::Clock& clock,
                                         snapshot::SnapshotStore& store, regen::Regenerator& regenerator,
                                         metrics::MetricsRegistry& registry)
    : options_(std::move(options)),
      clock_(clock),
      store_(store),
      regenerator_(regenerator),
      metrics_(std::make_unique<Metrics>(registry)),
      probe_(options_.db_path),
      debouncer_(clock, options_.debounce, options_.random) {
  if (options_.db_path.empty()) {
    throw std::invalid_argument("no catalog file given (--db / CATALOG_DB)");
  }
  if (options_.sub_endpoints.empty()) {
    throw std::invalid_argument("no endpoint to subscribe to (--sub / SUB_ENDPOINTS)");
  }
  using std::chrono::milliseconds;
  if (options_.check_interval <= milliseconds(0) || options_.heartbeat_interval <= milliseconds(0)) {
    throw std::invalid_argument("check and heartbeat intervals must be positive");
  }
  if (options_.shutdown_timeout < milliseconds(0) || options_.abandon_grace < milliseconds(0)) {
    throw std::invalid_argument("shutdown bounds must not be negative");
  }

  bus::PublisherOptions pub;
  pub.endpoint = options_.pub_endpoint;
  Metrics* m = metrics_.get();
  pub.on_sent = [m](std::string_view topic) {
    m->published.Add({{"topic", std::string(topic)}}).Increment();
  };
  publisher_ = std::make_unique<bus::Publisher>(std::move(pub));

  bus::SubscriberOptions sub;
  sub.endpoints = options_.sub_endpoints;
  sub.topics = {std::string(bus::kCatalogChangeTopic), std::string(bus::kCatalogHeartbeatTopic)};
  sub.clock = &clock_;
  subscriber_ = std::make_unique<bus::Subscriber>(
      std::move(sub), bus::SubscriberHandlers{
                          [this](const bus::Event& e) { on_event(e); },
                          [this](std::string_view topic, const core::Error& e) { on_malformed(topic, e); }});
}

RegenerationService::~RegenerationService() {
  stop();
  // An abandoned regeneration still owns the worker: wait for it to return.
  if (worker_thread_.joinable()) {
    worker_thread_.join();
  }
  if (slow_thread_.joinable()) {
    slow_thread_.join();
  }
}

const std::string& RegenerationService::pub_endpoint() const { return publisher_->endpoint(); }

std::int64_t RegenerationService::wall_now_ms() const {
  return options_.wall_now_ms ? options_.wall_now_ms() : core::system_now_ms();
}

void RegenerationService::start() {
  std::unique_lock lock(mu_);
  if (started_ || stopped_) {
    throw std::logic_error("RegenerationService::start() called twice");
  }

  // What is current: the newest snapshot, verified to have a manifest.
  if (auto gen = store_.current_generation(); gen.ok()) {
    if (auto manifest = store_.read_manifest(gen.value()); manifest.ok()) {
      set_current(manifest.value());
    } else {
      log::warn("regen.current_unreadable",
                {{"generation", gen.value()}, {"error", manifest.error().message}});
    }
  }
  debouncer_.note_covered(current_.catalog_seq);
  owed_seq_ = current_.catalog_seq;

  // Start-up catch-up: never trust that nothing happened while we were down.
  lock.unlock();
  auto latest = probe_.latest_seq();
  lock.lock();
  seq_known_ = current_.generation > 0 || latest.ok();
  if (latest.ok()) {
    catalog_latest_seq_ = *latest;
    seq_seen_ = std::max(seq_seen_, *latest);
  } else {
    catalog_probe_error_ = latest.error().message;
    log::warn("regen.catalog_unreadable", {{"error", catalog_probe_error_}});
  }
  if (current_.generation == 0 || (latest.ok() && *latest > current_.catalog_seq)) {
    log::info("regen.catch_up", {{"generation", current_.generation},
                                 {"snapshot_seq", current_.catalog_seq},
                                 {"catalog_seq", latest.ok() ? *latest : -1}});
    debouncer_.note_trigger(kReasonStartup, TriggerMode::kImmediate);
    metrics_->triggers.Add({{"reason", kReasonStartup}}).Increment();
    if (latest.ok()) {
      owed_seq_ = std::max(owed_seq_, *latest);
    }
  }
  const auto now = clock_.now();
  next_heartbeat_ = now;
  next_probe_ = now + options_.check_interval;
  started_ = true;
  // Read for the log line while the lock is held: once the threads run, a
  // regeneration may replace current_ at any time.
  const std::int64_t start_generation = current_.generation;
  const std::int64_t start_seq = current_.catalog_seq;
  lock.unlock();

  worker_thread_ = std::thread([this] { work(); });
  if (regenerator_.concurrent_lanes()) {
    slow_thread_ = std::thread([this] { work_slow(); });
  }
  loop_thread_ = std::thread([this] { loop(); });
  subscriber_->start();
  log::info("regen.service_started",
            {{"generation", start_generation},
             {"catalog_seq", start_seq},
             {"pub", publisher_->endpoint()},
             {"quiet_ms", static_cast<std::int64_t>(options_.debounce.quiet.count())},
             {"max_delay_ms", static_cast<std::int64_t>(options_.debounce.max_delay.count())}});
}

void RegenerationService::note_seq_seen(std::int64_t seq) {
  seq_seen_ = std::max(seq_seen_, seq);
  metrics_->seq_seen.Set(static_cast<double>(seq_seen_));
}

void RegenerationService::on_event(const bus::Event& event) {
  if (const auto* change = std::get_if<bus::CatalogChange>(&event)) {
    metrics_->received_change.Increment();
    std::lock_guard lock(mu_);
    last_event_ = clock_.now();
    note_seq_seen(change->seq);
    if (stopping_) {
      return;
    }
    // A seq beyond the next expected one: events were lost. The run this
    // change schedules reads the whole state, so it repairs the gap too;
    // the trigger records why.
    if (seq_known_ && change->seq > owed_seq_ + 1) {
      log::warn("regen.seq_gap", {{"expected", owed_seq_ + 1}, {"seq", change->seq}});
      debouncer_.note_trigger(kReasonGap, TriggerMode::kDebounced, change->seq);
      metrics_->triggers.Add({{"reason", kReasonGap}}).Increment();
    }
    debouncer_.note_change(change->seq);
    owed_seq_ = std::max(owed_seq_, change->seq);
    seq_known_ = true;
    loop_cv_.notify_one();
    return;
  }
  if (const auto* heartbeat = std::get_if<bus::CatalogHeartbeat>(&event)) {
    metrics_->received_heartbeat.Increment();
    std::lock_guard lock(mu_);
    last_event_ = clock_.now();
    note_seq_seen(heartbeat->seq);
    catalog_latest_seq_ = std::max(catalog_latest_seq_.value_or(0), heartbeat->seq);
    seq_known_ = true;
    if (stopping_ || heartbeat->seq <= owed_seq_) {
      return;
    }
    // The catalog is ahead of everything covered or scheduled: the events
    // for the difference never arrived (late subscriber, dropped messages).
    log::info("regen.heartbeat_ahead", {{"heartbeat_seq", heartbeat->seq}, {"known_seq", owed_seq_}});
    debouncer_.note_trigger(kReasonHeartbeat, TriggerMode::kDebounced, heartbeat->seq);
    metrics_->triggers.Add({{"reason", kReasonHeartbeat}}).Increment();
    owed_seq_ = heartbeat->seq;
    loop_cv_.notify_one();
  }
  // Other topics are not subscribed to.
}

void RegenerationService::on_malformed(std::string_view topic, const core::Error& error) {
  metrics_->malformed.Increment();
  log::warn("regen.malformed_event", {{"topic", topic}, {"error", error.message}});
}

void RegenerationService::probe_catalog(std::unique_lock<std::mutex>& lock) {
  lock.unlock();
  auto latest = probe_.latest_seq();
  lock.lock();
  if (!latest.ok()) {
    if (catalog_probe_error_ != latest.error().message) {
      log::warn("regen.catalog_unreadable", {{"error", latest.error().message}});
    }
    catalog_probe_error_ = latest.error().message;
    return;
  }
  catalog_probe_error_.clear();
  catalog_latest_seq_ = *latest;
  seq_known_ = true;
  note_seq_seen(*latest);
  if (stopping_ || *latest <= owed_seq_) {
    probe_ahead_.reset();
    return;
  }
  // The catalog is ahead. While its publisher is talking, the events for
  // the difference are most likely in flight: act only if they have still
  // not arrived by the next probe. A silent publisher gets no such grace.
  const auto now = clock_.now();
  const bool silent = !last_event_ || now - *last_event_ >= options_.check_interval;
  if (!silent && !(probe_ahead_ && owed_seq_ < *probe_ahead_)) {
    probe_ahead_ = *latest;
    return;
  }
  log::info("regen.catalog_ahead", {{"catalog_seq", *latest}, {"known_seq", owed_seq_}, {"silent", silent}});
  debouncer_.note_trigger(kReasonCatalog, TriggerMode::kImmediate, *latest);
  metrics_->triggers.Add({{"reason", kReasonCatalog}}).Increment();
  owed_seq_ = *latest;
  probe_ahead_.reset();
}

void RegenerationService::publish_heartbeat() {
  bus::AnalyticsHeartbeat hb;
  {
    std::lock_guard lock(mu_);
    hb.generation = current_.generation;
    hb.catalog_seq = current_.catalog_seq;
  }
  hb.ts_ms = wall_now_ms();
  try {
    if (auto s = publisher_->publish(hb); !s.ok()) {
      log::warn("regen.publish_failed",
                {{"topic", bus::kAnalyticsHeartbeatTopic}, {"error", s.error().message}});
    }
  } catch (const std::exception& e) {
    log::error("regen.publish_failed", {{"topic", bus::kAnalyticsHeartbeatTopic}, {"error", e.what()}});
  }
}

void RegenerationService::loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    auto now = clock_.now();
    if (now >= next_heartbeat_) {
      next_heartbeat_ = now + options_.heartbeat_interval;
      lock.unlock();
      publish_heartbeat();
      lock.lock();
      continue;
    }
    if (now >= next_probe_) {
      next_probe_ = now + options_.check_interval;
      probe_catalog(lock);
      continue;
    }

    // Waiters whose bound passed get nullopt.
    std::vector<Waiter> expired;
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (now >= it->deadline) {
        expired.push_back(std::move(*it));
        it = waiters_.erase(it);
      } else {
        ++it;
      }
    }
    if (!expired.empty()) {
      lock.unlock();
      for (auto& w : expired) {
        w.done(std::nullopt);
      }
      lock.lock();
      continue;
    }

    if (!running_ && debouncer_.poll(now)) {
      handed_ = debouncer_.run_started();
      handed_run_ = debouncer_.stats().runs_started;
      running_ = true;
      metrics_->in_progress.Set(1);
      worker_cv_.notify_one();
    }
    metrics_->staleness.Set(staleness_seconds_locked(now));

    auto wake = std::min(next_heartbeat_, next_probe_);
    if (auto due = debouncer_.next_deadline()) {
      wake = std::min(wake, *due);
    }
    for (const auto& w : waiters_) {
      wake = std::min(wake, w.deadline);
    }
    // Sleep in real time until the next deadline by the injected clock;
    // at most a second, so that a clock moved by hand is noticed anyway.
    const auto sleep =
        std::clamp<Clock::duration>(wake - now, Clock::duration::zero(), std::chrono::seconds(1));
    loop_cv_.wait_for(lock, sleep);
  }
}

void RegenerationService::work() {
  std::unique_lock lock(mu_);
  for (;;) {
    worker_cv_.wait(lock, [&] { return worker_exit_ || handed_.has_value(); });
    if (!handed_) {
      return;
    }
    const PendingWork work = *handed_;
    const std::uint64_t run = handed_run_;
    lock.unlock();

    std::string reasons;
    for (const auto& r : work.reasons) {
      reasons += (reasons.empty() ? "" : ",") + r;
    }
    log::info("regen.run_start", {{"run", static_cast<std::int64_t>(run)},
                                  {"changes", static_cast<std::int64_t>(work.changes)},
                                  {"newest_seq", work.newest_seq},
                                  {"reasons", reasons.empty() ? std::string(kReasonChange) : reasons}});
    const auto start = std::chrono::steady_clock::now();
    core::Result<regen::RegenSummary> result = core::Error::internal("not run");
    try {
      // With lanes the fast generation is announced as soon as it is
      // committed; the complete one in finish_run.
      if (regenerator_.concurrent_lanes()) {
        // The single flight covers this run only; the slow lane follows
        // on its own thread from the state this run loaded.
        std::shared_ptr<const regen::LoadedCatalog> loaded;
        result = regenerator_.run_fast(&cancel_, loaded);
        if (loaded) {
          std::lock_guard slow_lock(mu_);
          if (!slow_exit_) {
            slow_pending_ = std::move(loaded);  // replaces an older state not yet started
            slow_cv_.notify_one();
          }
        }
      } else {
        result = regenerator_.run(&cancel_, [this](const regen::RegenSummary& fast) {
          try {
            if (auto st = publisher_->publish(snapshot_event(fast.manifest)); !st.ok()) {
              log::warn("regen.publish_failed",
                        {{"topic", bus::kAnalyticsSnapshotTopic}, {"error", st.error().message}});
            }
          } catch (const std::exception& e) {
            log::error("regen.publish_failed",
                       {{"topic", bus::kAnalyticsSnapshotTopic}, {"error", e.what()}});
          }
          log::info("regen.fast_published", {{"generation", fast.generation}, {"seq", fast.catalog_seq}});
        });
      }
    } catch (const std::exception& e) {
      // The Regenerator reports stage failures as errors; anything thrown
      // past it is a failure of the run all the same.
      core::Error error = core::Error::internal(e.what());
      error.field = "run";
      result = std::move(error);
    }
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    finish_run(run, work, std::move(result), ms);
    lock.lock();
  }
}

void RegenerationService::work_slow() {
  std::unique_lock lock(mu_);
  for (;;) {
    slow_cv_.wait(lock, [&] { return slow_exit_ || slow_pending_ != nullptr; });
    if (slow_exit_) {
      return;
    }
    const std::shared_ptr<const regen::LoadedCatalog> loaded = std::move(slow_pending_);
    slow_pending_.reset();
    slow_running_ = true;
    lock.unlock();

    log::info("regen.slow_start", {{"seq", loaded->state.catalog_seq}});
    const auto start = std::chrono::steady_clock::now();
    core::Result<regen::RegenSummary> result = core::Error::internal("not run");
    try {
      result = regenerator_.run_slow(*loaded, &slow_cancel_);
    } catch (const std::exception& e) {
      core::Error error = core::Error::internal(e.what());
      error.field = "run";
      result = std::move(error);
    }
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (result.ok()) {
      const regen::RegenSummary& s = result.value();
      for (const auto& [stage, stage_ms] : s.durations_ms) {
        metrics_->observe_stage(stage == "total" ? "total.slow" : stage, stage_ms);
      }
      try {
        if (auto st = publisher_->publish(snapshot_event(s.manifest)); !st.ok()) {
          log::warn("regen.publish_failed",
                    {{"topic", bus::kAnalyticsSnapshotTopic}, {"error", st.error().message}});
        }
      } catch (const std::exception& e) {
        log::error("regen.publish_failed", {{"topic", bus::kAnalyticsSnapshotTopic}, {"error", e.what()}});
      }
      log::info("regen.slow_done", {{"generation", s.generation},
                                    {"seq", s.catalog_seq},
                                    {"space_seq", loaded->state.catalog_seq},
                                    {"ms", ms}});
    } else {
      // The next fast run hands over a state again; until then the space
      // files stay at their older seq.
      log::warn("regen.slow_failed", {{"stage", result.error().field}, {"error", result.error().message}});
    }
    lock.lock();
    slow_running_ = false;
    if (result.ok()) {
      set_current(result.value().manifest);
    }
    idle_cv_.notify_all();
  }
}

void RegenerationService::finish_run(std::uint64_t run, const PendingWork& work,
                                     core::Result<regen::RegenSummary> result, double duration_ms) {
  RunRecord record;
  record.run = run;
  record.success = result.ok();
  record.finished_at_ms = wall_now_ms();
  record.duration_ms = duration_ms;
  record.reasons = work.reasons;
  if (work.changes > 0) {
    record.reasons.insert(record.reasons.begin(), kReasonChange);
  }
  record.changes = work.changes;

  if (result.ok()) {
    const regen::RegenSummary& s = result.value();
    record.generation = s.generation;
    record.catalog_seq = s.catalog_seq;
    record.generated_at_ms = s.generated_at_ms;
    record.warnings = s.warnings;
    for (const auto& [stage, ms] : s.durations_ms) {
      metrics_->observe_stage(stage, ms);
    }
    metrics_->runs_success.Increment();
    metrics_->last_success.Set(static_cast<double>(record.finished_at_ms) / 1000.0);
    // Announce before anything else: readers are waiting for it.
    try {
      if (auto st = publisher_->publish(snapshot_event(s.manifest)); !st.ok()) {
        log::warn("regen.publish_failed",
                  {{"topic", bus::kAnalyticsSnapshotTopic}, {"error", st.error().message}});
      }
    } catch (const std::exception& e) {
      log::error("regen.publish_failed", {{"topic", bus::kAnalyticsSnapshotTopic}, {"error", e.what()}});
    }
    log::info("regen.run_done", {{"run", static_cast<std::int64_t>(run)},
                                 {"generation", s.generation},
                                 {"seq", s.catalog_seq},
                                 {"changes", static_cast<std::int64_t>(work.changes)},
                                 {"ms", duration_ms}});
  } else {
    const core::Error& e = result.error();
    record.cancelled = e.field == "cancelled";
    record.stage = e.field;
    record.error = e.message;
    (record.cancelled ? metrics_->runs_cancelled : metrics_->runs_failure).Increment();
  }

  std::vector<Waiter> done;
  {
    std::lock_guard lock(mu_);
    debouncer_.run_finished(record.success);
    handed_.reset();
    running_ = false;
    metrics_->in_progress.Set(0);
    if (record.success) {
      set_current(result.value().manifest);
      owed_seq_ = std::max(owed_seq_, record.catalog_seq);
      // Changes that arrived during the run but were committed before it
      // read the catalog are already in this generation.
      if (debouncer_.drop_covered(record.catalog_seq)) {
        log::debug("regen.follow_up_covered", {{"seq", record.catalog_seq}});
      }
      last_success_ = record;
    } else if (!record.cancelled) {
      last_failure_ = record;
      log::warn(
          "regen.run_failed",
          {{"run", static_cast<std::int64_t>(run)},
           {"stage", record.stage},
           {"error", record.error},
           {"consecutive_failures", static_cast<std::int64_t>(debouncer_.stats().consecutive_failures)},
           {"retry_in_ms", std::chrono::duration<double, std::milli>(debouncer_.current_backoff()).count()}});
    }
    last_record_ = record;
    const auto coalesced = debouncer_.stats().coalesced_changes;
    if (coalesced > coalesced_reported_) {
      metrics_->coalesced.Increment(static_cast<double>(coalesced - coalesced_reported_));
      coalesced_reported_ = coalesced;
    }
    metrics_->consecutive_failures.Set(debouncer_.stats().consecutive_failures);
    metrics_->staleness.Set(staleness_seconds_locked(clock_.now()));
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (it->run <= run) {
        done.push_back(std::move(*it));
        it = waiters_.erase(it);
      } else {
        ++it;
      }
    }
    idle_cv_.notify_all();
    loop_cv_.notify_one();
  }
  for (auto& w : done) {
    w.done(record);
  }
}

void RegenerationService::set_current(const snapshot::Manifest& manifest) {
  // The two lanes commit in order but report from two threads: never step
  // back to an older generation.
  if (manifest.generation < current_.generation) {
    return;
  }
  current_ = manifest;
  current_.files.clear();  // only the numbers are kept
  metrics_->generation.Set(static_cast<double>(manifest.generation));
  metrics_->catalog_seq.Set(static_cast<double>(manifest.catalog_seq));
}

double RegenerationService::staleness_seconds_locked(Clock::time_point now) const {
  // Every seq known is in the current snapshot: a pending manual or
  // start-up run does not make the analytics stale.
  if (owed_seq_ <= current_.catalog_seq && current_.generation > 0) {
    return 0.0;
  }
  const auto oldest = debouncer_.oldest_uncovered();
  return oldest ? std::max(0.0, seconds(now - *oldest)) : 0.0;
}

RegenerationService::StopResult RegenerationService::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopped_) {
      return StopResult::kIdle;
    }
    stopped_ = true;
    stopping_ = true;
    loop_cv_.notify_all();
  }
  subscriber_->stop();
  if (loop_thread_.joinable()) {
    loop_thread_.join();
  }

  StopResult result = StopResult::kIdle;
  std::vector<Waiter> waiters;
  {
    std::unique_lock lock(mu_);
    if (running_) {
      log::info("regen.stop_waiting",
                {{"run", static_cast<std::int64_t>(handed_run_)},
                 {"timeout_ms", static_cast<std::int64_t>(options_.shutdown_timeout.count())}});
      result = StopResult::kFinished;
      if (!idle_cv_.wait_for(lock, options_.shutdown_timeout, [&] { return !running_; })) {
        cancel_ = true;
        result = StopResult::kCancelled;
        if (!idle_cv_.wait_for(lock, options_.abandon_grace, [&] { return !running_; })) {
          result = StopResult::kAbandoned;
        }
      } else if (last_record_ && last_record_->cancelled) {
        result = StopResult::kCancelled;
      }
    }
    worker_exit_ = true;
    worker_cv_.notify_all();
    waiters.swap(waiters_);
    // The slow lane is a refinement of what is already published: cancel
    // it now; a computation in progress gets a bounded wait.
    slow_exit_ = true;
    slow_cancel_ = true;
    slow_cv_.notify_all();
    if (slow_running_ && !idle_cv_.wait_for(lock, options_.shutdown_timeout + options_.abandon_grace,
                                            [&] { return !slow_running_; })) {
      result = StopResult::kAbandoned;
    }
  }
  for (auto& w : waiters) {
    w.done(std::nullopt);
  }
  if (result != StopResult::kAbandoned && worker_thread_.joinable()) {
    worker_thread_.join();
  }
  if (result != StopResult::kAbandoned && slow_thread_.joinable()) {
    slow_thread_.join();
  }
  log::info("regen.service_stopped", {{"regeneration", stop_result_name(result)},
                                      {"generation", current_.generation},
                                      {"catalog_seq", current_.catalog_seq}});
  return result;
}

std::optional<std::uint64_t> RegenerationService::request_run(std::string reason) {
  std::lock_guard lock(mu_);
  if (!started_ || stopping_) {
    return std::nullopt;
  }
  metrics_->triggers.Add({{"reason", reason}}).Increment();
  debouncer_.note_trigger(std::move(reason), TriggerMode::kImmediate);
  loop_cv_.notify_one();
  // Whether a run is in progress or not, the request is folded into the
  // next one to start.
  return debouncer_.stats().runs_started + 1;
}

void RegenerationService::when_finished(std::uint64_t run, std::chrono::milliseconds timeout,
                                        std::function<void(std::optional<RunRecord>)> done) {
  std::optional<RunRecord> now_record;
  bool answer_now = false;
  {
    std::lock_guard lock(mu_);
    if (stopping_) {
      answer_now = true;
    } else if (last_record_ && last_record_->run >= run) {
      answer_now = true;
      now_record = last_record_;
    } else {
      waiters_.push_back(Waiter{run, clock_.now() + timeout, std::move(done)});
      loop_cv_.notify_one();
      return;
    }
  }
  if (answer_now) {
    done(std::move(now_record));
  }
}

ServiceStatus RegenerationService::status() const {
  std::lock_guard lock(mu_);
  const auto now = clock_.now();
  ServiceStatus s;
  s.started = started_;
  s.stopping = stopping_;
  s.generation = current_.generation;
  s.catalog_seq = current_.catalog_seq;
  s.generated_at_ms = current_.generated_at_ms;
  s.seq_seen = seq_seen_;
  s.catalog_latest_seq = catalog_latest_seq_;
  s.catalog_probe_error = catalog_probe_error_;
  s.staleness_seconds = staleness_seconds_locked(now);
  s.running = running_;
  s.pending = debouncer_.pending();
  if (auto due = debouncer_.next_deadline()) {
    s.next_run_in_ms = std::max(0.0, std::chrono::duration<double, std::milli>(*due - now).count());
  }
  s.consecutive_failures = debouncer_.stats().consecutive_failures;
  s.runs_started = debouncer_.stats().runs_started;
  if (last_event_) {
    s.last_event_age_seconds = seconds(now - *last_event_);
  }
  s.last_success = last_success_;
  s.last_failure = last_failure_;
  return s;
}

void RegenerationService::refresh_metrics() {
  std::lock_guard lock(mu_);
  metrics_->staleness.Set(staleness_seconds_locked(clock_.now()));
}

void RegenerationService::wake() {
  std::lock_guard lock(mu_);
  loop_cv_.notify_all();
}

}  // namespace cocktail::regen_service

#include "cocktail/regen_service/regeneration_service.h"

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <exception>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <utility>

#include "cocktail/bus/events.h"
#include "cocktail/bus/publisher.h"
#include "cocktail/bus/subscriber.h"
#include "cocktail/core/log.h"
#include "cocktail/regen_service/catalog_probe.h"
#include "cocktail/regen_service/regen_metrics.h"
#include "cocktail/regen_service/sequence_tracker.h"

namespace cocktail::regen_service {
namespace {

namespace log = core::log;
using Clock = core::Clock;

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
double millis(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

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

// The oldest per-file seq of a manifest: what every file covers.
std::int64_t oldest_file_seq(const snapshot::Manifest& m) {
  std::int64_t seq = m.catalog_seq;
  for (const auto& [name, entry] : m.files) {
    seq = std::min(seq, entry.catalog_seq.value_or(m.catalog_seq));
  }
  return seq;
}

// The calling thread, and the threads it starts later, at a lower CPU
// priority: SCHED_IDLE when `idle`, else the nice value `nice` (Linux:
// setpriority on a thread id applies to that thread only).
void lower_own_priority(bool idle, int nice) {
  if (idle) {
    sched_param param{};
    if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &param) == 0) {
      log::info("regen.slow_lane_priority", {{"policy", "SCHED_IDLE"}});
      return;
    }
    log::warn("regen.slow_lane_priority_unchanged",
              {{"policy", "SCHED_IDLE"}, {"error", std::strerror(errno)}});
  }
  if (nice <= 0) {
    return;
  }
  if (::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), nice) == 0) {
    log::info("regen.slow_lane_priority", {{"policy", "nice"}, {"nice", nice}});
    return;
  }
  log::warn("regen.slow_lane_priority_unchanged", {{"policy", "nice"}, {"error", std::strerror(errno)}});
}

std::int64_t micros(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

// One line per published run, on the steady clock every process of the
// machine shares (microseconds): when the oldest change it covers arrived,
// when it started, returned and was announced, its stages in order up to
// the announcement (`stages`) and after it (`after`: retention).
// tests/bench/freshness.sh lines these up with the writes and the reads.
void log_trace(const char* lane, std::optional<Clock::time_point> oldest, const RegenSummary& s,
               std::size_t published_stages, Clock::time_point returned, Clock::time_point announced) {
  std::string stages;
  std::string after;
  for (std::size_t i = 0; i < s.durations_ms.size(); ++i) {
    const auto& [stage, ms] = s.durations_ms[i];
    std::string& out = i < published_stages ? stages : after;
    char buf[32];
    std::snprintf(buf, sizeof buf, ":%.3f", ms);
    out.append(out.empty() ? "" : ",").append(stage).append(buf);
  }
  log::info("regen.trace", {{"lane", lane},
                            {"generation", s.generation},
                            {"seq", s.catalog_seq},
                            {"files_seq", oldest_file_seq(s.manifest)},
                            {"oldest_us", oldest ? micros(*oldest) : 0},
                            {"start_us", micros(s.started)},
                            {"returned_us", micros(returned)},
                            {"announced_us", micros(announced)},
                            {"fsyncs", s.fsyncs},
                            {"stages", stages},
                            {"after", after.empty() ? "-" : after}});
}

// A lane's bookkeeping (under the service's mutex).
struct LaneState {
  std::int64_t seq = 0;  // of its files in the current generation
  bool running = false;
  std::uint32_t failures = 0;
  std::optional<Clock::time_point> last_success;
  std::optional<Clock::time_point> behind_since;  // its files lag the seq owed
  std::string last_error;
};

}  // namespace

const char* stop_result_name(RegenerationService::StopResult result) {
  switch (result) {
    case RegenerationService::StopResult::kIdle: return "idle";
    case RegenerationService::StopResult::kFinished: return "finished";
    case RegenerationService::StopResult::kCancelled: return "cancelled";
    case RegenerationService::StopResult::kAbandoned: return "abandoned";
  }
  return "unknown";
}

struct RegenerationService::Impl {
  struct Waiter {
    std::uint64_t run;
    Clock::time_point deadline;
    std::function<void(std::optional<RunRecord>)> done;
  };

  Impl(RegenerationServiceOptions o, const Clock& c, snapshot::SnapshotStore& s, Regenerator& r,
       metrics::MetricsRegistry& registry)
      : options(std::move(o)),
        clock(c),
        store(s),
        regenerator(r),
        metrics(registry),
        probe(options.db_path),
        debouncer(c, options.debounce, options.random),
        random(options.random ? options.random : Debouncer::default_random()),
        tracker(c, debouncer) {}

  void on_event(const bus::Event& event);
  void loop();
  void probe_catalog(std::unique_lock<std::mutex>& lock, bool periodic);
  void work();
  void work_slow();
  RunRecord finish_fast(std::uint64_t run, const PendingWork& work, const RunResult& result, double ms);
  void finish_slow(const RunResult& result, double ms);
  // Runs one lane's work, timing it (ms); announces a success at once and
  // logs its trace (`lane`; `oldest`: when the oldest change it covers
  // arrived, for the fast lane).
  RunResult attempt(const char* lane, std::optional<Clock::time_point> oldest,
                    const std::function<RunResult()>& run, double& ms);
  void count_files(RegenMetrics::Lane& lane, const RegenSummary& summary);
  void announce(const snapshot::Manifest& manifest);
  void publish_heartbeat();
  void set_current(const snapshot::Manifest& manifest);
  void note_lane_success(LaneState& lane, RegenMetrics::Lane& m, std::int64_t seq, std::int64_t wall_ms);
  void note_lane_failure(LaneState& lane, RegenMetrics::Lane& m, const RunFailure& failure);
  void refresh_locked(Clock::time_point now);
  void flush_triggers();
  // A file of the current generation failed verification (found by `found_by`).
  void on_corrupt(const ScrubFinding& finding, const std::string& found_by);
  void note_corrupt_locked(const ScrubFinding& finding, const std::string& found_by);
  void schedule_repair_locked(Clock::time_point now);
  // Counts what a run found at carry and what retention removed.
  void count_run(const RegenSummary& summary);
  bool quiescent_locked() const;
  LaneStatus lane_status(const LaneState& lane, Clock::time_point now) const;
  std::int64_t wall_now_ms() const {
    return options.wall_now_ms ? options.wall_now_ms() : core::system_now_ms();
  }

  RegenerationServiceOptions options;
  const Clock& clock;
  snapshot::SnapshotStore& store;
  Regenerator& regenerator;
  RegenMetrics metrics;
  std::unique_ptr<bus::Publisher> publisher;
  std::unique_ptr<bus::Subscriber> subscriber;
  std::unique_ptr<bus::Subscriber> repair_subscriber;  // analytics.repair from readers, when configured
  std::unique_ptr<Scrubber> scrubber;
  CatalogProbe probe;  // loop thread (and start())
  bool lanes = false;

  mutable std::mutex mu;
  std::condition_variable loop_cv;          // events, run finished, stop
  std::condition_variable worker_cv;        // a run handed over, stop
  std::condition_variable slow_cv;          // a state handed over, stop
  mutable std::condition_variable idle_cv;  // a run finished, quiescence
  Debouncer debouncer;
  Debouncer::RandomSource random;  // the slow lane's retry jitter
  SequenceTracker tracker;
  bool started = false;
  bool stopping = false;
  bool stopped = false;
  bool worker_exit = false;
  std::optional<PendingWork> handed;  // the run handed to the worker, until it finished
  std::uint64_t handed_run = 0;
  bool running = false;
  std::atomic<bool> cancel{false};
  // Slow lane: the newest state not yet computed.
  std::shared_ptr<const LoadedCatalog> slow_pending;
  // After a failure, the slow lane retries no earlier than this.
  std::optional<Clock::time_point> slow_not_before;
  bool slow_exit = false;
  std::atomic<bool> slow_cancel{false};
  LaneState fast;
  LaneState slow;

  snapshot::Manifest current;  // generation 0: none (numbers only)
  std::optional<RunRecord> last_success;
  std::optional<RunRecord> last_failure;
  std::optional<RunRecord> last_record;  // the latest finished run, whatever its outcome
  std::uint64_t coalesced_reported = 0;
  std::uint64_t rejected_reported = 0;
  std::vector<Waiter> waiters;
  Clock::time_point next_heartbeat{};
  Clock::time_point next_probe{};
  // Repair: a run owed at repair_due; none before repair_not_before.
  std::optional<Clock::time_point> repair_due;
  std::optional<Clock::time_point> repair_not_before;
  std::uint64_t corrupt_files = 0;
  std::uint64_t repairs = 0;
  std::optional<ScrubFinding> last_corrupt;
  std::string last_corrupt_found_by;
  std::int64_t last_corrupt_at_ms = 0;
  // Files found bad by the scrub or a reader whose repair has not finished:
  // the repair run's own carry finds them again, and that is not news.
  std::set<std::string> repairing;

  std::thread loop_thread;
  std::thread worker_thread;
  std::thread slow_thread;
};

RegenerationService::RegenerationService(RegenerationServiceOptions options, const core::Clock& clock,
                                         snapshot::SnapshotStore& store, Regenerator& regenerator,
                                         metrics::MetricsRegistry& registry) {
  if (options.db_path.empty()) {
    throw std::invalid_argument("no catalog file given (--db / CATALOG_DB)");
  }
  if (options.sub_endpoints.empty()) {
    throw std::invalid_argument("no endpoint to subscribe to (--sub / SUB_ENDPOINTS)");
  }
  using std::chrono::milliseconds;
  if (options.check_interval <= milliseconds(0) || options.heartbeat_interval <= milliseconds(0)) {
    throw std::invalid_argument("check and heartbeat intervals must be positive");
  }
  if (options.shutdown_timeout < milliseconds(0) || options.abandon_grace < milliseconds(0)) {
    throw std::invalid_argument("shutdown bounds must not be negative");
  }
  impl_ = std::make_unique<Impl>(std::move(options), clock, store, regenerator, registry);
  Impl* impl = impl_.get();
  impl->lanes = regenerator.concurrent_lanes();

  bus::PublisherOptions pub;
  pub.endpoint = impl->options.pub_endpoint;
  pub.security = impl->options.bus_security;
  pub.metrics = &registry;
  pub.on_sent = [impl](std::string_view topic) {
    impl->metrics.published.Add({{"topic", std::string(topic)}}).Increment();
  };
  impl->publisher = std::make_unique<bus::Publisher>(std::move(pub));

  bus::SubscriberOptions sub;
  sub.endpoints = impl->options.sub_endpoints;
  sub.security = impl->options.bus_security;
  sub.metrics = &registry;
  sub.topics = {std::string(bus::kCatalogChangeTopic), std::string(bus::kCatalogHeartbeatTopic)};
  sub.clock = &clock;
  impl->subscriber = std::make_unique<bus::Subscriber>(
      std::move(sub),
      bus::SubscriberHandlers{[impl](const bus::Event& e) { impl->on_event(e); },
                              [impl](std::string_view topic, const core::Error& e) {
                                impl->metrics.malformed.Increment();
                                log::warn("regen.malformed_event", {{"topic", topic}, {"error", e.message}});
                              }});

  impl->scrubber = std::make_unique<Scrubber>(
      impl->options.scrub, clock, store, registry,
      [impl](const ScrubFinding& f) { impl->on_corrupt(f, f.requested ? "reader" : "scrub"); });
  if (!impl->options.repair_endpoints.empty()) {
    bus::SubscriberOptions repair;
    repair.endpoints = impl->options.repair_endpoints;
    repair.security.keys = impl->options.bus_security.keys;
    repair.security.server_keys = impl->options.repair_server_keys;
    repair.metrics = &registry;
    repair.topics = {std::string(bus::kAnalyticsRepairTopic)};
    repair.clock = &clock;
    impl->repair_subscriber = std::make_unique<bus::Subscriber>(
        std::move(repair),
        bus::SubscriberHandlers{
            [impl](const bus::Event& e) {
              const auto* r = std::get_if<bus::AnalyticsRepair>(&e);
              if (r == nullptr) {
                return;
              }
              impl->metrics.received_repair.Increment();
              log::warn("regen.repair_requested",
                        {{"generation", r->generation}, {"file", r->file}, {"reason", r->reason}});
              impl->scrubber->check(r->file);
            },
            [impl](std::string_view topic, const core::Error& e) {
              impl->metrics.malformed.Increment();
              log::warn("regen.malformed_event", {{"topic", topic}, {"error", e.message}});
            }});
  }
}

RegenerationService::~RegenerationService() {
  stop();
  // An abandoned run still owns its thread: wait for it to return.
  if (impl_->worker_thread.joinable()) {
    impl_->worker_thread.join();
  }
  if (impl_->slow_thread.joinable()) {
    impl_->slow_thread.join();
  }
}

const std::string& RegenerationService::pub_endpoint() const { return impl_->publisher->endpoint(); }

void RegenerationService::start() {
  Impl& s = *impl_;
  std::unique_lock lock(s.mu);
  if (s.started || s.stopped) {
    throw std::logic_error("RegenerationService::start() called twice");
  }
  // What is current: the newest snapshot, verified to have a manifest.
  std::optional<std::int64_t> snapshot_seq;
  bool slow_behind = false;
  if (auto gen = s.store.current_generation(); gen.ok()) {
    if (auto manifest = s.store.read_manifest(gen.value()); manifest.ok()) {
      s.set_current(manifest.value());
      snapshot_seq = manifest->catalog_seq;
      s.fast.seq = manifest->catalog_seq;
      // A slow lane failed or was killed before it caught up: catch up now.
      const auto slow_seq = s.regenerator.slow_lane_seq(manifest.value());
      s.slow.seq = slow_seq.value_or(manifest->catalog_seq);
      slow_behind = s.slow.seq < manifest->catalog_seq;
    } else {
      log::warn("regen.current_unreadable",
                {{"generation", gen.value()}, {"error", manifest.error().message}});
    }
  }
  // Start-up catch-up: never trust that nothing happened while we were down.
  lock.unlock();
  auto latest = s.probe.latest_seq();
  lock.lock();
  if (!latest.ok()) {
    log::warn("regen.catalog_unreadable", {{"error", latest.error().message}});
  }
  const bool catch_up = s.tracker.start(snapshot_seq, latest.ok() ? std::optional(*latest) : std::nullopt);
  if (!catch_up && slow_behind) {
    log::info("regen.slow_lane_behind", {{"fast_seq", s.fast.seq}, {"slow_seq", s.slow.seq}});
    s.debouncer.note_trigger(kReasonStartup, TriggerMode::kImmediate);
    s.metrics.count_trigger(kReasonStartup);
  }
  if (!latest.ok()) {
    s.tracker.on_probe_failed(latest.error().message);
  }
  s.flush_triggers();
  const auto now = s.clock.now();
  s.next_heartbeat = now;
  s.next_probe = now + s.options.check_interval;
  s.started = true;
  // Read for the log line while the lock is held: once the threads run, a
  // regeneration may replace s.current at any time.
  const std::int64_t start_generation = s.current.generation;
  const std::int64_t start_seq = s.current.catalog_seq;
  lock.unlock();

  s.worker_thread = std::thread([&s] { s.work(); });
  if (s.lanes) {
    s.slow_thread = std::thread([&s] { s.work_slow(); });
  }
  s.loop_thread = std::thread([&s] { s.loop(); });
  s.subscriber->start();
  if (s.repair_subscriber) {
    s.repair_subscriber->start();
  }
  s.scrubber->start();
  log::info("regen.service_started",
            {{"generation", start_generation},
             {"catalog_seq", start_seq},
             {"pub", s.publisher->endpoint()},
             {"lanes", s.lanes},
             {"quiet_ms", static_cast<std::int64_t>(s.options.debounce.quiet.count())},
             {"max_delay_ms", static_cast<std::int64_t>(s.options.debounce.max_delay.count())}});
}

void RegenerationService::Impl::flush_triggers() {
  for (const auto& reason : tracker.take_triggers()) {
    metrics.count_trigger(reason);
  }
  if (tracker.rejected() > rejected_reported) {
    metrics.rejected.Increment(static_cast<double>(tracker.rejected() - rejected_reported));
    rejected_reported = tracker.rejected();
  }
  metrics.seq_seen.Set(static_cast<double>(tracker.confirmed_seq()));
}

void RegenerationService::Impl::on_event(const bus::Event& event) {
  std::lock_guard lock(mu);
  if (const auto* change = std::get_if<bus::CatalogChange>(&event)) {
    metrics.received_change.Increment();
    if (!stopping) {
      tracker.on_change(change->seq);
    }
  } else if (const auto* heartbeat = std::get_if<bus::CatalogHeartbeat>(&event)) {
    metrics.received_heartbeat.Increment();
    if (!stopping) {
      tracker.on_heartbeat(heartbeat->seq);
    }
  }
  loop_cv.notify_one();
}

void RegenerationService::Impl::probe_catalog(std::unique_lock<std::mutex>& lock, bool periodic) {
  tracker.begin_probe();
  lock.unlock();
  auto latest = probe.latest_seq();
  lock.lock();
  if (stopping) {
    return;
  }
  if (latest.ok()) {
    tracker.on_probe(*latest, periodic);
  } else {
    tracker.on_probe_failed(latest.error().message);
  }
  flush_triggers();
}

void RegenerationService::Impl::publish_heartbeat() {
  bus::AnalyticsHeartbeat hb;
  {
    std::lock_guard lock(mu);
    hb.generation = current.generation;
    hb.catalog_seq = current.catalog_seq;
  }
  hb.ts_ms = wall_now_ms();
  try {
    if (auto st = publisher->publish(hb); !st.ok()) {
      log::warn("regen.publish_failed",
                {{"topic", bus::kAnalyticsHeartbeatTopic}, {"error", st.error().message}});
    }
  } catch (const std::exception& e) {
    log::error("regen.publish_failed", {{"topic", bus::kAnalyticsHeartbeatTopic}, {"error", e.what()}});
  }
}

RunResult RegenerationService::Impl::attempt(const char* lane, std::optional<Clock::time_point> oldest,
                                             const std::function<RunResult()>& run, double& ms) {
  const auto start = std::chrono::steady_clock::now();
  RunResult result = RunFailure{"run", "not run", false};
  try {
    result = run();
  } catch (const std::exception& e) {
    // The Regenerator reports stage failures as RunFailure; anything thrown
    // past it is a failure of the run all the same.
    result = RunFailure{"run", e.what(), false};
  }
  ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  // Announce before anything else: readers are waiting for it. Retention
  // comes after, off their path.
  if (result.ok()) {
    const auto returned = std::chrono::steady_clock::now();
    announce(result.value().manifest);
    const auto announced = std::chrono::steady_clock::now();
    const std::size_t published_stages = result.value().durations_ms.size();
    regenerator.retain(result.value());
    log_trace(lane, oldest, result.value(), published_stages, returned, announced);
  }
  return result;
}

void RegenerationService::Impl::count_files(RegenMetrics::Lane& lane, const RegenSummary& s) {
  lane.files_linked.Increment(static_cast<double>(s.files_linked));
  lane.files_written.Increment(static_cast<double>(s.files_written));
  lane.bytes_written.Increment(static_cast<double>(s.bytes_written));
}

void RegenerationService::Impl::announce(const snapshot::Manifest& manifest) {
  try {
    if (auto st = publisher->publish(snapshot_event(manifest)); !st.ok()) {
      log::warn("regen.publish_failed",
                {{"topic", bus::kAnalyticsSnapshotTopic}, {"error", st.error().message}});
    }
  } catch (const std::exception& e) {
    log::error("regen.publish_failed", {{"topic", bus::kAnalyticsSnapshotTopic}, {"error", e.what()}});
  }
}

void RegenerationService::Impl::loop() {
  std::unique_lock lock(mu);
  while (!stopping) {
    auto now = clock.now();
    if (tracker.wants_probe()) {
      probe_catalog(lock, /*periodic=*/false);
      continue;
    }
    if (now >= next_heartbeat) {
      next_heartbeat = now + options.heartbeat_interval;
      lock.unlock();
      publish_heartbeat();
      lock.lock();
      continue;
    }
    if (now >= next_probe) {
      next_probe = now + options.check_interval;
      probe_catalog(lock, /*periodic=*/true);
      continue;
    }

    // Waiters whose bound passed get nullopt.
    std::vector<Waiter> expired;
    for (auto it = waiters.begin(); it != waiters.end();) {
      if (now >= it->deadline) {
        expired.push_back(std::move(*it));
        it = waiters.erase(it);
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

    if (repair_due && now >= *repair_due) {
      repair_due.reset();
      repair_not_before = now + options.repair_min_interval;
      debouncer.note_trigger(kReasonRepair, TriggerMode::kImmediate);
      metrics.count_trigger(kReasonRepair);
      log::info("regen.repair_started", {{"file", last_corrupt ? last_corrupt->file : std::string()}});
    }
    if (!running && debouncer.poll(now)) {
      handed = debouncer.run_started();
      handed_run = debouncer.stats().runs_started;
      running = true;
      fast.running = true;
      metrics.in_progress.Set(1);
      worker_cv.notify_one();
    }
    refresh_locked(now);
    idle_cv.notify_all();

    auto wake = std::min(next_heartbeat, next_probe);
    if (repair_due) {
      wake = std::min(wake, *repair_due);
    }
    if (auto due = debouncer.next_deadline()) {
      wake = std::min(wake, *due);
    }
    for (const auto& w : waiters) {
      wake = std::min(wake, w.deadline);
    }
    // Sleep in real time until the next deadline by the injected clock;
    // at most a second, so that a clock moved by hand is noticed anyway.
    const auto sleep =
        std::clamp<Clock::duration>(wake - now, Clock::duration::zero(), std::chrono::seconds(1));
    loop_cv.wait_for(lock, sleep);
  }
}

void RegenerationService::Impl::work() {
  std::unique_lock lock(mu);
  for (;;) {
    worker_cv.wait(lock, [&] { return worker_exit || handed.has_value(); });
    if (!handed) {
      return;
    }
    const PendingWork work = *handed;
    const std::uint64_t run = handed_run;
    lock.unlock();

    std::string reasons;
    for (const auto& r : work.reasons) {
      reasons += (reasons.empty() ? "" : ",") + r;
    }
    log::info("regen.run_start", {{"run", static_cast<std::int64_t>(run)},
                                  {"changes", static_cast<std::int64_t>(work.changes)},
                                  {"newest_seq", work.newest_seq},
                                  {"reasons", reasons.empty() ? std::string(kReasonChange) : reasons}});
    std::shared_ptr<const LoadedCatalog> loaded;
    // With lanes this thread is the fast lane; the slow lane follows on its
    // own thread from the state this run loaded. Without, one run writes
    // everything.
    double ms = 0;
    const RunResult result = attempt(
        "fast", work.changes > 0 ? std::optional(work.oldest) : std::nullopt,
        [&] {
          return lanes ? regenerator.run_fast(&cancel, &loaded)
                       : regenerator.run(&cancel, {}, /*retain=*/false);
        },
        ms);
    if (loaded) {
      std::lock_guard slow_lock(mu);
      if (!slow_exit) {
        slow_pending = std::move(loaded);  // replaces an older state not yet started
        slow_cv.notify_one();
      }
    }
    RunRecord record = finish_fast(run, work, result, ms);
    std::vector<Waiter> done;
    lock.lock();
    for (auto it = waiters.begin(); it != waiters.end();) {
      if (it->run <= run) {
        done.push_back(std::move(*it));
        it = waiters.erase(it);
      } else {
        ++it;
      }
    }
    lock.unlock();
    for (auto& w : done) {
      w.done(record);
    }
    lock.lock();
  }
}

RunRecord RegenerationService::Impl::finish_fast(std::uint64_t run, const PendingWork& work,
                                                 const RunResult& result, double duration_ms) {
  RunRecord record;
  record.run = run;
  record.success = result.ok();
  record.finished_at_ms = wall_now_ms();
  record.duration_ms = duration_ms;
  record.reasons = work.reasons;
  if (work.changes > 0 &&
      std::find(record.reasons.begin(), record.reasons.end(), kReasonChange) == record.reasons.end()) {
    record.reasons.insert(record.reasons.begin(), kReasonChange);
  }
  record.changes = work.changes;

  if (result.ok()) {
    const RegenSummary& s = result.value();
    record.generation = s.generation;
    record.catalog_seq = s.catalog_seq;
    record.generated_at_ms = s.generated_at_ms;
    record.warnings = s.warnings;
    for (const auto& [stage, ms] : s.durations_ms) {
      metrics.observe_stage(stage, ms);
    }
    metrics.runs_success.Increment();
    metrics.last_success.Set(static_cast<double>(record.finished_at_ms) / 1000.0);
    count_files(metrics.fast, s);
    count_run(s);
    log::info("regen.run_done", {{"run", static_cast<std::int64_t>(run)},
                                 {"generation", s.generation},
                                 {"seq", s.catalog_seq},
                                 {"changes", static_cast<std::int64_t>(work.changes)},
                                 {"ms", duration_ms}});
  } else {
    const RunFailure& f = result.failure();
    record.cancelled = f.cancelled;
    record.stage = f.stage;
    record.error = f.message();
    (record.cancelled ? metrics.runs_cancelled : metrics.runs_failure).Increment();
  }

  std::lock_guard lock(mu);
  debouncer.run_finished(record.success);
  handed.reset();
  running = false;
  fast.running = false;
  metrics.in_progress.Set(0);
  if (record.success) {
    const RegenSummary& s = result.value();
    set_current(s.manifest);
    tracker.on_published(record.catalog_seq);
    note_lane_success(fast, metrics.fast, record.catalog_seq, record.finished_at_ms);
    if (!lanes) {
      note_lane_success(slow, metrics.slow, record.catalog_seq, record.finished_at_ms);
    }
    last_success = record;
  } else if (record.cancelled) {
    metrics.fast.cancelled.Increment();
  } else {
    note_lane_failure(fast, metrics.fast, result.failure());
    last_failure = record;
    log::warn("regen.run_failed",
              {{"run", static_cast<std::int64_t>(run)},
               {"stage", record.stage},
               {"error", record.error},
               {"consecutive_failures", static_cast<std::int64_t>(debouncer.stats().consecutive_failures)},
               {"retry_in_ms", millis(debouncer.current_backoff())}});
  }
  if (std::find(record.reasons.begin(), record.reasons.end(), kReasonRepair) != record.reasons.end() &&
      !record.cancelled) {
    ++repairs;
    if (record.success) {
      repairing.clear();
    }
    metrics.repairs.Add({{"result", record.success ? "success" : "failure"}}).Increment();
    log::info("regen.repair_done", {{"run", static_cast<std::int64_t>(run)},
                                    {"success", record.success},
                                    {"generation", record.generation}});
  }
  last_record = record;
  const auto coalesced = debouncer.stats().coalesced_changes;
  if (coalesced > coalesced_reported) {
    metrics.coalesced.Increment(static_cast<double>(coalesced - coalesced_reported));
    coalesced_reported = coalesced;
  }
  metrics.consecutive_failures.Set(debouncer.stats().consecutive_failures);
  refresh_locked(clock.now());
  idle_cv.notify_all();
  loop_cv.notify_one();
  return record;
}

void RegenerationService::Impl::work_slow() {
  lower_own_priority(options.slow_lane_idle, options.slow_lane_nice);
  std::unique_lock lock(mu);
  for (;;) {
    // Wait for a state, and after a failure for the retry backoff.
    for (;;) {
      if (slow_exit) {
        return;
      }
      if (slow_pending) {
        const auto now = clock.now();
        if (!slow_not_before || now >= *slow_not_before) {
          break;
        }
        slow_cv.wait_for(lock, std::clamp<Clock::duration>(*slow_not_before - now, Clock::duration::zero(),
                                                           std::chrono::seconds(1)));
        continue;
      }
      slow_cv.wait(lock);
    }
    const std::shared_ptr<const LoadedCatalog> loaded = std::move(slow_pending);
    slow_pending.reset();
    slow.running = true;
    lock.unlock();

    log::info("regen.slow_start", {{"seq", loaded->state.catalog_seq}});
    double ms = 0;
    const RunResult result = attempt(
        "slow", std::nullopt, [&] { return regenerator.run_slow(*loaded, &slow_cancel); }, ms);
    finish_slow(result, ms);
    lock.lock();
    if (!result.ok() && !result.failure().cancelled && !slow_pending && !slow_exit) {
      slow_pending = loaded;  // retried, unless a newer state arrives first
    }
  }
}

void RegenerationService::Impl::finish_slow(const RunResult& result, double ms) {
  if (result.ok()) {
    const RegenSummary& s = result.value();
    for (const auto& [stage, stage_ms] : s.durations_ms) {
      metrics.observe_stage(stage == "total" ? "total.slow" : stage, stage_ms);
    }
    count_files(metrics.slow, s);
    count_run(s);
    log::info("regen.slow_done", {{"generation", s.generation},
                                  {"seq", s.catalog_seq},
                                  {"space_seq", oldest_file_seq(s.manifest)},
                                  {"ms", ms}});
  }
  std::lock_guard lock(mu);
  slow.running = false;
  if (result.ok()) {
    const RegenSummary& s = result.value();
    set_current(s.manifest);
    note_lane_success(slow, metrics.slow, oldest_file_seq(s.manifest), wall_now_ms());
    // A file the fast lane could not carry may have been recomputed here.
    fast.seq = std::max(fast.seq, s.manifest.catalog_seq);
    slow_not_before.reset();
  } else if (result.failure().cancelled) {
    metrics.slow.cancelled.Increment();
  } else {
    note_lane_failure(slow, metrics.slow, result.failure());
    // The state is retried after the backoff (work_slow re-pends it).
    const auto delay = backoff_delay(options.debounce, slow.failures, random());
    slow_not_before = clock.now() + delay;
    log::warn("regen.slow_failed", {{"stage", result.failure().stage},
                                    {"error", result.failure().reason},
                                    {"consecutive_failures", static_cast<std::int64_t>(slow.failures)},
                                    {"retry_in_ms", millis(delay)}});
  }
  refresh_locked(clock.now());
  idle_cv.notify_all();
  slow_cv.notify_all();
}

void RegenerationService::Impl::count_run(const RegenSummary& s) {
  if (!s.corrupt_files.empty()) {
    std::lock_guard lock(mu);
    for (const auto& file : s.corrupt_files) {
      // Already repaired: the run carried an older verified copy or
      // computed the file again. A file the scrub or a reader found is
      // found again by the run repairing it: not a new finding.
      if (repairing.erase(file) != 0) {
        continue;
      }
      note_corrupt_locked(ScrubFinding{s.generation, file, "corrupt", "found while carrying it", false},
                          "carry");
    }
  }
  auto count = [&](const std::vector<snapshot::RemovedGeneration>& removed) {
    for (const auto& g : removed) {
      metrics.generations_removed.Add({{"reason", g.reason}}).Increment();
    }
  };
  count(s.made_room);
  if (s.retention) {
    count(s.retention->removed);
  }
}

void RegenerationService::Impl::note_corrupt_locked(const ScrubFinding& finding,
                                                    const std::string& found_by) {
  ++corrupt_files;
  metrics.corrupt_files.Add({{"found_by", found_by}}).Increment();
  last_corrupt = finding;
  last_corrupt_found_by = found_by;
  last_corrupt_at_ms = wall_now_ms();
}

void RegenerationService::Impl::on_corrupt(const ScrubFinding& finding, const std::string& found_by) {
  // The next carry reads the file again instead of trusting its stamp.
  if (snapshot::is_valid_file_name(finding.file)) {
    regenerator.distrust(finding.file);
  }
  std::lock_guard lock(mu);
  note_corrupt_locked(finding, found_by);
  repairing.insert(finding.file);
  schedule_repair_locked(clock.now());
}

void RegenerationService::Impl::schedule_repair_locked(Clock::time_point now) {
  if (!started || stopping || repair_due) {
    return;  // one owed repair covers every finding until it starts
  }
  repair_due = repair_not_before ? std::max(now, *repair_not_before) : now;
  loop_cv.notify_one();
}

void RegenerationService::Impl::note_lane_success(LaneState& lane, RegenMetrics::Lane& m, std::int64_t seq,
                                                  std::int64_t wall_ms) {
  lane.seq = std::max(lane.seq, seq);
  lane.failures = 0;
  lane.last_error.clear();
  lane.last_success = clock.now();
  m.success.Increment();
  m.seq.Set(static_cast<double>(lane.seq));
  m.failures.Set(0);
  m.last_success.Set(static_cast<double>(wall_ms) / 1000.0);
}

void RegenerationService::Impl::note_lane_failure(LaneState& lane, RegenMetrics::Lane& m,
                                                  const RunFailure& f) {
  ++lane.failures;
  lane.last_error = f.message();
  m.failure.Increment();
  m.failures.Set(lane.failures);
}

void RegenerationService::Impl::set_current(const snapshot::Manifest& manifest) {
  // The two lanes commit in order but report from two threads: never step
  // back to an older generation.
  if (manifest.generation < current.generation) {
    return;
  }
  current = manifest;
  current.files.clear();  // only the numbers are kept
  metrics.generation.Set(static_cast<double>(manifest.generation));
  metrics.catalog_seq.Set(static_cast<double>(manifest.catalog_seq));
}

void RegenerationService::Impl::refresh_locked(Clock::time_point now) {
  // A lane is behind while its files lag the seq owed; the clock starts
  // when that is first seen.
  const std::int64_t owed = tracker.owed_seq();
  for (auto* lane : {&fast, &slow}) {
    if (lane->seq < owed && current.generation > 0) {
      if (!lane->behind_since) {
        lane->behind_since = now;
      }
    } else {
      lane->behind_since.reset();
    }
  }
  const double fast_stale = tracker.staleness_seconds(now);
  metrics.staleness.Set(fast_stale);
  metrics.fast.staleness.Set(fast_stale);
  metrics.slow.staleness.Set(slow.behind_since ? std::max(fast_stale, seconds(now - *slow.behind_since))
                                               : 0.0);
}

bool RegenerationService::Impl::quiescent_locked() const {
  if (running || slow.running || tracker.wants_probe()) {
    return false;
  }
  const auto now = clock.now();
  if (debouncer.poll(now)) {
    return false;
  }
  if (repair_due && now >= *repair_due) {
    return false;
  }
  if (slow_pending && (!slow_not_before || now >= *slow_not_before)) {
    return false;
  }
  return true;
}

LaneStatus RegenerationService::Impl::lane_status(const LaneState& lane, Clock::time_point now) const {
  LaneStatus s;
  s.seq = lane.seq;
  s.running = lane.running;
  s.consecutive_failures = lane.failures;
  s.last_error = lane.last_error;
  if (lane.last_success) {
    s.age_seconds = seconds(now - *lane.last_success);
  }
  return s;
}

RegenerationService::StopResult RegenerationService::stop() {
  Impl& s = *impl_;
  {
    std::lock_guard lock(s.mu);
    if (s.stopped) {
      return StopResult::kIdle;
    }
    s.stopped = true;
    s.stopping = true;
    s.loop_cv.notify_all();
  }
  s.subscriber->stop();
  if (s.repair_subscriber) {
    s.repair_subscriber->stop();
  }
  s.scrubber->stop();
  if (s.loop_thread.joinable()) {
    s.loop_thread.join();
  }

  StopResult result = StopResult::kIdle;
  std::vector<Impl::Waiter> waiters;
  {
    std::unique_lock lock(s.mu);
    // The slow lane is a refinement of what is already published: cancel
    // it now; a computation in progress gets the same bounded wait.
    s.slow_exit = true;
    s.slow_cancel = true;
    s.slow_cv.notify_all();
    if (s.running) {
      log::info("regen.stop_waiting",
                {{"run", static_cast<std::int64_t>(s.handed_run)},
                 {"timeout_ms", static_cast<std::int64_t>(s.options.shutdown_timeout.count())}});
      result = StopResult::kFinished;
      if (!s.idle_cv.wait_for(lock, s.options.shutdown_timeout, [&] { return !s.running; })) {
        s.cancel = true;
        result = StopResult::kCancelled;
        if (!s.idle_cv.wait_for(lock, s.options.abandon_grace, [&] { return !s.running; })) {
          result = StopResult::kAbandoned;
        }
      } else if (s.last_record && s.last_record->cancelled) {
        result = StopResult::kCancelled;
      }
    }
    s.worker_exit = true;
    s.worker_cv.notify_all();
    waiters.swap(s.waiters);
    if (s.slow.running && !s.idle_cv.wait_for(lock, s.options.shutdown_timeout + s.options.abandon_grace,
                                              [&] { return !s.slow.running; })) {
      result = StopResult::kAbandoned;
    }
  }
  for (auto& w : waiters) {
    w.done(std::nullopt);
  }
  if (result != StopResult::kAbandoned && s.worker_thread.joinable()) {
    s.worker_thread.join();
  }
  if (result != StopResult::kAbandoned && s.slow_thread.joinable()) {
    s.slow_thread.join();
  }
  log::info("regen.service_stopped", {{"regeneration", stop_result_name(result)},
                                      {"generation", s.current.generation},
                                      {"catalog_seq", s.current.catalog_seq}});
  return result;
}

std::optional<std::uint64_t> RegenerationService::request_run(std::string reason) {
  Impl& s = *impl_;
  std::lock_guard lock(s.mu);
  if (!s.started || s.stopping) {
    return std::nullopt;
  }
  s.metrics.count_trigger(reason);
  s.debouncer.note_trigger(std::move(reason), TriggerMode::kImmediate);
  s.loop_cv.notify_one();
  // Whether a run is in progress or not, the request is folded into the
  // next one to start.
  return s.debouncer.stats().runs_started + 1;
}

bool RegenerationService::request_repair(const std::string& file) {
  {
    std::lock_guard lock(impl_->mu);
    if (!impl_->started || impl_->stopping) {
      return false;
    }
  }
  return impl_->scrubber->check(file);
}

void RegenerationService::when_finished(std::uint64_t run, std::chrono::milliseconds timeout,
                                        std::function<void(std::optional<RunRecord>)> done) {
  Impl& s = *impl_;
  std::optional<RunRecord> now_record;
  {
    std::lock_guard lock(s.mu);
    if (!s.stopping && !(s.last_record && s.last_record->run >= run)) {
      s.waiters.push_back(Impl::Waiter{run, s.clock.now() + timeout, std::move(done)});
      s.loop_cv.notify_one();
      return;
    }
    if (!s.stopping) {
      now_record = s.last_record;
    }
  }
  done(std::move(now_record));
}

ServiceStatus RegenerationService::status() const {
  const Impl& s = *impl_;
  std::lock_guard lock(s.mu);
  const auto now = s.clock.now();
  ServiceStatus st;
  st.started = s.started;
  st.stopping = s.stopping;
  st.generation = s.current.generation;
  st.catalog_seq = s.current.catalog_seq;
  st.generated_at_ms = s.current.generated_at_ms;
  st.seq_seen = s.tracker.confirmed_seq();
  st.catalog_latest_seq = s.tracker.catalog_latest();
  st.catalog_probe_error = s.tracker.probe_error();
  st.staleness_seconds = s.tracker.staleness_seconds(now);
  st.running = s.running;
  st.pending = s.debouncer.pending();
  if (auto due = s.debouncer.next_deadline()) {
    st.next_run_in_ms = std::max(0.0, millis(*due - now));
  }
  st.consecutive_failures = s.debouncer.stats().consecutive_failures;
  st.runs_started = s.debouncer.stats().runs_started;
  if (auto last = s.tracker.last_event()) {
    st.last_event_age_seconds = seconds(now - *last);
  }
  st.last_success = s.last_success;
  st.last_failure = s.last_failure;
  st.events_rejected = s.tracker.rejected();
  st.lanes = s.lanes;
  st.fast = s.lane_status(s.fast, now);
  st.fast.pending = st.pending;
  st.fast.staleness_seconds = st.staleness_seconds;
  st.fast.retry_in_ms = st.fast.consecutive_failures > 0 ? st.next_run_in_ms : std::nullopt;
  st.slow = s.lane_status(s.slow, now);
  st.slow.pending = s.slow_pending != nullptr;
  if (s.slow.behind_since) {
    st.slow.staleness_seconds = std::max(st.staleness_seconds, seconds(now - *s.slow.behind_since));
  }
  if (s.slow_not_before && s.slow.failures > 0) {
    st.slow.retry_in_ms = std::max(0.0, millis(*s.slow_not_before - now));
  }
  st.corrupt_files = s.corrupt_files;
  st.repairs = s.repairs;
  st.repair_pending = s.repair_due.has_value();
  st.last_corrupt = s.last_corrupt;
  st.last_corrupt_found_by = s.last_corrupt_found_by;
  st.last_corrupt_at_ms = s.last_corrupt_at_ms;
  st.scrub = s.scrubber->stats();
  st.filesystem = s.store.space();
  return st;
}

void RegenerationService::refresh_metrics() {
  std::lock_guard lock(impl_->mu);
  impl_->refresh_locked(impl_->clock.now());
}

void RegenerationService::wake() {
  std::lock_guard lock(impl_->mu);
  impl_->loop_cv.notify_all();
  impl_->slow_cv.notify_all();
  impl_->scrubber->wake();
}

bool RegenerationService::wait_quiescent(std::chrono::milliseconds timeout) const {
  const Impl& s = *impl_;
  std::unique_lock lock(s.mu);
  return s.idle_cv.wait_for(lock, timeout, [&] { return s.quiescent_locked(); });
}

}  // namespace cocktail::regen_service

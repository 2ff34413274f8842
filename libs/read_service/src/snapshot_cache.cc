#include "cocktail/read_service/snapshot_cache.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "cocktail/core/log.h"
#include "cocktail/core/time.h"

namespace cocktail::read_service {
namespace {

// A generation removed by gc between reading CURRENT and its files is read
// again from CURRENT this many times before the refresh gives up until the
// next tick.
constexpr int kReadAttempts = 3;
// Gauges (age, staleness) are refreshed at least this often.
constexpr std::chrono::milliseconds kGaugeInterval{1000};
// The gzip thread's nice value (the slow lane of analytics-regen runs at the same).
constexpr int kGzipNice = 10;

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

std::int64_t micros(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

prometheus::Family<prometheus::Counter>& files_loaded(metrics::MetricsRegistry& registry) {
  return registry.counter("cocktail_snapshot_files_loaded_total",
                          "Files of new generations, by how they were loaded: read (and verified) or reused "
                          "from the served generation (same SHA-256 and size)");
}

}  // namespace

const char* refresh_outcome_name(RefreshOutcome outcome) {
  switch (outcome) {
    case RefreshOutcome::kUnchanged: return "unchanged";
    case RefreshOutcome::kNoSnapshot: return "no_snapshot";
    case RefreshOutcome::kSwapped: return "swapped";
    case RefreshOutcome::kRefused: return "refused";
    case RefreshOutcome::kFellBack: return "fallback";
    case RefreshOutcome::kFailed: return "failed";
  }
  return "unknown";
}

SnapshotCache::SnapshotCache(SnapshotCacheOptions options, metrics::MetricsRegistry& registry)
    : options_(std::move(options)),
      clock_(options_.clock != nullptr ? *options_.clock : steady_),
      store_(options_.analytics_path),
      generation_gauge_(
          registry.gauge("cocktail_snapshot_generation", "Snapshot generation being served").Add({})),
      catalog_seq_gauge_(
          registry.gauge("cocktail_snapshot_catalog_seq", "Catalog seq of the generation being served")
              .Add({})),
      age_gauge_(registry
                     .gauge("cocktail_snapshot_age_seconds",
                            "Seconds since the served generation was generated (0 before the first)")
                     .Add({})),
      staleness_gauge_(
          registry
              .gauge("cocktail_snapshot_staleness_seconds",
                     "Seconds since a generation newer than the served one was announced (0 when "
                     "the served generation is the newest announced)")
              .Add({})),
      verification_failures_total_(
          registry
              .counter("cocktail_snapshot_verification_failures_total",
                       "Snapshot files refused because their size or SHA-256 did not "
                       "match the manifest")
              .Add({})),
      loads_(registry.counter("cocktail_snapshot_loads_total",
                              "Generation loads by result (swapped, refused, failed)")),
      unverified_total_(registry
                            .counter("cocktail_snapshot_unverified_announcements_total",
                                     "Announced generations that CURRENT did not confirm (dropped)")
                            .Add({})),
      files_read_(files_loaded(registry).Add({{"how", "read"}})),
      files_reused_(files_loaded(registry).Add({{"how", "reused"}})),
      fallback_gauge_(registry
                          .gauge("cocktail_snapshot_fallback",
                                 "1 while an older generation is served because the one CURRENT names was "
                                 "refused (failed verification)")
                          .Add({})) {
  for (const char* r : {"swapped", "fallback", "refused", "failed"}) {
    loads_.Add({{"result", r}});
  }
}

SnapshotCache::~SnapshotCache() { stop(); }

void SnapshotCache::add_listener(Listener listener) { listeners_.push_back(std::move(listener)); }

void SnapshotCache::set_repair_handler(std::function<void(const RepairNeed&)> handler) {
  repair_handler_ = std::move(handler);
}

std::optional<Fallback> SnapshotCache::fallback() const {
  std::lock_guard<std::mutex> lock(state_mu_);
  return fallback_;
}

std::shared_ptr<const Generation> SnapshotCache::current() const {
  std::lock_guard<std::mutex> lock(current_mu_);
  return current_;
}

std::optional<Refusal> SnapshotCache::last_refusal() const {
  std::lock_guard<std::mutex> lock(state_mu_);
  return last_refusal_;
}

void SnapshotCache::refuse(const Refusal& refusal) {
  refused_generation_ = refusal.generation;
  refused_ = refusal;
  core::log::error("snapshot.refused", {{"generation", refusal.generation},
                                        {"file", refusal.file},
                                        {"reason", refusal.reason},
                                        {"error", refusal.message}});
  loads_.Add({{"result", "refused"}}).Increment();
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    last_refusal_ = refusal;
  }
  ask_repair(refusal, /*again=*/false);
}

void SnapshotCache::ask_repair(const Refusal& refusal, bool again) {
  if (!repair_handler_ || refusal.reason == "index") {
    return;  // a file that verifies but does not parse: a bug
  }
  const auto now = clock_.now();
  if (again && repair_asked_at_ && now - *repair_asked_at_ < options_.repair_interval) {
    return;
  }
  repair_asked_at_ = now;
  const auto slash = refusal.file.rfind('/');
  RepairNeed need{refusal.generation,
                  slash == std::string::npos ? refusal.file : refusal.file.substr(slash + 1), refusal.reason};
  try {
    repair_handler_(need);
  } catch (const std::exception& e) {
    core::log::error("snapshot.repair_request_failed", {{"file", need.file}, {"error", e.what()}});
  }
}

RefreshOutcome SnapshotCache::refresh() {
  std::lock_guard<std::mutex> serial(refresh_mu_);
  const RefreshOutcome outcome = load_if_new();
  if (outcome == RefreshOutcome::kSwapped || outcome == RefreshOutcome::kRefused ||
      outcome == RefreshOutcome::kFellBack) {
    // Loading a generation allocates several times its size for a moment
    // (file bytes, parser buffers, compression) and the previous generation
    // has just been released: hand the freed pages back to the system rather
    // than keep the peak resident until the next load.
    const auto start = std::chrono::steady_clock::now();
#ifdef __GLIBC__
    malloc_trim(0);
#endif
    trace_.trim_ms = ms_since(start);
  }
  if (outcome == RefreshOutcome::kSwapped || outcome == RefreshOutcome::kFellBack) {
    core::log::info("snapshot.load_trace", {{"generation", trace_.generation},
                                            {"heard_us", trace_.heard_us},
                                            {"start_us", trace_.start_us},
                                            {"read_ms", trace_.read_ms},
                                            {"build_ms", trace_.build_ms},
                                            {"swapped_us", trace_.swapped_us},
                                            {"notified_us", trace_.notified_us},
                                            {"gzip_ms", trace_.gzip_ms},
                                            {"trim_ms", trace_.trim_ms}});
  }
  return outcome;
}

RefreshOutcome SnapshotCache::load_if_new() {
  trace_ = LoadTrace{};
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    if (claimed_since_) {
      trace_.heard_us = micros(*claimed_since_);
    }
  }
  trace_.start_us = micros(std::chrono::steady_clock::now());
  const auto served = current();
  for (int attempt = 0; attempt < kReadAttempts; ++attempt) {
    const std::uint64_t heard = announcements_heard();
    auto gen = store_.current_generation();
    if (!gen.ok()) {
      const auto& e = gen.error();
      if (e.kind == snapshot::ReadErrorKind::kNoSnapshot) {
        note_on_disk(0, heard);
        return RefreshOutcome::kNoSnapshot;
      }
      if (e.kind != snapshot::ReadErrorKind::kMalformed) {
        continue;  // the file system refused: retried
      }
      // CURRENT cannot be parsed: serve the newest generation that verifies.
      if (refused_generation_ == 0) {
        ask_repair(*refused_, /*again=*/true);
        return RefreshOutcome::kUnchanged;
      }
      const Refusal refusal{0, e.file, "malformed", e.message, core::system_now_ms()};
      refuse(refusal);
      std::int64_t read = 0;
      if (auto older = fall_back(std::numeric_limits<std::int64_t>::max(), served, {}, read)) {
        swap_in(older, served, read, Fallback{0, 0, refusal});
        return RefreshOutcome::kFellBack;
      }
      return RefreshOutcome::kRefused;
    }
    const std::int64_t g = gen.value();
    note_on_disk(g, heard);
    if (served && served->generation() == g) {
      return RefreshOutcome::kUnchanged;
    }
    if (refused_generation_ == g) {
      ask_repair(*refused_, /*again=*/true);
      return RefreshOutcome::kUnchanged;
    }

    Attempt loaded = load_generation(g, served, /*strict=*/true);
    if (loaded.vanished) {
      continue;  // removed by gc meanwhile: start again from CURRENT
    }
    if (loaded.refusal) {
      refuse(*loaded.refusal);
      std::int64_t read = 0;
      if (auto older = fall_back(g, served, std::move(loaded.bad_files), read)) {
        swap_in(older, served, read, Fallback{0, g, *loaded.refusal});
        return RefreshOutcome::kFellBack;
      }
      return RefreshOutcome::kRefused;
    }
    swap_in(loaded.generation, served, loaded.read, std::nullopt);
    return RefreshOutcome::kSwapped;
  }
  loads_.Add({{"result", "failed"}}).Increment();
  core::log::warn("snapshot.load_failed", {{"attempts", kReadAttempts}});
  return RefreshOutcome::kFailed;
}

SnapshotCache::Attempt SnapshotCache::load_generation(std::int64_t g,
                                                      const std::shared_ptr<const Generation>& served,
                                                      bool strict) {
  Attempt out;
  // Missing matters only while CURRENT still names the generation: gc
  // removes generations that stopped being current.
  auto missing = [&](const snapshot::ReadError& e) {
    auto now = store_.current_generation();
    if (strict && now.ok() && now.value() == g) {
      out.refusal = Refusal{g, e.file, "not_found", e.message, core::system_now_ms()};
    } else {
      out.vanished = true;
    }
  };
  auto manifest = store_.read_manifest(g);
  if (!manifest.ok()) {
    const auto& e = manifest.error();
    if (e.kind == snapshot::ReadErrorKind::kMalformed || e.kind == snapshot::ReadErrorKind::kCorrupt) {
      out.refusal =
          Refusal{g, e.file, snapshot::read_error_kind_name(e.kind), e.message, core::system_now_ms()};
    } else if (e.kind == snapshot::ReadErrorKind::kNotFound) {
      missing(e);
    } else {
      out.vanished = true;  // the file system refused: retried
    }
    return out;
  }

  // Read every new or changed file; count and name each one that fails
  // verification. An unchanged one (same SHA-256 and size as the served
  // generation's) is taken from memory by Generation::build.
  snapshot::Snapshot snap;
  snap.manifest = std::move(manifest).value();
  std::vector<snapshot::ReadError> corrupt;
  for (const auto& [name, entry] : snap.manifest.files) {
    if (served) {
      const Generation::File* same = served->file(name);
      if (same != nullptr && same->sha256 == entry.sha256 && same->bytes == entry.bytes) {
        continue;
      }
    }
    auto bytes = store_.read_file(snap.manifest, name);
    if (bytes.ok()) {
      snap.files.emplace(name, std::move(bytes).value());
      continue;
    }
    if (bytes.error().is_verification_failure()) {
      verification_failures_.fetch_add(1);
      verification_failures_total_.Increment();
      corrupt.push_back(bytes.error());
      if (auto st = store_.stamp(g, name)) {
        out.bad_files.push_back(*st);
      }
      core::log::error("snapshot.verification_failed",
                       {{"generation", g}, {"file", bytes.error().file}, {"error", bytes.error().message}});
      continue;
    }
    if (bytes.error().kind == snapshot::ReadErrorKind::kNotFound) {
      missing(bytes.error());
    } else {
      out.vanished = true;
    }
    return out;
  }
  if (!corrupt.empty()) {
    out.refusal =
        Refusal{g, corrupt.front().file, "corrupt",
                std::to_string(corrupt.size()) + " file(s) failed verification: " + corrupt.front().message,
                core::system_now_ms()};
    return out;
  }
  out.read = static_cast<std::int64_t>(snap.files.size());
  // Since the load started: a fallback's reads include the refused attempt's.
  const auto build_start = std::chrono::steady_clock::now();
  trace_.read_ms = static_cast<double>(micros(build_start) - trace_.start_us) / 1000.0;
  auto built = Generation::build(std::move(snap), core::system_now_ms(), served.get());
  trace_.build_ms = ms_since(build_start);
  if (!built.ok()) {
    out.refusal = Refusal{g, built.error().field, "index", built.error().message, core::system_now_ms()};
    return out;
  }
  out.generation = std::move(built).value();
  return out;
}

std::shared_ptr<const Generation> SnapshotCache::fall_back(std::int64_t below,
                                                           const std::shared_ptr<const Generation>& served,
                                                           std::vector<snapshot::FileStamp> bad,
                                                           std::int64_t& read) {
  const std::int64_t floor = served ? served->generation() : 0;
  std::vector<std::int64_t> candidates;
  for (std::int64_t g : store_.generations()) {
    if (g > floor && g < below) {
      candidates.push_back(g);
    }
  }
  std::sort(candidates.rbegin(), candidates.rend());
  if (candidates.size() > kFallbackCandidates) {
    candidates.resize(kFallbackCandidates);
  }
  auto known_bad = [&](std::int64_t g, const snapshot::Manifest& m) {
    for (const auto& [name, entry] : m.files) {
      const auto st = store_.stamp(g, name);
      if (!st) {
        continue;
      }
      for (const auto& b : bad) {
        if (b.device == st->device && b.inode == st->inode) {
          return true;
        }
      }
    }
    return false;
  };
  for (std::int64_t g : candidates) {
    auto manifest = store_.read_manifest(g);
    if (!manifest.ok() || known_bad(g, manifest.value())) {
      continue;
    }
    Attempt attempt = load_generation(g, served, /*strict=*/false);
    if (attempt.generation) {
      read = attempt.read;
      core::log::warn("snapshot.fallback", {{"generation", g}, {"below", below}});
      return attempt.generation;
    }
    bad.insert(bad.end(), attempt.bad_files.begin(), attempt.bad_files.end());
  }
  core::log::warn("snapshot.no_fallback", {{"below", below}, {"served", floor}});
  return nullptr;
}

void SnapshotCache::swap_in(const std::shared_ptr<const Generation>& next,
                            const std::shared_ptr<const Generation>& served, std::int64_t read,
                            std::optional<Fallback> fallback) {
  const bool fell_back = fallback.has_value();
  if (fallback) {
    fallback->served = next->generation();
  }
  {
    std::lock_guard<std::mutex> lock(current_mu_);
    current_ = next;
  }
  trace_.generation = next->generation();
  trace_.swapped_us = micros(std::chrono::steady_clock::now());
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    if (next->generation() >= announced_generation_) {
      behind_since_.reset();
    }
    fallback_ = std::move(fallback);
  }
  if (!fell_back) {
    refused_generation_.reset();
    refused_.reset();
  }
  fallback_gauge_.Set(fell_back ? 1 : 0);
  loads_.Add({{"result", fell_back ? "fallback" : "swapped"}}).Increment();
  const std::int64_t reused = static_cast<std::int64_t>(next->files().size()) - read;
  files_read_.Increment(static_cast<double>(read));
  files_reused_.Increment(static_cast<double>(reused));
  core::log::info("snapshot.loaded", {{"generation", next->generation()},
                                      {"catalog_seq", next->catalog_seq()},
                                      {"files", static_cast<std::int64_t>(next->files().size())},
                                      {"read", read},
                                      {"reused", reused},
                                      {"fallback", fell_back},
                                      {"previous", served ? served->generation() : 0}});
  update_gauges();
  for (const auto& listener : listeners_) {
    try {
      listener(next);
    } catch (const std::exception& e) {
      core::log::error("snapshot.listener_failed", {{"error", e.what()}});
    }
  }
  trace_.notified_us = micros(std::chrono::steady_clock::now());
  // Served and announced; now the gzip copies of its large files (the
  // same generation: readers and waiters notice nothing but the
  // Content-Encoding they may now get), on the gzip thread so that the
  // next generation never waits for them. When it is not started: at once,
  // unless a newer generation is already current (its load comes first,
  // and it finishes them).
  if (gzip_thread_.joinable()) {
    request_gzip();
    return;
  }
  auto cur = store_.current_generation();
  if (fell_back || (cur.ok() && cur.value() == next->generation())) {
    if (auto gz = next->with_gzip()) {
      const auto gzip_start = std::chrono::steady_clock::now();
      std::lock_guard<std::mutex> lock(current_mu_);
      if (current_ == next) {
        current_ = std::move(gz);
      }
      trace_.gzip_ms = ms_since(gzip_start);
    }
  }
}

void SnapshotCache::note_announced(std::int64_t generation) {
  const auto served = current();
  if (served && served->generation() >= generation) {
    return;
  }
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    claimed_generation_ = std::max(claimed_generation_, generation);
    if (!claimed_since_) {
      claimed_since_ = clock_.now();
    }
    ++claims_;
  }
  request_refresh();
}

std::uint64_t SnapshotCache::announcements_heard() const {
  std::lock_guard<std::mutex> lock(state_mu_);
  return claims_;
}

void SnapshotCache::note_on_disk(std::int64_t generation, std::uint64_t read_after) {
  const auto served = current();
  const std::int64_t served_generation = served ? served->generation() : 0;
  std::optional<std::int64_t> unverified;
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    // An announcement heard while CURRENT was being read may name what the
    // read just missed: it waits for the next read.
    const bool settled = claims_ <= read_after;
    if (settled && claimed_generation_ > generation) {
      unverified = claimed_generation_;
    }
    announced_generation_ = generation;
    const bool behind = served_generation < generation;
    if (behind && !behind_since_) {
      // Counted from the announcement when there was one (CURRENT is only
      // read at the next wake), else from now.
      behind_since_ = claimed_since_ && !unverified ? *claimed_since_ : clock_.now();
    }
    if (!behind) {
      behind_since_.reset();
    }
    if (settled) {
      claimed_generation_ = 0;
      claimed_since_.reset();
    }
  }
  if (unverified) {
    unverified_announcements_.fetch_add(1);
    unverified_total_.Increment();
    core::log::warn("snapshot.announcement_unverified",
                    {{"announced", *unverified}, {"current", generation}, {"served", served_generation}});
  }
}

double SnapshotCache::staleness_seconds() const {
  std::lock_guard<std::mutex> lock(state_mu_);
  if (!behind_since_) {
    return 0.0;
  }
  return std::chrono::duration<double>(clock_.now() - *behind_since_).count();
}

void SnapshotCache::update_gauges() {
  const auto served = current();
  if (served) {
    generation_gauge_.Set(static_cast<double>(served->generation()));
    catalog_seq_gauge_.Set(static_cast<double>(served->catalog_seq()));
    age_gauge_.Set(
        std::max<double>(0.0, static_cast<double>(core::system_now_ms() - served->generated_at_ms()) / 1e3));
  }
  staleness_gauge_.Set(staleness_seconds());
}

void SnapshotCache::request_refresh() {
  {
    std::lock_guard<std::mutex> lock(wake_mu_);
    wake_ = true;
  }
  wake_cv_.notify_one();
}

void SnapshotCache::start() {
  if (thread_.joinable()) {
    return;
  }
  {
    std::lock_guard<std::mutex> lock(wake_mu_);
    stopping_ = false;
    wake_ = true;  // first refresh at once
  }
  {
    std::lock_guard<std::mutex> lock(gzip_mu_);
    gzip_stopping_ = false;
    gzip_wake_ = true;  // what the first refresh (before start) left pending
  }
  gzip_thread_ = std::thread([this] { run_gzip(); });
  thread_ = std::thread([this] { run(); });
}

void SnapshotCache::stop() {
  {
    std::lock_guard<std::mutex> lock(wake_mu_);
    stopping_ = true;
  }
  wake_cv_.notify_one();
  if (thread_.joinable()) {
    thread_.join();
  }
  {
    std::lock_guard<std::mutex> lock(gzip_mu_);
    gzip_stopping_ = true;
  }
  gzip_cv_.notify_one();
  if (gzip_thread_.joinable()) {
    gzip_thread_.join();
  }
}

void SnapshotCache::request_gzip() {
  {
    std::lock_guard<std::mutex> lock(gzip_mu_);
    gzip_wake_ = true;
  }
  gzip_cv_.notify_one();
}

void SnapshotCache::run_gzip() {
  // Lower priority than the loader and the I/O threads (Linux: per thread):
  // a gzip copy is a saving on the wire, never worth delaying a generation.
  if (::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), kGzipNice) != 0) {
    core::log::warn("snapshot.gzip_priority_unchanged", {{"error", std::strerror(errno)}});
  }
  // Made copies by the pending representation they replace: a generation
  // loaded meanwhile from the served one shares its pending
  // representations, and gets the same copies without compressing again.
  Generation::RepresentationMap done;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(gzip_mu_);
      gzip_cv_.wait(lock, [&] { return gzip_wake_ || gzip_stopping_; });
      if (gzip_stopping_) {
        return;
      }
      gzip_wake_ = false;
    }
    const auto served = current();
    if (!served) {
      continue;
    }
    try {
      const auto start = std::chrono::steady_clock::now();
      bool interrupted = false;
      for (const auto& rep : served->pending_gzip()) {
        if (done.count(rep) != 0) {
          continue;
        }
        done.emplace(rep, with_gzip(*rep));
        std::lock_guard<std::mutex> lock(gzip_mu_);
        if (gzip_stopping_) {
          return;
        }
        // A newer generation: apply what is made, then start from it.
        if ((interrupted = gzip_wake_)) {
          break;
        }
      }
      {
        std::lock_guard<std::mutex> lock(current_mu_);
        if (auto next = current_->with_representations(done)) {
          current_ = std::move(next);
        }
      }
      if (!interrupted) {
        core::log::info("snapshot.gzipped", {{"generation", served->generation()}, {"ms", ms_since(start)}});
      }
    } catch (const std::exception& e) {
      // Out of memory in zlib: the identity bytes keep being served.
      core::log::error("snapshot.gzip_failed", {{"error", e.what()}});
    }
    // Forget copies no generation can refer to any more.
    for (auto it = done.begin(); it != done.end();) {
      it = it->first.use_count() == 1 ? done.erase(it) : std::next(it);
    }
  }
}

void SnapshotCache::run() {
  auto next_check = clock_.now();
  for (;;) {
    bool due = false;
    {
      // Sleep in real time until the next check by the injected clock, at
      // most kGaugeInterval (gauges, and a clock moved by hand).
      std::unique_lock<std::mutex> lock(wake_mu_);
      const auto sleep = std::clamp<core::Clock::duration>(next_check - clock_.now(),
                                                           core::Clock::duration::zero(), kGaugeInterval);
      wake_cv_.wait_for(lock, sleep, [&] { return wake_ || stopping_; });
      if (stopping_) {
        return;
      }
      due = wake_ || clock_.now() >= next_check;
      wake_ = false;
    }
    if (due) {
      try {
        refresh();
      } catch (const std::exception& e) {
        // Out of memory or a zlib failure while indexing: keep serving.
        loads_.Add({{"result", "failed"}}).Increment();
        core::log::error("snapshot.load_failed", {{"error", e.what()}});
      }
      next_check = clock_.now() + options_.check_interval;
    }
    update_gauges();
  }
}

}  // namespace cocktail::read_service

#include "cocktail/regen_service/scrubber.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "cocktail/core/log.h"

namespace cocktail::regen_service {
namespace {

namespace log = core::log;

// Thrown out of a paced read when the scrubber stops.
struct Stopped {};

const char* reason_of(snapshot::ReadErrorKind kind) {
  switch (kind) {
    case snapshot::ReadErrorKind::kCorrupt: return "corrupt";
    case snapshot::ReadErrorKind::kMalformed: return "malformed";
    default: return "not_found";
  }
}

bool checkable(const std::string& file) {
  return file == "CURRENT" || file == snapshot::kManifestName || snapshot::is_valid_file_name(file);
}

prometheus::Family<prometheus::Counter>& repair_requests(metrics::MetricsRegistry& registry) {
  return registry.counter("cocktail_regen_repair_requests_total",
                          "Checks a reader asked for (analytics.repair), by result: confirmed (the file "
                          "failed here too), dismissed (it verified, or is no longer current), dropped "
                          "(not a snapshot file name, or too many waiting), merged (into the same check "
                          "already waiting)");
}

constexpr std::chrono::milliseconds kMaxSleep{100};
constexpr int kPassRounds = 5;  // generations a pass follows when CURRENT moves under it

}  // namespace

Scrubber::Scrubber(ScrubberOptions options, const core::Clock& clock, const snapshot::SnapshotStore& store,
                   metrics::MetricsRegistry& registry, std::function<void(const ScrubFinding&)> on_bad)
    : options_(options),
      clock_(clock),
      store_(store),
      on_bad_(std::move(on_bad)),
      tokens_(static_cast<double>(options.bytes_per_second)),
      refilled_(clock.now()),
      bytes_read_(registry
                      .counter("cocktail_regen_scrub_bytes_read_total",
                               "Bytes of snapshot files read back and verified by the scrubber")
                      .Add({})),
      passes_(registry
                  .counter("cocktail_regen_scrub_passes_total",
                           "Completed scrub passes over the current generation")
                  .Add({})),
      last_pass_(registry
                     .gauge("cocktail_regen_scrub_last_pass_timestamp_seconds",
                            "Unix time the last scrub pass ended (0: none since start)")
                     .Add({})),
      confirmed_(repair_requests(registry).Add({{"result", "confirmed"}})),
      dismissed_(repair_requests(registry).Add({{"result", "dismissed"}})),
      dropped_(repair_requests(registry).Add({{"result", "dropped"}})),
      merged_(repair_requests(registry).Add({{"result", "merged"}})) {}

Scrubber::~Scrubber() { stop(); }

void Scrubber::start() {
  if (thread_.joinable()) {
    return;
  }
  thread_ = std::thread([this] { run(); });
}

void Scrubber::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

bool Scrubber::check(const std::string& file) {
  {
    std::lock_guard lock(mu_);
    if (!checkable(file) || pending_.size() >= kMaxPendingChecks) {
      ++stats_.requests_dropped;
      dropped_.Increment();
      return false;
    }
    if (std::find(pending_.begin(), pending_.end(), file) != pending_.end()) {
      ++stats_.requests_merged;
      merged_.Increment();
      return true;
    }
    pending_.push_back(file);
  }
  cv_.notify_all();
  return true;
}

void Scrubber::wake() { cv_.notify_all(); }

ScrubberStats Scrubber::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

bool Scrubber::stopping() const {
  std::lock_guard lock(mu_);
  return stopping_;
}

void Scrubber::run() {
  auto next_pass = clock_.now();  // the first pass at start
  const bool passes = options_.interval > std::chrono::milliseconds::zero();
  try {
    for (;;) {
      if (!serve_requests()) {
        return;
      }
      if (passes && clock_.now() >= next_pass) {
        pass();
        if (stopping()) {
          return;
        }
        next_pass = clock_.now() + options_.interval;
        const std::int64_t now_ms = core::system_now_ms();
        {
          std::lock_guard lock(mu_);
          ++stats_.passes;
          stats_.last_pass_wall_ms = now_ms;
        }
        passes_.Increment();
        last_pass_.Set(static_cast<double>(now_ms) / 1000.0);
        continue;
      }
      std::unique_lock lock(mu_);
      if (stopping_) {
        return;
      }
      if (!pending_.empty()) {
        continue;
      }
      auto sleep = kMaxSleep;
      if (passes) {
        sleep = std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(next_pass - clock_.now()),
                           std::chrono::milliseconds(1), kMaxSleep);
      }
      cv_.wait_for(lock, sleep, [&] { return stopping_ || !pending_.empty(); });
    }
  } catch (const Stopped&) {
    return;
  }
}

bool Scrubber::serve_requests() {
  for (;;) {
    std::string file;
    {
      std::lock_guard lock(mu_);
      if (stopping_) {
        return false;
      }
      if (pending_.empty()) {
        return true;
      }
      file = pending_.front();  // stays queued (so not queued twice) until checked
    }
    Outcome outcome = Outcome::kSkipped;
    try {
      outcome = check_now(file, /*requested=*/true);
    } catch (const Stopped&) {
      throw;
    } catch (const std::exception& e) {
      log::error("regen.scrub_error", {{"file", file}, {"error", e.what()}});
    }
    std::lock_guard lock(mu_);
    pending_.pop_front();  // only this thread removes: still `file`
    if (outcome == Outcome::kBad) {
      ++stats_.requests_confirmed;
      confirmed_.Increment();
    } else {
      ++stats_.requests_dismissed;
      dismissed_.Increment();
    }
  }
}

void Scrubber::pass() {
  std::vector<snapshot::FileStamp> verified;  // this pass, by stamp
  for (int round = 0; round < kPassRounds; ++round) {
    auto current = store_.current_generation();
    if (!current.ok()) {
      check_now("CURRENT", false);
      return;
    }
    const std::int64_t g = current.value();
    auto manifest = store_.read_manifest(g);
    if (!manifest.ok()) {
      if (report(g, std::string(snapshot::kManifestName), manifest.error(), false) == Outcome::kMoved) {
        continue;
      }
      return;
    }
    bool moved = false;
    for (const auto& [name, entry] : manifest->files) {
      if (!serve_requests()) {
        return;
      }
      const auto stamp = store_.stamp(g, name);
      if (stamp && std::find(verified.begin(), verified.end(), *stamp) != verified.end()) {
        continue;
      }
      const auto error = store_.verify_file(manifest.value(), name, [this](std::size_t n) { pace(n); });
      if (!error) {
        if (stamp) {
          verified.push_back(*stamp);
        }
        continue;
      }
      if (report(g, name, *error, false) == Outcome::kMoved) {
        moved = true;
        break;
      }
    }
    if (!moved) {
      return;
    }
  }
}

Scrubber::Outcome Scrubber::check_now(const std::string& file, bool requested) {
  auto current = store_.current_generation();
  if (!current.ok()) {
    const auto& e = current.error();
    if (e.kind == snapshot::ReadErrorKind::kNoSnapshot) {
      // Nothing was ever published, or CURRENT was removed while complete
      // generations are there to be current.
      for (std::int64_t g : store_.generations()) {
        if (store_.read_manifest(g).ok()) {
          return report(0, "CURRENT",
                        snapshot::ReadError{
                            snapshot::ReadErrorKind::kNotFound, "v1/CURRENT",
                            "v1/CURRENT is missing while generation " + std::to_string(g) + " is complete"},
                        requested);
        }
      }
      return Outcome::kSkipped;
    }
    return report(0, "CURRENT", e, requested);
  }
  if (file == "CURRENT") {
    return Outcome::kGood;
  }
  const std::int64_t g = current.value();
  auto manifest = store_.read_manifest(g);
  if (!manifest.ok()) {
    return report(g, std::string(snapshot::kManifestName), manifest.error(), requested);
  }
  if (file == snapshot::kManifestName) {
    return Outcome::kGood;
  }
  if (manifest->files.count(file) == 0) {
    return Outcome::kSkipped;
  }
  const auto error = store_.verify_file(manifest.value(), file, [this](std::size_t n) { pace(n); });
  if (!error) {
    return Outcome::kGood;
  }
  return report(g, file, *error, requested);
}

Scrubber::Outcome Scrubber::report(std::int64_t generation, const std::string& file,
                                   const snapshot::ReadError& error, bool requested) {
  using Kind = snapshot::ReadErrorKind;
  if (error.kind == Kind::kNotFound && generation > 0) {
    // Missing only matters while CURRENT still names the generation (gc
    // removes generations that stopped being current).
    auto now = store_.current_generation();
    if (!now.ok() || now.value() != generation) {
      return Outcome::kMoved;
    }
  }
  if (error.kind == Kind::kIo || (error.kind == Kind::kNoSnapshot && generation > 0)) {
    log::warn("regen.scrub_unreadable",
              {{"generation", generation}, {"file", file}, {"error", error.message}});
    return Outcome::kSkipped;
  }
  ScrubFinding finding{generation, file, reason_of(error.kind), error.message, requested};
  log::error("regen.scrub_failed", {{"generation", generation},
                                    {"file", file},
                                    {"reason", finding.reason},
                                    {"requested", requested},
                                    {"error", error.message}});
  if (on_bad_) {
    on_bad_(finding);
  }
  return Outcome::kBad;
}

void Scrubber::pace(std::size_t bytes) {
  bytes_read_.Increment(static_cast<double>(bytes));
  std::unique_lock lock(mu_);
  stats_.bytes_read += bytes;
  if (stopping_) {
    throw Stopped{};
  }
  const auto rate = static_cast<double>(options_.bytes_per_second);
  if (rate <= 0) {
    return;
  }
  auto refill = [&] {
    const auto now = clock_.now();
    const double elapsed = std::chrono::duration<double>(now - refilled_).count();
    if (elapsed > 0) {
      tokens_ = std::min(rate, tokens_ + rate * elapsed);
    }
    refilled_ = now;
  };
  refill();
  tokens_ -= static_cast<double>(bytes);
  while (tokens_ < 0) {
    const auto wait = std::chrono::duration<double>(-tokens_ / rate);
    cv_.wait_for(lock, std::min<std::chrono::duration<double>>(wait, kMaxSleep), [&] { return stopping_; });
    if (stopping_) {
      throw Stopped{};
    }
    refill();
  }
}

}  // namespace cocktail::regen_service

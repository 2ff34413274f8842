#include "cocktail/regen_service/regenerator.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "cocktail/analytics/envelope.h"
#include "cocktail/catalog/database.h"
#include "cocktail/catalog/state.h"
#include "cocktail/core/log.h"
#include "cocktail/core/time.h"
#include "cocktail/regen_service/cocktail_space_producer.h"
#include "cocktail/regen_service/exact_producer.h"
#include "cocktail/snapshot/sha256.h"

namespace cocktail::regen_service {
namespace {

// Thrown inside a run to carry the stage that failed out to one catch.
struct StageFailure {
  std::string stage;
  std::string reason;
};

// Thrown inside a run when the cancellation flag is seen; `before` names the
// stage that would have come next.
struct Cancelled {
  std::string before;
};

void check_cancel(const std::atomic<bool>* cancel, const char* before) {
  if (cancel != nullptr && cancel->load(std::memory_order_relaxed)) {
    throw Cancelled{before};
  }
}

RunFailure failed(const StageFailure& f) {
  core::log::error("regen.failed", {{"stage", f.stage}, {"error", f.reason}});
  return RunFailure{f.stage, f.reason, false};
}

RunFailure cancelled(const Cancelled& c) {
  core::log::warn("regen.cancelled", {{"before", c.before}});
  return RunFailure{c.before, "stopped before " + c.before, true};
}

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

template <typename F>
decltype(auto) stage(const char* name, std::vector<std::pair<std::string, double>>& durations, F&& f) {
  const auto start = std::chrono::steady_clock::now();
  try {
    if constexpr (std::is_void_v<decltype(f())>) {
      f();
      durations.emplace_back(name, ms_since(start));
    } else {
      decltype(auto) result = f();
      durations.emplace_back(name, ms_since(start));
      return result;
    }
  } catch (const StageFailure&) {
    throw;
  } catch (const Cancelled&) {
    throw;
  } catch (const std::exception& e) {
    throw StageFailure{name, e.what()};
  }
}

std::string describe(const char* what, std::int64_t n) { return std::to_string(n) + " " + what; }

void model_warnings(const analytics::CatalogModel::Anomalies& a, std::vector<std::string>& out) {
  if (a.rows_with_unknown_recipe > 0) {
    out.push_back(
        describe("recipe_ingredients rows name a missing recipe; ignored", a.rows_with_unknown_recipe));
  }
  if (a.rows_with_unknown_ingredient > 0) {
    out.push_back(describe("recipe_ingredients rows name a missing ingredient; ignored",
                           a.rows_with_unknown_ingredient));
  }
  if (a.ingredients_with_unknown_parent > 0) {
    out.push_back(describe("ingredients name a missing parent", a.ingredients_with_unknown_parent));
  }
  if (a.ingredients_without_path > 0) {
    out.push_back(
        describe("ingredients have no path; counted for themselves only", a.ingredients_without_path));
  }
  if (a.ingredients_unreachable > 0) {
    out.push_back(
        describe("ingredients are not under any root; left out of the tree", a.ingredients_unreachable));
  }
}

}  // namespace

std::string RunFailure::message() const {
  return cancelled ? "cancelled before " + stage : stage + ": " + reason;
}

std::vector<std::unique_ptr<Producer>> default_producers(const analytics::CocktailSpaceOptions& space) {
  std::vector<std::unique_ptr<Producer>> out;
  out.push_back(std::make_unique<ExactAnalyticsProducer>());
  out.push_back(std::make_unique<CocktailSpaceProducer>(space));
  return out;
}

Regenerator::Regenerator(RegeneratorSettings settings, snapshot::SnapshotStore& store,
                         std::vector<std::unique_ptr<Producer>> producers)
    : settings_(std::move(settings)), store_(store), producers_(std::move(producers)) {
  if (!settings_.now_ms) {
    settings_.now_ms = core::system_now_ms;
  }
}

std::vector<Producer*> Regenerator::producers(Lane lane) const {
  std::vector<Producer*> out;  // in the given order
  for (const auto& p : producers_) {
    if (lane == Lane::kAll || p->slow() == (lane == Lane::kSlow)) {
      out.push_back(p.get());
    }
  }
  return out;
}

bool Regenerator::concurrent_lanes() const {
  return settings_.split_lanes && !producers(Lane::kFast).empty() && !producers(Lane::kSlow).empty();
}

std::optional<std::int64_t> Regenerator::slow_lane_seq(const snapshot::Manifest& manifest) const {
  if (!concurrent_lanes()) {
    return std::nullopt;
  }
  for (const Producer* p : producers(Lane::kSlow)) {
    for (const auto& file : p->outputs()) {
      if (manifest.files.count(file) == 0) {
        return 0;
      }
    }
  }
  std::int64_t seq = manifest.catalog_seq;
  for (const auto& [name, entry] : manifest.files) {
    seq = std::min(seq, entry.catalog_seq.value_or(manifest.catalog_seq));
  }
  return seq;
}

void Regenerator::distrust(const std::string& file) {
  std::lock_guard lock(known_mu_);
  known_.erase(file);
}

std::shared_ptr<LoadedCatalog> Regenerator::load(const std::atomic<bool>* cancel, RegenSummary& summary) {
  auto& durations = summary.durations_ms;
  auto db = stage("open", durations, [&] {
    catalog::DatabaseOptions options;
    options.read_only = true;
    options.one_read = true;
    options.create_if_missing = false;
    return catalog::Database::open(settings_.db_path, options);
  });
  auto loaded = std::make_shared<LoadedCatalog>();
  loaded->state = stage("load", durations, [&] { return catalog::load_state(*db); });
  db.reset();  // ends the read; nothing below touches the catalog
  summary.catalog_seq = loaded->state.catalog_seq;
  check_cancel(cancel, "model");
  loaded->model = stage("model", durations, [&] { return analytics::CatalogModel::build(loaded->state); });
  model_warnings(loaded->model.anomalies(), summary.warnings);
  return loaded;
}

void Regenerator::produce(const std::vector<Producer*>& producers, const ProducerContext& context,
                          const std::atomic<bool>* cancel, RegenSummary& summary,
                          std::vector<Artifact>& artifacts) {
  auto& durations = summary.durations_ms;
  for (Producer* producer : producers) {
    const std::string stage_name = "produce." + std::string(producer->name());
    check_cancel(cancel, stage_name.c_str());
    ProducerOutput out;
    stage(stage_name.c_str(), durations, [&] { producer->produce(context, out); });
    // The producer's own stages go before its total.
    durations.insert(durations.end() - 1, out.durations_ms.begin(), out.durations_ms.end());
    summary.warnings.insert(summary.warnings.end(), out.warnings.begin(), out.warnings.end());
    for (auto& a : out.artifacts) {
      for (const auto& seen : artifacts) {
        if (seen.file_name == a.file_name) {
          throw StageFailure{stage_name, "file " + a.file_name + " produced twice"};
        }
      }
      if (a.count) {
        summary.counts.emplace_back(a.analytics_type, *a.count);
      }
      artifacts.push_back(std::move(a));
    }
  }
}

Regenerator::Usable Regenerator::usable(std::int64_t g, const snapshot::Manifest& manifest,
                                        const std::string& name) {
  const auto entry = manifest.files.find(name);
  if (entry == manifest.files.end()) {
    return Usable::kNotListed;
  }
  const auto stamp = store_.stamp(g, name);
  if (!stamp || stamp->bytes != entry->second.bytes) {
    core::log::warn("regen.carry_unusable",
                    {{"generation", g}, {"file", name}, {"error", stamp ? "wrong size" : "missing"}});
    return Usable::kBad;
  }
  {
    std::lock_guard lock(known_mu_);
    const auto it = known_.find(name);
    if (it != known_.end() && it->second.stamp == *stamp && it->second.sha256 == entry->second.sha256) {
      return Usable::kYes;
    }
  }
  // Not written or verified by this process as it is now: read it once.
  if (auto error = store_.verify_file(manifest, name)) {
    core::log::warn("regen.carry_unusable", {{"generation", g}, {"file", name}, {"error", error->message}});
    return Usable::kBad;
  }
  std::lock_guard lock(known_mu_);
  known_[name] = Known{*stamp, entry->second.sha256};
  return Usable::kYes;
}

Regenerator::Carry Regenerator::plan_carry(const std::vector<Artifact>& fresh, RegenSummary& summary) {
  Carry out;
  // Sources, newest first: CURRENT's generation and older ones; every
  // complete generation when CURRENT itself cannot be read.
  std::vector<std::int64_t> candidates = store_.generations();
  std::sort(candidates.rbegin(), candidates.rend());
  const auto current = store_.current_generation();
  if (current.ok()) {
    std::erase_if(candidates, [&](std::int64_t g) { return g > current.value(); });
  } else if (current.error().kind != snapshot::ReadErrorKind::kNoSnapshot) {
    summary.warnings.push_back("current generation unreadable: " + current.error().message);
  } else if (candidates.empty()) {
    return out;  // the very first generation: nothing to carry
  }
  // Older generations are looked at only for files the newest cannot give,
  // and only a few of them.
  constexpr std::size_t kMaxSources = 8;
  if (candidates.size() > kMaxSources) {
    candidates.resize(kMaxSources);
  }
  std::vector<std::optional<snapshot::Manifest>> manifests(candidates.size());
  auto manifest_of = [&](std::size_t i) -> const snapshot::Manifest* {
    if (!manifests[i]) {
      auto m = store_.read_manifest(candidates[i]);
      if (!m.ok()) {
        summary.warnings.push_back("generation " + std::to_string(candidates[i]) +
                                   " not carried from: " + m.error().message);
        manifests[i] = snapshot::Manifest{};  // generation 0: unusable, asked once
        return nullptr;
      }
      manifests[i] = std::move(m).value();
    }
    return manifests[i]->generation == 0 ? nullptr : &*manifests[i];
  };
  std::size_t base = 0;
  while (base < candidates.size() && manifest_of(base) == nullptr) {
    ++base;
  }
  if (base == candidates.size()) {
    return out;
  }
  const snapshot::Manifest& newest = *manifest_of(base);
  for (const auto& [name, entry] : newest.files) {
    const bool is_fresh = std::any_of(fresh.begin(), fresh.end(),
                                      [&file = name](const Artifact& a) { return a.file_name == file; });
    if (is_fresh) {
      continue;
    }
    bool found = false;
    // Copies found bad, by inode: older generations that carried the same
    // copy by hard link share it, and are not read again.
    std::vector<snapshot::FileStamp> bad;
    auto same_inode = [](const snapshot::FileStamp& a, const snapshot::FileStamp& b) {
      return a.device == b.device && a.inode == b.inode;
    };
    for (std::size_t i = base; i < candidates.size() && !found; ++i) {
      const snapshot::Manifest* m = manifest_of(i);
      if (m == nullptr || m->files.count(name) == 0) {
        continue;
      }
      const auto stamp = store_.stamp(candidates[i], name);
      if (stamp &&
          std::any_of(bad.begin(), bad.end(), [&](const auto& b) { return same_inode(b, *stamp); })) {
        continue;
      }
      if (usable(candidates[i], *m, name) != Usable::kYes) {
        if (stamp) {
          bad.push_back(*stamp);
        }
        if (i == base) {
          summary.corrupt_files.push_back(name);
        }
        continue;
      }
      snapshot::FileEntry from = m->files.at(name);
      from.catalog_seq = m->file_catalog_seq(name);
      out.files.push_back(Carried{name, candidates[i], std::move(from)});
      if (i != base) {
        summary.warnings.push_back(name + " carried from generation " + std::to_string(candidates[i]) +
                                   ": the newer copy is unusable");
      }
      found = true;
    }
    if (!found) {
      out.lost.insert(name);
    }
  }
  return out;
}

void Regenerator::produce_and_commit(Lane lane, const ProducerContext& context,
                                     const std::atomic<bool>* cancel, RegenSummary& summary) {
  std::vector<Artifact> artifacts;
  produce(producers(lane), context, cancel, summary, artifacts);
  if (lane == Lane::kSlow) {
    commit_staged(context, cancel, summary, artifacts);
    return;
  }
  std::unique_lock lock(commit_mu_, std::defer_lock);
  stage("wait.store", summary.durations_ms, [&] { lock.lock(); });
  std::vector<Carried> carried;
  if (lane == Lane::kFast) {
    carried = stage("carry", summary.durations_ms,
                    [&] { return carry_or_recompute(Lane::kFast, context, cancel, summary, artifacts); });
  }
  const char* stage_name = lane == Lane::kFast ? "write.fast" : "write";
  check_cancel(cancel, stage_name);
  ensure_space(stage_name, space_needed(artifacts, carried.size()), 0, summary);
  summary.generated_at_ms = settings_.now_ms();
  snapshot::WriteTimings timings;
  stage(stage_name, summary.durations_ms, [&] {
    snapshot::GenerationWriter writer = store_.begin_generation();
    summary.generation = writer.generation();
    add_artifacts(writer, artifacts, 0, summary);
    timings = link_and_commit(writer, carried, cancel, summary);
  });
  finish_write(stage_name, timings, artifacts, summary);
}

void Regenerator::commit_staged(const ProducerContext& context, const std::atomic<bool>* cancel,
                                RegenSummary& summary, std::vector<Artifact>& artifacts) {
  check_cancel(cancel, "write");
  // The bytes first, durable, outside every lock: the fast lane commits
  // beside them (the writer's directory is its own until it commits). A
  // bare file whose bytes are those of the current generation's (a matrix
  // recomputed from a state that did not change it) is linked instead.
  std::optional<snapshot::GenerationWriter> writer;
  std::vector<Carried> same_bytes;
  stage("write.stage", summary.durations_ms, [&] {
    same_bytes = same_as_current(artifacts, summary.catalog_seq, summary);
    {
      // Room for the new files and the fast lane's reserve, or fail before
      // writing a byte. Under commit_mu_: make_room never removes a
      // generation the fast lane's carry is about to link from.
      std::lock_guard lock(commit_mu_);
      ensure_space("write", space_needed(artifacts, 0, same_bytes), settings_.min_free_bytes, summary);
    }
    summary.generated_at_ms = settings_.now_ms();
    writer.emplace(store_.stage_generation());
    summary.generation = writer->generation();
    add_artifacts(*writer, artifacts, 0, summary, same_bytes);
    writer->flush();
  });
  // Then, under the lock, what CURRENT names is carried and the manifest
  // and CURRENT are written: a fast commit's worth of work.
  std::unique_lock lock(commit_mu_, std::defer_lock);
  stage("wait.store", summary.durations_ms, [&] {
    lock.lock();
    writer->lock();
  });
  const std::size_t before = artifacts.size();
  const std::vector<Carried> carried = stage("carry", summary.durations_ms, [&] {
    return carry_or_recompute(Lane::kSlow, context, cancel, summary, artifacts);
  });
  snapshot::WriteTimings timings;
  stage("write", summary.durations_ms, [&] {
    add_artifacts(*writer, artifacts, before, summary);  // any recomputed here
    for (const auto& c : same_bytes) {
      try {
        writer->link(c.name, c.from, c.entry);
        ++summary.files_linked;
      } catch (const snapshot::SnapshotIoError&) {
        // Its generation went meanwhile (gc): written after all.
        const auto a = std::find_if(artifacts.begin(), artifacts.end(),
                                    [&](const Artifact& x) { return x.file_name == c.name; });
        writer->add(a->file_name, a->body, summary.catalog_seq);
        ++summary.files_written;
        summary.bytes_written += static_cast<std::int64_t>(a->body.size());
      }
    }
    timings = link_and_commit(*writer, carried, cancel, summary);
  });
  finish_write("write", timings, artifacts, summary);
}

std::vector<Regenerator::Carried> Regenerator::same_as_current(const std::vector<Artifact>& artifacts,
                                                               std::int64_t seq, RegenSummary& summary) {
  std::vector<Carried> out;
  const auto current = store_.current_generation();
  if (!current.ok()) {
    return out;
  }
  const auto manifest = store_.read_manifest(current.value());
  if (!manifest.ok()) {
    return out;
  }
  for (const auto& a : artifacts) {
    if (a.envelope) {
      continue;  // an envelope names its generation: never the same bytes
    }
    const auto it = manifest->files.find(a.file_name);
    if (it == manifest->files.end() || it->second.bytes != static_cast<std::int64_t>(a.body.size()) ||
        it->second.sha256 != snapshot::sha256_hex(a.body)) {
      continue;
    }
    if (usable(current.value(), manifest.value(), a.file_name) != Usable::kYes) {
      // The current copy went bad: this run's bytes replace it.
      summary.corrupt_files.push_back(a.file_name);
      continue;
    }
    out.push_back(
        Carried{a.file_name, current.value(), snapshot::FileEntry{it->second.sha256, it->second.bytes, seq}});
  }
  return out;
}

std::vector<Regenerator::Carried> Regenerator::carry_or_recompute(Lane lane, const ProducerContext& context,
                                                                  const std::atomic<bool>* cancel,
                                                                  RegenSummary& summary,
                                                                  std::vector<Artifact>& artifacts) {
  Carry carry = plan_carry(artifacts, summary);
  if (!carry.lost.empty()) {
    // No usable copy anywhere: compute them again now rather than publish a
    // generation without them.
    std::string names;
    for (const auto& n : carry.lost) {
      names += (names.empty() ? "" : ", ") + n;
    }
    summary.warnings.push_back("recomputed, no usable copy to carry: " + names);
    core::log::warn("regen.carry_recompute", {{"files", names}});
    produce(producers(lane == Lane::kFast ? Lane::kSlow : Lane::kFast), context, cancel, summary, artifacts);
    std::erase_if(carry.files, [&](const Carried& c) {
      return std::any_of(artifacts.begin(), artifacts.end(),
                         [&](const Artifact& a) { return a.file_name == c.name; });
    });
  }
  return std::move(carry.files);
}

void Regenerator::ensure_space(const char* stage_name, std::int64_t needed, std::int64_t reserve,
                               RegenSummary& summary) {
  const auto space = store_.space();
  if (!space || space->available_bytes >= needed + reserve) {
    return;
  }
  // Retention makes room before the write fails: the oldest generations
  // other than the current one go first, whatever their age or rank.
  snapshot::RetentionResult room;
  try {
    room = store_.make_room(needed + reserve, settings_.now_ms());
  } catch (const std::exception& e) {
    summary.warnings.push_back(std::string("could not make room: ") + e.what());
  }
  summary.made_room.insert(summary.made_room.end(), room.removed.begin(), room.removed.end());
  const auto after = store_.space();
  const std::int64_t available = after ? after->available_bytes : 0;
  core::log::warn("regen.made_room", {{"stage", stage_name},
                                      {"needed", needed},
                                      {"reserve", reserve},
                                      {"removed", static_cast<std::int64_t>(room.removed.size())},
                                      {"freed", room.bytes_freed},
                                      {"available", available}});
  if (!room.removed.empty()) {
    summary.warnings.push_back("removed " + std::to_string(room.removed.size()) +
                               " old generation(s) to make room (" + std::to_string(room.bytes_freed) +
                               " bytes)");
  }
  if (reserve > 0 && available < needed + reserve) {
    // Leave the last space to the fast lane: fail before writing a byte.
    throw StageFailure{
        stage_name, "not enough space on the analytics file system: " + std::to_string(needed) +
                        " bytes to write and " + std::to_string(reserve) +
                        " to keep free for the exact analytics, " + std::to_string(available) + " available"};
  }
}

std::int64_t Regenerator::space_needed(const std::vector<Artifact>& artifacts, std::size_t linked,
                                       const std::vector<Carried>& skip) {
  // What a generation adds: its new files (links cost no space), their
  // envelopes, the manifest and directory entries.
  constexpr std::int64_t kPerFile = 4096;
  constexpr std::int64_t kFixed = std::int64_t{64} * 1024;
  std::int64_t needed = kFixed + kPerFile * static_cast<std::int64_t>(linked);
  for (const auto& a : artifacts) {
    needed += kPerFile;
    if (std::none_of(skip.begin(), skip.end(), [&](const Carried& c) { return c.name == a.file_name; })) {
      needed += static_cast<std::int64_t>(a.body.size());
    }
  }
  return needed;
}

void Regenerator::add_artifacts(snapshot::GenerationWriter& writer, std::vector<Artifact>& artifacts,
                                std::size_t from, RegenSummary& summary, const std::vector<Carried>& skip) {
  for (std::size_t i = from; i < artifacts.size(); ++i) {
    Artifact& a = artifacts[i];
    if (std::any_of(skip.begin(), skip.end(), [&](const Carried& c) { return c.name == a.file_name; })) {
      continue;
    }
    if (a.envelope) {
      analytics::EnvelopeMetadata meta;
      meta.analytics_type = a.analytics_type;
      meta.generation = writer.generation();
      meta.catalog_seq = summary.catalog_seq;
      meta.generated_at_ms = summary.generated_at_ms;
      meta.extras = std::move(a.extras);
      a.body = analytics::make_envelope(a.body, meta);
      a.envelope = false;  // body now holds the file's final bytes
    }
    writer.add(a.file_name, a.body, summary.catalog_seq);
    ++summary.files_written;
    summary.bytes_written += static_cast<std::int64_t>(a.body.size());
  }
}

snapshot::WriteTimings Regenerator::link_and_commit(snapshot::GenerationWriter& writer,
                                                    const std::vector<Carried>& carried,
                                                    const std::atomic<bool>* cancel, RegenSummary& summary) {
  // The generation's seq is its newest file's: a slow lane committing an
  // older state under newer exact files never moves it backwards. (The
  // writer leaves a file seq equal to it implicit.)
  std::int64_t generation_seq = summary.catalog_seq;
  for (const auto& c : carried) {
    generation_seq = std::max(generation_seq, c.entry.catalog_seq.value_or(0));
  }
  for (const auto& c : carried) {
    writer.link(c.name, c.from, c.entry);
    ++summary.files_linked;
  }
  // The last point of no return: the writer's destructor removes the
  // partial generation, CURRENT still names the previous one.
  check_cancel(cancel, "commit");
  auto committed = writer.commit(generation_seq, summary.generated_at_ms);
  summary.generation = committed.manifest.generation;
  summary.manifest = std::move(committed.manifest);
  summary.warnings.insert(summary.warnings.end(), committed.warnings.begin(), committed.warnings.end());
  if (committed.staged_as) {
    core::log::info("regen.staged_superseded",
                    {{"staged", *committed.staged_as}, {"published", summary.generation}});
  }
  return committed.timings;
}

void Regenerator::finish_write(const char* stage_name, const snapshot::WriteTimings& timings,
                               std::vector<Artifact>& artifacts, RegenSummary& summary) {
  // Where the write's time went, after its total.
  const std::string prefix = std::string(stage_name) + ".";
  for (const auto& [step, ms] : {std::pair{"lock", timings.lock_wait_ms},
                                 {"files", timings.files_ms},
                                 {"manifest", timings.manifest_ms},
                                 {"current", timings.current_ms},
                                 {"legacy", timings.legacy_ms}}) {
    summary.durations_ms.emplace_back(prefix + step, ms);
  }
  summary.fsyncs += timings.fsyncs;
  // What this run wrote is known good as it is on disk now.
  std::lock_guard lock(known_mu_);
  for (auto& a : artifacts) {
    if (auto st = store_.stamp(summary.generation, a.file_name)) {
      known_[a.file_name] = Known{*st, summary.manifest.files.at(a.file_name).sha256};
    }
    std::string().swap(a.body);
  }
}

RunResult Regenerator::run(const std::atomic<bool>* cancel,
                           const std::function<void(const RegenSummary&)>& on_fast, bool retain) {
  const auto start = std::chrono::steady_clock::now();
  if (!concurrent_lanes()) {
    RegenSummary summary;
    summary.started = start;
    try {
      auto loaded = load(cancel, summary);
      produce_and_commit(Lane::kAll, ProducerContext{loaded->state, loaded->model}, cancel, summary);
    } catch (const StageFailure& f) {
      return failed(f);
    } catch (const Cancelled& c) {
      return cancelled(c);
    }
    if (retain) {
      this->retain(summary);
    }
    finish(summary, start);
    return summary;
  }
  std::shared_ptr<const LoadedCatalog> loaded;
  RunResult fast = run_fast(cancel, &loaded);
  if (!fast.ok()) {
    return fast;
  }
  if (on_fast) {
    on_fast(fast.value());
  }
  RunResult slow = run_slow(*loaded, cancel);
  if (!slow.ok()) {
    return slow;
  }
  // One summary for the whole run: the fast lane's counts and stages first.
  RegenSummary& s = slow.value();
  const RegenSummary& f = fast.value();
  s.fast_generation = f.generation;
  s.counts.insert(s.counts.begin(), f.counts.begin(), f.counts.end());
  s.warnings.insert(s.warnings.begin(), f.warnings.begin(), f.warnings.end());
  std::vector<std::pair<std::string, double>> durations;
  for (const auto& d : f.durations_ms) {
    durations.emplace_back(d.first == "total" ? "total.fast" : d.first, d.second);
  }
  for (const auto& d : s.durations_ms) {
    if (d.first != "total") {
      durations.push_back(d);
    }
  }
  s.durations_ms = std::move(durations);
  if (retain) {
    this->retain(s);
  }
  s.durations_ms.emplace_back("total", ms_since(start));
  s.files_written += f.files_written;
  s.bytes_written += f.bytes_written;
  s.fsyncs += f.fsyncs;
  s.started = f.started;
  s.corrupt_files.insert(s.corrupt_files.begin(), f.corrupt_files.begin(), f.corrupt_files.end());
  s.made_room.insert(s.made_room.begin(), f.made_room.begin(), f.made_room.end());
  if (f.retention) {
    if (!s.retention) {
      s.retention = snapshot::RetentionResult{};
    }
    s.retention->removed.insert(s.retention->removed.begin(), f.retention->removed.begin(),
                                f.retention->removed.end());
  }
  return slow;
}

RunResult Regenerator::run_fast(const std::atomic<bool>* cancel,
                                std::shared_ptr<const LoadedCatalog>* loaded) {
  const auto start = std::chrono::steady_clock::now();
  RegenSummary summary;
  summary.started = start;
  try {
    auto next = load(cancel, summary);
    produce_and_commit(Lane::kFast, ProducerContext{next->state, next->model}, cancel, summary);
    summary.fast_generation = summary.generation;
    if (loaded != nullptr) {
      *loaded = std::move(next);
    }
  } catch (const StageFailure& f) {
    return failed(f);
  } catch (const Cancelled& c) {
    return cancelled(c);
  }
  finish(summary, start);
  return summary;
}

RunResult Regenerator::run_slow(const LoadedCatalog& loaded, const std::atomic<bool>* cancel) {
  const auto start = std::chrono::steady_clock::now();
  RegenSummary summary;
  summary.started = start;
  summary.catalog_seq = loaded.state.catalog_seq;
  try {
    produce_and_commit(Lane::kSlow, ProducerContext{loaded.state, loaded.model}, cancel, summary);
    summary.catalog_seq = summary.manifest.catalog_seq;
  } catch (const StageFailure& f) {
    return failed(f);
  } catch (const Cancelled& c) {
    return cancelled(c);
  }
  finish(summary, start);
  return summary;
}

void Regenerator::retain(RegenSummary& summary) {
  if (!settings_.retention) {
    return;
  }
  // Published. Retention problems are warnings: they never undo a snapshot.
  try {
    summary.retention = stage("gc", summary.durations_ms, [&] {
      // Not while the other lane is committing its generation.
      std::lock_guard lock(commit_mu_);
      return store_.collect_garbage(*settings_.retention, /*dry_run=*/false, settings_.now_ms());
    });
  } catch (const StageFailure& f) {
    summary.warnings.push_back("retention failed: " + f.reason);
  }
}

void Regenerator::finish(RegenSummary& summary, std::chrono::steady_clock::time_point start) {
  auto& durations = summary.durations_ms;
  durations.emplace_back("total", ms_since(start));
  core::log::info("regen.done", {{"generation", summary.generation},
                                 {"seq", summary.catalog_seq},
                                 {"ms", durations.back().second},
                                 {"written", summary.files_written},
                                 {"linked", summary.files_linked},
                                 {"fsyncs", summary.fsyncs},
                                 {"warnings", static_cast<std::int64_t>(summary.warnings.size())}});
}

namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void text(Writer& w, std::string_view s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); }

// The batch summary's older shape, beside `counts`: one "<type>_count" key
// per analytic ('-' spelled '_': "cocktail_space_em_count"), plus the three
// keys whose names did not follow the type.
void write_flat_counts(Writer& w, const std::vector<std::pair<std::string, std::int64_t>>& counts) {
  static constexpr std::pair<std::string_view, std::string_view> kOlderNames[] = {
      {"ingredient-usage", "ingredient_stats_count"},
      {"recipe-complexity", "complexity_stats_count"},
      {"ingredient-tree", "ingredient_tree_nodes"}};
  for (const auto& [type, n] : counts) {
    std::string key = type;
    std::replace(key.begin(), key.end(), '-', '_');
    text(w, key + "_count");
    w.Int64(n);
  }
  for (const auto& [type, key] : kOlderNames) {
    const auto it = std::find_if(counts.begin(), counts.end(),
                                 [&older = type](const auto& c) { return c.first == older; });
    if (it != counts.end()) {
      text(w, key);
      w.Int64(it->second);
    }
  }
}

}  // namespace

std::string summary_json(const RegenSummary& s) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("status");
  w.String("success");
  w.Key("message");
  w.String("Analytics regenerated successfully");
  w.Key("generation");
  w.Int64(s.generation);
  w.Key("catalog_seq");
  w.Int64(s.catalog_seq);
  w.Key("generated_at");
  text(w, core::format_utc_iso8601(s.generated_at_ms));
  w.Key("counts");
  w.StartObject();
  for (const auto& [type, n] : s.counts) {
    text(w, type);
    w.Int64(n);
  }
  w.EndObject();
  write_flat_counts(w, s.counts);
  w.Key("durations_ms");
  w.StartObject();
  for (const auto& [name, ms] : s.durations_ms) {
    text(w, name);
    w.Double(static_cast<double>(std::llround(ms * 1000.0)) / 1000.0);  // microsecond precision
  }
  w.EndObject();
  w.Key("warnings");
  w.StartArray();
  for (const auto& warning : s.warnings) {
    text(w, warning);
  }
  w.EndArray();
  w.Key("files");
  w.StartObject();
  for (const auto& [name, entry] : s.manifest.files) {
    text(w, name);
    w.StartObject();
    w.Key("sha256");
    text(w, entry.sha256);
    w.Key("bytes");
    w.Int64(entry.bytes);
    w.EndObject();
  }
  w.EndObject();
  if (s.retention) {
    w.Key("removed_generations");
    w.StartArray();
    for (const auto& g : s.retention->removed) {
      w.Int64(g.generation);
    }
    w.EndArray();
  }
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

std::string failure_json(const RunFailure& failure) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("status");
  w.String("error");
  w.Key("error");
  w.String("Failed to regenerate analytics");
  w.Key("stage");
  text(w, failure.stage);
  w.Key("details");
  text(w, failure.message());
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace cocktail::regen_service

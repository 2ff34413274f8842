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

namespace cocktail::regen {
namespace {

// Thrown inside run() to carry the stage that failed out to one catch.
struct StageFailure {
  std::string stage;
  std::string reason;
};

// Thrown inside run() when the cancellation flag is seen; `before` names the
// stage that would have come next.
struct Cancelled {
  std::string before;
};

void check_cancel(const std::atomic<bool>* cancel, const char* before) {
  if (cancel != nullptr && cancel->load(std::memory_order_relaxed)) throw Cancelled{before};
}

// The error a run returns for a failed stage: the stage is the field.
core::Error failed(const StageFailure& f) {
  core::log::error("regen.failed", {{"stage", f.stage}, {"error", f.reason}});
  core::Error error = core::Error::internal(f.stage + ": " + f.reason);
  error.field = f.stage;
  return error;
}

// The error a cancelled run returns (kUnavailable, field "cancelled").
core::Error cancelled(const Cancelled& c) {
  core::log::warn("regen.cancelled", {{"before", c.before}});
  core::Error error = core::Error::internal("cancelled: stopped before " + c.before);
  error.code = core::ErrorCode::kUnavailable;
  error.field = "cancelled";
  return error;
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

void Regenerator::write(const char* stage_name, std::vector<Artifact>& artifacts,
                        const std::vector<std::pair<Artifact, std::int64_t>>& carried,
                        const std::atomic<bool>* cancel, RegenSummary& summary) {
  check_cancel(cancel, stage_name);
  summary.generated_at_ms = settings_.now_ms();
  // The generation's seq is its newest file's: a slow lane committing an
  // older state under newer exact files never moves it backwards.
  std::int64_t generation_seq = summary.catalog_seq;
  for (const auto& [file, seq] : carried) {
    generation_seq = std::max(generation_seq, seq);
  }
  std::optional<std::int64_t> fresh_seq;
  if (generation_seq != summary.catalog_seq) {
    fresh_seq = summary.catalog_seq;
  }
  stage(stage_name, summary.durations_ms, [&] {
    snapshot::GenerationWriter writer = store_.begin_generation();
    summary.generation = writer.generation();
    for (auto& a : artifacts) {
      if (a.envelope) {
        analytics::EnvelopeMetadata meta;
        meta.analytics_type = a.analytics_type;
        meta.generation = summary.generation;
        meta.catalog_seq = summary.catalog_seq;
        meta.generated_at_ms = summary.generated_at_ms;
        meta.extras = std::move(a.extras);
        a.body = analytics::make_envelope(a.body, meta);
        a.envelope = false;  // body now holds the file's final bytes
      }
      writer.add(a.file_name, a.body, fresh_seq);
    }
    for (const auto& [file, seq] : carried) {
      // A seq equal to the generation's is left implicit, as for fresh files.
      writer.add(file.file_name, file.body, seq == generation_seq ? std::nullopt : std::optional(seq));
    }
    // The last point of no return: the writer's destructor removes the
    // partial generation, CURRENT still names the previous one.
    check_cancel(cancel, "commit");
    auto committed = writer.commit(generation_seq, summary.generated_at_ms);
    summary.manifest = std::move(committed.manifest);
    summary.warnings.insert(summary.warnings.end(), committed.warnings.begin(), committed.warnings.end());
  });
}

core::Result<RegenSummary> Regenerator::run(const std::atomic<bool>* cancel,
                                            const std::function<void(const RegenSummary&)>& on_fast) {
  const auto start = std::chrono::steady_clock::now();
  RegenSummary summary;
  auto& durations = summary.durations_ms;
  try {
    auto db = stage("open", durations, [&] {
      catalog::DatabaseOptions options;
      options.read_only = true;
      options.create_if_missing = false;
      return catalog::Database::open(settings_.db_path, options);
    });
    const catalog::CatalogState state = stage("load", durations, [&] { return catalog::load_state(*db); });
    db.reset();  // ends the read; nothing below touches the catalog
    summary.catalog_seq = state.catalog_seq;
    check_cancel(cancel, "model");
    const analytics::CatalogModel model =
        stage("model", durations, [&] { return analytics::CatalogModel::build(state); });
    model_warnings(model.anomalies(), summary.warnings);
    const ProducerContext context{state, model};

    std::vector<Producer*> fast;
    std::vector<Producer*> slow;
    split(fast, slow);
    std::vector<Artifact> artifacts;
    if (!settings_.split_lanes || fast.empty() || slow.empty()) {
      std::vector<Producer*> all;  // in the given order
      for (const auto& p : producers_) all.push_back(p.get());
      produce(all, context, cancel, summary, artifacts);
      write("write", artifacts, {}, cancel, summary);
    } else {
      produce(fast, context, cancel, summary, artifacts);
      carry_and_write("write.fast", artifacts, cancel, summary);

      summary.fast_generation = summary.generation;
      if (on_fast) {
        on_fast(summary);
      }
      produce(slow, context, cancel, summary, artifacts);
      write("write", artifacts, {}, cancel, summary);
    }
    for (auto& a : artifacts) {
      std::string().swap(a.body);
    }
  } catch (const StageFailure& f) {
    return failed(f);
  } catch (const Cancelled& c) {
    return cancelled(c);
  }

  finish(summary, start);
  return summary;
}

void Regenerator::finish(RegenSummary& summary, std::chrono::steady_clock::time_point start) {
  auto& durations = summary.durations_ms;
  // Published. Retention problems are warnings: they never undo a snapshot.
  if (settings_.retention) {
    try {
      summary.retention = stage("gc", durations, [&] {
        // Not while the other lane is writing its generation.
        std::lock_guard lock(commit_mu_);
        return store_.collect_garbage(*settings_.retention, /*dry_run=*/false, settings_.now_ms());
      });
    } catch (const StageFailure& f) {
      summary.warnings.push_back("retention failed: " + f.reason);
    }
  }
  durations.emplace_back("total", ms_since(start));
  core::log::info("regen.done", {{"generation", summary.generation},
                                 {"seq", summary.catalog_seq},
                                 {"ms", durations.back().second},
                                 {"warnings", static_cast<std::int64_t>(summary.warnings.size())}});
}

void Regenerator::split(std::vector<Producer*>& fast, std::vector<Producer*>& slow) const {
  for (const auto& p : producers_) {
    (p->slow() ? slow : fast).push_back(p.get());
  }
}

bool Regenerator::concurrent_lanes() const {
  std::vector<Producer*> fast;
  std::vector<Producer*> slow;
  split(fast, slow);
  return settings_.split_lanes && !fast.empty() && !slow.empty();
}

void Regenerator::carry_and_write(const char* stage_name, std::vector<Artifact>& artifacts,
                                  const std::atomic<bool>* cancel, RegenSummary& summary) {
  std::lock_guard lock(commit_mu_);
  // Everything else the current generation holds comes along unchanged,
  // with the seq it was computed from.
  std::vector<std::pair<Artifact, std::int64_t>> carried;
  stage("carry", summary.durations_ms, [&] {
    auto current = store_.read_current();
    if (!current.ok()) {
      if (current.error().kind != snapshot::ReadErrorKind::kNoSnapshot) {
        summary.warnings.push_back("nothing carried forward: " + current.error().message);
      }
      return;
    }
    for (auto& [name, bytes] : current->files) {
      const bool fresh = std::any_of(artifacts.begin(), artifacts.end(),
                                     [&file = name](const Artifact& a) { return a.file_name == file; });
      if (fresh) {
        continue;
      }
      Artifact file;
      file.file_name = name;
      file.body = std::move(bytes);
      file.envelope = false;
      carried.emplace_back(std::move(file), *current->manifest.file_catalog_seq(name));
    }
  });
  write(stage_name, artifacts, carried, cancel, summary);
}

core::Result<RegenSummary> Regenerator::run_fast(const std::atomic<bool>* cancel,
                                                 std::shared_ptr<const LoadedCatalog>& loaded) {
  const auto start = std::chrono::steady_clock::now();
  RegenSummary summary;
  auto& durations = summary.durations_ms;
  try {
    auto db = stage("open", durations, [&] {
      catalog::DatabaseOptions options;
      options.read_only = true;
      options.create_if_missing = false;
      return catalog::Database::open(settings_.db_path, options);
    });
    auto next = std::make_shared<LoadedCatalog>();
    next->state = stage("load", durations, [&] { return catalog::load_state(*db); });
    db.reset();  // ends the read; nothing below touches the catalog
    summary.catalog_seq = next->state.catalog_seq;
    check_cancel(cancel, "model");
    next->model = stage("model", durations, [&] { return analytics::CatalogModel::build(next->state); });
    model_warnings(next->model.anomalies(), summary.warnings);
    const ProducerContext context{next->state, next->model};
    std::vector<Producer*> fast;
    std::vector<Producer*> slow;
    split(fast, slow);
    std::vector<Artifact> artifacts;
    produce(fast, context, cancel, summary, artifacts);
    carry_and_write("write.fast", artifacts, cancel, summary);
    summary.fast_generation = summary.generation;
    loaded = std::move(next);
  } catch (const StageFailure& f) {
    return failed(f);
  } catch (const Cancelled& c) {
    return cancelled(c);
  }
  finish(summary, start);
  return summary;
}

core::Result<RegenSummary> Regenerator::run_slow(const LoadedCatalog& loaded,
                                                 const std::atomic<bool>* cancel) {
  const auto start = std::chrono::steady_clock::now();
  RegenSummary summary;
  summary.catalog_seq = loaded.state.catalog_seq;
  try {
    const ProducerContext context{loaded.state, loaded.model};
    std::vector<Producer*> fast;
    std::vector<Producer*> slow;
    split(fast, slow);
    std::vector<Artifact> artifacts;
    produce(slow, context, cancel, summary, artifacts);
    carry_and_write("write", artifacts, cancel, summary);
    summary.catalog_seq = summary.manifest.catalog_seq;
  } catch (const StageFailure& f) {
    return failed(f);
  } catch (const Cancelled& c) {
    return cancelled(c);
  }
  finish(summary, start);
  return summary;
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

std::string failure_json(const core::Error& error) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("status");
  w.String("error");
  w.Key("error");
  w.String("Failed to regenerate analytics");
  w.Key("stage");
  text(w, error.field);
  w.Key("details");
  text(w, error.message);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace cocktail::regen

#include "cocktail/read_service/read_api.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <set>

#include "cocktail/core/log.h"
#include "cocktail/core/time.h"
#include "cocktail/core/utf8.h"
#include "cocktail/http/errors.h"
#include "cocktail/http/negotiation.h"

namespace cocktail::read_service {
namespace {

using http::Field;
using http::Method;
using http::Request;
using http::Responder;
using http::Response;
using http::Status;
using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

constexpr std::string_view kPrefix = "/api/v1/analytics/";
constexpr std::string_view kMinSeqHeader = "X-Min-Catalog-Seq";
// Representations change whenever a generation is swapped in, at a moment
// nobody can predict, so no freshness lifetime is given: caches may store
// them but must revalidate every time (cheap: a 304 from memory).
constexpr std::string_view kRevalidate = "no-cache";
constexpr std::string_view kNoStore = "no-store";

bool write(JsonWriter& w, std::string_view s) {
  return w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

std::string json_list(const std::vector<std::string>& items) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartArray();
  for (const auto& i : items) {
    write(w, i);
  }
  w.EndArray();
  return std::string(buf.GetString(), buf.GetSize());
}

// An analytic type as it may appear in a path: what snapshot file names
// allow, minus the dots. Anything else is unknown without looking further.
bool plausible_type(std::string_view type) {
  if (type.empty() || type.size() > 64) {
    return false;
  }
  return std::all_of(type.begin(), type.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

void stamp(Response& r, const Generation& g) {
  r.set_header("X-Analytics-Generation", g.generation_text());
  r.set_header("X-Catalog-Seq", g.catalog_seq_text());
}

// A Representation as the response to `request` (304, gzip or identity),
// to be revalidated before each reuse.
Response revalidated(const Request& request, const Representation& rep) {
  Response r = http::represent(request, rep);
  r.set_header(Field::cache_control, kRevalidate);
  return r;
}

Response revalidated(const Request& request, const Representation& rep, const Generation& g) {
  Response r = revalidated(request, rep);
  stamp(r, g);
  return r;
}

Response bad(const core::Error& e) { return http::error_response(e); }

}  // namespace

const std::vector<std::string>& known_analytics_types() {
  // The enveloped JSON analytics of the artifact table, sorted.
  static const std::vector<std::string> kTypes = [] {
    std::vector<std::string> types;
    for (const auto& a : analytics::kArtifacts) {
      if (a.form == analytics::ArtifactForm::kEnvelopedJson) {
        types.emplace_back(a.type);
      }
    }
    std::sort(types.begin(), types.end());
    return types;
  }();
  return kTypes;
}

ReadApi::ReadApi(ReadApiOptions options, SnapshotCache& cache, CatalogSeqWaiters& waiters,
                 GenerationAnnouncer& announcer, http::BlockingExecutor& executor, const LiveAnalytics* live)
    : options_(options),
      cache_(cache),
      waiters_(waiters),
      announcer_(announcer),
      executor_(executor),
      live_(live) {}

// ---- Read-your-writes and the fallback.

core::Result<ReadApi::Wait> ReadApi::parse_wait(const Request& request) const {
  Wait w;
  auto q = request.query_int("min_seq", 0);
  if (!q.ok()) {
    return q.error();
  }
  w.min_seq = q.value();
  if (!w.min_seq) {
    const std::string_view h = request.header(kMinSeqHeader);
    if (!h.empty()) {
      auto v = http::parse_int(h, kMinSeqHeader, 0, INT64_MAX);
      if (!v.ok()) {
        return v.error();
      }
      w.min_seq = v.value();
    }
  }
  auto wait = request.query_int("wait_ms", 0, options_.max_wait.count());
  if (!wait.ok()) {
    return wait.error();
  }
  w.wait = wait.value() ? std::chrono::milliseconds(*wait.value()) : options_.default_wait;
  return w;
}

Response ReadApi::not_ready(std::string_view what) const {
  std::string details = "{\"retry_after_seconds\":" + std::to_string(options_.retry_after_seconds) + "}";
  return http::error_response(Status::service_unavailable, http::kUnavailable,
                              std::string(what) + ": no analytics snapshot has been loaded yet", details)
      .set_header(Field::retry_after, std::to_string(options_.retry_after_seconds))
      .set_header(Field::cache_control, kNoStore);
}

Response ReadApi::not_covered(std::int64_t min_seq, std::chrono::milliseconds waited) const {
  const auto g = cache_.current();
  std::string details = "{\"min_seq\":" + std::to_string(min_seq) + ",\"catalog_seq\":";
  details.append(g ? std::to_string(g->catalog_seq()) : "null").append(",\"generation\":");
  details.append(g ? std::to_string(g->generation()) : "null");
  details.append(",\"waited_ms\":").append(std::to_string(waited.count())).append("}");
  return http::error_response(Status::service_unavailable, http::kUnavailable,
                              "no snapshot covers catalog seq " + std::to_string(min_seq) + " yet", details)
      .set_header(Field::retry_after, std::to_string(options_.retry_after_seconds))
      .set_header(Field::cache_control, kNoStore);
}

void ReadApi::serve(const Request& request, Responder responder, const Render& render, Live live,
                    std::vector<std::string> files) {
  auto wait = parse_wait(request);
  if (!wait.ok()) {
    responder.send(bad(wait.error()));
    return;
  }
  auto g = cache_.current();
  const std::optional<std::int64_t> min_seq = wait->min_seq;
  if (g && (!min_seq || g->covered_seq(files) >= *min_seq)) {
    responder.send(render(*g, request));
    return;
  }
  if (!g && live && live_ != nullptr) {
    serve_live(std::move(responder), std::move(live), min_seq);
    return;
  }
  if (!min_seq) {
    responder.send(not_ready(request.path()));
    return;
  }
  if (wait->wait.count() == 0) {
    responder.send(not_covered(*min_seq, wait->wait));
    return;
  }
  // Park: the responder (not a thread) waits for a generation covering min_seq.
  const auto waited = wait->wait;
  auto parked = waiters_.park(
      *min_seq, std::move(files), CatalogSeqWaiters::Clock::now() + waited,
      [this, responder, render, min_seq, waited](const std::shared_ptr<const Generation>& ready) mutable {
        if (ready) {
          responder.send(render(*ready, responder.request()));
        } else {
          responder.send(not_covered(*min_seq, waited));
        }
      });
  switch (parked.kind) {
    case CatalogSeqWaiters::Parked::Kind::kParked: return;
    case CatalogSeqWaiters::Parked::Kind::kSatisfied:
      responder.send(render(*parked.generation, request));
      return;
    case CatalogSeqWaiters::Parked::Kind::kFull:
      responder.send(http::error_response(Status::service_unavailable, http::kUnavailable,
                                          "too many requests waiting for a newer snapshot")
                         .set_header(Field::retry_after, std::to_string(options_.retry_after_seconds)));
      return;
    case CatalogSeqWaiters::Parked::Kind::kStopped:
      responder.send(http::error_response(Status::service_unavailable, http::kUnavailable, "shutting down"));
      return;
  }
}

void ReadApi::serve_live(Responder responder, Live live, std::optional<std::int64_t> min_seq) {
  executor_.respond(std::move(responder), [this, live = std::move(live), min_seq](const Request& request) {
    auto view = live(request);
    if (!view.ok()) {
      Response r = http::error_response(view.error());
      if (view.error().code == core::ErrorCode::kUnavailable) {
        r.set_header(Field::retry_after, std::to_string(options_.retry_after_seconds));
      }
      return r;
    }
    if (min_seq && view->catalog_seq < *min_seq) {
      // The catalog itself is behind the seq asked for (another catalog?).
      return not_covered(*min_seq, std::chrono::milliseconds(0));
    }
    Response r = revalidated(request, *view->representation);
    r.set_header("X-Catalog-Seq", std::to_string(view->catalog_seq));
    r.set_header("X-Analytics-Source", "live");
    return r;
  });
}

// ---- Views.

Response ReadApi::render_type(const Generation& g, const Request& request, const std::string& type) const {
  if (const Representation* rep = g.analytic(type)) {
    return revalidated(request, *rep, g);
  }
  std::vector<std::string> known = known_analytics_types();
  for (const auto& t : g.analytic_types()) {
    if (std::find(known.begin(), known.end(), t) == known.end()) {
      known.push_back(t);
    }
  }
  std::sort(known.begin(), known.end());
  const bool is_known = std::find(known.begin(), known.end(), type) != known.end();
  const std::string members =
      "\"analytics_type\":" + http::json_quote(type) + ",\"generation\":" + std::to_string(g.generation()) +
      ",\"known_types\":" + json_list(known) + ",\"available_types\":" + json_list(g.analytic_types());
  if (is_known) {
    return not_held(g, type, members);
  }
  return http::error_response(Status::not_found, http::kNotFound, "unknown analytics type " + type,
                              "{" + members + "}");
}

Response ReadApi::not_held(const Generation& g, const std::string& what, const std::string& members) const {
  // A type that exists but that this generation does not hold yet (the
  // cocktail space, while its lane computes the first time): it will come.
  const std::string details =
      "{" + members + ",\"retry_after_seconds\":" + std::to_string(options_.retry_after_seconds) + "}";
  Response r = http::error_response(
      Status::service_unavailable, http::kUnavailable,
      what + " is not in generation " + std::to_string(g.generation()) + " yet: it is being computed",
      details);
  r.set_header(Field::retry_after, std::to_string(options_.retry_after_seconds));
  r.set_header(Field::cache_control, kNoStore);
  stamp(r, g);
  return r;
}

Response ReadApi::render_usage(const Generation& g, const Request& request) const {
  auto parent = request.query_int("parent_id", 1);
  auto level = request.query_int("level", 0, 1000);
  if (!parent.ok()) {
    return bad(parent.error());
  }
  if (!level.ok()) {
    return bad(level.error());
  }
  if (!parent.value() && !level.value()) {
    return render_type(g, request, std::string(kUsageType));
  }
  if (g.usage_index() == nullptr) {
    return render_type(g, request, std::string(kUsageAllType));
  }
  if (parent.value() && g.usage_index()->find(*parent.value()) == nullptr) {
    return bad(core::Error::not_found("parent_id", "ingredient " + std::to_string(*parent.value()) +
                                                       " is not in generation " +
                                                       std::to_string(g.generation())));
  }
  std::optional<int> lvl;
  if (level.value()) {
    lvl = static_cast<int>(*level.value());
  }
  auto view = g.usage_view(parent.value(), lvl);
  return revalidated(request, *view, g);
}

Response ReadApi::render_similar(const Generation& g, const Request& request) const {
  auto recipe = request.query_int("recipe_id", 1);
  auto limit = request.query_int("limit", 1);
  if (!recipe.ok()) {
    return bad(recipe.error());
  }
  if (!limit.ok()) {
    return bad(limit.error());
  }
  if (!recipe.value()) {
    if (limit.value()) {
      return bad(core::Error::invalid("limit", "limit applies to one recipe: give recipe_id"));
    }
    return render_type(g, request, std::string(kSimilarType));
  }
  if (!g.has_similar()) {
    return render_type(g, request, std::string(kSimilarType));
  }
  if (limit.value() && *limit.value() > g.similar_stored()) {
    return bad(core::Error::invalid("limit", "limit is at most " + std::to_string(g.similar_stored()) +
                                                 ", the neighbours stored per recipe in generation " +
                                                 std::to_string(g.generation())));
  }
  auto view = g.similar_view(*recipe.value(), static_cast<int>(limit.value().value_or(kDefaultSimilarLimit)));
  if (!view) {
    return bad(core::Error::not_found("recipe_id", "recipe " + std::to_string(*recipe.value()) +
                                                       " is not in the recipe-similar of generation " +
                                                       std::to_string(g.generation())));
  }
  return revalidated(request, *view, g);
}

Response ReadApi::render_matrix(const Generation& g, const Request& request, const MatrixFiles& matrix,
                                bool ids) const {
  auto wanted = request.query_int("generation", 1);
  if (!wanted.ok()) {
    return bad(wanted.error());
  }
  if (wanted.value() && *wanted.value() != g.generation()) {
    return http::error_response(
        Status::conflict, "conflict",
        "generation " + std::to_string(*wanted.value()) + " is not the one served",
        "{\"field\":\"generation\",\"generation\":" + std::to_string(g.generation()) + "}");
  }
  const std::string name(matrix.name);
  const std::string_view file_name = ids ? matrix.ids : matrix.npy;
  const Generation::File* file = g.file(file_name);
  if (file == nullptr) {
    const std::string members =
        "\"analytics_type\":" + http::json_quote(name) + ",\"generation\":" + std::to_string(g.generation());
    if (g.analytic(matrix.computed_with) == nullptr) {
      return not_held(g, name, members);
    }
    // Computed without it: the matrix was over analytics-regen's size limit
    // (or the generation predates the matrix).
    return http::error_response(Status::not_found, http::kNotFound,
                                "generation " + std::to_string(g.generation()) + " has no " +
                                    std::string(file_name) +
                                    ": it was left out (over its size limit, see analytics-regen's warnings)",
                                "{" + members + "}");
  }
  if (ids) {
    return revalidated(request, *file->representation, g);
  }
  Response r = revalidated(request, *file->representation, g);
  const std::string gen = std::to_string(g.generation());
  r.set_header(Field::content_disposition, "attachment; filename=\"" + name + "-g" + gen + ".npy\"");
  r.set_header(Field::link,
               "<" + std::string(kPrefix) + name + "/ids?generation=" + gen + ">; rel=\"describedby\"");
  return r;
}

namespace {

// {"served_generation", "current_generation" (null: CURRENT unreadable),
//  "file", "reason", "since"}
std::string fallback_json(const Fallback& f) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("served_generation");
  w.Int64(f.served);
  w.Key("current_generation");
  f.current > 0 ? w.Int64(f.current) : w.Null();
  w.Key("file");
  write(w, f.refusal.file);
  w.Key("reason");
  write(w, f.refusal.reason);
  w.Key("since");
  write(w, core::format_utc_iso8601(f.refusal.at_ms));
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace

Response ReadApi::status() const {
  const auto g = cache_.current();
  const std::int64_t now = core::system_now_ms();
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("data");
  w.StartObject();
  w.Key("source");
  write(w, g ? "snapshot" : (live_ ? "live" : "none"));
  w.Key("generation");
  g ? w.Int64(g->generation()) : w.Null();
  w.Key("catalog_seq");
  g ? w.Int64(g->catalog_seq()) : w.Null();
  w.Key("generated_at");
  g ? write(w, core::format_utc_iso8601(g->generated_at_ms())) : w.Null();
  w.Key("age_seconds");
  g ? w.Double(static_cast<double>(now - g->generated_at_ms()) / 1e3) : w.Null();
  w.Key("loaded_at");
  g ? write(w, core::format_utc_iso8601(g->loaded_at_ms())) : w.Null();
  w.Key("staleness_seconds");
  w.Double(cache_.staleness_seconds());
  w.Key("fallback");
  w.Bool(live_ != nullptr);
  w.Key("files");
  w.StartObject();
  if (g) {
    std::vector<const Generation::File*> files;
    for (const auto& [name, f] : g->files()) {
      files.push_back(&f);
    }
    std::sort(files.begin(), files.end(), [](auto* a, auto* b) { return a->name < b->name; });
    for (const auto* f : files) {
      const std::string_view name = f->name;
      const auto dot = name.rfind(".json");
      write(w, dot != std::string_view::npos && dot + 5 == name.size() ? name.substr(0, dot) : name);
      w.StartObject();
      w.Key("file");
      write(w, name);
      w.Key("bytes");
      w.Int64(f->bytes);
      w.Key("catalog_seq");  // the seq this file was computed from (carried-forward files: older)
      w.Int64(g->covered_seq({f->name}));
      w.Key("sha256");
      write(w, f->sha256);
      w.Key("gzip_bytes");
      f->representation->gzip ? w.Uint64(f->representation->gzip->size()) : w.Null();
      w.Key("etag");
      write(w, f->representation->etag);
      w.EndObject();
    }
  }
  w.EndObject();
  w.Key("cached_views");
  w.Uint64(g ? g->cached_views() : 0);
  w.Key("verification_failures");
  w.Uint64(cache_.verification_failures());
  w.Key("last_refusal");
  if (auto r = cache_.last_refusal()) {
    w.StartObject();
    w.Key("generation");
    w.Int64(r->generation);
    w.Key("file");
    write(w, r->file);
    w.Key("reason");
    write(w, r->reason);
    w.Key("message");
    write(w, r->message);
    w.Key("at");
    write(w, core::format_utc_iso8601(r->at_ms));
    w.EndObject();
  } else {
    w.Null();
  }
  w.Key("fallback_generation");
  if (const auto f = cache_.fallback()) {
    const std::string json = fallback_json(*f);
    w.RawValue(json.c_str(), json.size(), rapidjson::kObjectType);
  } else {
    w.Null();
  }
  w.Key("waiting_requests");
  w.Uint64(waiters_.waiting());
  w.Key("stream_clients");
  w.Uint64(announcer_.clients());
  w.EndObject();
  w.Key("metadata");
  w.StartObject();
  w.Key("generated_at");
  write(w, core::format_utc_iso8601(now));
  w.Key("storage_version");
  write(w, "v1");
  w.Key("analytics_type");
  write(w, "status");
  w.EndObject();
  w.EndObject();
  return Response::json(Status::ok, std::string(buf.GetString(), buf.GetSize()))
      .set_header(Field::cache_control, kNoStore);
}

Response ReadApi::storage_metrics() const {
  const std::int64_t now = core::system_now_ms();
  const snapshot::StoreReport report = cache_.store().report(now);
  std::int64_t files = 0;
  std::int64_t complete = 0;
  for (const auto& g : report.generations) {
    files += g.files;
    complete += g.complete ? 1 : 0;
  }
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("data");
  w.StartObject();
  w.Key("storage_backend");
  write(w, "local");
  w.Key("analytics_path");
  write(w, report.path);
  w.Key("current_generation");
  report.current ? w.Int64(*report.current) : w.Null();
  w.Key("file_count");
  w.Int64(files);
  w.Key("used_bytes");
  w.Int64(report.total_bytes);
  w.Key("used_mb");
  w.Double(static_cast<double>(report.total_bytes) / (1024.0 * 1024.0));
  w.Key("generation_bytes");
  w.Int64(report.generation_bytes);
  w.Key("legacy_bytes");
  w.Int64(report.legacy_bytes);
  w.Key("generation_count");
  w.Int64(static_cast<std::int64_t>(report.generations.size()));
  w.Key("complete_generations");
  w.Int64(complete);
  w.Key("generations");
  const std::string generations = snapshot::generations_json(report.generations);
  w.RawValue(generations.c_str(), generations.size(), rapidjson::kArrayType);
  w.Key("filesystem");
  w.StartObject();
  w.Key("total_bytes");
  w.Int64(report.fs_total_bytes);
  w.Key("free_bytes");
  w.Int64(report.fs_free_bytes);
  w.Key("available_bytes");
  w.Int64(report.fs_available_bytes);
  w.Key("used_bytes");
  w.Int64(report.fs_total_bytes - report.fs_free_bytes);
  w.Key("used_percent");
  w.Double(report.fs_total_bytes > 0
               ? 100.0 * static_cast<double>(report.fs_total_bytes - report.fs_free_bytes) /
                     static_cast<double>(report.fs_total_bytes)
               : 0.0);
  w.EndObject();
  w.EndObject();
  w.Key("metadata");
  w.StartObject();
  w.Key("generated_at");
  write(w, core::format_utc_iso8601(now));
  w.Key("storage_version");
  write(w, "v1");
  w.Key("analytics_type");
  write(w, "storage-metrics");
  w.EndObject();
  w.EndObject();
  return Response::json(Status::ok, std::string(buf.GetString(), buf.GetSize()))
      .set_header(Field::cache_control, kNoStore);
}

http::Readiness ReadApi::readiness() const {
  const auto g = cache_.current();
  http::Readiness r;
  r.ready = g != nullptr || live_ != nullptr;
  std::string d = "{\"source\":";
  d.append(g ? "\"snapshot\"" : (live_ ? "\"live\"" : "\"none\"")).append(",\"generation\":");
  d.append(g ? std::to_string(g->generation()) : "null").append(",\"catalog_seq\":");
  d.append(g ? std::to_string(g->catalog_seq()) : "null");
  // Serving an older generation because the one CURRENT names failed
  // verification: degraded, and which file, until the repair lands.
  d.append(",\"fallback_generation\":");
  if (const auto f = cache_.fallback()) {
    r.degraded = true;
    d.append(fallback_json(*f));
  } else {
    d.append("null");
  }
  d.append("}");
  r.details_json = std::move(d);
  return r;
}

// ---- Routes.

void ReadApi::register_routes(http::Router& router) {
  const std::string prefix(kPrefix);

  router.add(Method::get, prefix + "ingredient-usage", [this](const Request& req, Responder r) {
    Live live;
    if (live_ != nullptr) {
      live = [this](const Request& q) -> core::Result<LiveView> {
        auto parent = q.query_int("parent_id", 1);
        auto level = q.query_int("level", 0, 1000);
        if (!parent.ok()) {
          return parent.error();
        }
        if (!level.ok()) {
          return level.error();
        }
        std::optional<int> lvl;
        if (level.value()) {
          lvl = static_cast<int>(*level.value());
        }
        return live_->usage(parent.value(), lvl);
      };
    }
    // Bad parameters are answered at once, before any wait.
    auto parent = req.query_int("parent_id", 1);
    auto level = req.query_int("level", 0, 1000);
    if (!parent.ok()) {
      return void(r.send(bad(parent.error())));
    }
    if (!level.ok()) {
      return void(r.send(bad(level.error())));
    }
    serve(
        req, std::move(r), [this](const Generation& g, const Request& q) { return render_usage(g, q); },
        std::move(live));
  });

  router.add(Method::get, prefix + "recipe-complexity", [this](const Request& req, Responder r) {
    Live live;
    if (live_ != nullptr) {
      live = [this](const Request&) { return live_->complexity(); };
    }
    serve(req, std::move(r),
          [this](const Generation& g, const Request& q) { return render_type(g, q, "recipe-complexity"); },
          std::move(live), {"recipe-complexity.json"});
  });

  for (const std::string type :
       {"ingredient-usage-all", "ingredient-tree", "cocktail-space", "cocktail-space-em"}) {
    router.add(Method::get, prefix + type, [this, type](const Request& req, Responder r) {
      serve(req, std::move(r),
            [this, type](const Generation& g, const Request& q) { return render_type(g, q, type); }, {},
            {type + ".json"});
    });
  }

  router.add(Method::get, prefix + "recipe-similar", [this](const Request& req, Responder r) {
    auto recipe = req.query_int("recipe_id", 1);
    auto limit = req.query_int("limit", 1);  // its maximum depends on the generation
    if (!recipe.ok()) {
      return void(r.send(bad(recipe.error())));
    }
    if (!limit.ok()) {
      return void(r.send(bad(limit.error())));
    }
    serve(req, std::move(r), [this](const Generation& g, const Request& q) { return render_similar(g, q); },
          {}, {"recipe-similar.json"});
  });

  // The matrices: <name>/download (the .npy) and <name>/ids.
  auto matrix_route = [this, &router](const std::string& path, const MatrixFiles& matrix, bool ids) {
    router.add(Method::get, path, [this, &matrix, ids](const Request& req, Responder r) {
      serve(req, std::move(r),
            [this, &matrix, ids](const Generation& g, const Request& q) {
              return render_matrix(g, q, matrix, ids);
            },
            {}, {std::string(matrix.npy), std::string(matrix.ids)});
    });
  };
  matrix_route(prefix + "recipe-distances-em/download", kRecipeDistances, false);
  matrix_route(prefix + "recipe-distances-em/ids", kRecipeDistances, true);
  matrix_route(prefix + "ingredient-distances-em/download", kIngredientDistances, false);
  matrix_route(prefix + "ingredient-distances-em/ids", kIngredientDistances, true);

  // Any other type present in the generation; otherwise 404 listing the
  // known ones. The parameter is only ever a key into the in-memory map.
  router.add(Method::get, prefix + "{type}", [this](const Request& req, Responder r) {
    std::string type(req.path_param("type"));
    const auto& known = known_analytics_types();
    const auto g = cache_.current();
    const bool present = g && plausible_type(type) && g->analytic(type) != nullptr;
    const bool is_known = std::find(known.begin(), known.end(), type) != known.end();
    if (!present && !is_known) {
      std::vector<std::string> all = known;
      if (g) {
        for (const auto& t : g->analytic_types()) {
          if (std::find(all.begin(), all.end(), t) == all.end()) {
            all.push_back(t);
          }
        }
      }
      std::sort(all.begin(), all.end());
      r.send(http::error_response(Status::not_found, http::kNotFound, "unknown analytics type",
                                  "{\"analytics_type\":" + http::json_quote(core::utf8::truncate(type, 64)) +
                                      ",\"known_types\":" + json_list(all) + "}"));
      return;
    }
    serve(req, std::move(r),
          [this, type](const Generation& gen, const Request& q) { return render_type(gen, q, type); }, {},
          {type + ".json"});
  });

  router.add(Method::get, prefix + "status", [this](const Request&, Responder r) { r.send(status()); });

  router.add(Method::get, prefix + "stream", [this](const Request&, Responder r) {
    if (announcer_.full()) {
      r.send(http::error_response(Status::service_unavailable, http::kUnavailable, "too many stream clients")
                 .set_header(Field::retry_after, std::to_string(options_.retry_after_seconds)));
      return;
    }
    Response headers(Status::ok);
    headers.set_header("X-Accel-Buffering", "no");  // proxies: do not buffer the stream
    http::EventStream stream = r.open_stream(std::move(headers));
    announcer_.add(std::move(stream), cache_.current());
  });

  router.add(Method::get, "/api/v1/storage/metrics", [this](const Request&, Responder r) {
    executor_.respond(std::move(r), [this](const Request&) { return storage_metrics(); });
  });
}

}  // namespace cocktail::read_service

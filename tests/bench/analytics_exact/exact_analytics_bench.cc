// exact_analytics_bench: the exact analytics (open + load + model + compute +
// serialize) on a catalog file, side by side with the seed's SQL on the same
// file. Each command prints one JSON object.
//
//   exact_analytics_bench generate --out FILE --recipes R --ingredients I [--seed S]
//   exact_analytics_bench engine --db FILE [--repeat N]
//   exact_analytics_bench sql --db FILE [--time-limit-s T] [--sample K] [--seed S] [--analyze 0|1]
//
// `sql` first runs ANALYZE on the file (--analyze 0 to skip), then the
// seed's correlated sub-query (ingredient-usage over every
// ingredient, and over the roots as in the root view) and the complexity
// query. When the full query would exceed the time limit it measures a
// random sample of K ingredients with the same sub-query and extrapolates
// linearly (each sub-query scans recipe_ingredients: the cost per ingredient
// does not depend on which one). The output says which figures are measured
// and which are extrapolated.
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "cocktail/analytics/catalog_model.h"
#include "cocktail/analytics/envelope.h"
#include "cocktail/analytics/exact_analytics.h"
#include "cocktail/analytics/exact_json.h"
#include "cocktail/catalog/database.h"
#include "cocktail/catalog/state.h"
#include "synthetic_catalog.h"

namespace {

using namespace cocktail;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

std::map<std::string, std::string> parse_flags(int argc, char** argv) {
  std::map<std::string, std::string> flags;
  for (int i = 2; i + 1 < argc; i += 2) {
    flags[argv[i]] = argv[i + 1];
  }
  return flags;
}

std::int64_t flag_int(const std::map<std::string, std::string>& f, const std::string& k, std::int64_t def) {
  auto it = f.find(k);
  return it == f.end() ? def : std::stoll(it->second);
}

// A catalog shaped like the real one: a few dozen roots, up to 4 levels,
// 2-8 rows per recipe (mean 5), popularity skewed towards a few staples.
int generate(const std::map<std::string, std::string>& f) {
  const std::string out = f.at("--out");
  const std::int64_t recipes = flag_int(f, "--recipes", 1356);
  const std::int64_t ingredients = flag_int(f, "--ingredients", 610);
  std::mt19937_64 rng(static_cast<std::uint64_t>(flag_int(f, "--seed", 1)));
  std::remove(out.c_str());
  auto db = catalog::Database::open(out);
  db->exec("PRAGMA journal_mode=OFF");
  db->exec("PRAGMA synchronous=OFF");
  testing::create_catalog_schema(*db);
  const auto start = Clock::now();
  catalog::Transaction tx(*db, catalog::Transaction::Kind::kWrite);
  struct Ing {
    std::string path;
    int depth;
  };
  std::vector<Ing> ings;
  const std::int64_t roots = std::max<std::int64_t>(1, ingredients / 20);
  auto ins = db->prepare(
      "INSERT INTO ingredients (id, name, parent_id, path, allow_substitution) VALUES (?1, ?2, ?3, ?4, ?5)");
  for (std::int64_t id = 1; id <= ingredients; ++id) {
    std::optional<std::int64_t> parent;
    std::string path = "/";
    int depth = 0;
    if (id > roots) {
      std::int64_t p = 1 + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(id - 1));
      while (ings[p - 1].depth >= 4) {
        p = 1 + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(roots));
      }
      parent = p;
      path = ings[p - 1].path;
      depth = ings[p - 1].depth + 1;
    }
    path += std::to_string(id) + "/";
    ins.bind(1, id).bind(2, "ingredient " + std::to_string(id)).bind(3, parent).bind(4, path);
    ins.bind(5, static_cast<std::int64_t>(rng() % 2)).run();
    ings.push_back({path, depth});
  }
  auto rec = db->prepare("INSERT INTO recipes (id, name) VALUES (?1, ?2)");
  auto row = db->prepare(
      "INSERT INTO recipe_ingredients (recipe_id, ingredient_id, unit_id, amount) VALUES (?1, ?2, ?3, ?4)");
  std::int64_t rows = 0;
  for (std::int64_t r = 1; r <= recipes; ++r) {
    rec.bind(1, r).bind(2, "recipe " + std::to_string(r)).run();
    const int n = 2 + static_cast<int>(rng() % 7);
    for (int k = 0; k < n; ++k) {
      // Skew: the minimum of three uniform draws favours low ids.
      std::uint64_t a = rng() % ingredients, b = rng() % ingredients, c = rng() % ingredients;
      row.bind(1, r).bind(2, static_cast<std::int64_t>(std::min({a, b, c}) + 1));
      row.bind(3, static_cast<std::int64_t>(1 + rng() % 9))
          .bind(4, 0.25 * static_cast<double>(1 + rng() % 8));
      row.run();
      ++rows;
    }
  }
  db->exec("INSERT INTO change_log (ts, entity, op, row_id) VALUES (0, 'recipes', 'insert', 1)");
  tx.commit();
  db->exec("ANALYZE");
  std::printf(
      "{\"file\":\"%s\",\"recipes\":%lld,\"ingredients\":%lld,\"recipe_ingredients\":%lld,\"ms\":%.0f}\n",
      out.c_str(), static_cast<long long>(recipes), static_cast<long long>(ingredients),
      static_cast<long long>(rows), ms_since(start));
  return 0;
}

int engine(const std::map<std::string, std::string>& f) {
  const std::string path = f.at("--db");
  const int repeat = static_cast<int>(flag_int(f, "--repeat", 3));
  std::map<std::string, double> best;
  std::size_t bytes = 0;
  auto record = [&](const std::string& k, double v) {
    auto it = best.find(k);
    if (it == best.end() || v < it->second) {
      best[k] = v;
    }
  };
  for (int i = 0; i < repeat; ++i) {
    const auto t0 = Clock::now();
    catalog::DatabaseOptions opt;
    opt.read_only = true;
    opt.create_if_missing = false;
    auto db = catalog::Database::open(path, opt);
    auto t = Clock::now();
    const auto state = catalog::load_state(*db);
    record("load", ms_since(t));
    t = Clock::now();
    const auto model = analytics::CatalogModel::build(state);
    record("model", ms_since(t));
    t = Clock::now();
    const auto exact = analytics::compute_exact_analytics(model);
    record("compute", ms_since(t));
    t = Clock::now();
    const auto roots = analytics::root_rows(exact);
    std::vector<std::string> docs;
    docs.push_back(analytics::usage_rows_json(std::span<const analytics::IngredientUsageRow* const>(roots)));
    docs.push_back(analytics::usage_rows_json(std::span<const analytics::IngredientUsageRow>(exact.usage)));
    docs.push_back(analytics::recipe_complexity_json(exact.complexity));
    docs.push_back(analytics::ingredient_tree_json(model, exact));
    for (auto& d : docs) {
      analytics::EnvelopeMetadata meta;
      meta.analytics_type = "x";
      d = analytics::make_envelope(d, meta);
    }
    record("serialize", ms_since(t));
    record("total", ms_since(t0));
    bytes = 0;
    for (const auto& d : docs) {
      bytes += d.size();
    }
  }
  std::printf("{\"db\":\"%s\",\"repeat\":%d,\"json_bytes\":%zu,\"ms\":{", path.c_str(), repeat, bytes);
  bool first = true;
  for (const char* k : {"load", "model", "compute", "serialize", "total"}) {
    std::printf("%s\"%s\":%.1f", first ? "" : ",", k, best[k]);
    first = false;
  }
  std::printf("}}\n");
  return 0;
}

// The seed's sub-query, restricted to the ingredients listed in `where`.
const char* kUsageSql = R"sql(
SELECT i.id, i.name, i.path, i.parent_id,
  COUNT(DISTINCT ri.recipe_id) AS direct_usage,
  (SELECT COUNT(DISTINCT ri2.recipe_id) FROM recipe_ingredients ri2
     INNER JOIN ingredients i2 ON ri2.ingredient_id = i2.id
     WHERE i2.path LIKE i.path || '%') AS hierarchical_usage,
  EXISTS(SELECT 1 FROM ingredients WHERE parent_id = i.id) AS has_children
FROM ingredients i LEFT JOIN recipe_ingredients ri ON ri.ingredient_id = i.id
)sql";

struct Timed {
  double ms = 0;
  bool complete = true;
  std::int64_t rows = 0;
};

// The old system's SQL runs on SQLite itself: a raw connection, so that a
// query can be interrupted through SQLite's progress handler.
struct RawSqlite {
  explicit RawSqlite(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      throw std::runtime_error("cannot open " + path);
    }
  }
  ~RawSqlite() { sqlite3_close(db); }
  RawSqlite(const RawSqlite&) = delete;
  RawSqlite& operator=(const RawSqlite&) = delete;
  sqlite3* db = nullptr;
};

// Runs sql to completion or until `limit_ms`.
Timed run_sql(RawSqlite& raw, const std::string& sql, double limit_ms) {
  sqlite3* db = raw.db;
  struct Deadline {
    Clock::time_point at;
  } deadline{Clock::now() + std::chrono::microseconds(static_cast<std::int64_t>(limit_ms * 1000))};
  sqlite3_progress_handler(
      db, 10000, [](void* p) { return Clock::now() > static_cast<Deadline*>(p)->at ? 1 : 0; }, &deadline);
  Timed t;
  const auto start = Clock::now();
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
    throw std::runtime_error(std::string("prepare: ") + sqlite3_errmsg(db));
  }
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    ++t.rows;
  }
  sqlite3_finalize(st);
  if (rc == SQLITE_INTERRUPT) {
    t.complete = false;
  } else if (rc != SQLITE_DONE) {
    throw std::runtime_error(std::string("step: ") + sqlite3_errmsg(db));
  }
  t.ms = ms_since(start);
  sqlite3_progress_handler(db, 0, nullptr, nullptr);
  return t;
}

std::int64_t scalar(catalog::Database& db, const std::string& sql) {
  auto st = db.prepare(sql);
  st.step();
  return st.column_int(0);
}

int sql(const std::map<std::string, std::string>& f) {
  const std::string path = f.at("--db");
  const double limit_ms = 1000.0 * static_cast<double>(flag_int(f, "--time-limit-s", 60));
  const std::int64_t sample = flag_int(f, "--sample", 20);
  // The SQL gets its best plan: with statistics SQLite scans the ingredients
  // (cheap LIKE) and probes recipe_ingredients by index; without them it may
  // scan every recipe row per ingredient, tens of times slower. Not timed.
  if (flag_int(f, "--analyze", 1) != 0) {
    catalog::Database::open(path)->exec("ANALYZE");
  }
  catalog::DatabaseOptions opt;
  opt.read_only = true;
  opt.create_if_missing = false;
  auto db = catalog::Database::open(path, opt);
  RawSqlite raw(path);
  const std::int64_t n = scalar(*db, "SELECT COUNT(*) FROM ingredients");
  const std::int64_t n_roots = scalar(*db, "SELECT COUNT(*) FROM ingredients WHERE parent_id IS NULL");

  const auto complexity =
      run_sql(raw,
              "SELECT ingredient_count, COUNT(*) FROM (SELECT recipe_id, COUNT(DISTINCT "
              "ingredient_id) AS ingredient_count FROM recipe_ingredients GROUP BY recipe_id) "
              "GROUP BY ingredient_count ORDER BY ingredient_count",
              limit_ms);
  const auto total = run_sql(raw, "SELECT COUNT(*) FROM recipes", limit_ms);

  // Sample first: it tells whether the full query fits in the limit.
  std::vector<std::int64_t> ids;
  {
    auto st = db->prepare("SELECT id FROM ingredients");
    while (st.step()) {
      ids.push_back(st.column_int(0));
    }
  }
  std::mt19937_64 rng(static_cast<std::uint64_t>(flag_int(f, "--seed", 7)));
  std::shuffle(ids.begin(), ids.end(), rng);
  ids.resize(std::min<std::size_t>(ids.size(), static_cast<std::size_t>(sample)));
  std::string in;
  for (auto id : ids) {
    in += (in.empty() ? "" : ",") + std::to_string(id);
  }
  const auto sampled =
      run_sql(raw, std::string(kUsageSql) + "WHERE i.id IN (" + in + ") GROUP BY i.id", limit_ms);
  const double per_ingredient = ids.empty() ? 0 : sampled.ms / static_cast<double>(ids.size());

  auto full_or_estimate = [&](const std::string& where, std::int64_t count, const char* name) {
    const double estimate = per_ingredient * static_cast<double>(count);
    Timed t;
    bool measured = false;
    if (estimate < limit_ms) {
      t = run_sql(raw, std::string(kUsageSql) + where + " GROUP BY i.id ORDER BY hierarchical_usage DESC",
                  limit_ms);
      measured = t.complete;
    }
    std::printf("\"%s\":{\"ms\":%.1f,\"measured\":%s,\"ingredients\":%lld}", name, measured ? t.ms : estimate,
                measured ? "true" : "false", static_cast<long long>(count));
    return measured ? t.ms : estimate;
  };
  std::printf(
      "{\"db\":\"%s\",\"time_limit_s\":%.0f,\"sample\":{\"ingredients\":%zu,\"ms\":%.1f,\"ms_per_"
      "ingredient\":%.3f},",
      path.c_str(), limit_ms / 1000, ids.size(), sampled.ms, per_ingredient);
  const double all = full_or_estimate("", n, "usage_all");
  std::printf(",");
  const double roots = full_or_estimate("WHERE i.parent_id IS NULL", n_roots, "usage_roots");
  std::printf(",\"complexity_ms\":%.1f,\"total_recipes_ms\":%.1f,\"total_ms\":%.1f}\n", complexity.ms,
              total.ms, all + roots + complexity.ms + total.ms);
  return 0;
}

int run(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: exact_analytics_bench generate|engine|sql --flag value ...\n";
    return 2;
  }
  const std::string cmd = argv[1];
  const auto flags = parse_flags(argc, argv);
  if (cmd == "generate") {
    return generate(flags);
  }
  if (cmd == "engine") {
    return engine(flags);
  }
  if (cmd == "sql") {
    return sql(flags);
  }
  std::cerr << "unknown command " << cmd << "\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "exact_analytics_bench: " << e.what() << "\n";
    return 1;
  }
}

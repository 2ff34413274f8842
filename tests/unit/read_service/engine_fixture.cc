#include "engine_fixture.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <set>
#include <stdexcept>

#include "cocktail/catalog/database.h"

namespace cocktail::read_test {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE ingredients (
  id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL COLLATE NOCASE UNIQUE, description TEXT,
  parent_id INTEGER REFERENCES ingredients(id), path TEXT, allow_substitution BOOLEAN NOT NULL DEFAULT 0);
CREATE TABLE units (
  id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL COLLATE NOCASE UNIQUE, abbreviation TEXT,
  conversion_to_ml REAL);
CREATE TABLE recipes (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL COLLATE NOCASE UNIQUE,
  instructions TEXT);
CREATE TABLE recipe_ingredients (
  id INTEGER PRIMARY KEY AUTOINCREMENT, recipe_id INTEGER NOT NULL REFERENCES recipes(id) ON DELETE CASCADE,
  ingredient_id INTEGER NOT NULL REFERENCES ingredients(id) ON DELETE RESTRICT,
  unit_id INTEGER REFERENCES units(id) ON DELETE SET NULL, amount REAL);
CREATE TABLE change_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER NOT NULL, entity TEXT NOT NULL,
  op TEXT NOT NULL, row_id INTEGER NOT NULL);
INSERT INTO units (name, abbreviation, conversion_to_ml) VALUES
  ('Ounce', 'oz', 29.5735), ('Tablespoon', 'tbsp', 14.7868), ('Teaspoon', 'tsp', 4.92892),
  ('Barspoon', 'bsp', 2.46446), ('Dash', 'dash', 0.616115), ('Each', 'each', NULL),
  ('Drop', 'drop', 0.05), ('to top', 'top', NULL), ('to rinse', 'rinse', NULL);
)sql";

void log_change(catalog::Database& db, const char* entity, std::int64_t id) {
  db.prepare("INSERT INTO change_log (ts, entity, op, row_id) VALUES (0, ?1, 'insert', ?2)")
      .bind(1, entity)
      .bind(2, id)
      .run();
}

void write_string(rapidjson::Writer<rapidjson::StringBuffer>& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

}  // namespace

void create_catalog(const std::string& path, const CatalogSpec& spec) {
  auto db = catalog::Database::open(path);
  db->exec(kSchema);
  std::mt19937_64 rng(spec.seed);
  catalog::Transaction tx(*db, catalog::Transaction::Kind::kWrite);
  struct Ing {
    std::int64_t id;
    std::string path;
    int depth;
  };
  std::vector<Ing> ings;
  auto ins = db->prepare(
      "INSERT INTO ingredients (id, name, parent_id, path, allow_substitution) VALUES (?1, ?2, ?3, ?4, ?5)");
  for (int k = 0; k < spec.ingredients; ++k) {
    const std::int64_t id = k + 1;
    std::optional<std::int64_t> parent;
    std::string p = "/";
    int depth = 0;
    if (!ings.empty() && rng() % 5 != 0) {
      const Ing& up = ings[rng() % ings.size()];
      if (up.depth < spec.max_depth) {
        parent = up.id;
        p = up.path;
        depth = up.depth + 1;
      }
    }
    p.append(std::to_string(id)).push_back('/');
    ins.bind(1, id)
        .bind(2, "Ingredient \"" + std::to_string(k) + "\" caf\xC3\xA9")
        .bind(3, parent)
        .bind(4, p);
    ins.bind(5, static_cast<std::int64_t>(rng() % 2)).run();
    log_change(*db, "ingredients", id);
    ings.push_back({id, p, depth});
  }
  auto rec = db->prepare("INSERT INTO recipes (id, name) VALUES (?1, ?2)");
  auto row = db->prepare(
      "INSERT INTO recipe_ingredients (recipe_id, ingredient_id, unit_id, amount) VALUES (?1, ?2, ?3, ?4)");
  for (int r = 0; r < spec.recipes; ++r) {
    const std::int64_t rid = r + 1;
    rec.bind(1, rid).bind(2, "Recipe " + std::to_string(r)).run();
    log_change(*db, "recipes", rid);
    const int rows = 1 + static_cast<int>(rng() % spec.max_rows);
    for (int k = 0; k < rows; ++k) {
      const auto a = rng() % ings.size(), b = rng() % ings.size();
      row.bind(1, rid).bind(2, ings[std::min(a, b)].id).bind(3, static_cast<std::int64_t>(1 + rng() % 5));
      row.bind(4, 0.25 * static_cast<double>(1 + rng() % 8)).run();
      log_change(*db, "recipe_ingredients", db->last_insert_rowid());
    }
  }
  tx.commit();
}

std::int64_t add_recipe(const std::string& path, const std::string& name) {
  auto db = catalog::Database::open(path);
  catalog::Transaction tx(*db, catalog::Transaction::Kind::kWrite);
  db->prepare("INSERT INTO recipes (name) VALUES (?1)").bind(1, name).run();
  const std::int64_t rid = db->last_insert_rowid();
  log_change(*db, "recipes", rid);
  for (std::int64_t ing : {1, 2}) {
    db->prepare(
          "INSERT INTO recipe_ingredients (recipe_id, ingredient_id, unit_id, amount) VALUES (?1, ?2, 1, "
          "1.0)")
        .bind(1, rid)
        .bind(2, ing)
        .run();
    log_change(*db, "recipe_ingredients", db->last_insert_rowid());
  }
  auto seq = db->prepare("SELECT MAX(seq) FROM change_log");
  seq.step();
  const std::int64_t out = seq.column_int(0);
  seq.reset();
  tx.commit();
  return out;
}

void RecipeSimilarStandIn::produce(const regen::ProducerContext& context, regen::ProducerOutput& out) {
  const auto& m = context.model;
  // Recipes with at least one ingredient, in id order; their ingredient sets.
  std::vector<analytics::CatalogModel::Index> rows;
  std::vector<std::set<analytics::CatalogModel::Index>> sets;
  for (std::size_t r = 0; r < m.recipe_count(); ++r) {
    const auto idx = static_cast<analytics::CatalogModel::Index>(r);
    auto ing = m.recipe_ingredients(idx);
    if (ing.empty()) continue;
    rows.push_back(idx);
    sets.emplace_back(ing.begin(), ing.end());
  }
  const std::size_t n = rows.size();
  std::vector<float> dist(n * n, 0.0f);
  for (std::size_t a = 0; a < n; ++a) {
    for (std::size_t b = 0; b < n; ++b) {
      std::size_t common = 0;
      for (auto i : sets[a]) common += sets[b].count(i);
      const std::size_t uni = sets[a].size() + sets[b].size() - common;
      dist[a * n + b] = a == b ? 0.0f : 1.0f - static_cast<float>(common) / static_cast<float>(uni);
    }
  }

  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartArray();
  for (std::size_t a = 0; a < n; ++a) {
    std::vector<std::size_t> order;
    for (std::size_t b = 0; b < n; ++b) {
      if (b != a) order.push_back(b);
    }
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t x, std::size_t y) { return dist[a * n + x] < dist[a * n + y]; });
    if (order.size() > 20) order.resize(20);
    w.StartObject();
    w.Key("recipe_id");
    w.Int64(m.recipe_id(rows[a]));
    w.Key("recipe_name");
    write_string(w, m.recipe_name(rows[a]));
    w.Key("neighbors");
    w.StartArray();
    for (std::size_t b : order) {
      w.StartObject();
      w.Key("neighbor_recipe_id");
      w.Int64(m.recipe_id(rows[b]));
      w.Key("neighbor_name");
      write_string(w, m.recipe_name(rows[b]));
      w.Key("distance");
      w.Double(dist[a * n + b]);
      w.Key("transport_plan");
      w.StartArray();
      const auto from = *sets[a].begin(), to = *sets[b].rbegin();
      if (from != to) {
        w.StartObject();
        w.Key("from_ingredient_id");
        w.Int64(m.ingredient_id(from));
        w.Key("from_ingredient_name");
        write_string(w, m.ingredient_name(from));
        w.Key("to_ingredient_id");
        w.Int64(m.ingredient_id(to));
        w.Key("to_ingredient_name");
        write_string(w, m.ingredient_name(to));
        w.Key("mass");
        w.Double(0.5);
        w.EndObject();
      }
      w.EndArray();
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  regen::Artifact similar;
  similar.analytics_type = "recipe-similar";
  similar.file_name = "recipe-similar.json";
  similar.body.assign(buf.GetString(), buf.GetSize());
  similar.count = static_cast<std::int64_t>(n);
  out.artifacts.push_back(std::move(similar));

  // recipe-distances-em.npy: NumPy 1.0, '<f4', C order, data 64-byte aligned.
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(n) + ", " +
                       std::to_string(n) + "), }";
  const std::size_t preamble = 10;
  std::size_t total = preamble + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ').push_back('\n');
  std::string npy("\x93NUMPY\x01\x00", 8);
  npy.push_back(static_cast<char>(header.size() & 0xff));
  npy.push_back(static_cast<char>(header.size() >> 8));
  npy += header;
  const std::size_t at = npy.size();
  npy.resize(at + dist.size() * 4);
  std::memcpy(npy.data() + at, dist.data(), dist.size() * 4);  // little-endian host
  regen::Artifact matrix;
  matrix.analytics_type = "recipe-distances-em";
  matrix.file_name = "recipe-distances-em.npy";
  matrix.body = std::move(npy);
  matrix.envelope = false;
  out.artifacts.push_back(std::move(matrix));

  std::string ids =
      "{\"shape\":[" + std::to_string(n) + "," + std::to_string(n) + "],\"dtype\":\"<f4\",\"recipe_ids\":[";
  for (std::size_t a = 0; a < n; ++a) {
    if (a > 0) ids.push_back(',');
    ids += std::to_string(m.recipe_id(rows[a]));
  }
  ids += "]}";
  regen::Artifact id_file;
  id_file.analytics_type = "recipe-distances-em-ids";
  id_file.file_name = "recipe-distances-em-ids.json";
  id_file.body = std::move(ids);
  id_file.envelope = false;
  out.artifacts.push_back(std::move(id_file));
}

Engine::Engine(const CatalogSpec& spec, bool with_similar) : dir_("read-service") {
  db_path_ = dir_.file("catalog.db");
  analytics_path_ = dir_.file("analytics");
  create_catalog(db_path_, spec);
  store_ = std::make_unique<snapshot::SnapshotStore>(analytics_path_);
  auto producers = regen::default_producers();
  if (with_similar) producers.push_back(std::make_unique<RecipeSimilarStandIn>());
  regen::RegeneratorSettings settings;
  settings.db_path = db_path_;
  regenerator_ = std::make_unique<regen::Regenerator>(std::move(settings), *store_, std::move(producers));
}

regen::RegenSummary Engine::regenerate() {
  auto r = regenerator_->run();
  if (!r.ok()) throw std::runtime_error("regeneration failed: " + r.error().message);
  return std::move(r).value();
}

regen::RegenSummary Engine::change_and_regenerate() {
  add_recipe(db_path_, "Added recipe " + std::to_string(++changes_));
  return regenerate();
}

}  // namespace cocktail::read_test

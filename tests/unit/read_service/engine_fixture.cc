#include "engine_fixture.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <set>
#include <stdexcept>

#include "cocktail/catalog/database.h"
#include "cocktail/catalog/repository.h"
#include "cocktail/catalog/schema.h"
#include "cocktail/catalog/seeder.h"

namespace cocktail::read_test {
namespace {

void write_string(rapidjson::Writer<rapidjson::StringBuffer>& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

// A test catalog needs no durability; fsyncs would dominate the suite.
std::unique_ptr<catalog::Database> open_test_catalog(const std::string& path) {
  catalog::DatabaseOptions options;
  options.synchronous = catalog::Synchronous::kOff;
  return catalog::open_catalog(path, options);
}

}  // namespace

void create_catalog(const std::string& path, const CatalogSpec& spec) {
  auto db = open_test_catalog(path);
  catalog::SeedOptions options;
  options.recipes = spec.recipes;
  options.ingredients = spec.ingredients;
  options.seed = spec.seed;
  auto seeded = catalog::seed_catalog(*db, options);
  if (!seeded.ok()) throw std::runtime_error("seed failed: " + seeded.error().message);
}

std::int64_t add_recipe(const std::string& path, const std::string& name) {
  auto db = open_test_catalog(path);
  catalog::Repository repo(*db);
  catalog::RecipeInput input;
  input.name = name;
  input.ingredients = {{1, 1, 1.0}, {2, 1, 0.5}};
  auto created = repo.create_recipe(input);
  if (!created.ok()) throw std::runtime_error("create_recipe failed: " + created.error().message);
  return created->catalog_seq;
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
  id_file.file_name = "recipe-distances-em.ids.json";
  id_file.body = std::move(ids);
  id_file.envelope = false;
  out.artifacts.push_back(std::move(id_file));
}

ScratchDir::ScratchDir() {
  std::error_code ec;
  std::filesystem::path base = "/dev/shm";
  if (!std::filesystem::is_directory(base, ec) || ::access(base.c_str(), W_OK) != 0) {
    base = std::filesystem::temp_directory_path();
  }
  std::string pattern = (base / "read-service-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed in " + base.string());
  path_ = pattern;
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

Engine::Engine(const CatalogSpec& spec, bool with_similar) {
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

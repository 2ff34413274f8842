#include "engine_fixture.h"

#include <unistd.h>

#include <stdexcept>

#include "cocktail/catalog/database.h"
#include "cocktail/catalog/repository.h"
#include "cocktail/catalog/schema.h"
#include "cocktail/catalog/seeder.h"
#include "cocktail/regen_service/exact_producer.h"

namespace cocktail::read_test {
namespace {

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
  if (!seeded.ok()) {
    throw std::runtime_error("seed failed: " + seeded.error().message);
  }
}

std::int64_t add_recipe(const std::string& path, const std::string& name) {
  auto db = open_test_catalog(path);
  catalog::Repository repo(*db);
  catalog::RecipeInput input;
  input.name = name;
  input.ingredients = {{1, 1, 1.0}, {2, 1, 0.5}};
  auto created = repo.create_recipe(input);
  if (!created.ok()) {
    throw std::runtime_error("create_recipe failed: " + created.error().message);
  }
  return created->catalog_seq;
}

ScratchDir::ScratchDir() {
  std::error_code ec;
  std::filesystem::path base = "/dev/shm";
  if (!std::filesystem::is_directory(base, ec) || ::access(base.c_str(), W_OK) != 0) {
    base = std::filesystem::temp_directory_path();
  }
  std::string pattern = (base / "read-service-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp failed in " + base.string());
  }
  path_ = pattern;
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

Engine::Engine(const CatalogSpec& spec, bool with_space, bool with_matrices) {
  db_path_ = dir_.file("catalog.db");
  analytics_path_ = dir_.file("analytics");
  create_catalog(db_path_, spec);
  store_ = std::make_unique<snapshot::SnapshotStore>(analytics_path_);
  std::vector<std::unique_ptr<regen_service::Producer>> producers;
  if (with_space) {
    analytics::CocktailSpaceOptions space;
    space.threads = 2;
    if (!with_matrices) {
      space.dense_matrix_limit = 0;
      space.ingredient_matrix_limit = 0;
    }
    producers = regen_service::default_producers(space);
  } else {
    producers.push_back(std::make_unique<regen_service::ExactAnalyticsProducer>());
  }
  regen_service::RegeneratorSettings settings;
  settings.db_path = db_path_;
  settings.split_lanes = false;  // one generation per regenerate(), as --once writes
  regenerator_ =
      std::make_unique<regen_service::Regenerator>(std::move(settings), *store_, std::move(producers));
}

regen_service::RegenSummary Engine::regenerate() {
  auto r = regenerator_->run();
  if (!r.ok()) {
    throw std::runtime_error("regeneration failed: " + r.failure().message());
  }
  return std::move(r).value();
}

regen_service::RegenSummary Engine::change_and_regenerate() {
  add_recipe(db_path_, "Added recipe " + std::to_string(++changes_));
  return regenerate();
}

}  // namespace cocktail::read_test

// Test generations written by the real engine: a catalog file (the
// catalog's tables in a temporary directory, filled deterministically), the
// Regenerator with the default producers, and a SnapshotStore — so the read
// service is tested against exactly what analytics-regen publishes.
//
// RecipeSimilarStandIn produces recipe-similar, recipe-distances-em.npy and
// its ids file in the layout of the cocktail-space producer (similar.h,
// npy.h) from a simple set distance, so that the routes serving them can be
// tested before that producer is part of default_producers(). The read
// service does not interpret the numbers, only the layout.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cocktail/regen_service/producer.h"
#include "cocktail/regen_service/regenerator.h"
#include "cocktail/snapshot/snapshot_store.h"
#include "cocktail/testing/temp_dir.h"

namespace cocktail::read_test {

struct CatalogSpec {
  std::uint64_t seed = 7;
  int ingredients = 40;
  int recipes = 60;
  int max_depth = 3;
  int max_rows = 6;
};

// Creates the catalog tables and fills them; change_log gets one row per
// inserted row, so catalog_seq > 0.
void create_catalog(const std::string& path, const CatalogSpec& spec);
// Adds one recipe with two ingredients (and its change_log rows): the
// catalog seq after it.
std::int64_t add_recipe(const std::string& path, const std::string& name);

class RecipeSimilarStandIn final : public regen::Producer {
 public:
  std::string_view name() const override { return "recipe-similar-stand-in"; }
  void produce(const regen::ProducerContext& context, regen::ProducerOutput& out) override;
};

// A catalog and a snapshot directory in one temporary directory.
class Engine {
 public:
  explicit Engine(const CatalogSpec& spec = {}, bool with_similar = true);

  const std::string& db_path() const { return db_path_; }
  const std::string& analytics_path() const { return analytics_path_; }
  snapshot::SnapshotStore& store() { return *store_; }

  // One regeneration (throws on failure).
  regen::RegenSummary regenerate();
  // A catalog change, then a regeneration: a generation with a higher catalog_seq.
  regen::RegenSummary change_and_regenerate();

 private:
  testing::TempDir dir_;
  std::string db_path_;
  std::string analytics_path_;
  std::unique_ptr<snapshot::SnapshotStore> store_;
  std::unique_ptr<regen::Regenerator> regenerator_;
  int changes_ = 0;
};

}  // namespace cocktail::read_test

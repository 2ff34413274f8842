// Test generations written by the real engine: a catalog file made by the
// catalog library (migrate, catalog-seed's seed_catalog, Repository writes)
// in a temporary directory, the Regenerator with the default producers, and
// a SnapshotStore — so the read service is tested against exactly what
// analytics-regen publishes.
// With `with_space` the generation has every analytic analytics-regen writes
// (default_producers(): the exact analytics and the cocktail-space family,
// recipe-similar and the .npy included); without, the exact analytics only,
// for tests that write a hundred generations.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cocktail/regen_service/regenerator.h"
#include "cocktail/snapshot/snapshot_store.h"
#include "cocktail/testing/temp_dir.h"

namespace cocktail::read_test {

struct CatalogSpec {
  std::uint64_t seed = 7;
  int ingredients = 60;
  int recipes = 80;
};

// A migrated catalog seeded deterministically (catalog_seq > 0).
void create_catalog(const std::string& path, const CatalogSpec& spec);
// Adds one recipe with two ingredients through the Repository: the catalog
// seq it committed.
std::int64_t add_recipe(const std::string& path, const std::string& name);

// A temporary directory on tmpfs (/dev/shm) when there is one, else under
// $TMPDIR: these tests write hundreds of generations, and the store's fsyncs
// (whose durability the snapshot tests check) would dominate the suite.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// A catalog and a snapshot directory in one scratch directory.
class Engine {
 public:
  // `with_matrices` false: the cocktail space without its .npy matrices
  // (both size limits at 0), as for a catalog too large for them.
  explicit Engine(const CatalogSpec& spec = {}, bool with_space = true, bool with_matrices = true);

  const std::string& db_path() const { return db_path_; }
  const std::string& analytics_path() const { return analytics_path_; }
  snapshot::SnapshotStore& store() { return *store_; }

  // One regeneration (throws on failure).
  regen_service::RegenSummary regenerate();
  // A catalog change, then a regeneration: a generation with a higher catalog_seq.
  regen_service::RegenSummary change_and_regenerate();

 private:
  ScratchDir dir_;
  std::string db_path_;
  std::string analytics_path_;
  std::unique_ptr<snapshot::SnapshotStore> store_;
  std::unique_ptr<regen_service::Regenerator> regenerator_;
  int changes_ = 0;
};

}  // namespace cocktail::read_test

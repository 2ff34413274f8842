// LiveAnalytics: ingredient-usage (with drill-downs) and recipe-complexity
// computed on the fly from the catalog file, for the time before the first
// snapshot exists (the seeds' fallback). Each call opens the catalog
// read-only, loads its state in one read transaction (a consistent image
// under WAL that never blocks writers), runs the exact analytics and
// returns an envelope whose metadata says "source": "live" and generation 0.
//
// Blocking (SQLite): call it on a BlockingExecutor, never on an I/O thread.
// Stateless apart from the path; thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "cocktail/core/result.h"
#include "cocktail/read_service/representation.h"

namespace cocktail::read_service {

struct LiveView {
  std::shared_ptr<const Representation> representation;
  std::int64_t catalog_seq = 0;
};

class LiveAnalytics {
 public:
  explicit LiveAnalytics(std::string db_path) : db_path_(std::move(db_path)) {}

  const std::string& db_path() const { return db_path_; }

  // ingredient-usage: the roots, or a drill-down as Generation::usage_view.
  // kNotFound naming parent_id when the ingredient does not exist;
  // kUnavailable when the catalog cannot be read.
  core::Result<LiveView> usage(std::optional<std::int64_t> parent_id, std::optional<int> level) const;
  core::Result<LiveView> complexity() const;

 private:
  std::string db_path_;
};

}  // namespace cocktail::read_service

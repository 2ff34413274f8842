// CatalogFacts: what the analytics must say about a catalog file, computed
// independently of the analytics engine with the old system's SQL (seed 001:
// a correlated sub-query per ingredient over path prefixes, and the
// distinct-ingredient histogram), plus the names and seqs the end-to-end
// tests check writes against.
//
// read_catalog_facts() opens the file read-only and reads everything in one
// read transaction, so the facts belong to one catalog_seq even while a
// service writes. Thread-compatible: plain values.
#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

namespace cocktail::e2e {

struct UsageFacts {
  std::string name;
  std::string path;
  std::optional<std::int64_t> parent_id;
  bool allow_substitution = false;
  std::int64_t direct_usage = 0;
  std::int64_t hierarchical_usage = 0;
  bool has_children = false;

  bool operator==(const UsageFacts&) const = default;
};

struct CatalogFacts {
  std::int64_t latest_seq = 0;                         // MAX(change_log.seq)
  std::map<std::int64_t, UsageFacts> usage;            // every ingredient, by id
  std::map<std::int64_t, std::int64_t> complexity;     // distinct ingredients -> recipes
  std::map<std::string, std::int64_t> ingredient_ids;  // by name
  std::map<std::string, std::int64_t> recipe_ids;      // by name
  std::set<std::int64_t> recipes_with_ingredients;
  // Recipes with a positive total volume by the matrix rule (the Manhattan
  // map) and by the distance rule (the EM map); see docs/analytics rules.
  std::set<std::int64_t> manhattan_recipes;
  std::set<std::int64_t> em_recipes;
};

// Throws std::runtime_error when the file cannot be read.
CatalogFacts read_catalog_facts(const std::string& db_path);

// The same shapes read from analytics-api bodies ({data, metadata}
// envelopes); a message names what is malformed.
struct AnalyticsFacts {
  std::int64_t catalog_seq = -1;
  std::int64_t generation = -1;
  std::map<std::int64_t, UsageFacts> usage;
  std::map<std::int64_t, std::int64_t> complexity;
};
std::optional<std::string> read_usage_all(const rapidjson::Document& body, AnalyticsFacts& out);
std::optional<std::string> read_complexity(const rapidjson::Document& body, AnalyticsFacts& out);

// Differences between the two, one line each (empty: they agree).
std::string compare_usage(const std::map<std::int64_t, UsageFacts>& expected,
                          const std::map<std::int64_t, UsageFacts>& actual);
std::string compare_complexity(const std::map<std::int64_t, std::int64_t>& expected,
                               const std::map<std::int64_t, std::int64_t>& actual);

}  // namespace cocktail::e2e

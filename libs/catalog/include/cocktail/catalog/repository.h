// Repository: validated reads and writes of ingredients, recipes and units.
//
// Every write runs in its own write transaction (BEGIN IMMEDIATE ... COMMIT),
// so it either commits whole or changes nothing, and returns the catalog_seq
// it committed: the highest change_log seq read inside that transaction
// (the triggers of change_log.h append the rows). A write acknowledged by a
// Repository is durable as far as the connection's `synchronous` setting
// makes it (FULL by default: it survives power loss, see docs/catalog.md).
//
// Invalid input is an expected outcome, returned as a core::Error whose
// `field` names what is wrong ("name", "ingredients[2].amount"):
//   kInvalidArgument  malformed input (empty name, negative amount, unknown
//                     parent or unit id in a body, text too long)
//   kNotFound         the id addressed by the call does not exist
//   kConflict         duplicate name, delete of an ingredient in use or with
//                     children, re-parent that would make a cycle
//   kTooLarge         a batch above kMaxBulkItems
// I/O failures throw DatabaseError (from database.h).
//
// A Repository borrows a migrated Database (see schema.h), which must outlive
// it, and keeps its prepared statements. Not thread-safe: one Repository per
// connection, used by one thread at a time. Do not call it while a
// Transaction of your own is open on the same connection.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cocktail/catalog/database.h"
#include "cocktail/core/result.h"

namespace cocktail::catalog {

namespace detail {
class Problems;
}

// Limits, in bytes of UTF-8 (text must be valid UTF-8; names and unit
// fields may not contain control characters).
inline constexpr std::size_t kMaxNameBytes = 200;          // ingredient and recipe names
inline constexpr std::size_t kMaxDescriptionBytes = 4000;  // descriptions
inline constexpr std::size_t kMaxInstructionsBytes = 10000;
inline constexpr std::size_t kMaxSourceBytes = 500;
inline constexpr std::size_t kMaxUrlBytes = 2048;  // image_url, source_url: http:// or https://
inline constexpr std::size_t kMaxUnitNameBytes = 50;
inline constexpr std::size_t kMaxAbbreviationBytes = 20;
inline constexpr std::size_t kMaxRecipeIngredients = 50;  // rows per recipe
inline constexpr std::size_t kMaxBulkItems = 100000;      // items per bulk call
inline constexpr int kMaxPageLimit = 1000;

// ---- Rows as stored.

struct Ingredient {
  std::int64_t id = 0;
  std::string name;
  std::optional<std::string> description;
  std::optional<std::int64_t> parent_id;  // empty for a root
  std::string path;                       // "/<root id>/.../<id>/"
  bool allow_substitution = false;
};

struct Unit {
  std::int64_t id = 0;
  std::string name;
  std::optional<std::string> abbreviation;
  std::optional<double> conversion_to_ml;  // empty for each, to top, to rinse
};

struct RecipeIngredient {
  std::int64_t id = 0;
  std::int64_t ingredient_id = 0;
  std::string ingredient_name;  // joined for convenience
  std::optional<std::int64_t> unit_id;
  std::optional<std::string> unit_name;
  std::optional<double> amount;  // in the unit; empty when unspecified
};

struct Recipe {
  std::int64_t id = 0;
  std::string name;
  std::optional<std::string> instructions;
  std::optional<std::string> description;
  std::optional<std::string> image_url;
  std::optional<std::string> source;
  std::optional<std::string> source_url;
  std::optional<double> avg_rating;           // maintained by legacy rating tables, read-only here
  std::optional<std::int64_t> rating_count;   // idem
  std::vector<RecipeIngredient> ingredients;  // in insertion order
};

// ---- Inputs. Names are trimmed of surrounding ASCII white space; optional
// text that is empty is stored as NULL.

struct IngredientInput {
  std::string name;
  std::optional<std::string> description;
  std::optional<std::int64_t> parent_id;
  bool allow_substitution = false;
};

struct RecipeIngredientInput {
  std::int64_t ingredient_id = 0;
  std::optional<std::int64_t> unit_id;
  std::optional<double> amount;  // finite and >= 0 when present
};

struct RecipeInput {
  std::string name;
  std::optional<std::string> instructions;
  std::optional<std::string> description;
  std::optional<std::string> image_url;
  std::optional<std::string> source;
  std::optional<std::string> source_url;
  std::vector<RecipeIngredientInput> ingredients;
};

struct UnitInput {
  std::string name;
  std::optional<std::string> abbreviation;
  std::optional<double> conversion_to_ml;  // finite and > 0 when present
};

// Bulk ingredient: the parent is named by id or by name (case-insensitive),
// not both; a name may refer to an ingredient already in the catalog or to
// one defined by an earlier item of the same batch.
struct BulkIngredient {
  std::string name;
  std::optional<std::string> description;
  std::optional<std::string> parent_name;
  std::optional<std::int64_t> parent_id;
  bool allow_substitution = false;
};

// Bulk recipe row: ingredient by name (case-insensitive, must exist in the
// catalog), unit by name or else by abbreviation (case-insensitive), or none.
struct BulkRecipeIngredient {
  std::string ingredient_name;
  std::optional<double> amount;
  std::optional<std::string> unit_name;
};

struct BulkRecipe {
  std::string name;
  std::optional<std::string> instructions;
  std::optional<std::string> description;
  std::optional<std::string> image_url;
  std::optional<std::string> source;
  std::optional<std::string> source_url;
  std::vector<BulkRecipeIngredient> ingredients;
};

// ---- Paging: keyset by id, ascending. Ask for the next page with
// after_id = next_after_id while it is set.

struct PageRequest {
  std::int64_t after_id = 0;
  int limit = 100;  // 1..kMaxPageLimit
};

template <typename T>
struct Page {
  std::vector<T> items;
  std::optional<std::int64_t> next_after_id;  // empty on the last page
};

// A committed write: what it wrote and the change_log seq it committed.
template <typename T>
struct Committed {
  T value;
  std::int64_t catalog_seq = 0;
};

class Repository {
 public:
  explicit Repository(Database& db);

  // ---- Ingredients.
  core::Result<Page<Ingredient>> list_ingredients(const PageRequest& page);
  core::Result<Ingredient> get_ingredient(std::int64_t id);
  core::Result<Committed<Ingredient>> create_ingredient(const IngredientInput& input);
  // Replaces name, description, allow_substitution and parent. A new parent
  // rewrites the path of the ingredient and of every descendant in the same
  // transaction; a parent inside the ingredient's own subtree is a conflict.
  core::Result<Committed<Ingredient>> update_ingredient(std::int64_t id, const IngredientInput& input);
  // Refused (kConflict) while a recipe uses it or it has children.
  core::Result<Committed<std::int64_t>> delete_ingredient(std::int64_t id);

  // ---- Recipes.
  core::Result<Page<Recipe>> list_recipes(const PageRequest& page);
  core::Result<Recipe> get_recipe(std::int64_t id);
  core::Result<Committed<Recipe>> create_recipe(const RecipeInput& input);
  // Replaces the recipe's fields and its whole ingredient list.
  core::Result<Committed<Recipe>> update_recipe(std::int64_t id, const RecipeInput& input);
  core::Result<Committed<std::int64_t>> delete_recipe(std::int64_t id);

  // ---- Units.
  std::vector<Unit> list_units();
  // Name and abbreviation must not match (case-insensitively) any existing
  // unit's name or abbreviation, so that bulk lookups stay unambiguous.
  core::Result<Committed<Unit>> create_unit(const UnitInput& input);

  // ---- Bulk, all or nothing. On failure nothing is written and the error
  // (kInvalidArgument, or kConflict when every problem is a conflict) lists
  // every failing item in `details` with its index and field.
  core::Result<Committed<std::vector<Ingredient>>> create_ingredients(
      const std::vector<BulkIngredient>& items);
  core::Result<Committed<std::vector<Recipe>>> create_recipes(const std::vector<BulkRecipe>& items);

 private:
  Statement& statement(std::string_view sql);
  // Commits a write transaction; returns the seq it committed.
  std::int64_t commit(Transaction& tx);
  std::int64_t next_id(std::string_view sql);
  std::optional<Ingredient> find_ingredient(std::int64_t id);
  std::optional<std::int64_t> ingredient_id_by_name(std::string_view name, std::int64_t except_id);
  std::optional<std::int64_t> recipe_id_by_name(std::string_view name, std::int64_t except_id);
  std::string path_under(std::int64_t parent_id, std::string_view stored_path);
  std::string path_of_parent(std::int64_t parent_id);
  void send_recipe_read(std::int64_t id);
  std::optional<Recipe> read_sent_recipe();
  std::optional<Recipe> find_recipe(std::int64_t id);
  void load_recipe_ingredients(std::vector<Recipe>& recipes);
  Statement& send_recipe_check(const RecipeInput& input, std::int64_t id);
  bool read_recipe_check(Statement& st, const RecipeInput& input, detail::Problems& p, std::int64_t* next_id);
  void send_recipe_write(std::int64_t id, const RecipeInput& input, bool create, bool read_back);
  Recipe read_written_recipe(const RecipeInput& input, bool create);

  Database& db_;
  // Keyed by the SQL literal (static storage), prepared on first use.
  std::unordered_map<std::string_view, Statement> statements_;
};

}  // namespace cocktail::catalog

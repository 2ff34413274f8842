#include "cocktail/catalog/repository.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <unordered_map>
#include <utility>

#include "backend.h"
#include "pg_outbox.h"

namespace cocktail::catalog {

using core::Error;
using core::ErrorCode;
using core::FieldError;

namespace detail {

// ---- Validation.

// Problems found in one input (or one item of a batch): every problem is
// collected so that a client can fix them all at once.
class Problems {
 public:
  explicit Problems(int index = -1) : index_(index) {}

  void invalid(std::string field, std::string message) { add(std::move(field), std::move(message), false); }
  void conflict(std::string field, std::string message) { add(std::move(field), std::move(message), true); }
  bool empty() const { return errors_.empty(); }
  std::size_t size() const { return errors_.size(); }
  bool all_conflicts() const { return conflicts_ == errors_.size(); }
  const std::vector<FieldError>& errors() const { return errors_; }

  void append(const Problems& other) {
    errors_.insert(errors_.end(), other.errors_.begin(), other.errors_.end());
    conflicts_ += other.conflicts_;
  }

  // The error for a single-object call: named after the first problem.
  Error to_error() const {
    Error e{all_conflicts() ? ErrorCode::kConflict : ErrorCode::kInvalidArgument, errors_.front().field,
            errors_.front().message, errors_};
    return e;
  }

 private:
  void add(std::string field, std::string message, bool conflict) {
    errors_.push_back({index_, std::move(field), std::move(message)});
    if (conflict) {
      ++conflicts_;
    }
  }
  int index_;
  std::vector<FieldError> errors_;
  std::size_t conflicts_ = 0;
};

}  // namespace detail

namespace {

using detail::Problems;

Error batch_error(const Problems& problems, std::size_t items, std::size_t failed_items) {
  Error e{
      problems.all_conflicts() ? ErrorCode::kConflict : ErrorCode::kInvalidArgument, "items",
      std::to_string(failed_items) + " of " + std::to_string(items) + " items failed; nothing was written",
      problems.errors()};
  return e;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && is_space(s.back())) {
    s.remove_suffix(1);
  }
  return std::string(s);
}

// SQLite's NOCASE folds ASCII letters only; lookups in memory do the same.
std::string fold_case(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

bool has_control(std::string_view s, bool multiline) {
  for (unsigned char c : s) {
    if (multiline && (c == '\n' || c == '\r' || c == '\t')) {
      continue;
    }
    if (c < 0x20 || c == 0x7f) {
      return true;
    }
  }
  return false;
}

// Checks text shared by names and free text; false when a problem was added.
bool check_text_common(Problems& p, const std::string& field, std::string_view text, std::size_t max_bytes,
                       bool multiline) {
  if (text.size() > max_bytes) {
    p.invalid(field,
              "is " + std::to_string(text.size()) + " bytes long; the limit is " + std::to_string(max_bytes));
    return false;
  }
  if (!simdjson::validate_utf8(text.data(), text.size())) {
    p.invalid(field, "is not valid UTF-8");
    return false;
  }
  if (has_control(text, multiline)) {
    p.invalid(field, "contains control characters");
    return false;
  }
  return true;
}

std::string check_name(Problems& p, const std::string& field, std::string_view raw, std::size_t max_bytes) {
  std::string name = trim(raw);
  if (name.empty()) {
    p.invalid(field, "is required and must not be blank");
  } else {
    check_text_common(p, field, name, max_bytes, false);
  }
  return name;
}

std::optional<std::string> check_optional(Problems& p, const std::string& field,
                                          const std::optional<std::string>& raw, std::size_t max_bytes,
                                          bool multiline) {
  if (!raw || raw->empty()) {
    return std::nullopt;
  }
  check_text_common(p, field, *raw, max_bytes, multiline);
  return raw;
}

std::optional<std::string> check_url(Problems& p, const std::string& field,
                                     const std::optional<std::string>& raw) {
  if (!raw || raw->empty()) {
    return std::nullopt;
  }
  if (!check_text_common(p, field, *raw, kMaxUrlBytes, false)) {
    return raw;
  }
  std::string folded = fold_case(std::string_view(*raw).substr(0, 8));
  if (folded.rfind("http://", 0) != 0 && folded.rfind("https://", 0) != 0) {
    p.invalid(field, "must be an http:// or https:// URL");
  }
  return raw;
}

void check_amount(Problems& p, const std::string& field, const std::optional<double>& amount) {
  if (!amount) {
    return;
  }
  if (!std::isfinite(*amount)) {
    p.invalid(field, "must be a finite number");
  } else if (*amount < 0) {
    p.invalid(field, "must not be negative");
  }
}

void check_id(Problems& p, const std::string& field, std::int64_t id) {
  if (id <= 0) {
    p.invalid(field, "must be a positive id");
  }
}

std::string row_field(std::size_t k, const char* name) {
  return "ingredients[" + std::to_string(k) + "]." + name;
}

// Input fields after validation: trimmed name, empty text as NULL.
struct CleanRecipe {
  std::string name;
  std::optional<std::string> instructions, description, image_url, source, source_url;
};

CleanRecipe check_recipe_fields(Problems& p, const std::string& name,
                                const std::optional<std::string>& instructions,
                                const std::optional<std::string>& description,
                                const std::optional<std::string>& image_url,
                                const std::optional<std::string>& source,
                                const std::optional<std::string>& source_url, std::size_t rows) {
  CleanRecipe c;
  c.name = check_name(p, "name", name, kMaxNameBytes);
  c.instructions = check_optional(p, "instructions", instructions, kMaxInstructionsBytes, true);
  c.description = check_optional(p, "description", description, kMaxDescriptionBytes, true);
  c.image_url = check_url(p, "image_url", image_url);
  c.source = check_optional(p, "source", source, kMaxSourceBytes, false);
  c.source_url = check_url(p, "source_url", source_url);
  if (rows > kMaxRecipeIngredients) {
    p.invalid("ingredients",
              "has " + std::to_string(rows) + " rows; the limit is " + std::to_string(kMaxRecipeIngredients));
  }
  return c;
}

// Resets a cached statement when the scope ends, whatever happens.
class Bound {
 public:
  explicit Bound(Statement& st) : st_(st) {}
  ~Bound() { st_.reset(); }
  Bound(const Bound&) = delete;
  Bound& operator=(const Bound&) = delete;
  Statement* operator->() { return &st_; }
  Statement& operator*() { return st_; }

 private:
  Statement& st_;
};

Ingredient read_ingredient(Statement& st) {
  Ingredient i;
  i.id = st.column_int(0);
  i.name = st.column_text(1);
  if (!st.is_null(2)) {
    i.description = st.column_text(2);
  }
  i.parent_id = st.column_optional_int(3);
  i.path = st.column_text(4);
  i.allow_substitution = st.column_int(5) != 0;
  return i;
}

Recipe read_recipe(Statement& st) {
  Recipe r;
  r.id = st.column_int(0);
  r.name = st.column_text(1);
  auto text = [&](int col) -> std::optional<std::string> {
    if (st.is_null(col)) {
      return std::nullopt;
    }
    return st.column_text(col);
  };
  r.instructions = text(2);
  r.description = text(3);
  r.image_url = text(4);
  r.source = text(5);
  r.source_url = text(6);
  r.avg_rating = st.column_optional_double(7);
  r.rating_count = st.column_optional_int(8);
  return r;
}

}  // namespace

// SQL is kept as literals so that the statement cache can key on them.
#define INGREDIENT_SELECT                                                   \
  "SELECT id, name, description, parent_id, COALESCE(path, ''), CASE WHEN " \
  "allow_substitution THEN 1 ELSE 0 END "
#define RECIPE_COLUMNS \
  "id, name, instructions, description, image_url, source, source_url, avg_rating, rating_count "
#define RECIPE_SELECT "SELECT " RECIPE_COLUMNS "FROM recipes "

namespace {

// Round trips. On PostgreSQL each statement waited for is a round trip to
// the server, so a write sends what it can ahead (Statement::send) and
// waits twice: once for the checks (with BEGIN), once for the writes, the
// read-back and the seq (with COMMIT). There the references of a recipe's
// rows are checked by one set-based statement over arrays of ids, and its
// rows are written by one INSERT ... SELECT FROM unnest(). SQLite runs in
// this process: a lookup or an insert per row costs it less than the lists
// would.

// A PostgreSQL array literal of numbers ("{1,NULL,3}"): nothing to quote.
template <typename T>
std::string pg_array(const std::vector<std::optional<T>>& values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) {
      out += ',';
    }
    if (!values[i]) {
      out += "NULL";
      continue;
    }
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, *values[i]);
    (void)ec;
    out.append(buf, end);
  }
  out += '}';
  return out;
}

// The id the next row of a table gets, chosen before its insert (so that a
// row is written once, with everything derived from its id). SQLite: this
// transaction holds the write lock, and AUTOINCREMENT never reuses an id;
// PostgreSQL: taken from the column's sequence.
#define SQLITE_NEXT_ID(table)                \
  "MAX(COALESCE((SELECT MAX(id) FROM " table \
  "), 0), "                                  \
  "COALESCE((SELECT seq FROM sqlite_sequence WHERE name = '" table "'), 0)) + 1"
#define PG_NEXT_ID(table) "nextval(pg_get_serial_sequence('" table "', 'id'))"
constexpr Dialect kNextIngredientId{"SELECT " SQLITE_NEXT_ID("ingredients"),
                                    "SELECT " PG_NEXT_ID("ingredients")};
constexpr Dialect kNextRecipeId{"SELECT " SQLITE_NEXT_ID("recipes"), "SELECT " PG_NEXT_ID("recipes")};

// PostgreSQL: the name columns are citext, compared case-insensitively (and
// served by their unique indexes).
constexpr Dialect kIngredientIdByName{
    "SELECT id FROM ingredients WHERE name = ?1 COLLATE NOCASE AND id <> ?2 LIMIT 1",
    "SELECT id FROM ingredients WHERE name = ?1 AND id <> ?2 LIMIT 1"};
constexpr Dialect kRecipeIdByName{
    "SELECT id FROM recipes WHERE name = ?1 COLLATE NOCASE AND id <> ?2 LIMIT 1",
    "SELECT id FROM recipes WHERE name = ?1 AND id <> ?2 LIMIT 1"};

// What is wrong with a recipe against the catalog, one row per problem:
// ('ingredient_id', k) and ('unit_id', k) for a row k naming an ingredient
// or unit that does not exist (PostgreSQL; ?1 the rows' ingredient ids and
// ?2 their unit ids, as arrays), ('name', 0) for a name another recipe has,
// ('id', 0) when the recipe ?4 to update does not exist; and for a new one
// (?4 = 0) ('next_id', id), the id it gets. Every lookup is a scalar
// subquery by primary key or name, so that the plan is index lookups
// whatever the planner knows of the tables.
constexpr Dialect kRecipeProblems{
    "SELECT 'name', 0 WHERE EXISTS (SELECT 1 FROM recipes WHERE name = ?3 COLLATE NOCASE AND id <> ?4) "
    "UNION ALL SELECT 'id', 0 WHERE ?4 <> 0 AND NOT EXISTS (SELECT 1 FROM recipes WHERE id = ?4) "
    "UNION ALL SELECT 'next_id', " SQLITE_NEXT_ID("recipes") " WHERE ?4 = 0",
    "SELECT 'ingredient_id', r.k - 1 FROM unnest(CAST(?1 AS BIGINT[])) WITH ORDINALITY AS r(id, k) "
    "WHERE (SELECT i.id FROM ingredients AS i WHERE i.id = r.id) IS NULL "
    "UNION ALL SELECT 'unit_id', r.k - 1 FROM unnest(CAST(?2 AS BIGINT[])) WITH ORDINALITY AS r(id, k) "
    "WHERE r.id IS NOT NULL AND (SELECT u.id FROM units AS u WHERE u.id = r.id) IS NULL "
    "UNION ALL SELECT 'name', 0 "
    "WHERE EXISTS (SELECT 1 FROM recipes WHERE name = ?3 AND id <> CAST(?4 AS BIGINT)) "
    "UNION ALL SELECT 'id', 0 WHERE CAST(?4 AS BIGINT) <> 0 "
    "AND NOT EXISTS (SELECT 1 FROM recipes WHERE id = CAST(?4 AS BIGINT)) "
    "UNION ALL SELECT 'next_id', " PG_NEXT_ID("recipes") " WHERE CAST(?4 AS BIGINT) = 0"};
#undef SQLITE_NEXT_ID
#undef PG_NEXT_ID

// A recipe row written. PostgreSQL returns it as the write left it (a
// trigger of the deployment's may have set some of its columns); SQLite
// reads it back (RETURNING costs it more than a lookup by key).
#define INSERT_RECIPE                                                                        \
  "INSERT INTO recipes(id, name, instructions, description, image_url, source, source_url) " \
  "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
#define UPDATE_RECIPE                                                                                \
  "UPDATE recipes SET name = ?2, instructions = ?3, description = ?4, image_url = ?5, source = ?6, " \
  "source_url = ?7 WHERE id = ?1"
constexpr Dialect kInsertRecipe{INSERT_RECIPE, INSERT_RECIPE " RETURNING " RECIPE_COLUMNS};
constexpr Dialect kUpdateRecipe{UPDATE_RECIPE, UPDATE_RECIPE " RETURNING " RECIPE_COLUMNS};
#undef INSERT_RECIPE
#undef UPDATE_RECIPE

// A recipe's ingredient rows, ids in list order. SQLite: one row (?1 the
// recipe, ?2 ingredient, ?3 unit, ?4 amount). PostgreSQL: all of them (?2,
// ?3 and ?4 arrays), returned as stored, names looked up, in the columns of
// kOneRecipeRows below.
constexpr Dialect kInsertRecipeRows{
    "INSERT INTO recipe_ingredients(recipe_id, ingredient_id, unit_id, amount) VALUES (?1, ?2, ?3, ?4)",
    "WITH ins AS (INSERT INTO recipe_ingredients(recipe_id, ingredient_id, unit_id, amount) "
    "SELECT CAST(?1 AS BIGINT), r.ingredient_id, r.unit_id, r.amount "
    "FROM unnest(CAST(?2 AS BIGINT[]), CAST(?3 AS BIGINT[]), CAST(?4 AS FLOAT8[])) "
    "WITH ORDINALITY AS r(ingredient_id, unit_id, amount, k) ORDER BY r.k "
    "RETURNING recipe_id, id, ingredient_id, unit_id, amount) "
    "SELECT ins.recipe_id, ins.id, ins.ingredient_id, "
    "COALESCE((SELECT i.name FROM ingredients AS i WHERE i.id = ins.ingredient_id), ''), ins.unit_id, "
    "(SELECT u.name FROM units AS u WHERE u.id = ins.unit_id), ins.amount FROM ins ORDER BY ins.id"};

// The rows of the recipes ?1..?2 (a page), ingredient and unit names
// joined; and those of one recipe ?1. On PostgreSQL the names of the latter
// are looked up by primary key in scalar subqueries, so that its plan is
// index lookups whatever the size of the catalog (SQLite's joins are
// index lookups anyway).
#define RECIPE_ROWS_SELECT                                                                             \
  "SELECT ri.recipe_id, ri.id, ri.ingredient_id, COALESCE(i.name, ''), ri.unit_id, u.name, ri.amount " \
  "FROM recipe_ingredients AS ri LEFT JOIN ingredients AS i ON i.id = ri.ingredient_id "               \
  "LEFT JOIN units AS u ON u.id = ri.unit_id "
constexpr const char* kRecipeRows =
    RECIPE_ROWS_SELECT "WHERE ri.recipe_id BETWEEN ?1 AND ?2 ORDER BY ri.recipe_id, ri.id";
constexpr Dialect kOneRecipeRows{
    RECIPE_ROWS_SELECT "WHERE ri.recipe_id = ?1 ORDER BY ri.id",
    "SELECT ri.recipe_id, ri.id, ri.ingredient_id, "
    "COALESCE((SELECT i.name FROM ingredients AS i WHERE i.id = ri.ingredient_id), ''), ri.unit_id, "
    "(SELECT u.name FROM units AS u WHERE u.id = ri.unit_id), ri.amount "
    "FROM recipe_ingredients AS ri WHERE ri.recipe_id = ?1 ORDER BY ri.id"};
#undef RECIPE_ROWS_SELECT

RecipeIngredient read_recipe_row(Statement& st) {
  RecipeIngredient ri;
  ri.id = st.column_int(1);
  ri.ingredient_id = st.column_int(2);
  ri.ingredient_name = st.column_text(3);
  ri.unit_id = st.column_optional_int(4);
  if (!st.is_null(5)) {
    ri.unit_name = st.column_text(5);
  }
  ri.amount = st.column_optional_double(6);
  return ri;
}

}  // namespace

Repository::Repository(Database& db) : db_(db) {}

Statement& Repository::statement(std::string_view sql) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) {
    it = statements_.emplace(sql, db_.prepare(sql)).first;
  }
  return it->second;
}

// The seq read and the COMMIT travel together. PostgreSQL takes seqs at
// commit (see pg_outbox.h): the capture triggers are fired first, so that
// this transaction's own seqs are there to read; the advisory lock they take
// is then held only while the server runs these three statements, never
// across a round trip.
std::int64_t Repository::commit(Transaction& tx) {
  if (db_.backend() == Backend::kPostgres) {
    Bound capture(statement(pg::kCaptureNowSql));
    capture->send();
  }
  Bound seq(statement(Dialect{"SELECT COALESCE(MAX(seq), 0) FROM change_log",
                              "SELECT COALESCE(MAX(seq), 0) FROM cocktail.change_log"}
                          .of(db_)));
  seq->send();
  tx.commit();
  return seq->step() ? seq->column_int(0) : 0;
}

std::int64_t Repository::next_id(std::string_view sql) {
  Bound next(statement(sql));
  next->step();
  return next->column_int(0);
}

std::optional<Ingredient> Repository::find_ingredient(std::int64_t id) {
  Bound st(statement(INGREDIENT_SELECT "FROM ingredients WHERE id = ?1"));
  st->bind(1, id);
  if (!st->step()) {
    return std::nullopt;
  }
  return read_ingredient(*st);
}

std::optional<std::int64_t> Repository::ingredient_id_by_name(std::string_view name, std::int64_t except_id) {
  Bound st(statement(kIngredientIdByName.of(db_)));
  st->bind(1, name).bind(2, except_id);
  if (!st->step()) {
    return std::nullopt;
  }
  return st->column_int(0);
}

std::optional<std::int64_t> Repository::recipe_id_by_name(std::string_view name, std::int64_t except_id) {
  Bound st(statement(kRecipeIdByName.of(db_)));
  st->bind(1, name).bind(2, except_id);
  if (!st->step()) {
    return std::nullopt;
  }
  return st->column_int(0);
}

// The path under an existing ingredient: its stored path, or one recomputed
// from parent_id when it has none (rows of a legacy file whose chain was
// broken).
std::string Repository::path_under(std::int64_t parent_id, std::string_view stored_path) {
  if (!stored_path.empty()) {
    return std::string(stored_path);
  }
  std::string path = "/";
  std::vector<std::int64_t> chain;
  std::optional<std::int64_t> cur = parent_id;
  while (cur && chain.size() < 10000) {
    chain.push_back(*cur);
    auto row = find_ingredient(*cur);
    cur = row ? row->parent_id : std::nullopt;
  }
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    path += std::to_string(*it) + "/";
  }
  return path;
}

std::string Repository::path_of_parent(std::int64_t parent_id) {
  auto parent = find_ingredient(parent_id);
  return path_under(parent_id, parent ? std::string_view(parent->path) : std::string_view());
}

// ---------------------------------------------------------------- ingredients

core::Result<Page<Ingredient>> Repository::list_ingredients(const PageRequest& page) {
  if (page.limit < 1 || page.limit > kMaxPageLimit) {
    return Error::invalid("limit", "must be between 1 and " + std::to_string(kMaxPageLimit));
  }
  if (page.after_id < 0) {
    return Error::invalid("after_id", "must not be negative");
  }
  Page<Ingredient> out;
  Bound st(statement(INGREDIENT_SELECT "FROM ingredients WHERE id > ?1 ORDER BY id LIMIT ?2"));
  st->bind(1, page.after_id).bind(2, page.limit + 1);
  while (st->step()) {
    out.items.push_back(read_ingredient(*st));
  }
  if (out.items.size() > static_cast<std::size_t>(page.limit)) {
    out.items.pop_back();
    out.next_after_id = out.items.back().id;
  }
  return out;
}

core::Result<Ingredient> Repository::get_ingredient(std::int64_t id) {
  auto row = find_ingredient(id);
  if (!row) {
    return Error::not_found("id", "no ingredient with id " + std::to_string(id));
  }
  return *row;
}

// An ingredient's parent as a write needs it: whether it exists, its path.
#define PARENT_SELECT "SELECT COALESCE(path, '') FROM ingredients WHERE id = ?1"

core::Result<Committed<Ingredient>> Repository::create_ingredient(const IngredientInput& input) {
  Problems p;
  Ingredient row;
  row.name = check_name(p, "name", input.name, kMaxNameBytes);
  row.description = check_optional(p, "description", input.description, kMaxDescriptionBytes, true);
  row.allow_substitution = input.allow_substitution;
  row.parent_id = input.parent_id;
  if (input.parent_id) {
    check_id(p, "parent_id", *input.parent_id);
  }
  if (!p.empty()) {
    return p.to_error();
  }

  Transaction tx(db_, Transaction::Kind::kWrite);
  // The checks and the id, in one round trip.
  Bound parent(statement(PARENT_SELECT));
  if (input.parent_id) {
    parent->bind(1, *input.parent_id).send();
  }
  Bound taken(statement(kIngredientIdByName.of(db_)));
  taken->bind(1, row.name).bind(2, 0).send();
  Bound next(statement(kNextIngredientId.of(db_)));
  next->send();
  std::optional<std::string> parent_path;
  if (input.parent_id) {
    if (parent->step()) {
      parent_path = parent->column_text(0);
    } else {
      p.invalid("parent_id", "no ingredient with id " + std::to_string(*input.parent_id));
    }
  }
  if (taken->step()) {
    p.conflict("name", "an ingredient named '" + row.name + "' exists");
  }
  if (!p.empty()) {
    return p.to_error();
  }

  // The id is chosen before the insert so that the row is written once, with
  // its path, and change_log records one insert rather than insert + update.
  next->step();
  row.id = next->column_int(0);
  row.path = (row.parent_id ? path_under(*row.parent_id, *parent_path) : std::string("/")) +
             std::to_string(row.id) + "/";
  {
    Bound ins(
        statement("INSERT INTO ingredients(id, name, description, parent_id, path, allow_substitution) "
                  "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
    ins->bind(1, row.id).bind(2, row.name).bind(3, row.description).bind(4, row.parent_id).bind(5, row.path);
    ins->bind(6, row.allow_substitution ? 1 : 0);
    ins->send();
  }
  std::int64_t seq = commit(tx);
  return Committed<Ingredient>{std::move(row), seq};
}

core::Result<Committed<Ingredient>> Repository::update_ingredient(std::int64_t id,
                                                                  const IngredientInput& input) {
  Problems p;
  std::string name = check_name(p, "name", input.name, kMaxNameBytes);
  auto description = check_optional(p, "description", input.description, kMaxDescriptionBytes, true);
  if (input.parent_id) {
    check_id(p, "parent_id", *input.parent_id);
  }
  if (!p.empty()) {
    return p.to_error();
  }

  Transaction tx(db_, Transaction::Kind::kWrite);
  // Everything the checks need, in one round trip.
  Bound current_st(statement(INGREDIENT_SELECT "FROM ingredients WHERE id = ?1"));
  current_st->bind(1, id).send();
  Bound taken(statement(kIngredientIdByName.of(db_)));
  taken->bind(1, name).bind(2, id).send();
  Bound parent(statement(PARENT_SELECT));
  // Walks up from the new parent by parent_id (not by path, which a legacy
  // file may lack); UNION stops on any cycle already present.
  Bound up(
      statement("WITH RECURSIVE up(id) AS (SELECT CAST(?1 AS BIGINT) UNION SELECT i.parent_id FROM "
                "ingredients AS i JOIN up "
                "ON i.id = up.id WHERE i.parent_id IS NOT NULL) SELECT 1 FROM up WHERE id = ?2"));
  if (input.parent_id) {
    parent->bind(1, *input.parent_id).send();
    up->bind(1, *input.parent_id).bind(2, id).send();
  }
  if (!current_st->step()) {
    return Error::not_found("id", "no ingredient with id " + std::to_string(id));
  }
  const Ingredient current = read_ingredient(*current_st);
  if (taken->step()) {
    p.conflict("name", "an ingredient named '" + name + "' exists");
  }

  std::optional<std::string> parent_path;
  if (input.parent_id && parent->step()) {
    parent_path = parent->column_text(0);
  }
  bool reparent = input.parent_id != current.parent_id || current.path.empty();
  if (input.parent_id && input.parent_id != current.parent_id) {
    if (!parent_path) {
      p.invalid("parent_id", "no ingredient with id " + std::to_string(*input.parent_id));
    } else if (up->step()) {
      p.conflict("parent_id",
                 "ingredient " + std::to_string(*input.parent_id) + " is " +
                     (*input.parent_id == id ? "the ingredient itself" : "one of its descendants") +
                     ": the hierarchy would have a cycle");
    }
  }
  if (!p.empty()) {
    return p.to_error();
  }

  Ingredient row{id, name, description, input.parent_id, current.path, input.allow_substitution};
  if (reparent) {
    row.path = (row.parent_id ? path_under(*row.parent_id, parent_path.value_or("")) : std::string("/")) +
               std::to_string(id) + "/";
  }
  {
    Bound upd(
        statement("UPDATE ingredients SET name = ?2, description = ?3, parent_id = ?4, path = ?5, "
                  "allow_substitution = ?6 "
                  "WHERE id = ?1"));
    upd->bind(1, id).bind(2, row.name).bind(3, row.description).bind(4, row.parent_id).bind(5, row.path);
    upd->bind(6, row.allow_substitution ? 1 : 0);
    upd->send();
  }
  if (row.path != current.path) {
    // Every descendant's path is rebuilt from parent_id under the new path,
    // in this same transaction; rows whose path is already right are skipped.
    Bound sub(
        statement("WITH RECURSIVE sub(id, path) AS (SELECT CAST(?1 AS BIGINT), CAST(?2 AS TEXT) UNION ALL "
                  "SELECT i.id, sub.path || i.id || '/' "
                  "FROM ingredients AS i JOIN sub ON i.parent_id = sub.id) "
                  "UPDATE ingredients SET path = (SELECT sub.path FROM sub WHERE sub.id = ingredients.id) "
                  "WHERE id IN (SELECT id FROM sub WHERE id <> ?1) "
                  "AND path IS DISTINCT FROM (SELECT sub.path FROM sub WHERE sub.id = ingredients.id)"));
    sub->bind(1, id).bind(2, row.path);
    sub->send();
  }
  std::int64_t seq = commit(tx);
  return Committed<Ingredient>{std::move(row), seq};
}

core::Result<Committed<std::int64_t>> Repository::delete_ingredient(std::int64_t id) {
  Transaction tx(db_, Transaction::Kind::kWrite);
  Bound found(statement("SELECT 1 FROM ingredients WHERE id = ?1"));
  found->bind(1, id).send();
  Bound used(statement("SELECT COUNT(DISTINCT recipe_id) FROM recipe_ingredients WHERE ingredient_id = ?1"));
  used->bind(1, id).send();
  Bound children(statement("SELECT COUNT(*) FROM ingredients WHERE parent_id = ?1"));
  children->bind(1, id).send();
  if (!found->step()) {
    return Error::not_found("id", "no ingredient with id " + std::to_string(id));
  }
  if (used->step() && used->column_int(0) > 0) {
    return Error::conflict("id", "ingredient " + std::to_string(id) + " is used by " +
                                     std::to_string(used->column_int(0)) + " recipe(s)");
  }
  if (children->step() && children->column_int(0) > 0) {
    return Error::conflict("id", "ingredient " + std::to_string(id) + " has " +
                                     std::to_string(children->column_int(0)) + " child ingredient(s)");
  }
  {
    Bound del(statement("DELETE FROM ingredients WHERE id = ?1"));
    del->bind(1, id).send();
  }
  try {
    return Committed<std::int64_t>{id, commit(tx)};
  } catch (const DatabaseError& e) {
    // Tables this code does not manage (user_ingredients, ...) may refer to it.
    if (!e.is_constraint()) {
      throw;
    }
    return Error::conflict("id", "ingredient " + std::to_string(id) + " is referenced by other rows");
  }
}

#undef PARENT_SELECT

// -------------------------------------------------------------------- recipes

void Repository::load_recipe_ingredients(std::vector<Recipe>& recipes) {
  if (recipes.empty()) {
    return;
  }
  std::unordered_map<std::int64_t, std::size_t> index;
  for (std::size_t i = 0; i < recipes.size(); ++i) {
    index.emplace(recipes[i].id, i);
  }
  Bound st(statement(kRecipeRows));
  st->bind(1, recipes.front().id).bind(2, recipes.back().id);
  while (st->step()) {
    auto it = index.find(st->column_int(0));
    if (it == index.end()) {
      continue;
    }
    recipes[it->second].ingredients.push_back(read_recipe_row(*st));
  }
}

// The two reads of one recipe, sent together; read_sent_recipe() collects
// them (on PostgreSQL possibly after the commit that carried them).
void Repository::send_recipe_read(std::int64_t id) {
  statement(RECIPE_SELECT "WHERE id = ?1").bind(1, id).send();
  statement(kOneRecipeRows.of(db_)).bind(1, id).send();
}

std::optional<Recipe> Repository::read_sent_recipe() {
  Bound head(statement(RECIPE_SELECT "WHERE id = ?1"));
  Bound rows(statement(kOneRecipeRows.of(db_)));
  if (!head->step()) {
    return std::nullopt;
  }
  Recipe recipe = read_recipe(*head);
  while (rows->step()) {
    recipe.ingredients.push_back(read_recipe_row(*rows));
  }
  return recipe;
}

std::optional<Recipe> Repository::find_recipe(std::int64_t id) {
  send_recipe_read(id);
  return read_sent_recipe();
}

core::Result<Page<Recipe>> Repository::list_recipes(const PageRequest& page) {
  if (page.limit < 1 || page.limit > kMaxPageLimit) {
    return Error::invalid("limit", "must be between 1 and " + std::to_string(kMaxPageLimit));
  }
  if (page.after_id < 0) {
    return Error::invalid("after_id", "must not be negative");
  }
  Page<Recipe> out;
  // One read transaction: the recipes and their rows come from one state.
  Transaction tx(db_, Transaction::Kind::kRead);
  {
    Bound st(statement(RECIPE_SELECT "WHERE id > ?1 ORDER BY id LIMIT ?2"));
    st->bind(1, page.after_id).bind(2, page.limit + 1);
    while (st->step()) {
      out.items.push_back(read_recipe(*st));
    }
  }
  if (out.items.size() > static_cast<std::size_t>(page.limit)) {
    out.items.pop_back();
    out.next_after_id = out.items.back().id;
  }
  load_recipe_ingredients(out.items);
  tx.commit();
  return out;
}

core::Result<Recipe> Repository::get_recipe(std::int64_t id) {
  Transaction tx(db_, Transaction::Kind::kRead);
  auto recipe = find_recipe(id);
  tx.commit();
  if (!recipe) {
    return Error::not_found("id", "no recipe with id " + std::to_string(id));
  }
  return std::move(*recipe);
}

// Sends the statement that checks a recipe against the catalog (inside the
// write transaction, after the shape checks); read_recipe_check() collects
// it. `id` is the recipe to update, 0 for a new one.
Statement& Repository::send_recipe_check(const RecipeInput& input, std::int64_t id) {
  Statement& st = statement(kRecipeProblems.of(db_));
  if (db_.backend() == Backend::kPostgres) {
    std::vector<std::optional<std::int64_t>> ingredient_ids, unit_ids;
    for (const auto& row : input.ingredients) {
      ingredient_ids.emplace_back(row.ingredient_id);
      unit_ids.push_back(row.unit_id);
    }
    st.bind(1, pg_array(ingredient_ids)).bind(2, pg_array(unit_ids));
  }
  st.bind(3, input.name).bind(4, id);
  st.send();
  return st;
}

// Adds what the check found to `p`, fields in input order, and sets
// `next_id` for a new recipe; false when the recipe to update does not exist.
bool Repository::read_recipe_check(Statement& st, const RecipeInput& input, detail::Problems& p,
                                   std::int64_t* next_id) {
  std::vector<char> no_ingredient(input.ingredients.size()), no_unit(input.ingredients.size());
  bool name_taken = false;
  bool missing = false;
  while (st.step()) {
    const std::string_view what = st.column_text_view(0);
    const auto k = static_cast<std::size_t>(st.column_int(1));
    if (what == "ingredient_id" && k < no_ingredient.size()) {
      no_ingredient[k] = 1;
    }
    if (what == "unit_id" && k < no_unit.size()) {
      no_unit[k] = 1;
    }
    if (what == "name") {
      name_taken = true;
    }
    if (what == "id") {
      missing = true;
    }
    if (what == "next_id" && next_id) {
      *next_id = st.column_int(1);
    }
  }
  if (db_.backend() == Backend::kSqlite) {
    for (std::size_t k = 0; k < input.ingredients.size(); ++k) {
      const auto& row = input.ingredients[k];
      Bound ingredient(statement("SELECT 1 FROM ingredients WHERE id = ?1"));
      no_ingredient[k] = !ingredient->bind(1, row.ingredient_id).step();
      if (row.unit_id) {
        Bound unit(statement("SELECT 1 FROM units WHERE id = ?1"));
        no_unit[k] = !unit->bind(1, *row.unit_id).step();
      }
    }
  }
  for (std::size_t k = 0; k < input.ingredients.size(); ++k) {
    const auto& row = input.ingredients[k];
    if (no_ingredient[k]) {
      p.invalid(row_field(k, "ingredient_id"), "no ingredient with id " + std::to_string(row.ingredient_id));
    }
    if (no_unit[k]) {
      p.invalid(row_field(k, "unit_id"), "no unit with id " + std::to_string(*row.unit_id));
    }
  }
  if (name_taken) {
    p.conflict("name", "a recipe named '" + input.name + "' exists");
  }
  return !missing;
}

// Sends the writes of a recipe: the recipe row (an insert with the id
// chosen, or an update) and its whole ingredient list, each returning what
// it wrote, for read_written_recipe() when `read_back`.
void Repository::send_recipe_write(std::int64_t id, const RecipeInput& in, bool create, bool read_back) {
  Statement& head = statement((create ? kInsertRecipe : kUpdateRecipe).of(db_));
  head.bind(1, id).bind(2, in.name).bind(3, in.instructions).bind(4, in.description).bind(5, in.image_url);
  head.bind(6, in.source).bind(7, in.source_url);
  head.send();
  if (!create) {
    Bound del(statement("DELETE FROM recipe_ingredients WHERE recipe_id = ?1"));
    del->bind(1, id).send();
  }
  if (db_.backend() == Backend::kSqlite) {
    Bound rows(statement(kInsertRecipeRows.sqlite));
    for (const auto& ri : in.ingredients) {
      rows->bind(1, id).bind(2, ri.ingredient_id).bind(3, ri.unit_id).bind(4, ri.amount);
      rows->send();
    }
    // Read back before the commit, in the write transaction.
    if (read_back) {
      send_recipe_read(id);
    }
    return;
  }
  if (in.ingredients.empty()) {
    return;
  }
  std::vector<std::optional<std::int64_t>> ingredient_ids, unit_ids;
  std::vector<std::optional<double>> amounts;
  for (const auto& ri : in.ingredients) {
    ingredient_ids.emplace_back(ri.ingredient_id);
    unit_ids.push_back(ri.unit_id);
    amounts.push_back(ri.amount);
  }
  Statement& rows = statement(kInsertRecipeRows.postgres);
  rows.bind(1, id).bind(2, pg_array(ingredient_ids)).bind(3, pg_array(unit_ids)).bind(4, pg_array(amounts));
  rows.send();
}

// The recipe send_recipe_write() wrote, as stored.
Recipe Repository::read_written_recipe(const RecipeInput& in, bool create) {
  std::optional<Recipe> recipe;
  if (db_.backend() == Backend::kSqlite) {
    recipe = read_sent_recipe();
  } else {
    Bound head(statement((create ? kInsertRecipe : kUpdateRecipe).postgres));
    if (head->step()) {
      recipe = read_recipe(*head);
    }
    Bound rows(statement(kInsertRecipeRows.postgres));
    if (recipe && !in.ingredients.empty()) {
      while (rows->step()) {
        recipe->ingredients.push_back(read_recipe_row(*rows));
      }
    }
  }
  if (!recipe) {
    throw DatabaseError(DatabaseError::Kind::kOther, "the recipe written is not there");
  }
  return std::move(*recipe);
}

namespace {

// Shape checks of a RecipeInput; returns the cleaned copy to write.
RecipeInput check_recipe_input(Problems& p, const RecipeInput& input) {
  CleanRecipe c = check_recipe_fields(p, input.name, input.instructions, input.description, input.image_url,
                                      input.source, input.source_url, input.ingredients.size());
  RecipeInput out{c.name,   c.instructions, c.description,    c.image_url,
                  c.source, c.source_url,   input.ingredients};
  for (std::size_t k = 0; k < input.ingredients.size() && k < kMaxRecipeIngredients; ++k) {
    const auto& row = input.ingredients[k];
    check_id(p, row_field(k, "ingredient_id"), row.ingredient_id);
    if (row.unit_id) {
      check_id(p, row_field(k, "unit_id"), *row.unit_id);
    }
    check_amount(p, row_field(k, "amount"), row.amount);
  }
  return out;
}

}  // namespace

// Two round trips on PostgreSQL: BEGIN and the check (which also takes the
// id); then the writes, returning what they wrote, the seq and COMMIT.
core::Result<Committed<Recipe>> Repository::create_recipe(const RecipeInput& input) {
  Problems p;
  RecipeInput clean = check_recipe_input(p, input);
  if (!p.empty()) {
    return p.to_error();
  }
  Transaction tx(db_, Transaction::Kind::kWrite);
  std::int64_t id = 0;
  {
    Bound check(send_recipe_check(clean, 0));
    read_recipe_check(*check, clean, p, &id);
  }
  if (!p.empty()) {
    return p.to_error();
  }
  send_recipe_write(id, clean, true, true);
  std::int64_t seq = commit(tx);
  return Committed<Recipe>{read_written_recipe(clean, true), seq};
}

core::Result<Committed<Recipe>> Repository::update_recipe(std::int64_t id, const RecipeInput& input) {
  Problems p;
  RecipeInput clean = check_recipe_input(p, input);
  if (!p.empty()) {
    return p.to_error();
  }
  Transaction tx(db_, Transaction::Kind::kWrite);
  {
    Bound check(send_recipe_check(clean, id));
    if (!read_recipe_check(*check, clean, p, nullptr)) {
      return Error::not_found("id", "no recipe with id " + std::to_string(id));
    }
  }
  if (!p.empty()) {
    return p.to_error();
  }
  send_recipe_write(id, clean, false, true);
  std::int64_t seq = commit(tx);
  return Committed<Recipe>{read_written_recipe(clean, false), seq};
}

core::Result<Committed<std::int64_t>> Repository::delete_recipe(std::int64_t id) {
  Transaction tx(db_, Transaction::Kind::kWrite);
  {
    Bound st(statement("SELECT 1 FROM recipes WHERE id = ?1"));
    st->bind(1, id);
    if (!st->step()) {
      return Error::not_found("id", "no recipe with id " + std::to_string(id));
    }
  }
  {
    // Rows first, explicitly: a legacy file's recipe_ingredients may lack
    // ON DELETE CASCADE.
    Bound rows(statement("DELETE FROM recipe_ingredients WHERE recipe_id = ?1"));
    rows->bind(1, id).send();
    Bound del(statement("DELETE FROM recipes WHERE id = ?1"));
    del->bind(1, id).send();
  }
  try {
    return Committed<std::int64_t>{id, commit(tx)};
  } catch (const DatabaseError& e) {
    // Tables this code does not manage (ratings, recipe_tags, ...) may refer to it.
    if (!e.is_constraint()) {
      throw;
    }
    return Error::conflict("id", "recipe " + std::to_string(id) + " is referenced by other rows");
  }
}

// ---------------------------------------------------------------------- units

std::vector<Unit> Repository::list_units() {
  std::vector<Unit> out;
  Bound st(statement("SELECT id, name, abbreviation, conversion_to_ml FROM units ORDER BY id"));
  while (st->step()) {
    Unit u;
    u.id = st->column_int(0);
    u.name = st->column_text(1);
    if (!st->is_null(2)) {
      u.abbreviation = st->column_text(2);
    }
    u.conversion_to_ml = st->column_optional_double(3);
    out.push_back(std::move(u));
  }
  return out;
}

core::Result<Committed<Unit>> Repository::create_unit(const UnitInput& input) {
  Problems p;
  Unit u;
  u.name = check_name(p, "name", input.name, kMaxUnitNameBytes);
  if (input.abbreviation) {
    std::string abbreviation = trim(*input.abbreviation);
    if (!abbreviation.empty() &&
        check_text_common(p, "abbreviation", abbreviation, kMaxAbbreviationBytes, false)) {
      u.abbreviation = abbreviation;
    }
  }
  if (input.conversion_to_ml) {
    if (!std::isfinite(*input.conversion_to_ml) || *input.conversion_to_ml <= 0) {
      p.invalid("conversion_to_ml", "must be a finite number above 0");
    }
    u.conversion_to_ml = input.conversion_to_ml;
  }
  if (!p.empty()) {
    return p.to_error();
  }

  Transaction tx(db_, Transaction::Kind::kWrite);
  // Whether the name, and the abbreviation when it differs, is any unit's
  // name or abbreviation.
  Bound taken(statement(
      "SELECT EXISTS (SELECT 1 FROM units WHERE lower(name) = lower(?1) OR lower(abbreviation) = lower(?1)), "
      "EXISTS (SELECT 1 FROM units WHERE lower(name) = lower(?2) OR lower(abbreviation) = lower(?2))"));
  taken->bind(1, u.name);
  if (u.abbreviation && fold_case(*u.abbreviation) != fold_case(u.name)) {
    taken->bind(2, *u.abbreviation);
  } else {
    taken->bind_null(2);
  }
  if (taken->step()) {
    if (taken->column_int(0)) {
      p.conflict("name", "a unit named or abbreviated '" + u.name + "' exists");
    }
    if (taken->column_int(1)) {
      p.conflict("abbreviation", "a unit named or abbreviated '" + *u.abbreviation + "' exists");
    }
  }
  if (!p.empty()) {
    return p.to_error();
  }
  Bound ins(
      statement("INSERT INTO units(name, abbreviation, conversion_to_ml) VALUES (?1, ?2, ?3) RETURNING id"));
  ins->bind(1, u.name).bind(2, u.abbreviation).bind(3, u.conversion_to_ml);
  ins->send();
  std::int64_t seq = commit(tx);
  ins->step();
  u.id = ins->column_int(0);
  return Committed<Unit>{std::move(u), seq};
}

// ----------------------------------------------------------------------- bulk

core::Result<Committed<std::vector<Ingredient>>> Repository::create_ingredients(
    const std::vector<BulkIngredient>& items) {
  if (items.empty()) {
    return Error::invalid("items", "must not be empty");
  }
  if (items.size() > kMaxBulkItems) {
    return Error{ErrorCode::kTooLarge,
                 "items",
                 std::to_string(items.size()) + " items; the limit is " + std::to_string(kMaxBulkItems),
                 {}};
  }
  Transaction tx(db_, Transaction::Kind::kWrite);
  Problems all;
  std::size_t failed = 0;
  std::vector<Ingredient> created;
  // Batch names (case-folded) -> index in `created`, or -1 for a failed item.
  std::unordered_map<std::string, std::int64_t> batch;
  // SQLite: ids follow on from the highest one, in this transaction that
  // holds the write lock; PostgreSQL: each is taken from the id sequence.
  std::optional<std::int64_t> next_id;
  auto take_id = [&] {
    if (db_.backend() == Backend::kPostgres) {
      return this->next_id(kNextIngredientId.of(db_));
    }
    if (!next_id) {
      next_id = this->next_id(kNextIngredientId.of(db_));
    }
    return (*next_id)++;
  };
  Bound ins(
      statement("INSERT INTO ingredients(id, name, description, parent_id, path, allow_substitution) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));

  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto& item = items[i];
    Problems p(static_cast<int>(i));
    Ingredient row;
    row.name = check_name(p, "name", item.name, kMaxNameBytes);
    row.description = check_optional(p, "description", item.description, kMaxDescriptionBytes, true);
    row.allow_substitution = item.allow_substitution;
    std::string folded = fold_case(row.name);
    if (p.empty()) {
      if (auto it = batch.find(folded); it != batch.end()) {
        p.conflict("name", "'" + row.name + "' is already defined earlier in the batch");
      } else if (ingredient_id_by_name(row.name, 0)) {
        p.conflict("name", "an ingredient named '" + row.name + "' exists");
      }
    }

    std::string parent_path;
    bool has_parent_name = item.parent_name && !trim(*item.parent_name).empty();
    if (has_parent_name && item.parent_id) {
      p.invalid("parent_name", "give parent_name or parent_id, not both");
    } else if (item.parent_id) {
      check_id(p, "parent_id", *item.parent_id);
      if (*item.parent_id > 0) {
        if (find_ingredient(*item.parent_id)) {
          row.parent_id = item.parent_id;
          parent_path = path_of_parent(*item.parent_id);
        } else {
          p.invalid("parent_id", "no ingredient with id " + std::to_string(*item.parent_id));
        }
      }
    } else if (has_parent_name) {
      std::string parent_name = trim(*item.parent_name);
      if (auto it = batch.find(fold_case(parent_name)); it != batch.end()) {
        if (it->second < 0) {
          p.invalid("parent_name", "names item '" + parent_name + "', which failed");
        } else {
          row.parent_id = created[static_cast<std::size_t>(it->second)].id;
          parent_path = created[static_cast<std::size_t>(it->second)].path;
        }
      } else if (auto id = ingredient_id_by_name(parent_name, 0)) {
        row.parent_id = *id;
        parent_path = path_of_parent(*id);
      } else {
        p.invalid("parent_name",
                  "no ingredient named '" + parent_name + "' in the catalog or earlier in the batch");
      }
    }

    if (!p.empty()) {
      ++failed;
      all.append(p);
      if (!row.name.empty()) {
        batch.emplace(folded, -1);
      }
      continue;
    }
    row.id = take_id();
    row.path = (row.parent_id ? parent_path : std::string("/")) + std::to_string(row.id) + "/";
    if (failed == 0) {
      // Once an item failed nothing will be committed: stop writing, keep checking.
      ins->bind(1, row.id)
          .bind(2, row.name)
          .bind(3, row.description)
          .bind(4, row.parent_id)
          .bind(5, row.path);
      ins->bind(6, row.allow_substitution ? 1 : 0);
      ins->step();
      ins->reset();
    }
    batch.emplace(folded, static_cast<std::int64_t>(created.size()));
    created.push_back(std::move(row));
  }
  if (!all.empty()) {
    return batch_error(all, items.size(), failed);
  }
  std::int64_t seq = commit(tx);
  return Committed<std::vector<Ingredient>>{std::move(created), seq};
}

core::Result<Committed<std::vector<Recipe>>> Repository::create_recipes(
    const std::vector<BulkRecipe>& items) {
  if (items.empty()) {
    return Error::invalid("items", "must not be empty");
  }
  if (items.size() > kMaxBulkItems) {
    return Error{ErrorCode::kTooLarge,
                 "items",
                 std::to_string(items.size()) + " items; the limit is " + std::to_string(kMaxBulkItems),
                 {}};
  }
  Transaction tx(db_, Transaction::Kind::kWrite);

  // Units by case-folded name, then by abbreviation: a name always wins.
  std::unordered_map<std::string, const Unit*> unit_by_name, unit_by_abbreviation;
  std::vector<Unit> units = list_units();
  for (const auto& u : units) {
    unit_by_name.emplace(fold_case(u.name), &u);
    if (u.abbreviation) {
      unit_by_abbreviation.emplace(fold_case(*u.abbreviation), &u);
    }
  }
  // Ingredient lookups by case-folded name, cached for the batch.
  std::unordered_map<std::string, std::optional<std::pair<std::int64_t, std::string>>> ingredients;
  auto ingredient =
      [&](const std::string& name) -> const std::optional<std::pair<std::int64_t, std::string>>& {
    std::string folded = fold_case(name);
    auto it = ingredients.find(folded);
    if (it != ingredients.end()) {
      return it->second;
    }
    Bound st(statement(
        Dialect{"SELECT id, name FROM ingredients WHERE name = ?1 COLLATE NOCASE ORDER BY id LIMIT 1",
                "SELECT id, name FROM ingredients WHERE name = ?1 ORDER BY id LIMIT 1"}
            .of(db_)));
    st->bind(1, name);
    std::optional<std::pair<std::int64_t, std::string>> found;
    if (st->step()) {
      found.emplace(st->column_int(0), st->column_text(1));
    }
    return ingredients.emplace(std::move(folded), std::move(found)).first->second;
  };

  Problems all;
  std::size_t failed = 0;
  std::unordered_map<std::string, std::size_t> batch_names;
  std::vector<std::int64_t> created;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto& item = items[i];
    Problems p(static_cast<int>(i));
    CleanRecipe c = check_recipe_fields(p, item.name, item.instructions, item.description, item.image_url,
                                        item.source, item.source_url, item.ingredients.size());
    if (!c.name.empty()) {
      std::string folded = fold_case(c.name);
      if (auto it = batch_names.find(folded); it != batch_names.end()) {
        p.conflict("name", "'" + c.name + "' is already defined by item " + std::to_string(it->second));
      } else {
        batch_names.emplace(folded, i);
        if (recipe_id_by_name(c.name, 0)) {
          p.conflict("name", "a recipe named '" + c.name + "' exists");
        }
      }
    }
    RecipeInput input{c.name, c.instructions, c.description, c.image_url, c.source, c.source_url, {}};
    for (std::size_t k = 0; k < item.ingredients.size() && k < kMaxRecipeIngredients; ++k) {
      const auto& row = item.ingredients[k];
      RecipeIngredientInput in;
      std::string ingredient_name = trim(row.ingredient_name);
      if (ingredient_name.empty()) {
        p.invalid(row_field(k, "ingredient_name"), "is required and must not be blank");
      } else if (const auto& found = ingredient(ingredient_name); found) {
        in.ingredient_id = found->first;
      } else {
        p.invalid(row_field(k, "ingredient_name"), "no ingredient named '" + ingredient_name + "'");
      }
      if (row.unit_name && !trim(*row.unit_name).empty()) {
        std::string folded = fold_case(trim(*row.unit_name));
        const Unit* unit = nullptr;
        if (auto it = unit_by_name.find(folded); it != unit_by_name.end()) {
          unit = it->second;
        } else if (auto ab = unit_by_abbreviation.find(folded); ab != unit_by_abbreviation.end()) {
          unit = ab->second;
        }
        if (unit) {
          in.unit_id = unit->id;
        } else {
          p.invalid(row_field(k, "unit_name"), "no unit named or abbreviated '" + trim(*row.unit_name) + "'");
        }
      }
      check_amount(p, row_field(k, "amount"), row.amount);
      in.amount = row.amount;
      input.ingredients.push_back(in);
    }
    if (!p.empty()) {
      ++failed;
      all.append(p);
      continue;
    }
    if (failed > 0) {
      continue;  // nothing will be committed: keep checking only
    }
    const std::int64_t id = next_id(kNextRecipeId.of(db_));
    send_recipe_write(id, input, true, false);
    created.push_back(id);
  }
  if (!all.empty()) {
    return batch_error(all, items.size(), failed);
  }
  // Read back as stored (row ids, canonical names), in batch order.
  std::vector<Recipe> recipes;
  recipes.reserve(created.size());
  {
    Bound st(statement(RECIPE_SELECT "WHERE id BETWEEN ?1 AND ?2 ORDER BY id"));
    st->bind(1, *std::min_element(created.begin(), created.end()));
    st->bind(2, *std::max_element(created.begin(), created.end()));
    std::unordered_map<std::int64_t, bool> ours;
    for (auto id : created) {
      ours.emplace(id, true);
    }
    while (st->step()) {
      if (ours.count(st->column_int(0))) {
        recipes.push_back(read_recipe(*st));
      }
    }
  }
  load_recipe_ingredients(recipes);
  std::int64_t seq = commit(tx);
  return Committed<std::vector<Recipe>>{std::move(recipes), seq};
}

#undef INGREDIENT_SELECT
#undef RECIPE_SELECT
#undef RECIPE_COLUMNS

}  // namespace cocktail::catalog

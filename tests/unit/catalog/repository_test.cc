#include "cocktail/catalog/repository.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "catalog_backends.h"
#include "cocktail/catalog/change_log.h"
#include "cocktail/catalog/schema.h"
#include "cocktail/catalog/state.h"
#include "temp_catalog.h"

namespace cocktail::catalog {
namespace {

using core::ErrorCode;

class RepositoryTest : public ::testing::TestWithParam<Backend> {
 protected:
  RepositoryTest() : db_(open_catalog(catalog_.location())), repo_(*db_), log_(*db_) {}

  std::int64_t ingredient(const std::string& name, std::optional<std::int64_t> parent = std::nullopt) {
    auto r = repo_.create_ingredient({name, std::nullopt, parent, false});
    EXPECT_TRUE(r) << name << ": " << (r ? "" : r.error().message);
    return r ? r->value.id : 0;
  }
  std::string path(std::int64_t id) { return repo_.get_ingredient(id)->path; }
  std::string expected_path(std::initializer_list<std::int64_t> ids) {
    std::string p = "/";
    for (auto id : ids) {
      p += std::to_string(id) + "/";
    }
    return p;
  }
  // Every stored path equals the one implied by the parent chain.
  void expect_paths_consistent() {
    auto state = load_state(*db_);
    std::map<std::int64_t, const IngredientRow*> by_id;
    for (const auto& i : state.ingredients) {
      by_id[i.id] = &i;
    }
    for (const auto& i : state.ingredients) {
      std::string p = std::to_string(i.id) + "/";
      for (auto parent = i.parent_id; parent; parent = by_id.at(*parent)->parent_id) {
        p.insert(0, std::to_string(*parent) + "/");
      }
      EXPECT_EQ(i.path, "/" + p) << i.name;
    }
  }
  std::int64_t units_oz() { return repo_.list_units().front().id; }

  testing::TestCatalog catalog_{GetParam()};
  std::unique_ptr<Database> db_;
  Repository repo_;
  ChangeLog log_;
};

TEST_P(RepositoryTest, CreateMaintainsPathAndReturnsTheCommittedSeq) {
  auto spirits = repo_.create_ingredient({"Spirits", "All spirits", std::nullopt, false});
  ASSERT_TRUE(spirits);
  EXPECT_EQ(spirits->value.path, expected_path({spirits->value.id}));
  EXPECT_EQ(spirits->catalog_seq, log_.latest_seq());
  auto gin = repo_.create_ingredient({"  Gin  ", std::nullopt, spirits->value.id, true});
  ASSERT_TRUE(gin);
  EXPECT_EQ(gin->value.name, "Gin");
  EXPECT_EQ(gin->value.path, expected_path({spirits->value.id, gin->value.id}));
  EXPECT_EQ(gin->catalog_seq, spirits->catalog_seq + 1);
  auto stored = repo_.get_ingredient(gin->value.id);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->name, "Gin");
  EXPECT_EQ(stored->parent_id, spirits->value.id);
  EXPECT_TRUE(stored->allow_substitution);
  EXPECT_EQ(stored->path, gin->value.path);
  // One insert logged per create: the row is written once, path included.
  EXPECT_EQ(log_.read_after(0, 10).size(), 2u);
}

TEST_P(RepositoryTest, ReparentRewritesEveryDescendantPathInOneTransaction) {
  auto a = ingredient("A");
  auto b = ingredient("B", a);
  auto c = ingredient("C", b);
  auto d = ingredient("D", c);
  auto d2 = ingredient("D2", c);
  auto e = ingredient("E");
  auto other = ingredient("Other", a);
  std::int64_t before = log_.latest_seq();

  auto moved = repo_.update_ingredient(b, {"B", std::nullopt, e, false});
  ASSERT_TRUE(moved);
  EXPECT_EQ(moved->value.path, expected_path({e, b}));
  EXPECT_EQ(path(c), expected_path({e, b, c}));
  EXPECT_EQ(path(d), expected_path({e, b, c, d}));
  EXPECT_EQ(path(d2), expected_path({e, b, c, d2}));
  EXPECT_EQ(path(other), expected_path({a, other}));
  // B and its three descendants changed, all in the write that returned the seq.
  auto changes = log_.read_after(before, 100);
  ASSERT_EQ(changes.size(), 4u);
  EXPECT_EQ(changes.back().seq, moved->catalog_seq);
  expect_paths_consistent();

  // To the top level, then under a sibling's subtree.
  ASSERT_TRUE(repo_.update_ingredient(b, {"B", std::nullopt, std::nullopt, false}));
  EXPECT_EQ(path(d), expected_path({b, c, d}));
  ASSERT_TRUE(repo_.update_ingredient(c, {"C", std::nullopt, other, false}));
  EXPECT_EQ(path(d2), expected_path({a, other, c, d2}));
  expect_paths_consistent();
}

TEST_P(RepositoryTest, ReparentIntoOwnSubtreeIsACycleAndChangesNothing) {
  auto a = ingredient("A");
  auto b = ingredient("B", a);
  auto c = ingredient("C", b);
  std::int64_t before = log_.latest_seq();
  for (auto target : {a, b, c}) {
    auto r = repo_.update_ingredient(a, {"A", std::nullopt, target, false});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kConflict);
    EXPECT_EQ(r.error().field, "parent_id");
    EXPECT_NE(r.error().message.find("cycle"), std::string::npos);
  }
  EXPECT_EQ(log_.latest_seq(), before);
  EXPECT_EQ(path(c), expected_path({a, b, c}));
}

TEST_P(RepositoryTest, DeleteIsRefusedWhileUsedOrWithChildren) {
  auto gin = ingredient("Gin");
  auto old_tom = ingredient("Old Tom Gin", gin);
  auto lime = ingredient("Lime");
  auto unused = ingredient("Unused");
  ASSERT_TRUE(
      repo_.create_recipe({"Gimlet", {}, {}, {}, {}, {}, {{old_tom, units_oz(), 2.0}, {lime, {}, {}}}}));

  auto used = repo_.delete_ingredient(lime);
  ASSERT_FALSE(used);
  EXPECT_EQ(used.error().code, ErrorCode::kConflict);
  EXPECT_EQ(used.error().field, "id");
  EXPECT_NE(used.error().message.find("used by 1 recipe"), std::string::npos);

  auto parent = repo_.delete_ingredient(gin);
  ASSERT_FALSE(parent);
  EXPECT_EQ(parent.error().code, ErrorCode::kConflict);
  EXPECT_NE(parent.error().message.find("child"), std::string::npos);

  auto ok = repo_.delete_ingredient(unused);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->catalog_seq, log_.latest_seq());
  EXPECT_EQ(repo_.get_ingredient(unused).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(repo_.delete_ingredient(unused).error().code, ErrorCode::kNotFound);
}

TEST_P(RepositoryTest, NamesAreUniqueCaseInsensitively) {
  auto lime = ingredient("Lime Juice");
  auto lemon = ingredient("Lemon Juice");
  auto dup = repo_.create_ingredient({" LIME juice ", std::nullopt, std::nullopt, false});
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, ErrorCode::kConflict);
  EXPECT_EQ(dup.error().field, "name");
  auto rename = repo_.update_ingredient(lemon, {"lime JUICE", std::nullopt, std::nullopt, false});
  ASSERT_FALSE(rename);
  EXPECT_EQ(rename.error().code, ErrorCode::kConflict);
  // Changing only the case of its own name is a rename, not a duplicate.
  ASSERT_TRUE(repo_.update_ingredient(lime, {"LIME JUICE", std::nullopt, std::nullopt, false}));

  ASSERT_TRUE(repo_.create_recipe({"Daiquiri", {}, {}, {}, {}, {}, {{lime, {}, {}}}}));
  auto recipe = repo_.create_recipe({"daiquiri", {}, {}, {}, {}, {}, {{lime, {}, {}}}});
  ASSERT_FALSE(recipe);
  EXPECT_EQ(recipe.error().code, ErrorCode::kConflict);
  EXPECT_EQ(recipe.error().field, "name");

  // A unit's name or abbreviation may not collide with any unit's name or abbreviation.
  auto unit = repo_.create_unit({"OZ", std::nullopt, std::nullopt});
  ASSERT_FALSE(unit);
  EXPECT_EQ(unit.error().field, "name");
  auto abbreviation = repo_.create_unit({"Splash", "DASH", std::nullopt});
  ASSERT_FALSE(abbreviation);
  EXPECT_EQ(abbreviation.error().code, ErrorCode::kConflict);
  EXPECT_EQ(abbreviation.error().field, "abbreviation");
}

struct FieldCase {
  const char* label;
  std::function<core::Error(Repository&, std::int64_t ingredient)> call;
  const char* field;
};

TEST_P(RepositoryTest, EveryValidationErrorNamesItsFieldAndWritesNothing) {
  auto gin = ingredient("Gin");
  const std::string too_long_name(kMaxNameBytes + 1, 'x');
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  auto ingredient_error = [](const IngredientInput& in) {
    return [in](Repository& r, std::int64_t) { return r.create_ingredient(in).error(); };
  };
  auto recipe_error = [](RecipeInput in) {
    return [in](Repository& r, std::int64_t gin) mutable {
      for (auto& row : in.ingredients) {
        if (row.ingredient_id == -99) {
          row.ingredient_id = gin;
        }
      }
      return r.create_recipe(in).error();
    };
  };
  const std::int64_t G = -99;  // replaced by the real ingredient id
  std::vector<RecipeIngredientInput> too_many(kMaxRecipeIngredients + 1, {G, {}, {}});
  std::vector<FieldCase> cases = {
      {"blank name", ingredient_error({"   ", {}, {}, false}), "name"},
      {"long name", ingredient_error({too_long_name, {}, {}, false}), "name"},
      {"bad utf-8", ingredient_error({"Gin \xff", {}, {}, false}), "name"},
      {"control char", ingredient_error({"Gin\x01", {}, {}, false}), "name"},
      {"long description", ingredient_error({"Rum", std::string(kMaxDescriptionBytes + 1, 'd'), {}, false}),
       "description"},
      {"zero parent", ingredient_error({"Rum", {}, 0, false}), "parent_id"},
      {"unknown parent", ingredient_error({"Rum", {}, 12345, false}), "parent_id"},
      {"update unknown parent",
       [](Repository& r, std::int64_t gin) {
         return r.update_ingredient(gin, {"Gin", {}, 777, false}).error();
       },
       "parent_id"},
      {"blank recipe name", recipe_error({"", {}, {}, {}, {}, {}, {{G, {}, {}}}}), "name"},
      {"long instructions",
       recipe_error({"R", std::string(kMaxInstructionsBytes + 1, 'i'), {}, {}, {}, {}, {{G, {}, {}}}}),
       "instructions"},
      {"image url scheme", recipe_error({"R", {}, {}, "javascript:alert(1)", {}, {}, {{G, {}, {}}}}),
       "image_url"},
      {"long source url",
       recipe_error({"R", {}, {}, {}, {}, "https://" + std::string(kMaxUrlBytes, 'u'), {{G, {}, {}}}}),
       "source_url"},
      {"long source",
       recipe_error({"R", {}, {}, {}, std::string(kMaxSourceBytes + 1, 's'), {}, {{G, {}, {}}}}), "source"},
      {"nan amount", recipe_error({"R", {}, {}, {}, {}, {}, {{G, {}, nan}}}), "ingredients[0].amount"},
      {"infinite amount", recipe_error({"R", {}, {}, {}, {}, {}, {{G, {}, 1.0}, {G, {}, inf}}}),
       "ingredients[1].amount"},
      {"negative amount", recipe_error({"R", {}, {}, {}, {}, {}, {{G, {}, -0.5}}}), "ingredients[0].amount"},
      {"unknown ingredient", recipe_error({"R", {}, {}, {}, {}, {}, {{4242, {}, 1.0}}}),
       "ingredients[0].ingredient_id"},
      {"zero ingredient", recipe_error({"R", {}, {}, {}, {}, {}, {{0, {}, 1.0}}}),
       "ingredients[0].ingredient_id"},
      {"unknown unit", recipe_error({"R", {}, {}, {}, {}, {}, {{G, 999, 1.0}}}), "ingredients[0].unit_id"},
      {"too many rows", recipe_error({"R", {}, {}, {}, {}, {}, too_many}), "ingredients"},
      {"update bad amount",
       [](Repository& r, std::int64_t gin) {
         auto created = r.create_recipe({"Temp", {}, {}, {}, {}, {}, {{gin, {}, 1.0}}});
         auto id = created->value.id;
         auto e = r.update_recipe(id, {"Temp", {}, {}, {}, {}, {}, {{gin, {}, -1.0}}}).error();
         r.delete_recipe(id);
         return e;
       },
       "ingredients[0].amount"},
      {"unit blank name",
       [](Repository& r, std::int64_t) {
         return r.create_unit({" ", {}, {}}).error();
       },
       "name"},
      {"unit long abbreviation",
       [](Repository& r, std::int64_t) {
         return r.create_unit({"Jigger", std::string(kMaxAbbreviationBytes + 1, 'j'), {}}).error();
       },
       "abbreviation"},
      {"unit zero conversion",
       [](Repository& r, std::int64_t) {
         return r.create_unit({"Jigger", {}, 0.0}).error();
       },
       "conversion_to_ml"},
      {"unit infinite conversion",
       [inf](Repository& r, std::int64_t) {
         return r.create_unit({"Jigger", {}, inf}).error();
       },
       "conversion_to_ml"},
      {"page limit",
       [](Repository& r, std::int64_t) {
         return r.list_recipes({0, 0}).error();
       },
       "limit"},
      {"page after",
       [](Repository& r, std::int64_t) {
         return r.list_ingredients({-1, 10}).error();
       },
       "after_id"},
  };
  for (const auto& c : cases) {
    std::int64_t seq = log_.latest_seq();
    core::Error e = c.call(repo_, gin);
    EXPECT_EQ(e.code, ErrorCode::kInvalidArgument) << c.label;
    EXPECT_EQ(e.field, c.field) << c.label << ": " << e.message;
    EXPECT_FALSE(e.message.empty()) << c.label;
    if (std::string(c.label).rfind("update bad", 0) != 0) {
      EXPECT_EQ(log_.latest_seq(), seq) << c.label;
    }
  }
  EXPECT_EQ(load_state(*db_).recipes.size(), 0u);
}

TEST_P(RepositoryTest, AllProblemsOfOneInputAreReported) {
  auto r = repo_.create_recipe({"", {}, {}, "ftp://x", {}, {}, {{0, {}, -1.0}}});
  ASSERT_FALSE(r);
  std::vector<std::string> fields;
  for (const auto& d : r.error().details) {
    fields.push_back(d.field);
  }
  EXPECT_EQ(fields, (std::vector<std::string>{"name", "image_url", "ingredients[0].ingredient_id",
                                              "ingredients[0].amount"}));
}

TEST_P(RepositoryTest, RecipeCreateGetUpdateDelete) {
  auto gin = ingredient("Gin");
  auto vermouth = ingredient("Dry Vermouth");
  auto olive = ingredient("Olive");
  auto units = repo_.list_units();
  ASSERT_EQ(units.size(), 9u);
  std::int64_t oz = units[0].id, each = units[5].id;

  auto created = repo_.create_recipe({"Martini",
                                      "Stir.",
                                      "Dry",
                                      {},
                                      "book",
                                      "https://example.com/martini",
                                      {{gin, oz, 2.5}, {vermouth, oz, 0.5}, {olive, each, {}}}});
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_EQ(created->catalog_seq, log_.latest_seq());
  auto got = repo_.get_recipe(created->value.id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->name, "Martini");
  EXPECT_EQ(got->instructions, "Stir.");
  EXPECT_EQ(got->source_url, "https://example.com/martini");
  EXPECT_FALSE(got->image_url);
  ASSERT_EQ(got->ingredients.size(), 3u);
  EXPECT_EQ(got->ingredients[0].ingredient_name, "Gin");
  EXPECT_EQ(got->ingredients[0].unit_name, "Ounce");
  EXPECT_EQ(got->ingredients[0].amount, 2.5);
  EXPECT_FALSE(got->ingredients[2].amount);
  EXPECT_EQ(got->ingredients[2].unit_name, "Each");

  auto updated =
      repo_.update_recipe(created->value.id, {"Dry Martini", "Stir well.", {}, {}, {}, {}, {{gin, oz, 3.0}}});
  ASSERT_TRUE(updated);
  EXPECT_GT(updated->catalog_seq, created->catalog_seq);
  EXPECT_EQ(updated->value.name, "Dry Martini");
  ASSERT_EQ(updated->value.ingredients.size(), 1u);
  EXPECT_EQ(updated->value.ingredients[0].amount, 3.0);
  EXPECT_EQ(repo_.update_recipe(999, {"X", {}, {}, {}, {}, {}, {}}).error().code, ErrorCode::kNotFound);

  auto deleted = repo_.delete_recipe(created->value.id);
  ASSERT_TRUE(deleted);
  EXPECT_EQ(deleted->catalog_seq, log_.latest_seq());
  EXPECT_EQ(repo_.get_recipe(created->value.id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(load_state(*db_).recipe_ingredients.size(), 0u);
  // Its ingredients are free to go now.
  EXPECT_TRUE(repo_.delete_ingredient(olive));
}

// Checks that need the catalog (rows naming ingredients and units that do
// not exist, a taken name) are reported together, in input order, and a
// refused write leaves no trace: not even a seq.
TEST_P(RepositoryTest, CatalogChecksReportEveryRowInOrderAndTakeNoSeq) {
  auto gin = ingredient("Gin");
  const std::int64_t oz = units_oz();
  ASSERT_TRUE(repo_.create_recipe({"Taken", {}, {}, {}, {}, {}, {{gin, oz, 1.0}}}));
  const std::int64_t seq = log_.latest_seq();
  auto r = repo_.create_recipe(
      {"TAKEN", {}, {}, {}, {}, {}, {{4242, oz, 1.0}, {gin, 999, {}}, {gin, oz, 2.0}, {4243, 998, 1.0}}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  std::vector<std::string> fields;
  for (const auto& d : r.error().details) {
    fields.push_back(d.field);
  }
  EXPECT_EQ(fields,
            (std::vector<std::string>{"ingredients[0].ingredient_id", "ingredients[1].unit_id",
                                      "ingredients[3].ingredient_id", "ingredients[3].unit_id", "name"}));
  EXPECT_EQ(r.error().details[0].message, "no ingredient with id 4242");
  EXPECT_EQ(r.error().details[3].message, "no unit with id 998");
  // The same on update, and an update of a recipe that is not there.
  auto recipe_id = repo_.create_recipe({"Other", {}, {}, {}, {}, {}, {}})->value.id;
  auto u = repo_.update_recipe(recipe_id, {"taken", {}, {}, {}, {}, {}, {{gin, 77, {}}}});
  ASSERT_FALSE(u);
  fields.clear();
  for (const auto& d : u.error().details) {
    fields.push_back(d.field);
  }
  EXPECT_EQ(fields, (std::vector<std::string>{"ingredients[0].unit_id", "name"}));
  EXPECT_EQ(
      repo_.update_recipe(recipe_id + 100, {"taken", {}, {}, {}, {}, {}, {{4242, {}, {}}}}).error().code,
      ErrorCode::kNotFound);
  // Nothing was written and no seq was spent: the next write takes the next one.
  EXPECT_EQ(log_.latest_seq(), seq + 1);  // "Other"
  auto next = repo_.create_ingredient({"Vodka", {}, {}, false});
  ASSERT_TRUE(next);
  EXPECT_EQ(next->catalog_seq, seq + 2);
  EXPECT_EQ(log_.read_after(seq, 10).size(), 2u);
}

// A recipe's rows keep their order (ids ascend with it), duplicates
// included, and change_log tells the story in the order it happened.
TEST_P(RepositoryTest, RecipeRowsKeepTheirOrderAndTheLogTheStory) {
  std::vector<std::int64_t> ids;
  for (const char* name : {"A", "B", "C", "D", "E"}) {
    ids.push_back(ingredient(name));
  }
  const std::int64_t oz = units_oz();
  std::vector<RecipeIngredientInput> rows;
  rows.reserve(12);
  for (int k = 0; k < 12; ++k) {
    rows.push_back({ids[static_cast<std::size_t>((7 * k) % 5)], k % 3 == 0 ? std::nullopt : std::optional(oz),
                    k % 4 == 0 ? std::nullopt : std::optional(0.25 * k + 1e-5)});
  }
  const std::int64_t before = log_.latest_seq();
  auto created = repo_.create_recipe({"Long", {}, {}, {}, {}, {}, rows});
  ASSERT_TRUE(created) << created.error().message;
  auto check_rows = [&](const Recipe& recipe) {
    ASSERT_EQ(recipe.ingredients.size(), rows.size());
    for (std::size_t k = 0; k < rows.size(); ++k) {
      EXPECT_EQ(recipe.ingredients[k].ingredient_id, rows[k].ingredient_id) << k;
      EXPECT_EQ(recipe.ingredients[k].unit_id, rows[k].unit_id) << k;
      ASSERT_EQ(recipe.ingredients[k].amount.has_value(), rows[k].amount.has_value()) << k;
      // Stored as REAL (float4 on PostgreSQL): compare at that precision.
      if (rows[k].amount) {
        EXPECT_FLOAT_EQ(float(*recipe.ingredients[k].amount), float(*rows[k].amount)) << k;
      }
      if (k > 0) {
        EXPECT_GT(recipe.ingredients[k].id, recipe.ingredients[k - 1].id) << k;
      }
    }
  };
  check_rows(created->value);
  check_rows(*repo_.get_recipe(created->value.id));
  auto changes = log_.read_after(before, 100);
  ASSERT_EQ(changes.size(), 1 + rows.size());
  EXPECT_EQ(changes[0].entity, "recipe");
  EXPECT_EQ(changes[0].op, "insert");
  for (std::size_t k = 0; k < rows.size(); ++k) {
    EXPECT_EQ(changes[1 + k].entity, "recipe_ingredient");
    EXPECT_EQ(changes[1 + k].row_id, created->value.ingredients[k].id);
  }

  std::reverse(rows.begin(), rows.end());
  const std::int64_t mid = log_.latest_seq();
  auto updated = repo_.update_recipe(created->value.id, {"Long", {}, {}, {}, {}, {}, rows});
  ASSERT_TRUE(updated);
  check_rows(updated->value);
  changes = log_.read_after(mid, 100);
  ASSERT_EQ(changes.size(), 1 + 2 * rows.size());
  EXPECT_EQ(changes[0].op, "update");
  for (std::size_t k = 0; k < rows.size(); ++k) {
    EXPECT_EQ(changes[1 + k].op, "delete");
  }
  for (std::size_t k = 0; k < rows.size(); ++k) {
    EXPECT_EQ(changes[1 + rows.size() + k].op, "insert");
  }
}

// On PostgreSQL a write is two round trips to the server whatever its size:
// the checks (with BEGIN), then the writes, the read-back, the seq and
// COMMIT. A refused one is two as well (the checks, the rollback).
TEST_P(RepositoryTest, AWriteIsTwoRoundTripsOnPostgres) {
  if (!catalog_.postgres()) {
    EXPECT_EQ(db_->round_trips(), 0);
    GTEST_SKIP() << "SQLite runs in the process";
  }
  auto gin = ingredient("Gin");
  auto lime = ingredient("Lime");
  const std::int64_t oz = units_oz();
  RecipeInput daiquiri{
      "Daiquiri", "Shake.", {}, {}, "book", {}, {{gin, oz, 2.0}, {lime, oz, 1.0}, {lime, {}, {}}}};
  // Once, so that every statement is prepared.
  auto warm = repo_.create_recipe({"Warm-up", {}, {}, {}, {}, {}, daiquiri.ingredients});
  ASSERT_TRUE(warm);
  ASSERT_TRUE(repo_.update_recipe(warm->value.id, daiquiri));
  ASSERT_TRUE(repo_.delete_recipe(warm->value.id));
  auto warm_ingredient = ingredient("Warm", gin);
  ASSERT_TRUE(repo_.update_ingredient(warm_ingredient, {"Warmer", {}, lime, false}));
  ASSERT_TRUE(repo_.delete_ingredient(warm_ingredient));
  auto trips = [&](auto&& call) {
    const std::int64_t before = db_->round_trips();
    call();
    return db_->round_trips() - before;
  };
  std::int64_t id = 0;
  EXPECT_EQ(trips([&] { id = repo_.create_recipe(daiquiri)->value.id; }), 2);
  daiquiri.name = "Daiquiri No. 2";
  EXPECT_EQ(trips([&] { ASSERT_TRUE(repo_.update_recipe(id, daiquiri)); }), 2);
  EXPECT_EQ(trips([&] { ASSERT_FALSE(repo_.create_recipe(daiquiri)); }), 2);
  EXPECT_EQ(trips([&] { ASSERT_TRUE(repo_.get_recipe(id)); }), 2);  // the reads, COMMIT
  EXPECT_EQ(trips([&] { ASSERT_TRUE(repo_.delete_recipe(id)); }), 2);
  std::int64_t rum = 0;
  EXPECT_EQ(trips([&] { rum = repo_.create_ingredient({"Rum", {}, gin, false})->value.id; }), 2);
  EXPECT_EQ(trips([&] { ASSERT_TRUE(repo_.update_ingredient(rum, {"Dark Rum", {}, lime, false})); }), 2);
  EXPECT_EQ(trips([&] { ASSERT_TRUE(repo_.delete_ingredient(rum)); }), 2);
}

TEST_P(RepositoryTest, ListsPageByIdWithIngredientRows) {
  auto gin = ingredient("Gin");
  for (int i = 0; i < 24; ++i) {
    ASSERT_TRUE(repo_.create_recipe(
        {std::string("R").append(std::to_string(i)), {}, {}, {}, {}, {}, {{gin, {}, double(i)}}}));
  }
  std::vector<std::string> names;
  PageRequest page{0, 10};
  int pages = 0;
  for (;;) {
    auto r = repo_.list_recipes(page);
    ASSERT_TRUE(r);
    ++pages;
    for (const auto& recipe : r->items) {
      names.push_back(recipe.name);
      ASSERT_EQ(recipe.ingredients.size(), 1u);
      EXPECT_EQ(recipe.ingredients[0].amount, std::stod(recipe.name.substr(1)));
    }
    if (!r->next_after_id) {
      break;
    }
    page.after_id = *r->next_after_id;
  }
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(names.size(), 24u);
  EXPECT_EQ(names.front(), "R0");
  EXPECT_EQ(names.back(), "R23");

  auto ingredients = repo_.list_ingredients({0, 1000});
  ASSERT_TRUE(ingredients);
  EXPECT_EQ(ingredients->items.size(), 1u);
  EXPECT_FALSE(ingredients->next_after_id);
}

TEST_P(RepositoryTest, BulkIngredientsNameParentsInTheCatalogOrEarlierInTheBatch) {
  auto spirits = ingredient("Spirits");
  std::vector<BulkIngredient> batch = {
      {"Amari", "Bitter liqueurs", {}, {}, false}, {"Fernet", {}, "amari", {}, true},
      {"Gin", {}, "SPIRITS", {}, false},           {"Old Tom Gin", {}, "gin", {}, true},
      {"Vodka", {}, {}, spirits, false},
  };
  auto r = repo_.create_ingredients(batch);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->value.size(), 5u);
  const auto& v = r->value;
  EXPECT_EQ(v[0].path, expected_path({v[0].id}));
  EXPECT_EQ(v[1].parent_id, v[0].id);
  EXPECT_EQ(v[1].path, expected_path({v[0].id, v[1].id}));
  EXPECT_TRUE(v[1].allow_substitution);
  EXPECT_EQ(v[3].path, expected_path({spirits, v[2].id, v[3].id}));
  EXPECT_EQ(v[4].path, expected_path({spirits, v[4].id}));
  EXPECT_EQ(r->catalog_seq, log_.latest_seq());
  EXPECT_EQ(path(v[3].id), v[3].path);
  expect_paths_consistent();
}

TEST_P(RepositoryTest, BulkIngredientsAreAllOrNothingWithPerItemErrors) {
  ingredient("Gin");
  std::int64_t seq = log_.latest_seq();
  std::vector<BulkIngredient> batch = {
      {"Rum", {}, {}, {}, false},
      {"gin", {}, {}, {}, false},               // duplicate of the catalog
      {"Rhum", {}, "Rum", {}, false},           // fine, but the batch fails
      {"Cachaca", {}, "Sugarcane", {}, false},  // unknown parent
      {"RUM", {}, {}, {}, false},               // duplicate within the batch
      {"Pisco", {}, "Rum", 1, false},           // both parent forms
      {"", {}, {}, {}, false},                  // blank
      {"Aged Rum", {}, "rhum", {}, false},      // an earlier valid item: fine
  };
  auto r = repo_.create_ingredients(batch);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.error().field, "items");
  std::vector<std::pair<int, std::string>> got;
  for (const auto& d : r.error().details) {
    got.emplace_back(d.index, d.field);
  }
  EXPECT_EQ(got, (std::vector<std::pair<int, std::string>>{
                     {1, "name"}, {3, "parent_name"}, {4, "name"}, {5, "parent_name"}, {6, "name"}}));
  EXPECT_EQ(log_.latest_seq(), seq);
  EXPECT_EQ(load_state(*db_).ingredients.size(), 1u);

  EXPECT_EQ(repo_.create_ingredients({}).error().field, "items");
  std::vector<BulkIngredient> huge(kMaxBulkItems + 1);
  EXPECT_EQ(repo_.create_ingredients(huge).error().code, ErrorCode::kTooLarge);
}

TEST_P(RepositoryTest, BulkRecipesResolveIngredientsAndUnitsByName) {
  ingredient("Gin");
  ingredient("Campari");
  ingredient("Sweet Vermouth");
  ingredient("Soda Water");
  ingredient("Orange Twist");
  std::vector<BulkRecipe> batch = {
      {"Negroni",
       "Stir.",
       {},
       {},
       {},
       {},
       {{"gin", 1.0, "oz"},
        {"CAMPARI", 1.0, "Ounce"},
        {"Sweet Vermouth", 1.0, "OZ"},
        {"orange twist", {}, "each"}}},
      {"Americano",
       {},
       {},
       {},
       {},
       {},
       {{"Campari", 1.5, "oz"}, {"Sweet Vermouth", 1.5, "oz"}, {"Soda Water", {}, "TOP"}}},
      {"Gin Rinse", {}, {}, {}, {}, {}, {{"Gin", {}, "to rinse"}, {"Soda Water", 4.0, {}}}},
  };
  auto r = repo_.create_recipes(batch);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->value.size(), 3u);
  EXPECT_EQ(r->catalog_seq, log_.latest_seq());
  const auto& negroni = r->value[0];
  EXPECT_EQ(negroni.name, "Negroni");
  ASSERT_EQ(negroni.ingredients.size(), 4u);
  EXPECT_EQ(negroni.ingredients[0].ingredient_name, "Gin");
  EXPECT_EQ(negroni.ingredients[1].ingredient_name, "Campari");
  for (int k = 0; k < 3; ++k) {
    EXPECT_EQ(negroni.ingredients[k].unit_name, "Ounce");
  }
  EXPECT_EQ(negroni.ingredients[3].unit_name, "Each");
  EXPECT_EQ(r->value[1].ingredients[2].unit_name, "to top");
  EXPECT_FALSE(r->value[1].ingredients[2].amount);
  EXPECT_EQ(r->value[2].ingredients[0].unit_name, "to rinse");
  EXPECT_FALSE(r->value[2].ingredients[1].unit_id);
  auto stored = repo_.get_recipe(r->value[1].id);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->ingredients.size(), 3u);
}

TEST_P(RepositoryTest, BulkRecipesAreAllOrNothingWithPerItemErrors) {
  ingredient("Gin");
  ASSERT_TRUE(repo_.create_recipe({"Gin Neat", {}, {}, {}, {}, {}, {}}));
  std::int64_t seq = log_.latest_seq();
  std::vector<BulkRecipe> batch = {
      {"Good One", {}, {}, {}, {}, {}, {{"Gin", 2.0, "oz"}}},
      {"Bad Unit", {}, {}, {}, {}, {}, {{"Gin", 2.0, "oz"}, {"Gin", 1.0, "jigger"}}},
      {"Bad Ingredient", {}, {}, {}, {}, {}, {{"Unobtainium", 1.0, "oz"}}},
      {"GIN NEAT", {}, {}, {}, {}, {}, {{"Gin", 1.0, {}}}},
      {"good one", {}, {}, {}, {}, {}, {{"Gin", 1.0, {}}}},
      {"Bad Amount", {}, {}, {}, {}, {}, {{"Gin", -2.0, "oz"}, {"", 1.0, {}}}},
  };
  auto r = repo_.create_recipes(batch);
  ASSERT_FALSE(r);
  std::vector<std::pair<int, std::string>> got;
  for (const auto& d : r.error().details) {
    got.emplace_back(d.index, d.field);
  }
  EXPECT_EQ(got, (std::vector<std::pair<int, std::string>>{{1, "ingredients[1].unit_name"},
                                                           {2, "ingredients[0].ingredient_name"},
                                                           {3, "name"},
                                                           {4, "name"},
                                                           {5, "ingredients[0].amount"},
                                                           {5, "ingredients[1].ingredient_name"}}));
  EXPECT_NE(r.error().message.find("5 of 6 items"), std::string::npos) << r.error().message;
  EXPECT_EQ(log_.latest_seq(), seq);
  EXPECT_EQ(load_state(*db_).recipes.size(), 1u);

  // A batch failing only on duplicates is a conflict.
  auto dup = repo_.create_recipes({{"gin neat", {}, {}, {}, {}, {}, {}}});
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, ErrorCode::kConflict);
}

INSTANTIATE_TEST_SUITE_P(Backends, RepositoryTest, testing::AllBackends(), testing::BackendName);

}  // namespace
}  // namespace cocktail::catalog

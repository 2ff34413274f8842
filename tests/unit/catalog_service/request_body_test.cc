// Request-body decoding: every rule of the policy in request_body.h, and the
// field each failure names.
#include "cocktail/catalog_service/request_body.h"

#include <gtest/gtest.h>

#include <string>

namespace cocktail::catalog_service {
namespace {

using core::ErrorCode;

template <typename T>
core::Error error_of(const core::Result<T>& r) {
  EXPECT_FALSE(r.ok());
  return r.ok() ? core::Error{} : r.error();
}

TEST(DecodeIngredient, ReadsEveryField) {
  auto r = decode_ingredient(
      R"({"name": "Old Tom Gin", "description": "sweet", "parent_id": 3, "allow_substitution": true})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->name, "Old Tom Gin");
  EXPECT_EQ(r->description, "sweet");
  EXPECT_EQ(r->parent_id, 3);
  EXPECT_TRUE(r->allow_substitution);
}

TEST(DecodeIngredient, OptionalFieldsMayBeAbsentOrNull) {
  auto r = decode_ingredient(R"({"name": "Gin", "description": null, "parent_id": null})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r->description);
  EXPECT_FALSE(r->parent_id);
  EXPECT_FALSE(r->allow_substitution);
}

TEST(DecodeIngredient, ReadOnlyFieldsOfGetAreIgnored) {
  auto r = decode_ingredient(R"({"id": 7, "name": "Gin", "path": "/7/", "allow_substitution": false})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->name, "Gin");
}

TEST(DecodeIngredient, MalformedJsonIsInvalid) {
  auto e = error_of(decode_ingredient(R"({"name": "Gin",)"));
  EXPECT_EQ(e.code, ErrorCode::kInvalidArgument);
  EXPECT_NE(e.message.find("not valid JSON"), std::string::npos) << e.message;
}

TEST(DecodeIngredient, EmptyBodyAndNonObjectsAreInvalid) {
  EXPECT_NE(error_of(decode_ingredient("")).message.find("empty"), std::string::npos);
  EXPECT_NE(error_of(decode_ingredient("  \n")).message.find("empty"), std::string::npos);
  EXPECT_NE(error_of(decode_ingredient("[1]")).message.find("must be a JSON object, not an array"),
            std::string::npos);
  EXPECT_NE(error_of(decode_ingredient("\"Gin\"")).message.find("not a string"), std::string::npos);
}

TEST(DecodeIngredient, MissingNameIsNamed) {
  auto e = error_of(decode_ingredient(R"({"description": "x"})"));
  EXPECT_EQ(e.field, "name");
  EXPECT_EQ(e.message, "name is required");
}

TEST(DecodeIngredient, WrongTypesAreNamed) {
  auto e = error_of(decode_ingredient(R"({"name": 5})"));
  EXPECT_EQ(e.field, "name");
  EXPECT_EQ(e.message, "name must be a string, not a number");
  e = error_of(decode_ingredient(R"({"name": "Gin", "parent_id": "3"})"));
  EXPECT_EQ(e.field, "parent_id");
  e = error_of(decode_ingredient(R"({"name": "Gin", "parent_id": 3.5})"));
  EXPECT_EQ(e.field, "parent_id");
  EXPECT_NE(e.message.find("an integer"), std::string::npos);
  e = error_of(decode_ingredient(R"({"name": "Gin", "allow_substitution": 1})"));
  EXPECT_EQ(e.field, "allow_substitution");
  e = error_of(decode_ingredient(R"({"name": "Gin", "parent_id": 18446744073709551615})"));
  EXPECT_EQ(e.field, "parent_id");
  EXPECT_NE(e.message.find("too large"), std::string::npos);
}

TEST(DecodeIngredient, UnknownAndRepeatedFieldsAreRefused) {
  auto e = error_of(decode_ingredient(R"({"name": "Gin", "colour": "clear"})"));
  EXPECT_EQ(e.field, "colour");
  EXPECT_EQ(e.message, "colour is not a known field");
  e = error_of(decode_ingredient(R"({"name": "Gin", "name": "Rum"})"));
  EXPECT_EQ(e.field, "name");
  EXPECT_NE(e.message.find("more than once"), std::string::npos);
}

TEST(DecodeIngredient, EveryProblemIsListed) {
  auto e = error_of(decode_ingredient(R"({"name": 1, "parent_id": "x", "bogus": 2})"));
  ASSERT_EQ(e.details.size(), 3u);
  EXPECT_NE(e.message.find("and 2 more problems"), std::string::npos) << e.message;
}

TEST(DecodeRecipe, ReadsRowsAndNamesTheBadOne) {
  auto r = decode_recipe(R"({"name": "Gimlet", "instructions": "Shake.", "source_url": "https://x.org",
      "ingredients": [{"ingredient_id": 1, "unit_id": 1, "amount": 2},
                      {"ingredient_id": 2, "unit_id": null, "amount": null, "ingredient_name": "Lime"}]})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->ingredients.size(), 2u);
  EXPECT_EQ(r->ingredients[0].ingredient_id, 1);
  EXPECT_EQ(r->ingredients[0].amount, 2.0);
  EXPECT_FALSE(r->ingredients[1].unit_id);

  auto e = error_of(
      decode_recipe(R"({"name": "Gimlet", "ingredients": [{"ingredient_id": 1}, {"amount": "2"}]})"));
  EXPECT_EQ(e.field, "ingredients[1].ingredient_id");
  ASSERT_EQ(e.details.size(), 2u);
  EXPECT_EQ(e.details[1].field, "ingredients[1].amount");

  e = error_of(decode_recipe(R"({"name": "Gimlet", "ingredients": {"ingredient_id": 1}})"));
  EXPECT_EQ(e.field, "ingredients");
  e = error_of(decode_recipe(R"({"name": "Gimlet", "ingredients": [3]})"));
  EXPECT_EQ(e.field, "ingredients[0]");
  e = error_of(decode_recipe(R"({"name": "Gimlet", "instruction": "typo"})"));
  EXPECT_EQ(e.field, "instruction");
}

TEST(DecodeUnit, ReadsAndChecksTypes) {
  auto r = decode_unit(R"({"name": "Pony", "abbreviation": "pony", "conversion_to_ml": 29.57})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->conversion_to_ml, 29.57);
  EXPECT_EQ(error_of(decode_unit(R"({"name": "Pony", "conversion_to_ml": "29"})")).field, "conversion_to_ml");
}

TEST(DecodeBulk, AcceptsAnArrayOrAnObjectWithTheList) {
  auto a = decode_bulk_ingredients(R"([{"name": "Gin"}, {"name": "Old Tom", "parent_name": "Gin"}])");
  ASSERT_TRUE(a.ok()) << a.error().message;
  ASSERT_EQ(a->size(), 2u);
  EXPECT_EQ((*a)[1].parent_name, "Gin");
  auto b = decode_bulk_ingredients(R"({"ingredients": [{"name": "Gin"}]})");
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(b->size(), 1u);

  auto r =
      decode_bulk_recipes(R"({"recipes": [{"name": "Gimlet", "instructions": "Shake.", "description": null,
      "source": "book", "source_url": null,
      "ingredients": [{"ingredient_name": "Gin", "amount": 2, "unit_name": "oz"}, {"ingredient_name": "Lime"}]}]})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 1u);
  ASSERT_EQ((*r)[0].ingredients.size(), 2u);
  EXPECT_EQ((*r)[0].ingredients[0].unit_name, "oz");
  EXPECT_FALSE((*r)[0].ingredients[1].amount);
}

TEST(DecodeBulk, ReportsEveryBadItemWithItsIndex) {
  auto e = error_of(decode_bulk_recipes(
      R"([{"name": "A"}, {"name": 2}, 7, {"name": "B", "ingredients": [{"ingredient_name": "Gin", "unit": "oz"}]}])"));
  EXPECT_EQ(e.code, ErrorCode::kInvalidArgument);
  ASSERT_EQ(e.details.size(), 3u);
  EXPECT_EQ(e.details[0].index, 1);
  EXPECT_EQ(e.details[0].field, "name");
  EXPECT_EQ(e.details[1].index, 2);
  EXPECT_EQ(e.details[2].index, 3);
  EXPECT_EQ(e.details[2].field, "ingredients[0].unit");
  EXPECT_NE(e.message.find("item 1"), std::string::npos) << e.message;
}

TEST(DecodeBulk, EmptyListsAndWrongShapesAreInvalid) {
  EXPECT_EQ(error_of(decode_bulk_recipes("[]")).field, "recipes");
  EXPECT_EQ(error_of(decode_bulk_recipes(R"({"recipes": []})")).field, "recipes");
  EXPECT_EQ(error_of(decode_bulk_recipes(R"({"items": []})")).field, "items");
  EXPECT_EQ(error_of(decode_bulk_recipes(R"({})")).field, "recipes");
  EXPECT_NE(error_of(decode_bulk_ingredients("3")).message.find("array"), std::string::npos);
}

TEST(DecodeBulk, ProblemListIsBounded) {
  std::string body = "[";
  for (int i = 0; i < 500; ++i) {
    body += std::string(i ? "," : "") + "{}";
  }
  body += "]";
  auto e = error_of(decode_bulk_ingredients(body));
  EXPECT_EQ(e.details.size(), kMaxReportedProblems);
  EXPECT_NE(e.message.find("and 499 more problems"), std::string::npos) << e.message;
}

TEST(DecodeAny, InvalidUtf8IsMalformed) {
  std::string body = "{\"name\": \"G\xff\xfein\"}";
  EXPECT_NE(error_of(decode_ingredient(body)).message.find("not valid JSON"), std::string::npos);
}

}  // namespace
}  // namespace cocktail::catalog_service

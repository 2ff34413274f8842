// Fuzzes catalog write bodies the way catalog-api handles them: the request
// body decoders of catalog_service, then the Repository write on a real
// (in-memory) SQLite catalog.
//
// Input: a selector, then the body.
//   i create ingredient   I update ingredient 2   r create recipe
//   R update recipe 1     u create unit           b bulk ingredients
//   B bulk recipes
// Every decoded body is written to a catalog of its own, made the same way
// each time, so that a finding reproduces from its input alone.
// Properties: decoding never crashes and every refusal names a reason; the
// Repository answers every decoded body with a value or an expected error
// (invalid, not found, conflict, too large), never a database failure; what
// a write reports reads back the same.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "cocktail/catalog/repository.h"
#include "cocktail/catalog/schema.h"
#include "cocktail/catalog_service/request_body.h"
#include "fuzz_input.h"

namespace {

using namespace cocktail;

// A catalog in memory: three ingredients (Spirits > Gin, Lime juice), the
// standard units, and a Gimlet, made afresh for every decoded body so that a
// finding reproduces from its input alone.
class Catalog {
 public:
  Catalog() : db_(catalog::open_catalog(":memory:")), repo_(*db_) {
    auto spirits = repo_.create_ingredient({"Spirits", std::nullopt, std::nullopt, false});
    if (!spirits.ok()) {
      fuzz::fail(__FILE__, __LINE__, "fixture", spirits.error().message);
    }
    auto gin = repo_.create_ingredient({"Gin", "Juniper", spirits->value.id, true});
    auto lime = repo_.create_ingredient({"Lime juice", std::nullopt, std::nullopt, false});
    if (!gin.ok() || !lime.ok()) {
      fuzz::fail(__FILE__, __LINE__, "fixture", "ingredients");
    }
    catalog::RecipeInput gimlet{
        "Gimlet", "Shake with ice.", std::nullopt, std::nullopt, std::nullopt, std::nullopt, {}};
    gimlet.ingredients.push_back({gin->value.id, std::nullopt, 60.0});
    gimlet.ingredients.push_back({lime->value.id, std::nullopt, 20.0});
    if (!repo_.create_recipe(gimlet).ok()) {
      fuzz::fail(__FILE__, __LINE__, "fixture", "recipe");
    }
  }

  catalog::Repository& repo() { return repo_; }

 private:
  std::unique_ptr<catalog::Database> db_;
  catalog::Repository repo_;
};

void check_refusal(const core::Error& error, std::string_view body) {
  COCKTAIL_FUZZ_CHECK(!error.message.empty(), body);
  COCKTAIL_FUZZ_CHECK(error.details.size() <= catalog_service::kMaxReportedProblems, body);
}

// A Repository answer: a value, or an error a client can act on.
template <typename T>
bool answered(const core::Result<T>& result, std::string_view body) {
  if (result.ok()) {
    return true;
  }
  const auto code = result.error().code;
  COCKTAIL_FUZZ_CHECK(code == core::ErrorCode::kInvalidArgument || code == core::ErrorCode::kNotFound ||
                          code == core::ErrorCode::kConflict || code == core::ErrorCode::kTooLarge,
                      result.error().message);
  check_refusal(result.error(), body);
  return false;
}

// Decodes `body`; when it decodes, writes it to a fresh catalog and, when
// the write succeeds, checks `reads_back(repo, written value, input)`.
template <typename Decode, typename Write, typename ReadsBack>
void decode_and_write(std::string_view body, Decode decode, Write write, ReadsBack reads_back) {
  auto in = decode(body);
  if (!in.ok()) {
    return check_refusal(in.error(), body);
  }
  Catalog catalog;
  auto out = write(catalog.repo(), *in);
  if (answered(out, body)) {
    COCKTAIL_FUZZ_CHECK(reads_back(catalog.repo(), out->value, *in), body);
  }
}

void write(char selector, std::string_view body) {
  using catalog::Repository;
  const auto same_ingredient = [](Repository& repo, const catalog::Ingredient& written, const auto&) {
    auto back = repo.get_ingredient(written.id);
    return back.ok() && back->name == written.name && back->path == written.path;
  };
  const auto same_recipe = [](Repository& repo, const catalog::Recipe& written, const auto&) {
    auto back = repo.get_recipe(written.id);
    return back.ok() && back->name == written.name && back->ingredients.size() == written.ingredients.size();
  };
  const auto all_items = [](Repository&, const auto& written, const auto& in) {
    return written.size() == in.size();
  };
  const auto nothing_more = [](Repository&, const auto&, const auto&) { return true; };
  switch (selector) {
    case 'i':
      return decode_and_write(
          body, catalog_service::decode_ingredient,
          [](Repository& repo, const auto& in) { return repo.create_ingredient(in); }, same_ingredient);
    case 'I':
      return decode_and_write(
          body, catalog_service::decode_ingredient,
          [](Repository& repo, const auto& in) { return repo.update_ingredient(2, in); }, same_ingredient);
    case 'r':
      return decode_and_write(
          body, catalog_service::decode_recipe,
          [](Repository& repo, const auto& in) { return repo.create_recipe(in); }, same_recipe);
    case 'R':
      return decode_and_write(
          body, catalog_service::decode_recipe,
          [](Repository& repo, const auto& in) { return repo.update_recipe(1, in); }, same_recipe);
    case 'u':
      return decode_and_write(
          body, catalog_service::decode_unit,
          [](Repository& repo, const auto& in) { return repo.create_unit(in); }, nothing_more);
    case 'b':
      return decode_and_write(
          body, catalog_service::decode_bulk_ingredients,
          [](Repository& repo, const auto& in) { return repo.create_ingredients(in); }, all_items);
    case 'B':
      return decode_and_write(
          body, catalog_service::decode_bulk_recipes,
          [](Repository& repo, const auto& in) { return repo.create_recipes(in); }, all_items);
    default: return;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  char selector = 0;
  std::string_view body;
  if (!fuzz::split_selector(fuzz::as_text(data, size), &selector, &body)) {
    return 0;
  }
  try {
    write(selector, body);
  } catch (const std::exception& e) {
    fuzz::fail(__FILE__, __LINE__, "a write body gets an answer, not an exception", e.what());
  }
  return 0;
}

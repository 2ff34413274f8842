#include "cocktail/catalog/state.h"

#include <algorithm>

#include "cocktail/catalog/database.h"

namespace cocktail::catalog {

CatalogState load_state(Database& db) {
  CatalogState state;
  Transaction tx(db, Transaction::Kind::kRead);
  // The first read fixes the WAL snapshot: the seq and the rows below come
  // from the same committed state.
  {
    // As ChangeLog::latest_seq(): still right after a prune emptied the table.
    auto st = db.prepare(
        "SELECT MAX(COALESCE((SELECT MAX(seq) FROM change_log), 0), "
        "COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'change_log'), 0))");
    if (st.step()) state.catalog_seq = st.column_int(0);
  }
  {
    auto st = db.prepare(
        "SELECT id, name, parent_id, COALESCE(path, ''), COALESCE(allow_substitution, 0) "
        "FROM ingredients ORDER BY id");
    while (st.step()) {
      state.ingredients.push_back({st.column_int(0), st.column_text(1), st.column_optional_int(2),
                                   st.column_text(3), st.column_int(4) != 0});
    }
  }
  {
    auto st =
        db.prepare("SELECT id, name, COALESCE(abbreviation, ''), conversion_to_ml FROM units ORDER BY id");
    while (st.step()) {
      state.units.push_back(
          {st.column_int(0), st.column_text(1), st.column_text(2), st.column_optional_double(3)});
    }
  }
  {
    auto st = db.prepare("SELECT id, name FROM recipes ORDER BY id");
    while (st.step()) state.recipes.push_back({st.column_int(0), st.column_text(1)});
  }
  {
    // Read in rowid order (a straight table scan) and order by recipe in
    // memory: walking the recipe_id index costs a table lookup per row, which
    // was most of the load time. Rows are usually inserted recipe by recipe,
    // so the check below mostly finds them already ordered.
    auto st = db.prepare(
        "SELECT id, recipe_id, ingredient_id, unit_id, amount FROM recipe_ingredients ORDER BY id");
    while (st.step()) {
      state.recipe_ingredients.push_back({st.column_int(0), st.column_int(1), st.column_int(2),
                                          st.column_optional_int(3), st.column_optional_double(4)});
    }
    auto by_recipe = [](const RecipeIngredientRow& a, const RecipeIngredientRow& b) {
      return a.recipe_id < b.recipe_id;
    };
    if (!std::is_sorted(state.recipe_ingredients.begin(), state.recipe_ingredients.end(), by_recipe)) {
      // Stable: rows of one recipe stay in ascending id.
      std::stable_sort(state.recipe_ingredients.begin(), state.recipe_ingredients.end(), by_recipe);
    }
  }
  tx.commit();
  return state;
}

}  // namespace cocktail::catalog

// A synthetic but realistic CatalogState for cocktail-space tests and
// benchmarks, built in memory (no database): an ingredient hierarchy several
// levels deep under spirits, liqueurs, juices, syrups, bitters, wines,
// mixers and garnishes (some leaves substitutable), and recipes drawn from
// drink families (sours, highballs, old fashioneds, martinis, tiki, spritzes,
// negronis, shots) with 1 to 10 ingredients, most around 4, in the standard
// units including `to top`, `to rinse`, `each`, and some missing amounts.
// The same arguments always give the same catalog.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "cocktail/catalog/state.h"

namespace cocktail::analytics::testing {

class SyntheticCatalog {
 public:
  // Unit ids of the standard set, in catalog order.
  enum Unit : std::int64_t {
    kOunce = 1,
    kTablespoon,
    kTeaspoon,
    kBarspoon,
    kDash,
    kEach,
    kDrop,
    kTop,
    kRinse
  };

  static catalog::CatalogState make(std::size_t recipes, std::size_t ingredients, std::uint64_t seed) {
    SyntheticCatalog g(seed);
    g.build_units();
    g.build_ingredients(std::max<std::size_t>(ingredients, 60));
    g.build_recipes(recipes);
    return std::move(g.state_);
  }

 private:
  explicit SyntheticCatalog(std::uint64_t seed) : rng_(seed) {}

  double uniform() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }
  std::size_t below(std::size_t n) { return static_cast<std::size_t>(uniform() * static_cast<double>(n)); }
  // Skewed choice: popular items first (p ∝ 1 / (rank + 1)).
  std::size_t popular(std::size_t n) {
    double total = 0.0;
    for (std::size_t i = 0; i < n; ++i) total += 1.0 / static_cast<double>(i + 1);
    double x = uniform() * total;
    for (std::size_t i = 0; i < n; ++i) {
      x -= 1.0 / static_cast<double>(i + 1);
      if (x <= 0.0) return i;
    }
    return n - 1;
  }

  void build_units() {
    state_.units = {{1, "Ounce", "oz", 29.5735},
                    {2, "Tablespoon", "tbsp", 14.7868},
                    {3, "Teaspoon", "tsp", 4.92892},
                    {4, "Barspoon", "bsp", 2.46446},
                    {5, "Dash", "dash", 0.616115},
                    {6, "Each", "each", std::nullopt},
                    {7, "Drop", "drop", 0.05},
                    {8, "to top", "top", std::nullopt},
                    {9, "to rinse", "rinse", std::nullopt}};
  }

  std::int64_t add_ingredient(const std::string& name, std::optional<std::int64_t> parent,
                              bool substitutable) {
    const std::int64_t id = static_cast<std::int64_t>(state_.ingredients.size()) + 1;
    std::string path = parent ? state_.ingredients[static_cast<std::size_t>(*parent - 1)].path : "/";
    path += std::to_string(id) + "/";
    state_.ingredients.push_back({id, name, parent, path, substitutable});
    return id;
  }

  // Roots and their categories; products (level 3, some with a level-4
  // variant) fill up to the requested count.
  void build_ingredients(std::size_t target) {
    const std::vector<std::pair<std::string, std::vector<std::string>>> tree = {
        {"Spirits", {"Gin", "Whiskey", "Rum", "Tequila", "Vodka", "Brandy", "Mezcal"}},
        {"Liqueurs", {"Orange Liqueur", "Herbal Liqueur", "Bitter Liqueur", "Coffee Liqueur", "Nut Liqueur"}},
        {"Juices", {"Lime Juice", "Lemon Juice", "Orange Juice", "Grapefruit Juice", "Pineapple Juice"}},
        {"Syrups", {"Simple Syrup", "Honey Syrup", "Grenadine", "Orgeat", "Demerara Syrup"}},
        {"Bitters", {"Aromatic Bitters", "Orange Bitters", "Peychaud Bitters"}},
        {"Wines", {"Sweet Vermouth", "Dry Vermouth", "Sparkling Wine", "Sherry"}},
        {"Mixers", {"Soda Water", "Tonic Water", "Ginger Beer", "Cola"}},
        {"Garnishes", {"Lime Wheel", "Lemon Twist", "Orange Peel", "Cherry", "Mint Sprig"}},
    };
    for (const auto& [root, categories] : tree) {
      const std::int64_t root_id = add_ingredient(root, std::nullopt, false);
      roots_.push_back(root_id);
      for (const auto& category : categories) {
        const std::int64_t id = add_ingredient(category, root_id, false);
        categories_.push_back({id, root_id, {}});
      }
    }
    // Products round-robin over categories, popular categories first.
    std::size_t next = 0;
    std::size_t serial = 1;
    while (state_.ingredients.size() < target) {
      Category& c = categories_[next % categories_.size()];
      const std::string base = state_.ingredients[static_cast<std::size_t>(c.id - 1)].name;
      const bool substitutable = uniform() < 0.4;
      const std::int64_t product = add_ingredient(base + " " + std::to_string(serial++), c.id, substitutable);
      c.products.push_back(product);
      if (state_.ingredients.size() < target && uniform() < 0.15) {
        // An aged or flavoured variant below the product.
        const std::int64_t variant =
            add_ingredient(base + " " + std::to_string(serial++), product, uniform() < 0.5);
        c.products.push_back(variant);
      }
      ++next;
    }
    // A product with a child is no longer a substitutable leaf by rule; the
    // flag may still be set (the roll-up must ignore it).
  }

  // An ingredient of a category: the category itself (generic) or a product.
  std::int64_t pick(std::size_t category) {
    const Category& c = categories_[category];
    if (c.products.empty() || uniform() < 0.2) return c.id;
    return c.products[popular(c.products.size())];
  }
  std::size_t category_of(const std::string& name) const {
    for (std::size_t i = 0; i < categories_.size(); ++i) {
      if (state_.ingredients[static_cast<std::size_t>(categories_[i].id - 1)].name == name) return i;
    }
    return 0;
  }
  std::size_t any_in_root(std::size_t root_index) {
    std::vector<std::size_t> in_root;
    for (std::size_t i = 0; i < categories_.size(); ++i) {
      if (categories_[i].root == roots_[root_index]) in_root.push_back(i);
    }
    return in_root[popular(in_root.size())];
  }

  struct Row {
    std::int64_t ingredient;
    std::optional<std::int64_t> unit;
    std::optional<double> amount;
  };
  void add(std::vector<Row>& rows, std::int64_t ingredient, std::int64_t unit, double amount) {
    const double jitter = 0.75 + 0.5 * uniform();
    std::optional<double> a = std::round(amount * jitter * 4.0) / 4.0;
    if (unit == kEach || unit == kDash) a = std::max(1.0, std::round(amount * jitter));
    if (unit == kTop || unit == kRinse) a = std::nullopt;
    if (uniform() < 0.04) a = std::nullopt;  // missing amounts happen
    rows.push_back({ingredient, unit, a});
  }

  void build_recipes(std::size_t count) {
    const std::size_t spirits = 0, liqueurs = 1, juices = 2, syrups = 3, bitters = 4, wines = 5, mixers = 6,
                      garnish = 7;
    std::int64_t row_id = 1;
    for (std::size_t r = 0; r < count; ++r) {
      std::vector<Row> rows;
      const double family = uniform();
      const std::size_t spirit = any_in_root(spirits);
      if (family < 0.25) {  // sour
        add(rows, pick(spirit), kOunce, 2.0);
        add(rows, pick(category_of(uniform() < 0.6 ? "Lime Juice" : "Lemon Juice")), kOunce, 0.75);
        add(rows, pick(any_in_root(syrups)), kOunce, 0.75);
        if (uniform() < 0.3) add(rows, pick(any_in_root(liqueurs)), kOunce, 0.5);
        if (uniform() < 0.3) add(rows, pick(any_in_root(bitters)), kDash, 2);
      } else if (family < 0.42) {  // highball
        add(rows, pick(spirit), kOunce, 2.0);
        add(rows, pick(any_in_root(mixers)), kTop, 0);
        if (uniform() < 0.4) add(rows, pick(category_of("Lime Juice")), kOunce, 0.5);
      } else if (family < 0.55) {  // old fashioned
        add(rows, pick(spirit), kOunce, 2.0);
        add(rows, pick(any_in_root(syrups)), kTeaspoon, 1.0);
        add(rows, pick(any_in_root(bitters)), kDash, 2);
        if (uniform() < 0.3) add(rows, pick(any_in_root(bitters)), kDash, 1);
      } else if (family < 0.66) {  // martini
        add(rows, pick(spirit), kOunce, 2.5);
        add(rows, pick(category_of(uniform() < 0.6 ? "Dry Vermouth" : "Sweet Vermouth")), kOunce, 0.5);
        if (uniform() < 0.5) add(rows, pick(any_in_root(bitters)), kDash, 1);
        if (uniform() < 0.2) add(rows, pick(category_of("Herbal Liqueur")), kRinse, 0);
      } else if (family < 0.78) {  // tiki
        const std::size_t rum = category_of("Rum");
        for (std::size_t k = 0, n = 1 + below(3); k < n; ++k) add(rows, pick(rum), kOunce, 1.0);
        for (std::size_t k = 0, n = 1 + below(3); k < n; ++k)
          add(rows, pick(any_in_root(juices)), kOunce, 1.0);
        for (std::size_t k = 0, n = 1 + below(2); k < n; ++k)
          add(rows, pick(any_in_root(syrups)), kOunce, 0.5);
        if (uniform() < 0.5) add(rows, pick(any_in_root(liqueurs)), kOunce, 0.5);
        if (uniform() < 0.4) add(rows, pick(any_in_root(bitters)), kDash, 2);
      } else if (family < 0.86) {  // spritz
        add(rows, pick(category_of("Sparkling Wine")), kOunce, 3.0);
        add(rows, pick(category_of("Bitter Liqueur")), kOunce, 2.0);
        add(rows, pick(category_of("Soda Water")), kTop, 0);
      } else if (family < 0.95) {  // negroni-like
        add(rows, pick(spirit), kOunce, 1.0);
        add(rows, pick(any_in_root(liqueurs)), kOunce, 1.0);
        add(rows, pick(uniform() < 0.7 ? category_of("Sweet Vermouth") : any_in_root(wines)), kOunce, 1.0);
      } else {  // shot or straight pour
        add(rows, pick(uniform() < 0.5 ? spirit : any_in_root(liqueurs)), kOunce, 1.5);
      }
      if (uniform() < 0.5 && rows.size() < 10) add(rows, pick(any_in_root(garnish)), kEach, 1);
      while (rows.size() > 10) rows.pop_back();
      const std::int64_t recipe_id = static_cast<std::int64_t>(r) + 1;
      state_.recipes.push_back({recipe_id, "Cocktail " + std::to_string(recipe_id)});
      for (const Row& row : rows) {
        state_.recipe_ingredients.push_back({row_id++, recipe_id, row.ingredient, row.unit, row.amount});
      }
    }
  }

  struct Category {
    std::int64_t id;
    std::int64_t root;
    std::vector<std::int64_t> products;
  };
  std::mt19937_64 rng_;
  catalog::CatalogState state_;
  std::vector<std::int64_t> roots_;
  std::vector<Category> categories_;
};

}  // namespace cocktail::analytics::testing

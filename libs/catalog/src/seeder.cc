#include "cocktail/catalog/seeder.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "backend.h"
#include "cocktail/catalog/change_log.h"
#include "indexes.h"
#include "pg_database.h"
#include "pg_outbox.h"
#include "xoshiro.h"

namespace cocktail::catalog {
namespace {

// The curated taxonomy: two spaces of indentation per level. A tag in
// brackets says how the ingredient is usually measured and is inherited by
// descendants: [rinse] (often "to rinse"), [top] ("to top"), [each].
constexpr std::string_view kTaxonomy = R"(Spirits
  Gin
    London Dry Gin
    Old Tom Gin
    Plymouth Gin
    Navy Strength Gin
    Genever
  Vodka
    Citrus Vodka
    Vanilla Vodka
  Rum
    White Rum
    Aged Rum
      Jamaican Rum
      Demerara Rum
    Dark Rum
    Overproof Rum
    Rhum Agricole
    Spiced Rum
    Cachaça
  Whiskey
    Bourbon
      Wheated Bourbon
      High-Rye Bourbon
    Rye Whiskey
    Scotch Whisky
      Blended Scotch
      Single Malt Scotch
        Islay Single Malt
        Speyside Single Malt
    Irish Whiskey
    Japanese Whisky
  Agave Spirits
    Tequila
      Blanco Tequila
      Reposado Tequila
      Añejo Tequila
    Mezcal
  Brandy
    Cognac
    Armagnac
    Pisco
    Calvados
    Applejack
  Absinthe [rinse]
  Aquavit
Liqueurs
  Orange Liqueur
    Triple Sec
    Dry Curaçao
    Blue Curaçao
  Herbal Liqueur
    Green Chartreuse
    Yellow Chartreuse
    Bénédictine
    Galliano
    Drambuie
  Amaro
    Campari
    Aperol
    Fernet
    Amaro Nonino
    Cynar
  Nut Liqueur
    Amaretto
    Hazelnut Liqueur
  Coffee Liqueur
  Fruit Liqueur
    Maraschino Liqueur
    Crème de Cassis
    Crème de Mûre
    Apricot Liqueur
    Peach Liqueur
    Crème de Banane
  Floral Liqueur
    Elderflower Liqueur
    Crème de Violette
  Cream Liqueur
  Anise Liqueur [rinse]
    Pastis
    Sambuca
    Ouzo
Juices
  Citrus Juice
    Lemon Juice
    Lime Juice
    Orange Juice
      Blood Orange Juice
    Grapefruit Juice
  Pineapple Juice
  Cranberry Juice
  Tomato Juice
  Apple Juice
  Passion Fruit Juice
  Pomegranate Juice
Syrups
  Simple Syrup
    Rich Simple Syrup
  Demerara Syrup
  Honey Syrup
  Agave Syrup
  Maple Syrup
  Grenadine
  Orgeat
  Falernum
  Spiced Syrup
    Cinnamon Syrup
    Ginger Syrup
  Fruit Syrup
    Raspberry Syrup
    Passion Fruit Syrup
Bitters
  Aromatic Bitters
    Angostura Bitters
  Creole Bitters
  Orange Bitters
  Chocolate Bitters
  Celery Bitters
  Grapefruit Bitters
  Saline Solution
Wines
  Vermouth
    Sweet Vermouth
    Dry Vermouth
    Blanc Vermouth
  Sparkling Wine [top]
    Champagne
    Prosecco
    Cava
  Fortified Wine
    Sherry
      Fino Sherry
      Amontillado Sherry
      Oloroso Sherry
      Pedro Ximénez Sherry
    Port
      Ruby Port
      Tawny Port
    Madeira
  Aromatized Wine
    Quinquina
    Americano
  Red Wine
  White Wine
Mixers
  Soda Water [top]
  Tonic Water [top]
  Ginger Beer [top]
  Ginger Ale [top]
  Cola [top]
  Lemon-Lime Soda [top]
  Grapefruit Soda [top]
  Coconut Water
  Cream
  Egg White [each]
  Whole Egg [each]
  Espresso
Garnishes
  Citrus Peel
    Lemon Twist
    Orange Twist
    Grapefruit Twist
  Citrus Wheel
    Lime Wheel
    Lemon Wheel
    Orange Slice
  Cocktail Cherry
    Maraschino Cherry
    Brandied Cherry
  Mint Sprig
  Olive
  Cocktail Onion
  Grated Nutmeg
  Cinnamon Stick
  Cucumber Slice
  Pineapple Wedge
  Salt Rim
  Sugar Rim
)";

enum Role : int { kSpirits, kLiqueurs, kJuices, kSyrups, kBitters, kWines, kMixers, kGarnishes, kRoles };

enum class Measure { kDefault, kRinse, kTop, kEach };

struct Node {
  std::string name;
  int parent = -1;  // index into the node list
  int depth = 0;
  Role role = kSpirits;
  Measure measure = Measure::kDefault;
};

std::vector<Node> parse_taxonomy() {
  std::vector<Node> nodes;
  std::vector<int> stack;  // index of the last node seen at each depth
  std::size_t pos = 0;
  int roots = 0;
  while (pos < kTaxonomy.size()) {
    std::size_t end = kTaxonomy.find('\n', pos);
    if (end == std::string_view::npos) {
      end = kTaxonomy.size();
    }
    std::string_view line = kTaxonomy.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty()) {
      continue;
    }
    std::size_t indent = line.find_first_not_of(' ');
    Node n;
    n.depth = static_cast<int>(indent / 2);
    std::string_view name = line.substr(indent);
    if (auto tag = name.find(" ["); tag != std::string_view::npos) {
      std::string_view t = name.substr(tag + 2);
      n.measure = t.rfind("rinse", 0) == 0 ? Measure::kRinse
                  : t.rfind("top", 0) == 0 ? Measure::kTop
                                           : Measure::kEach;
      name = name.substr(0, tag);
    }
    n.name = std::string(name);
    stack.resize(static_cast<std::size_t>(n.depth));
    if (n.depth == 0) {
      n.role = static_cast<Role>(roots++);
    } else {
      n.parent = stack.back();
      const Node& parent = nodes[static_cast<std::size_t>(n.parent)];
      n.role = parent.role;
      if (n.measure == Measure::kDefault) {
        n.measure = parent.measure;
      }
    }
    stack.push_back(static_cast<int>(nodes.size()));
    nodes.push_back(std::move(n));
  }
  // Breadth-first order: a catalog cut short keeps every root and the most
  // general categories, and parents always come before their children.
  std::vector<int> order(nodes.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    order[i] = static_cast<int>(i);
  }
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    return nodes[static_cast<std::size_t>(a)].depth < nodes[static_cast<std::size_t>(b)].depth;
  });
  std::vector<int> position(nodes.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    position[static_cast<std::size_t>(order[i])] = static_cast<int>(i);
  }
  std::vector<Node> sorted;
  sorted.reserve(nodes.size());
  for (int i : order) {
    Node n = nodes[static_cast<std::size_t>(i)];
    if (n.parent >= 0) {
      n.parent = position[static_cast<std::size_t>(n.parent)];
    }
    sorted.push_back(std::move(n));
  }
  return sorted;
}

// Invented producers for the products added under curated nodes.
const std::vector<std::string> kMakers = {
    "Harlow",      "Old Quarry",   "Vance & Sons", "Blackwater",     "Saint Aubin", "Calder",
    "Marrow Hill", "Penrose",      "Idlewild",     "Copperline",     "Hollis",      "Fenwick",
    "Dunmore",     "Lark & Finch", "Bellweather",  "Castellane",     "Greyhaven",   "Ostrander",
    "Willowmere",  "Kestrel",      "Ashgrove",     "Redfern",        "Montclair",   "Sable Point",
    "Thornbury",   "Verity",       "Whitlock",     "Corvina",        "Elmstead",    "Fairhollow",
    "Glenrock",    "Haverford",    "Iron Gate",    "Juniper Row",    "Kingsmere",   "Lockhart",
    "Mirabel",     "Northvale",    "Orchard Lane", "Pembrook",       "Quillon",     "Rosemont",
    "Silverbirch", "Tamsin",       "Underhill",    "Valemont",       "Westbrook",   "Yarrow",
    "Zephyr Bay",  "Casa Lucero",  "Bodega Alta",  "Maison Ferrand", "Domaine Vey", "Destileria Sol",
    "Nordhavn",    "Kuroki",
};
const std::vector<std::string> kEditions = {
    "", "", "", " Reserve", " Select", " Small Batch", " Single Estate", " Cask Strength", " Classic"};

const std::vector<std::string> kAdjectives = {
    "Midnight", "Velvet", "Golden", "Smoky",  "Crimson", "Silver",    "Electric", "Lazy",     "Bitter",
    "Gilded",   "Hidden", "Wild",   "Quiet",  "Lucky",   "Burnt",     "Frozen",   "Tropical", "Dusty",
    "Royal",    "Savage", "Gentle", "Jade",   "Amber",   "Scarlet",   "Rusty",    "Salty",    "Misty",
    "Copper",   "Last",   "First",  "Blue",   "Black",   "White",     "Green",    "Red",      "Little",
    "Grand",    "Pale",   "Dark",   "Bright", "Sunlit",  "Stormy",    "Wicked",   "Honest",   "Faded",
    "Crooked",  "Sweet",  "Sour",   "Spiced", "Tangled", "Weathered", "Northern", "Southern", "Eastern",
    "Western",  "Lost",   "Secret", "Broken", "Painted", "Floating",  "Rising",   "Falling",  "Hazy",
    "Brass",    "Iron",   "Paper",  "Glass",  "Marble",  "Ivory",     "Emerald",  "Velour",   "Satin",
};
const std::vector<std::string> kNouns = {
    "Sour",       "Fizz",      "Sling",   "Smash",    "Flip",    "Cobbler",  "Daisy",     "Julep",
    "Collins",    "Rickey",    "Swizzle", "Punch",    "Toddy",   "Highball", "Buck",      "Mule",
    "Crusta",     "Fix",       "Cooler",  "Spritz",   "Negroni", "Martini",  "Manhattan", "Old Fashioned",
    "Daiquiri",   "Margarita", "Gimlet",  "Sidecar",  "Sazerac", "Compass",  "Lantern",   "Harbor",
    "Anchor",     "Orchard",   "Garden",  "Meridian", "Parlor",  "Voyage",   "Sparrow",   "Fox",
    "Heron",      "Tiger",     "Monsoon", "Tide",     "Ember",   "Aviator",  "Bramble",   "Thistle",
    "Clover",     "Ribbon",    "Velvet",  "Crown",    "Cipher",  "Pilgrim",  "Matador",   "Mariner",
    "Dancer",     "Ghost",     "Saint",   "Sinner",   "Rebel",   "Bishop",   "Corsair",   "Express",
    "Rendezvous", "Nightcap",  "Reviver", "Cure",     "Remedy",  "Tonic",    "Flame",
};
const std::vector<std::string> kPeople = {
    "Hemingway", "Lucia", "Baron", "Admiral", "Doctor", "Captain", "Professor", "Duchess", "Mabel",
    "Oscar",     "Rosa",  "Teddy", "Nora",    "Felix",  "Ada",     "Jules",     "Ines",    "Hugo",
    "Greta",     "Milo",  "Clara", "Otto",    "Vera",   "Arlo",    "Elsa",      "Ruben",   "Iris",
};
const std::vector<std::string> kPlaces = {
    "Havana", "Brooklyn", "Kingston", "Oaxaca",  "Lisbon", "Marseille", "Bombay",   "Savannah", "Trinidad",
    "Tokyo",  "Venice",   "Dublin",   "Jalisco", "Panama", "Seville",   "Bordeaux", "Zanzibar", "Manila",
    "Lima",   "Naples",   "Tangier",  "Quebec",  "Fiji",   "Montreal",  "Capri",    "Madeira",  "Bermuda",
};

struct Method {
  const char* instructions;
  const char* style;
};
const std::vector<Method> kMethods = {
    {"Shake with ice and strain into a chilled coupe.", "shaken sour"},
    {"Shake hard with ice and double strain into a chilled cocktail glass.", "shaken cocktail"},
    {"Stir with ice and strain into a chilled glass.", "stirred drink"},
    {"Stir with ice and strain over a large cube in a rocks glass.", "spirit-forward drink"},
    {"Build over ice in a highball glass and top.", "highball"},
    {"Dry shake, then shake with ice and strain into a chilled glass.", "foamy sour"},
    {"Swizzle with crushed ice in a tall glass.", "swizzle"},
    {"Blend with a cup of ice until smooth.", "frozen drink"},
    {"Shake with ice and strain into a highball glass over fresh ice; top.", "fizz"},
    {"Build in a wine glass over ice and top.", "spritz"},
};

struct Units {
  std::int64_t oz = 0, tbsp = 0, tsp = 0, bsp = 0, dash = 0, each = 0, drop = 0, top = 0, rinse = 0;
};

struct Row {
  std::int64_t ingredient_id = 0;
  std::int64_t unit_id = 0;  // 0: none
  double amount = -1;        // < 0: none
};

class Generator {
 public:
  Generator(const SeedOptions& options, const Units& units) : rng_(options.seed), units_(units) {}

  // Builds the hierarchy in memory; ids are 1..n in order.
  void make_ingredients(std::int64_t count) {
    std::vector<Node> curated = parse_taxonomy();
    std::size_t take = std::min<std::size_t>(curated.size(), static_cast<std::size_t>(count));
    for (std::size_t i = 0; i < take; ++i) {
      const Node& n = curated[i];
      Ingredient ing;
      ing.name = n.name;
      ing.parent = n.parent;
      ing.role = n.role;
      ing.measure = n.measure;
      ing.depth = n.depth;
      ing.description = n.parent < 0 ? "Everything under " + lower(n.name) + "."
                                     : n.name + ", one of the " +
                                           lower(ingredients_[static_cast<std::size_t>(n.parent)].name) + ".";
      add(std::move(ing));
    }
    // Products under curated categories (never under roots), weighted by
    // how many brands each kind of ingredient has in a real back bar.
    std::array<std::vector<int>, kRoles> parents;
    for (std::size_t i = 0; i < ingredients_.size(); ++i) {
      if (ingredients_[i].depth >= 1) {
        parents[ingredients_[i].role].push_back(static_cast<int>(i));
      }
    }
    const std::vector<int> role_weights = {34, 22, 4, 8, 9, 14, 6, 3};
    std::vector<int> usable_weights(kRoles);
    for (int r = 0; r < kRoles; ++r) {
      usable_weights[r] = parents[r].empty() ? 0 : role_weights[r];
    }
    bool any = std::any_of(usable_weights.begin(), usable_weights.end(), [](int w) { return w > 0; });
    while (any && static_cast<std::int64_t>(ingredients_.size()) < count) {
      Role role = static_cast<Role>(rng_.weighted(usable_weights));
      int parent = rng_.pick(parents[role]);
      const Ingredient& p = ingredients_[static_cast<std::size_t>(parent)];
      std::string maker = rng_.pick(kMakers);
      std::string base = maker + " " + p.name + rng_.pick(kEditions);
      Ingredient ing;
      ing.name = unique(base, ingredient_names_, ingredient_suffix_);
      ing.parent = parent;
      ing.role = p.role;
      ing.measure = p.measure;
      ing.depth = p.depth + 1;
      ing.description = p.name + " by " + maker + ".";
      add(std::move(ing));
    }
    // Leaves known only now: some accept a stand-in from their parent category.
    std::vector<bool> has_child(ingredients_.size(), false);
    for (const auto& ing : ingredients_) {
      if (ing.parent >= 0) {
        has_child[static_cast<std::size_t>(ing.parent)] = true;
      }
    }
    for (std::size_t i = 0; i < ingredients_.size(); ++i) {
      if (!has_child[i] && ingredients_[i].depth >= 1) {
        ingredients_[i].allow_substitution = rng_.chance(0.3);
      }
    }
    // Pools by role in id order: curated generics come first and, with the
    // skewed pick below, are used most, as in real recipes.
    // Roots ("Spirits") are categories nobody pours, used only when a tiny
    // catalog has nothing else in their branch.
    for (std::size_t i = 0; i < ingredients_.size(); ++i) {
      if (ingredients_[i].depth >= 1) {
        pools_[ingredients_[i].role].push_back(static_cast<int>(i));
      }
    }
    for (std::size_t i = 0; i < ingredients_.size(); ++i) {
      if (ingredients_[i].depth == 0 && pools_[ingredients_[i].role].empty()) {
        pools_[ingredients_[i].role].push_back(static_cast<int>(i));
      }
    }
  }

  struct Ingredient {
    std::string name;
    std::string description;
    std::string path;
    int parent = -1;
    int depth = 0;
    Role role = kSpirits;
    Measure measure = Measure::kDefault;
    bool allow_substitution = false;
  };
  const std::vector<Ingredient>& ingredients() const { return ingredients_; }

  struct Recipe {
    std::string name;
    std::string instructions;
    std::string description;
    std::vector<Row> rows;
  };

  // Fills `out` with the next recipe (reusing its buffers).
  void next_recipe(Recipe& out) {
    static const std::vector<int> kCountWeights = {2, 7, 18, 28, 20, 12, 7, 3, 2, 1};  // 1..10 ingredients
    static const std::vector<int> kFirstWeights = {85, 7, 0, 0, 0, 8, 0, 0};
    static const std::vector<int> kOtherWeights = {10, 17, 20, 16, 12, 9, 9, 7};
    out.rows.clear();
    std::size_t count = rng_.weighted(kCountWeights) + 1;
    int garnish = -1;
    int base = -1;
    for (std::size_t k = 0; k < count; ++k) {
      int idx = -1;
      for (int attempt = 0; attempt < 8 && idx < 0; ++attempt) {
        int candidate = pick_ingredient(k == 0 ? kFirstWeights : kOtherWeights);
        bool dup = std::any_of(out.rows.begin(), out.rows.end(),
                               [&](const Row& r) { return r.ingredient_id == candidate + 1; });
        if (!dup) {
          idx = candidate;
        }
      }
      if (idx < 0) {
        continue;  // a tiny catalog ran out of distinct ingredients
      }
      const Ingredient& ing = ingredients_[static_cast<std::size_t>(idx)];
      if (ing.role == kGarnishes && garnish < 0) {
        garnish = idx;
      }
      if (base < 0) {
        base = idx;
      }
      out.rows.push_back(measure(idx, ing));
    }
    const Method& method = rng_.pick(kMethods);
    out.instructions = method.instructions;
    if (garnish >= 0) {
      out.instructions +=
          " Garnish with " + lower(ingredients_[static_cast<std::size_t>(garnish)].name) + ".";
    }
    out.description = std::string("A ") + method.style + " built on " +
                      ingredients_[static_cast<std::size_t>(base)].name + ".";
    out.name = unique(recipe_base_name(), recipe_names_, recipe_suffix_);
  }

 private:
  static std::string lower(std::string s) {
    for (char& c : s) {
      if (c >= 'A' && c <= 'Z') {
        c = static_cast<char>(c - 'A' + 'a');
      }
    }
    return s;
  }

  // A name not used before (case-insensitively); collisions get " No. k".
  static std::string unique(const std::string& base, std::unordered_set<std::string>& used,
                            std::unordered_map<std::string, int>& suffix) {
    std::string folded = lower(base);
    if (used.insert(folded).second) {
      return base;
    }
    int& k = suffix[folded];
    if (k == 0) {
      k = 1;
    }
    for (;;) {
      std::string name = base + " No. " + std::to_string(++k);
      if (used.insert(lower(name)).second) {
        return name;
      }
    }
  }

  void add(Ingredient ing) {
    std::int64_t id = static_cast<std::int64_t>(ingredients_.size()) + 1;
    ing.path = (ing.parent < 0 ? std::string("/") : ingredients_[static_cast<std::size_t>(ing.parent)].path) +
               std::to_string(id) + "/";
    ingredient_names_.insert(lower(ing.name));
    ingredients_.push_back(std::move(ing));
  }

  int pick_ingredient(const std::vector<int>& role_weights) {
    std::vector<int> w(role_weights);
    for (int r = 0; r < kRoles; ++r) {
      if (pools_[r].empty()) {
        w[static_cast<std::size_t>(r)] = 0;
      }
    }
    if (std::all_of(w.begin(), w.end(), [](int x) { return x == 0; })) {
      for (int r = 0; r < kRoles; ++r) {
        w[static_cast<std::size_t>(r)] = pools_[r].empty() ? 0 : 1;
      }
    }
    const auto& pool = pools_[rng_.weighted(w)];
    // Squaring a uniform draw favours the front of the pool (generics).
    double u = rng_.unit();
    return pool[static_cast<std::size_t>(u * u * static_cast<double>(pool.size()))];
  }

  Row measure(int idx, const Ingredient& ing) {
    static const std::vector<double> kSpirit = {0.5, 0.75, 1, 1, 1.5, 1.5, 1.5, 2, 2, 2, 2.5};
    static const std::vector<double> kModifier = {0.25, 0.5, 0.5, 0.75, 0.75, 1};
    static const std::vector<double> kJuice = {0.25, 0.5, 0.75, 0.75, 1, 1, 1.5, 2, 3};
    static const std::vector<double> kSyrup = {0.25, 0.25, 0.5, 0.5, 0.75};
    static const std::vector<double> kSpoons = {1, 1, 2};
    static const std::vector<double> kDashes = {1, 2, 2, 3, 4};
    static const std::vector<double> kDrops = {2, 3, 5};
    static const std::vector<double> kWine = {0.5, 0.75, 1, 1.5, 2, 3};
    static const std::vector<double> kLong = {1, 2, 3, 4};
    static const std::vector<double> kEach = {1, 1, 1, 2, 3};
    Row row;
    row.ingredient_id = idx + 1;
    auto set = [&](std::int64_t unit, double amount) {
      row.unit_id = unit;
      row.amount = amount;
    };
    switch (ing.role) {
      case kSpirits:
        if (ing.measure == Measure::kRinse && rng_.chance(0.5)) {
          set(units_.rinse, -1);
        } else {
          set(units_.oz, rng_.pick(kSpirit));
        }
        break;
      case kLiqueurs:
        if (ing.measure == Measure::kRinse && rng_.chance(0.4)) {
          set(units_.rinse, -1);
        } else if (rng_.chance(0.85)) {
          set(units_.oz, rng_.pick(kModifier));
        } else {
          set(rng_.chance(0.5) ? units_.bsp : units_.tsp, rng_.pick(kSpoons));
        }
        break;
      case kJuices: set(units_.oz, rng_.pick(kJuice)); break;
      case kSyrups:
        if (rng_.chance(0.8)) {
          set(units_.oz, rng_.pick(kSyrup));
        } else {
          set(rng_.chance(0.5) ? units_.bsp : units_.tsp, rng_.pick(kSpoons));
        }
        break;
      case kBitters: {
        double r = rng_.unit();
        if (r < 0.7) {
          set(units_.dash, rng_.pick(kDashes));
        } else if (r < 0.9) {
          set(units_.drop, rng_.pick(kDrops));
        } else {
          set(units_.rinse, -1);
        }
        break;
      }
      case kWines:
        if (ing.measure == Measure::kTop && rng_.chance(0.6)) {
          set(units_.top, -1);
        } else {
          set(units_.oz, rng_.pick(kWine));
        }
        break;
      case kMixers:
        if (ing.measure == Measure::kEach) {
          set(units_.each, 1);
        } else if (ing.measure == Measure::kTop && rng_.chance(0.65)) {
          set(units_.top, -1);
        } else if (rng_.chance(0.1)) {
          set(units_.tbsp, 1);
        } else {
          set(units_.oz, rng_.pick(kLong));
        }
        break;
      case kGarnishes: {
        double r = rng_.unit();
        if (r < 0.7) {
          set(units_.each, rng_.pick(kEach));
        } else if (r < 0.9) {
          set(units_.each, -1);
        } else {
          set(0, -1);
        }
        break;
      }
      case kRoles: break;
    }
    // Recipes as people write them: some amounts are simply missing.
    if (rng_.chance(0.03)) {
      row.amount = -1;
    }
    return row;
  }

  std::string recipe_base_name() {
    double r = rng_.unit();
    if (r < 0.45) {
      return rng_.pick(kAdjectives) + " " + rng_.pick(kNouns);
    }
    if (r < 0.65) {
      return rng_.pick(kPeople) + "'s " + rng_.pick(kNouns);
    }
    if (r < 0.85) {
      return rng_.pick(kPlaces) + " " + rng_.pick(kNouns);
    }
    return rng_.pick(kAdjectives) + " " + rng_.pick(kPlaces) + " " + rng_.pick(kNouns);
  }

  Xoshiro256 rng_;
  Units units_;
  std::vector<Ingredient> ingredients_;
  std::array<std::vector<int>, kRoles> pools_;
  std::unordered_set<std::string> ingredient_names_, recipe_names_;
  std::unordered_map<std::string, int> ingredient_suffix_, recipe_suffix_;
};

std::int64_t count(Database& db, const char* sql) {
  auto st = db.prepare(sql);
  return st.step() ? st.column_int(0) : 0;
}

// Finds a standard unit by abbreviation (then by name); 0 when missing.
std::int64_t unit_id(Database& db, const char* abbreviation) {
  auto st = db.prepare(
      "SELECT id FROM units WHERE lower(abbreviation) = lower(?1) OR lower(name) = lower(?1) ORDER BY "
      "lower(abbreviation) = lower(?1) DESC, id LIMIT 1");
  st.bind(1, abbreviation);
  return st.step() ? st.column_int(0) : 0;
}

// Raises the connection's page cache for the bulk write and restores it
// (SQLite).
class CacheSize {
 public:
  CacheSize(Database& db, std::int64_t kib) : db_(db) {
    if (db_.backend() != Backend::kSqlite) {
      return;
    }
    previous_ = count(db, "PRAGMA cache_size");
    db_.exec("PRAGMA cache_size = -" + std::to_string(kib));
  }
  ~CacheSize() {
    if (!previous_) {
      return;
    }
    try {
      db_.exec("PRAGMA cache_size = " + std::to_string(*previous_));
    } catch (...) {
    }
  }

 private:
  Database& db_;
  std::optional<std::int64_t> previous_;
};

// For the length of the seed, a rollback journal instead of the WAL when
// this is the only connection: a fresh file's pages are then written once,
// straight to the file, rather than to the WAL and again at the checkpoint.
// With other connections open SQLite keeps WAL mode and nothing changes.
class RollbackJournal {
 public:
  explicit RollbackJournal(Database& db) : db_(db) {
    if (db_.backend() != Backend::kSqlite) {
      return;
    }
    auto st = db_.prepare("PRAGMA journal_mode = DELETE");
    switched_ = st.step() && st.column_text(0) == "delete";
  }
  ~RollbackJournal() {
    if (!switched_) {
      return;
    }
    try {
      db_.exec("PRAGMA journal_mode = WAL");
    } catch (...) {
    }
  }

 private:
  Database& db_;
  bool switched_ = false;
};

using Field = std::optional<std::string>;

// Where the generated rows go. SQLite: prepared inserts, row by row.
// PostgreSQL: COPY ... FROM STDIN, one per table (the rows of each table are
// gathered first: one connection runs one COPY at a time).
class SeedWriter {
 public:
  virtual ~SeedWriter() = default;
  virtual void ingredient(std::int64_t id, const std::string& name, const std::string& description,
                          std::optional<std::int64_t> parent_id, const std::string& path, bool allow) = 0;
  virtual void recipe(std::int64_t id, const std::string& name, const std::string& instructions,
                      const std::string& description, const std::string& source) = 0;
  virtual void recipe_ingredient(std::int64_t id, std::int64_t recipe_id, std::int64_t ingredient_id,
                                 std::optional<std::int64_t> unit_id, std::optional<double> amount) = 0;
  virtual void logged(const char* entity, std::int64_t id) = 0;
  // Writes what is gathered; returns the latest change_log seq.
  virtual std::int64_t finish() = 0;
};

class SqliteSeedWriter final : public SeedWriter {
 public:
  SqliteSeedWriter(Database& db, std::int64_t timestamp_ms)
      : db_(db),
        timestamp_ms_(timestamp_ms),
        log_(db.prepare("INSERT INTO change_log(ts, entity, op, row_id) VALUES (?1, ?2, 'insert', ?3)")),
        ingredient_(
            db.prepare("INSERT INTO ingredients(id, name, description, parent_id, path, allow_substitution) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6)")),
        recipe_(db.prepare(
            "INSERT INTO recipes(id, name, instructions, description, source) VALUES (?1, ?2, ?3, ?4, ?5)")),
        row_(db.prepare("INSERT INTO recipe_ingredients(id, recipe_id, ingredient_id, unit_id, amount) "
                        "VALUES (?1, ?2, ?3, "
                        "?4, ?5)")) {
    // The seed logs its own rows (see seeder.h), so the triggers are off for
    // the length of this transaction only.
    drop_change_log_triggers(db_);
    drop_catalog_indexes(db_);
  }
  void ingredient(std::int64_t id, const std::string& name, const std::string& description,
                  std::optional<std::int64_t> parent_id, const std::string& path, bool allow) override {
    ingredient_.bind(1, id).bind(2, name).bind(3, description).bind(4, parent_id).bind(5, path);
    ingredient_.bind(6, allow ? 1 : 0);
    ingredient_.run();
  }
  void recipe(std::int64_t id, const std::string& name, const std::string& instructions,
              const std::string& description, const std::string& source) override {
    recipe_.bind(1, id).bind(2, name).bind(3, instructions).bind(4, description).bind(5, source);
    recipe_.run();
  }
  void recipe_ingredient(std::int64_t id, std::int64_t recipe_id, std::int64_t ingredient_id,
                         std::optional<std::int64_t> unit_id, std::optional<double> amount) override {
    row_.bind(1, id).bind(2, recipe_id).bind(3, ingredient_id).bind(4, unit_id).bind(5, amount);
    row_.run();
  }
  void logged(const char* entity, std::int64_t id) override {
    log_.bind(1, timestamp_ms_).bind(2, entity).bind(3, id);
    log_.run();
  }
  std::int64_t finish() override {
    ensure_catalog_indexes(db_);
    install_change_log_triggers(db_);
    return count(db_, "SELECT COALESCE(MAX(seq), 0) FROM change_log");
  }

 private:
  Database& db_;
  std::int64_t timestamp_ms_;
  Statement log_, ingredient_, recipe_, row_;
};

class PgSeedWriter final : public SeedWriter {
 public:
  PgSeedWriter(PgDatabase& db, std::int64_t timestamp_ms) : db_(db), timestamp_ms_(timestamp_ms) {
    // Seqs are taken in commit order (pg_outbox.h): this transaction holds
    // the lock from here, so its block of seqs follows every committed one.
    db_.exec("SELECT pg_advisory_xact_lock(" + std::to_string(pg::kSeqLockKey) + ")");
    first_seq_ = count(db_, "SELECT nextval('cocktail.change_seq')");
    drop_change_log_triggers(db_);
  }
  void ingredient(std::int64_t id, const std::string& name, const std::string& description,
                  std::optional<std::int64_t> parent_id, const std::string& path, bool allow) override {
    ingredients_.push_back({std::to_string(id), name, description,
                            parent_id ? Field(std::to_string(*parent_id)) : std::nullopt, path,
                            allow ? "true" : "false"});
  }
  void recipe(std::int64_t id, const std::string& name, const std::string& instructions,
              const std::string& description, const std::string& source) override {
    recipes_.push_back({std::to_string(id), name, instructions, description, source});
  }
  void recipe_ingredient(std::int64_t id, std::int64_t recipe_id, std::int64_t ingredient_id,
                         std::optional<std::int64_t> unit_id, std::optional<double> amount) override {
    Field amount_text;
    if (amount) {
      char buf[32];
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, *amount);
      (void)ec;
      amount_text.emplace(buf, end);
    }
    rows_.push_back({std::to_string(id), std::to_string(recipe_id), std::to_string(ingredient_id),
                     unit_id ? Field(std::to_string(*unit_id)) : std::nullopt, std::move(amount_text)});
  }
  void logged(const char* entity, std::int64_t id) override {
    log_.push_back({std::to_string(first_seq_ + static_cast<std::int64_t>(log_.size())),
                    std::to_string(timestamp_ms_), std::string(entity), std::string("insert"),
                    std::to_string(id)});
  }
  std::int64_t finish() override {
    const auto logged_rows = static_cast<std::int64_t>(log_.size());
    copy("COPY ingredients(id, name, description, parent_id, path, allow_substitution) FROM STDIN",
         ingredients_);
    copy("COPY recipes(id, name, instructions, description, source) FROM STDIN", recipes_);
    copy("COPY recipe_ingredients(id, recipe_id, ingredient_id, unit_id, amount) FROM STDIN", rows_);
    copy("COPY cocktail.change_log(seq, ts, entity, op, row_id) FROM STDIN", log_);
    // Rows were written with explicit ids: the id sequences follow on.
    for (const char* table : {"ingredients", "recipes", "recipe_ingredients"}) {
      db_.exec(std::string("SELECT setval(pg_get_serial_sequence('") + table +
               "', 'id'), (SELECT GREATEST(MAX(id), 1) FROM " + table + "), (SELECT COUNT(*) > 0 FROM " +
               table + "))");
    }
    if (logged_rows == 0) {
      // Nothing was logged: the seq taken above is given back.
      db_.exec("SELECT setval('cocktail.change_seq', " +
               std::to_string(std::max<std::int64_t>(first_seq_ - 1, 1)) + ", " +
               (first_seq_ > 1 ? "true" : "false") + ")");
    } else {
      db_.exec("SELECT setval('cocktail.change_seq', " + std::to_string(first_seq_ + logged_rows - 1) + ")");
    }
    install_change_log_triggers(db_);
    return count(db_, "SELECT COALESCE(MAX(seq), 0) FROM cocktail.change_log");
  }

 private:
  void copy(const char* sql, std::vector<std::vector<Field>>& rows) {
    PgDatabase::CopyIn in(db_, sql);
    for (const auto& row : rows) {
      in.put_row(row);
    }
    in.finish();
    rows.clear();
    rows.shrink_to_fit();
  }
  PgDatabase& db_;
  std::int64_t timestamp_ms_;
  std::int64_t first_seq_ = 1;
  std::vector<std::vector<Field>> ingredients_, recipes_, rows_, log_;
};

}  // namespace

core::Result<SeedReport> seed_catalog(Database& db, const SeedOptions& options) {
  if (options.recipes < 0) {
    return core::Error::invalid("recipes", "must not be negative");
  }
  if (options.ingredients < 0) {
    return core::Error::invalid("ingredients", "must not be negative");
  }
  if (options.recipes > 0 && options.ingredients == 0) {
    return core::Error::invalid("ingredients", "recipes need at least one ingredient");
  }
  auto has_rows = [&] {
    return count(db, "SELECT COUNT(*) FROM ingredients") > 0 || count(db, "SELECT COUNT(*) FROM recipes") > 0;
  };
  const core::Error not_empty =
      core::Error::conflict("db", "the catalog already holds ingredients or recipes; seed an empty one");
  // Checked before anything else so that a refused seed leaves the file
  // exactly as it was (even the journal mode), and again under the lock.
  if (has_rows()) {
    return not_empty;
  }
  CacheSize cache(db, std::int64_t{256} * 1024);
  RollbackJournal journal(db);
  Transaction tx(db, Transaction::Kind::kWrite);
  if (db.backend() == Backend::kPostgres) {
    // No write lock on PostgreSQL: the tables are locked against other
    // writers until this transaction ends, and checked again.
    db.exec("LOCK TABLE ingredients, recipes, recipe_ingredients IN SHARE ROW EXCLUSIVE MODE");
  }
  if (has_rows()) {
    return not_empty;
  }
  Units units;
  std::pair<std::int64_t*, const char*> wanted[] = {
      {&units.oz, "oz"},     {&units.tbsp, "tbsp"}, {&units.tsp, "tsp"},
      {&units.bsp, "bsp"},   {&units.dash, "dash"}, {&units.each, "each"},
      {&units.drop, "drop"}, {&units.top, "top"},   {&units.rinse, "rinse"},
  };
  for (auto& [slot, abbreviation] : wanted) {
    *slot = unit_id(db, abbreviation);
    if (*slot == 0) {
      return core::Error::invalid("units", std::string("the catalog has no '") + abbreviation + "' unit");
    }
  }

  Generator gen(options, units);
  gen.make_ingredients(options.ingredients);

  std::unique_ptr<SeedWriter> out;
  if (db.backend() == Backend::kPostgres) {
    out = std::make_unique<PgSeedWriter>(static_cast<PgDatabase&>(db), options.timestamp_ms);
  } else {
    out = std::make_unique<SqliteSeedWriter>(db, options.timestamp_ms);
  }

  SeedReport report;
  {
    std::int64_t id = 0;
    for (const auto& ing : gen.ingredients()) {
      ++id;
      std::optional<std::int64_t> parent;
      if (ing.parent >= 0) {
        parent = static_cast<std::int64_t>(ing.parent) + 1;
      }
      out->ingredient(id, ing.name, ing.description, parent, ing.path, ing.allow_substitution);
      out->logged("ingredient", id);
      report.max_depth = std::max<std::int64_t>(report.max_depth, ing.depth);
    }
    report.ingredients = id;
  }
  {
    const std::string source = "catalog-seed " + std::to_string(options.seed);
    Generator::Recipe r;
    std::int64_t row_id = 0;
    for (std::int64_t id = 1; id <= options.recipes; ++id) {
      gen.next_recipe(r);
      out->recipe(id, r.name, r.instructions, r.description, source);
      out->logged("recipe", id);
      for (const auto& ri : r.rows) {
        ++row_id;
        out->recipe_ingredient(row_id, id, ri.ingredient_id,
                               ri.unit_id > 0 ? std::optional<std::int64_t>(ri.unit_id) : std::nullopt,
                               ri.amount >= 0 ? std::optional<double>(ri.amount) : std::nullopt);
        out->logged("recipe_ingredient", row_id);
      }
    }
    report.recipes = options.recipes;
    report.recipe_ingredients = row_id;
  }
  report.catalog_seq = out->finish();
  tx.commit();
  // Leave a self-contained file: everything checkpointed out of the WAL.
  if (db.backend() == Backend::kSqlite) {
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  }
  return report;
}

}  // namespace cocktail::catalog

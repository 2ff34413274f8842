#include "cocktail/analytics/exact_analytics.h"

#include <algorithm>
#include <numeric>

namespace cocktail::analytics {

int path_depth(std::string_view path) {
  int ids = 0;
  bool in_id = false;
  for (char c : path) {
    if (c == '/') {
      in_id = false;
    } else if (!in_id) {
      in_id = true;
      ++ids;
    }
  }
  return ids > 0 ? ids - 1 : 0;
}

int compare_nocase(std::string_view a, std::string_view b) {
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    auto ca = static_cast<unsigned char>(a[i]);
    auto cb = static_cast<unsigned char>(b[i]);
    if (ca >= 'A' && ca <= 'Z') {
      ca = static_cast<unsigned char>(ca + ('a' - 'A'));
    }
    if (cb >= 'A' && cb <= 'Z') {
      cb = static_cast<unsigned char>(cb + ('a' - 'A'));
    }
    if (ca != cb) {
      return ca < cb ? -1 : 1;
    }
  }
  if (a.size() == b.size()) {
    return 0;
  }
  return a.size() < b.size() ? -1 : 1;
}

bool usage_order_less(const IngredientUsageRow& a, const IngredientUsageRow& b) {
  if (a.hierarchical_usage != b.hierarchical_usage) {
    return a.hierarchical_usage > b.hierarchical_usage;
  }
  if (int c = compare_nocase(a.ingredient_name, b.ingredient_name); c != 0) {
    return c < 0;
  }
  return a.ingredient_id < b.ingredient_id;
}

ExactAnalytics compute_exact_analytics(const CatalogModel& model) {
  using Index = CatalogModel::Index;
  const auto n = static_cast<Index>(model.ingredient_count());
  const auto recipes = static_cast<Index>(model.recipe_count());

  std::vector<std::int64_t> direct(n, 0), hierarchical(n, 0);
  // stamp[i] == r + 1 once ingredient i was counted for recipe r: each
  // recipe counts at most once per ingredient and per ancestor, without
  // clearing a set between recipes.
  std::vector<Index> direct_stamp(n, 0), hier_stamp(n, 0);
  std::vector<std::int64_t> complexity_hist;
  std::int64_t with_ingredients = 0;

  for (Index r = 0; r < recipes; ++r) {
    const Index stamp = r + 1;
    std::int64_t distinct = 0;
    for (Index x : model.recipe_ingredients(r)) {
      if (direct_stamp[x] == stamp) {
        continue;
      }
      direct_stamp[x] = stamp;
      ++direct[x];
      ++distinct;
      for (Index y : model.ancestors_or_self(x)) {
        if (hier_stamp[y] == stamp) {
          continue;
        }
        hier_stamp[y] = stamp;
        ++hierarchical[y];
      }
    }
    if (distinct > 0) {
      ++with_ingredients;
      if (complexity_hist.size() <= static_cast<std::size_t>(distinct)) {
        complexity_hist.resize(distinct + 1, 0);
      }
      ++complexity_hist[distinct];
    }
  }

  ExactAnalytics out;
  out.total_recipes = recipes;
  out.total_ingredients = n;
  out.recipes_with_ingredients = with_ingredients;
  for (std::size_t c = 1; c < complexity_hist.size(); ++c) {
    if (complexity_hist[c] > 0) {
      out.complexity.push_back({static_cast<std::int64_t>(c), complexity_hist[c]});
    }
  }

  // Sort indices first (cheap to move), then materialise the rows in order.
  std::vector<Index> order(n);
  std::iota(order.begin(), order.end(), Index{0});
  std::sort(order.begin(), order.end(), [&](Index a, Index b) {
    if (hierarchical[a] != hierarchical[b]) {
      return hierarchical[a] > hierarchical[b];
    }
    if (int c = compare_nocase(model.ingredient_name(a), model.ingredient_name(b)); c != 0) {
      return c < 0;
    }
    return model.ingredient_id(a) < model.ingredient_id(b);
  });
  out.usage.reserve(n);
  out.usage_rank.assign(n, 0);
  for (Index k = 0; k < n; ++k) {
    const Index i = order[k];
    out.usage_rank[i] = k;
    IngredientUsageRow row;
    row.ingredient_id = model.ingredient_id(i);
    row.ingredient_name = std::string(model.ingredient_name(i));
    row.path = std::string(model.ingredient_path(i));
    row.parent_id = model.ingredient_parent_id(i);
    row.allow_substitution = model.allow_substitution(i);
    row.direct_usage = direct[i];
    row.hierarchical_usage = hierarchical[i];
    row.has_children = model.has_children(i);
    row.depth = model.depth(i);
    out.usage.push_back(std::move(row));
  }
  return out;
}

ComplexitySummary summarize_complexity(std::span<const ComplexityBucket> buckets) {
  ComplexitySummary out;
  std::int64_t recipes = 0;
  double weighted = 0;
  const ComplexityBucket* mode = nullptr;
  for (const auto& b : buckets) {
    recipes += b.recipe_count;
    weighted += static_cast<double>(b.ingredient_count) * static_cast<double>(b.recipe_count);
    if (b.recipe_count > 0 &&
        (mode == nullptr || b.recipe_count > mode->recipe_count ||
         (b.recipe_count == mode->recipe_count && b.ingredient_count < mode->ingredient_count))) {
      mode = &b;
    }
  }
  if (recipes > 0) {
    out.mean = weighted / static_cast<double>(recipes);
    out.mode = mode->ingredient_count;
  }
  return out;
}

}  // namespace cocktail::analytics

#include "cocktail/analytics/umap.h"

#include <Spectra/SymEigsSolver.h>

#include <Eigen/Core>
#include <Eigen/Eigenvalues>
#include <Eigen/LU>
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

namespace cocktail::analytics {
namespace {

// splitmix64: small, fast, and the same sequence on every platform.
class Random {
 public:
  explicit Random(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  // An index in [0, n) for n < 2³², by multiply-shift (no division).
  std::size_t below(std::size_t n) { return static_cast<std::size_t>(((next() >> 32) * n) >> 32); }
  double normal() {  // Box–Muller
    double u1 = uniform();
    while (u1 <= 0.0) {
      u1 = uniform();
    }
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * 3.14159265358979323846 * u2);
  }

 private:
  std::uint64_t state_;
};

// A symmetric sparse matrix as sorted COO (row, col) with both directions.
struct Graph {
  std::size_t n = 0;
  std::vector<std::uint32_t> row;
  std::vector<std::uint32_t> col;
  std::vector<double> weight;
};

// umap-learn's smooth_knn_dist with local_connectivity 1 and bandwidth 1:
// ρ is the nearest positive distance, σ solves Σ exp(−max(0, d − ρ)/σ) =
// log2(k) by bisection (64 steps, tolerance 1e-5), floored at 1e-3 × the
// mean distance.
void smooth_knn(const NeighborLists& knn, std::vector<double>& rho, std::vector<double>& sigma) {
  constexpr double kTolerance = 1e-5;
  constexpr double kMinScale = 1e-3;
  const std::size_t n = knn.rows;
  const std::size_t k = knn.k;
  rho.assign(n, 0.0);
  sigma.assign(n, 0.0);
  const double target = std::log2(static_cast<double>(k));
  double mean_all = 0.0;
  for (const double d : knn.distance) {
    mean_all += d;
  }
  mean_all /= static_cast<double>(std::max<std::size_t>(1, knn.distance.size()));
  for (std::size_t i = 0; i < n; ++i) {
    const double* d = &knn.distance[i * k];
    for (std::size_t j = 0; j < k; ++j) {
      if (d[j] > 0.0) {
        rho[i] = d[j];
        break;
      }
    }
    double lo = 0.0;
    double hi = std::numeric_limits<double>::infinity();
    double mid = 1.0;
    for (int step = 0; step < 64; ++step) {
      double psum = 0.0;
      for (std::size_t j = 0; j < k; ++j) {
        const double x = d[j] - rho[i];
        psum += x > 0.0 ? std::exp(-x / mid) : 1.0;
      }
      if (std::abs(psum - target) < kTolerance) {
        break;
      }
      if (psum > target) {
        hi = mid;
        mid = (lo + hi) / 2.0;
      } else {
        lo = mid;
        mid = std::isinf(hi) ? mid * 2.0 : (lo + hi) / 2.0;
      }
    }
    sigma[i] = mid;
    double mean_i = 0.0;
    for (std::size_t j = 0; j < k; ++j) {
      mean_i += d[j];
    }
    mean_i /= static_cast<double>(k);
    const double floor = kMinScale * (rho[i] > 0.0 ? mean_i : mean_all);
    if (sigma[i] < floor) {
      sigma[i] = floor;
    }
  }
}

// Memberships, then the fuzzy union P + Pᵀ − P∘Pᵀ, zero weights dropped.
Graph fuzzy_union(const NeighborLists& knn) {
  std::vector<double> rho;
  std::vector<double> sigma;
  smooth_knn(knn, rho, sigma);
  struct Entry {
    std::uint64_t key;
    double p;
    bool transposed;
  };
  const std::size_t n = knn.rows;
  std::vector<Entry> entries;
  entries.reserve(2 * n * knn.k);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < knn.k; ++j) {
      const std::uint32_t other = knn.index[i * knn.k + j];
      if (other == i) {
        continue;
      }
      const double x = knn.distance[i * knn.k + j] - rho[i];
      const double p = (x <= 0.0 || sigma[i] == 0.0) ? 1.0 : std::exp(-x / sigma[i]);
      entries.push_back({static_cast<std::uint64_t>(i) * n + other, p, false});
      entries.push_back({static_cast<std::uint64_t>(other) * n + i, p, true});
    }
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.key != b.key ? a.key < b.key : a.transposed < b.transposed;
  });
  Graph g;
  g.n = n;
  for (std::size_t e = 0; e < entries.size();) {
    const std::uint64_t key = entries[e].key;
    double p = 0.0;  // P_ij
    double q = 0.0;  // P_ji
    for (; e < entries.size() && entries[e].key == key; ++e) {
      (entries[e].transposed ? q : p) = entries[e].p;
    }
    const double w = p + q - p * q;
    if (w <= 0.0) {
      continue;
    }
    g.row.push_back(static_cast<std::uint32_t>(key / n));
    g.col.push_back(static_cast<std::uint32_t>(key % n));
    g.weight.push_back(w);
  }
  return g;
}

// Connected components, labelled 0, 1, … in order of their lowest member.
std::size_t component_labels(const Graph& g, std::vector<std::uint32_t>& label) {
  std::vector<std::uint32_t> parent(g.n);
  std::iota(parent.begin(), parent.end(), 0u);
  auto find = [&](std::uint32_t x) {
    while (parent[x] != x) {
      x = parent[x] = parent[parent[x]];
    }
    return x;
  };
  for (std::size_t e = 0; e < g.row.size(); ++e) {
    const std::uint32_t a = find(g.row[e]);
    const std::uint32_t b = find(g.col[e]);
    if (a != b) {
      parent[std::max(a, b)] = std::min(a, b);
    }
  }
  constexpr std::uint32_t kUnset = std::numeric_limits<std::uint32_t>::max();
  std::vector<std::uint32_t> root_label(g.n, kUnset);
  label.assign(g.n, 0);
  std::uint32_t count = 0;
  for (std::size_t i = 0; i < g.n; ++i) {
    const std::uint32_t root = find(static_cast<std::uint32_t>(i));
    if (root_label[root] == kUnset) {
      root_label[root] = count++;
    }
    label[i] = root_label[root];
  }
  return count;
}

// x ↦ x + D^{-1/2} W D^{-1/2} x, i.e. 2I − L for the normalised Laplacian
// L: its largest eigenvalues are L's smallest, which Lanczos finds without
// a factorisation.
class ShiftedNormalizedAdjacency {
 public:
  using Scalar = double;
  // `deflate`, if given, is a unit eigenvector to project out (its
  // eigenvalue becomes 0).
  ShiftedNormalizedAdjacency(const Graph& g, const std::vector<double>& inv_sqrt_degree,
                             const std::vector<double>* deflate = nullptr)
      : n_(static_cast<Eigen::Index>(g.n)),
        offsets_(g.n + 1, 0),
        col_(g.col),
        value_(g.weight.size()),
        deflate_(deflate) {
    for (const std::uint32_t r : g.row) {
      ++offsets_[r + 1];
    }
    for (std::size_t i = 0; i < g.n; ++i) {
      offsets_[i + 1] += offsets_[i];
    }
    for (std::size_t e = 0; e < g.weight.size(); ++e) {
      value_[e] = g.weight[e] * inv_sqrt_degree[g.row[e]] * inv_sqrt_degree[g.col[e]];
    }
  }
  Eigen::Index rows() const { return n_; }
  Eigen::Index cols() const { return n_; }
  void perform_op(const double* x, double* y) const {
    for (Eigen::Index i = 0; i < n_; ++i) {
      double sum = x[i];
      for (std::size_t e = offsets_[static_cast<std::size_t>(i)];
           e < offsets_[static_cast<std::size_t>(i) + 1]; ++e) {
        sum += value_[e] * x[col_[e]];
      }
      y[i] = sum;
    }
    if (deflate_ != nullptr) {
      const std::vector<double>& q = *deflate_;
      double dot = 0.0;
      for (Eigen::Index i = 0; i < n_; ++i) {
        dot += q[static_cast<std::size_t>(i)] * x[i];
      }
      for (Eigen::Index i = 0; i < n_; ++i) {
        y[i] -= 2.0 * dot * q[static_cast<std::size_t>(i)];
      }
    }
  }

 private:
  Eigen::Index n_;
  std::vector<std::size_t> offsets_;
  const std::vector<std::uint32_t>& col_;
  std::vector<double> value_;
  const std::vector<double>* deflate_;
};

// The eigenvectors of the 2nd and 3rd smallest eigenvalues of the normalised
// Laplacian of a connected graph (umap-learn's spectral_layout), or false
// when the solver does not converge or the graph has fewer than 3 points.
// Small graphs use a dense solver.
bool spectral_layout(const Graph& g, std::vector<double>& layout) {
  const std::size_t n = g.n;
  if (n < 3) {
    return false;  // no 3rd eigenvector: the caller lays the points out at random
  }
  std::vector<double> degree(n, 0.0);
  for (std::size_t e = 0; e < g.row.size(); ++e) {
    degree[g.row[e]] += g.weight[e];
  }
  std::vector<double> inv_sqrt(n);
  for (std::size_t i = 0; i < n; ++i) {
    inv_sqrt[i] = degree[i] > 0.0 ? 1.0 / std::sqrt(degree[i]) : 0.0;
  }
  Eigen::MatrixXd vectors;
  constexpr std::size_t kDenseLimit = 256;
  if (n <= kDenseLimit) {
    Eigen::MatrixXd laplacian =
        Eigen::MatrixXd::Identity(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(n));
    for (std::size_t e = 0; e < g.row.size(); ++e) {
      laplacian(g.row[e], g.col[e]) -= g.weight[e] * inv_sqrt[g.row[e]] * inv_sqrt[g.col[e]];
    }
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver(laplacian);
    if (solver.info() != Eigen::Success) {
      return false;
    }
    vectors = solver.eigenvectors().middleCols(1, 2);  // eigenvalues ascend
  } else {
    // The trivial eigenvector D^{1/2}·1 (eigenvalue 2 of 2I − L) is deflated,
    // so the two largest eigenpairs left are the ones wanted. A Krylov space
    // of 8 to 32 vectors (umap-learn uses √n, which at 10⁵ points costs far
    // more in orthogonalisation than it saves in restarts).
    std::vector<double> trivial(n);
    double norm = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
      norm += degree[i];
    }
    norm = std::sqrt(norm);
    for (std::size_t i = 0; i < n; ++i) {
      trivial[i] = std::sqrt(degree[i]) / norm;
    }
    ShiftedNormalizedAdjacency op(g, inv_sqrt, &trivial);
    const Eigen::Index nev = 2;
    const Eigen::Index ncv = std::min<Eigen::Index>(
        static_cast<Eigen::Index>(n),
        std::clamp<Eigen::Index>(static_cast<Eigen::Index>(std::sqrt(static_cast<double>(n))), 8, 32));
    Spectra::SymEigsSolver<ShiftedNormalizedAdjacency> solver(op, nev, ncv);
    const Eigen::VectorXd start = Eigen::VectorXd::Ones(static_cast<Eigen::Index>(n));
    solver.init(start.data());
    solver.compute(Spectra::SortRule::LargestAlge, 2000, 1e-4, Spectra::SortRule::LargestAlge);
    if (solver.info() != Spectra::CompInfo::Successful) {
      return false;
    }
    vectors = solver.eigenvectors();  // λ2, λ3 of L: the 2 largest of the deflated operator
  }
  layout.resize(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    layout[2 * i] = vectors(static_cast<Eigen::Index>(i), 0);
    layout[2 * i + 1] = vectors(static_cast<Eigen::Index>(i), 1);
  }
  for (const double v : layout) {
    if (!std::isfinite(v)) {
      return false;
    }
  }
  return true;
}

// umap-learn's multi_component_layout for a disconnected graph: component
// c is centred at meta[c] and laid out by its own spectral embedding, scaled
// to half the distance to the nearest other centre (random within that
// radius for components of fewer than 4 points or whose solve fails). Up to
// 4 components sit at ±e1, ±e2 as in umap-learn; beyond that, where
// umap-learn would embed the components by their pairwise distances (which
// a kNN graph does not have), the centres follow a sunflower spiral, largest
// component first, which spaces them evenly. Returns whether any component
// got a spectral layout.
bool multi_component_layout(const Graph& g, const std::vector<std::uint32_t>& label, std::size_t count,
                            Random& random, std::vector<double>& layout) {
  const std::size_t n = g.n;
  std::vector<std::vector<std::uint32_t>> members(count);
  for (std::size_t i = 0; i < n; ++i) {
    members[label[i]].push_back(static_cast<std::uint32_t>(i));
  }
  std::vector<std::array<double, 2>> meta(count);
  if (count <= 4) {
    const std::array<std::array<double, 2>, 4> corners{{{1, 0}, {0, 1}, {-1, 0}, {0, -1}}};
    const std::size_t k = (count + 1) / 2;  // umap-learn: vstack([eye(k), −eye(k)])[:count]
    for (std::size_t c = 0; c < count; ++c) {
      meta[c] = c < k ? corners[c] : corners[2 + (c - k)];
    }
  } else {
    std::vector<std::size_t> by_size(count);
    std::iota(by_size.begin(), by_size.end(), 0);
    std::stable_sort(by_size.begin(), by_size.end(),
                     [&](std::size_t a, std::size_t b) { return members[a].size() > members[b].size(); });
    constexpr double kGoldenAngle = 2.39996322972865332;
    for (std::size_t rank = 0; rank < count; ++rank) {
      const double radius = std::sqrt((static_cast<double>(rank) + 0.5) / static_cast<double>(count));
      const double angle = kGoldenAngle * static_cast<double>(rank);
      meta[by_size[rank]] = {radius * std::cos(angle), radius * std::sin(angle)};
    }
  }
  // Edges per component, renumbered within it.
  std::vector<std::uint32_t> local(n);
  for (const auto& group : members) {
    for (std::size_t k = 0; k < group.size(); ++k) {
      local[group[k]] = static_cast<std::uint32_t>(k);
    }
  }
  std::vector<Graph> parts(count);
  for (std::size_t c = 0; c < count; ++c) {
    parts[c].n = members[c].size();
  }
  for (std::size_t e = 0; e < g.row.size(); ++e) {
    Graph& part = parts[label[g.row[e]]];
    part.row.push_back(local[g.row[e]]);
    part.col.push_back(local[g.col[e]]);
    part.weight.push_back(g.weight[e]);
  }
  layout.assign(2 * n, 0.0);
  bool any_spectral = false;
  std::vector<double> part_layout;
  for (std::size_t c = 0; c < count; ++c) {
    double nearest = std::numeric_limits<double>::infinity();
    for (std::size_t o = 0; o < count; ++o) {
      if (o == c) {
        continue;
      }
      const double d = std::hypot(meta[c][0] - meta[o][0], meta[c][1] - meta[o][1]);
      if (d > 0.0) {
        nearest = std::min(nearest, d);
      }
    }
    const double range = std::isfinite(nearest) ? nearest / 2.0 : 1.0;
    const auto& group = members[c];
    bool placed = false;
    if (group.size() >= 4 && spectral_layout(parts[c], part_layout)) {
      double largest = 0.0;
      for (const double v : part_layout) {
        largest = std::max(largest, std::abs(v));
      }
      if (largest > 0.0) {
        const double expansion = range / largest;
        for (std::size_t k = 0; k < group.size(); ++k) {
          const std::size_t at = 2 * static_cast<std::size_t>(group[k]);
          layout[at] = part_layout[2 * k] * expansion + meta[c][0];
          layout[at + 1] = part_layout[2 * k + 1] * expansion + meta[c][1];
        }
        placed = true;
        any_spectral = true;
      }
    }
    if (!placed) {
      for (const std::uint32_t i : group) {
        const std::size_t at = 2 * static_cast<std::size_t>(i);
        layout[at] = meta[c][0] + range * (2.0 * random.uniform() - 1.0);
        layout[at + 1] = meta[c][1] + range * (2.0 * random.uniform() - 1.0);
      }
    }
  }
  return any_spectral;
}

// Each coordinate to [0, 10] (umap-learn rescales every initialisation so).
void rescale_to_box(std::vector<float>& embedding, std::size_t n) {
  for (std::size_t d = 0; d < 2; ++d) {
    float lo = std::numeric_limits<float>::infinity();
    float hi = -std::numeric_limits<float>::infinity();
    for (std::size_t i = 0; i < n; ++i) {
      lo = std::min(lo, embedding[2 * i + d]), hi = std::max(hi, embedding[2 * i + d]);
    }
    const float range = hi - lo;
    for (std::size_t i = 0; i < n; ++i) {
      embedding[2 * i + d] = range > 0.0f ? 10.0f * (embedding[2 * i + d] - lo) / range : 0.0f;
    }
  }
}

float clip(float g) { return std::clamp(g, -4.0f, 4.0f); }

}  // namespace

CurveParameters fit_curve(double spread, double min_dist) {
  constexpr int kPoints = 300;
  std::vector<double> x(kPoints);
  std::vector<double> y(kPoints);
  for (int i = 0; i < kPoints; ++i) {
    x[i] = 3.0 * spread * i / (kPoints - 1);
    y[i] = x[i] < min_dist ? 1.0 : std::exp(-(x[i] - min_dist) / spread);
  }
  auto residuals = [&](double a, double b, std::vector<double>* r, Eigen::MatrixXd* jac) {
    double sse = 0.0;
    for (int i = 0; i < kPoints; ++i) {
      const double xb = x[i] > 0.0 ? std::pow(x[i], 2.0 * b) : 0.0;
      const double f = 1.0 / (1.0 + a * xb);
      const double res = f - y[i];
      sse += res * res;
      if (r) {
        (*r)[i] = res;
      }
      if (jac) {
        const double g = -f * f;
        (*jac)(i, 0) = g * xb;
        (*jac)(i, 1) = x[i] > 0.0 ? g * a * xb * 2.0 * std::log(x[i]) : 0.0;
      }
    }
    return sse;
  };
  // Levenberg–Marquardt from (1, 1), as scipy's curve_fit starts.
  double a = 1.0;
  double b = 1.0;
  double lambda = 1e-3;
  std::vector<double> r(kPoints);
  Eigen::MatrixXd jac(kPoints, 2);
  double sse = residuals(a, b, &r, &jac);
  for (int iteration = 0; iteration < 500; ++iteration) {
    const Eigen::Map<const Eigen::VectorXd> rv(r.data(), kPoints);
    const Eigen::Matrix2d jtj = jac.transpose() * jac;
    const Eigen::Vector2d jtr = jac.transpose() * rv;
    bool improved = false;
    for (int attempt = 0; attempt < 30 && !improved; ++attempt) {
      Eigen::Matrix2d damped = jtj;
      damped(0, 0) *= 1.0 + lambda;
      damped(1, 1) *= 1.0 + lambda;
      const Eigen::Vector2d step = damped.fullPivLu().solve(-jtr);
      const double trial = residuals(a + step(0), b + step(1), nullptr, nullptr);
      if (std::isfinite(trial) && trial < sse) {
        const double gain = sse - trial;
        a += step(0);
        b += step(1);
        sse = residuals(a, b, &r, &jac);
        lambda = std::max(lambda / 10.0, 1e-12);
        improved = true;
        if (gain <= 1e-15 * std::max(sse, 1e-300)) {
          return {a, b};
        }
      } else {
        lambda *= 10.0;
      }
    }
    if (!improved) {
      break;
    }
  }
  return {a, b};
}

namespace {

// A warm start's initial layout: previous positions; a new point at the
// mean of its kNN neighbours' previous positions, else at random in the
// previous layout's bounding box.
void warm_layout(const NeighborLists& knn, const UmapWarmStart& warm, Random& random,
                 std::vector<float>& embedding) {
  const std::size_t n = knn.rows;
  const std::size_t previous = warm.layout.size() / 2;
  float lo[2] = {0.0f, 0.0f};
  float hi[2] = {10.0f, 10.0f};
  if (previous > 0) {
    for (int c = 0; c < 2; ++c) {
      lo[c] = hi[c] = warm.layout[static_cast<std::size_t>(c)];
      for (std::size_t p = 0; p < previous; ++p) {
        lo[c] = std::min(lo[c], warm.layout[2 * p + static_cast<std::size_t>(c)]);
        hi[c] = std::max(hi[c], warm.layout[2 * p + static_cast<std::size_t>(c)]);
      }
    }
  }
  auto known = [&](std::size_t r) {
    const std::int64_t p = warm.previous_row[r];
    return p >= 0 && static_cast<std::size_t>(p) < previous;
  };
  for (std::size_t r = 0; r < n; ++r) {
    if (known(r)) {
      const auto p = static_cast<std::size_t>(warm.previous_row[r]);
      embedding[2 * r] = warm.layout[2 * p];
      embedding[2 * r + 1] = warm.layout[2 * p + 1];
      continue;
    }
    double x = 0.0, y = 0.0;
    std::size_t count = 0;
    for (std::size_t j = 0; j < knn.k; ++j) {
      const std::size_t s = knn.index[r * knn.k + j];
      if (!known(s)) {
        continue;
      }
      const auto p = static_cast<std::size_t>(warm.previous_row[s]);
      x += warm.layout[2 * p];
      y += warm.layout[2 * p + 1];
      ++count;
    }
    if (count > 0) {
      embedding[2 * r] = static_cast<float>(x / static_cast<double>(count));
      embedding[2 * r + 1] = static_cast<float>(y / static_cast<double>(count));
    } else {
      embedding[2 * r] = lo[0] + static_cast<float>(random.uniform()) * (hi[0] - lo[0]);
      embedding[2 * r + 1] = lo[1] + static_cast<float>(random.uniform()) * (hi[1] - lo[1]);
    }
  }
}

}  // namespace

std::vector<float> umap_embed(const NeighborLists& knn, const UmapOptions& options, UmapReport* report,
                              const UmapWarmStart* warm) {
  const std::size_t n = knn.rows;
  UmapReport local;
  UmapReport& rep = report ? *report : local;
  rep = UmapReport{};
  rep.curve = fit_curve(options.spread, options.min_dist);
  std::vector<float> embedding(2 * n, 0.0f);
  if (n < 2 || knn.k == 0) {
    return embedding;
  }
  for (const double d : knn.distance) {
    if (!std::isfinite(d) || d < 0.0) {
      throw std::invalid_argument("umap_embed: distances must be finite and >= 0");
    }
  }

  auto stage_start = std::chrono::steady_clock::now();
  auto lap = [&stage_start] {
    const auto now = std::chrono::steady_clock::now();
    const double ms = std::chrono::duration<double, std::milli>(now - stage_start).count();
    stage_start = now;
    return ms;
  };
  Graph g = fuzzy_union(knn);
  const std::size_t epochs = options.n_epochs > 0 ? options.n_epochs : (n <= 10000 ? 500 : 200);
  rep.epochs = epochs;
  // Edges too weak to be sampled even once in the run are dropped.
  double heaviest = 0.0;
  for (const double w : g.weight) {
    heaviest = std::max(heaviest, w);
  }
  {
    const double floor = heaviest / static_cast<double>(epochs);
    std::size_t kept = 0;
    for (std::size_t e = 0; e < g.weight.size(); ++e) {
      if (g.weight[e] < floor) {
        continue;
      }
      g.row[kept] = g.row[e], g.col[kept] = g.col[e], g.weight[kept] = g.weight[e];
      ++kept;
    }
    g.row.resize(kept), g.col.resize(kept), g.weight.resize(kept);
  }
  rep.edges = g.weight.size();
  std::vector<std::uint32_t> label;
  rep.components = component_labels(g, label);
  rep.graph_ms = lap();

  Random random(options.seed);
  std::vector<double> layout;
  bool laid_out = false;
  if (warm != nullptr) {
    if (warm->previous_row.size() != n) {
      throw std::invalid_argument("umap_embed: warm start of another size");
    }
    warm_layout(knn, *warm, random, embedding);
    rep.warm_init = true;
  } else if (rep.components == 1) {
    laid_out = rep.spectral_init = spectral_layout(g, layout);
  } else {
    rep.spectral_init = multi_component_layout(g, label, rep.components, random, layout);
    laid_out = true;
  }
  if (warm != nullptr) {
    // Positions kept as they were: no rescaling.
  } else if (laid_out) {
    double largest = 0.0;
    for (const double v : layout) {
      largest = std::max(largest, std::abs(v));
    }
    const double expansion = largest > 0.0 ? 10.0 / largest : 1.0;
    for (std::size_t i = 0; i < 2 * n; ++i) {
      embedding[i] = static_cast<float>(layout[i] * expansion) + static_cast<float>(1e-4 * random.normal());
    }
  } else {
    for (std::size_t i = 0; i < 2 * n; ++i) {
      embedding[i] = static_cast<float>(-10.0 + 20.0 * random.uniform());
    }
  }
  if (warm == nullptr) {
    rescale_to_box(embedding, n);
  }
  rep.init_ms = lap();

  // Stochastic gradient descent (umap-learn's optimize_layout_euclidean):
  // edge e is sampled every heaviest/w_e epochs and then pulls its ends
  // together; each sample pushes the head away from negative_sample_rate
  // uniformly drawn points.
  const double a = rep.curve.a;
  const double b = rep.curve.b;
  const std::size_t edges = g.weight.size();
  std::vector<double> epochs_per_sample(edges);
  for (std::size_t e = 0; e < edges; ++e) {
    epochs_per_sample[e] = heaviest / g.weight[e];
  }
  const double rate = static_cast<double>(std::max<std::size_t>(1, options.negative_sample_rate));
  std::vector<double> epochs_per_negative(edges);
  std::vector<double> next_sample(epochs_per_sample);
  std::vector<double> next_negative(edges);
  for (std::size_t e = 0; e < edges; ++e) {
    epochs_per_negative[e] = epochs_per_sample[e] / rate;
    next_negative[e] = epochs_per_negative[e];
  }
  // The descent runs in float32 like umap-learn's (coordinates are float32
  // there too); powf keeps the inner loop cheap.
  const float af = static_cast<float>(a);
  const float bf = static_cast<float>(b);
  float* y = embedding.data();
  // From a warm start, fewer epochs at a lower rate: the layout is refined
  // where the graph changed rather than made again.
  const std::size_t descent = warm != nullptr ? std::max<std::size_t>(1, options.warm_epochs) : epochs;
  const double rate0 = warm != nullptr ? options.warm_learning_rate : options.learning_rate;
  rep.epochs = descent;
  for (std::size_t epoch = 0; epoch < descent; ++epoch) {
    const float alpha =
        static_cast<float>(rate0 * (1.0 - static_cast<double>(epoch) / static_cast<double>(descent)));
    const double now = static_cast<double>(epoch);
    for (std::size_t e = 0; e < edges; ++e) {
      if (next_sample[e] > now) {
        continue;
      }
      float* current = y + 2 * static_cast<std::size_t>(g.row[e]);
      float* other = y + 2 * static_cast<std::size_t>(g.col[e]);
      float dx = current[0] - other[0];
      float dy = current[1] - other[1];
      float dist2 = dx * dx + dy * dy;
      if (dist2 > 0.0f) {
        const float pb = std::pow(dist2, bf);
        const float coeff = -2.0f * af * bf * pb / (dist2 * (af * pb + 1.0f));
        const float gx = clip(coeff * dx) * alpha;
        const float gy = clip(coeff * dy) * alpha;
        current[0] += gx;
        current[1] += gy;
        other[0] -= gx;
        other[1] -= gy;
      }
      next_sample[e] += epochs_per_sample[e];

      const auto negatives =
          static_cast<std::size_t>(std::max(0.0, (now - next_negative[e]) / epochs_per_negative[e]));
      // The repulsions of one sample are taken from the same position and
      // applied together: independent of each other, they pipeline instead
      // of waiting on one another (umap-learn applies them one by one; the
      // steps are small and clipped, so the difference is within the noise
      // of the sampling).
      const float cx = current[0];
      const float cy = current[1];
      float push_x = 0.0f;
      float push_y = 0.0f;
      for (std::size_t s = 0; s < negatives; ++s) {
        const std::size_t k = random.below(n);
        if (k == g.row[e]) {
          continue;
        }
        const float* far = y + 2 * k;
        dx = cx - far[0];
        dy = cy - far[1];
        dist2 = dx * dx + dy * dy;
        if (dist2 <= 0.0f) {
          continue;
        }
        const float coeff = 2.0f * bf / ((0.001f + dist2) * (af * std::pow(dist2, bf) + 1.0f));
        push_x += clip(coeff * dx);
        push_y += clip(coeff * dy);
      }
      current[0] += push_x * alpha;
      current[1] += push_y * alpha;
      next_negative[e] += static_cast<double>(negatives) * epochs_per_negative[e];
    }
  }
  rep.sgd_ms = lap();
  return embedding;
}

}  // namespace cocktail::analytics

#include "cocktail/http/router.h"

#include <algorithm>
#include <stdexcept>

namespace cocktail::http {
namespace {

// Splits "/a/b" into {"a", "b"}; "/" into {}. The path starts with '/'.
void split_path(std::string_view path, std::vector<std::string_view>& out) {
  out.clear();
  if (path.empty() || path[0] != '/') {
    return;
  }
  path.remove_prefix(1);
  if (path.empty()) {
    return;
  }
  for (;;) {
    auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) {
      break;
    }
    path.remove_prefix(slash + 1);
  }
}

bool path_matches(const Route& route, const std::vector<std::string_view>& segs) {
  if (route.segments.size() != segs.size()) {
    return false;
  }
  for (std::size_t i = 0; i < segs.size(); ++i) {
    const auto& s = route.segments[i];
    if (s.is_param ? segs[i].empty() : segs[i] != s.text) {
      return false;
    }
  }
  return true;
}

// True when `a` is more specific than `b`: at the first segment where they
// differ in kind, `a` has the literal.
bool more_specific(const Route& a, const Route& b) {
  for (std::size_t i = 0; i < a.segments.size() && i < b.segments.size(); ++i) {
    if (a.segments[i].is_param != b.segments[i].is_param) {
      return !a.segments[i].is_param;
    }
  }
  return false;
}

bool method_serves(Method route_method, Method request_method) {
  return route_method == request_method || (request_method == Method::head && route_method == Method::get);
}

}  // namespace

void Router::add(Method method, std::string pattern, Handler handler, RouteOptions options) {
  if (pattern.empty() || pattern[0] != '/') {
    throw std::invalid_argument("route pattern must start with '/': " + pattern);
  }
  if (has(method, pattern)) {
    throw std::invalid_argument("duplicate route: " + pattern);
  }
  auto route = std::make_unique<Route>();
  route->id = routes_.size();
  route->method = method;
  route->handler = std::move(handler);
  route->options = options;
  std::vector<std::string_view> segs;
  split_path(pattern, segs);
  for (std::size_t i = 0; i < segs.size(); ++i) {
    const std::string_view s = segs[i];
    Route::Segment seg;
    if (s.size() >= 2 && s.front() == '{' && s.back() == '}') {
      seg.is_param = true;
      seg.text = s.substr(1, s.size() - 2);
      if (seg.text.empty() || seg.text.find_first_of("{}") != std::string::npos) {
        throw std::invalid_argument("bad parameter in route pattern: " + pattern);
      }
    } else {
      // An empty segment only as the last one: a trailing slash ("/dashboard/").
      if ((s.empty() && i + 1 != segs.size()) || s.find_first_of("{}%") != std::string_view::npos) {
        throw std::invalid_argument("bad segment in route pattern: " + pattern);
      }
      seg.text = s;
    }
    route->segments.push_back(std::move(seg));
  }
  route->pattern = std::move(pattern);
  routes_.push_back(std::move(route));
}

void Router::add(Method method, std::string pattern, SyncHandler handler, RouteOptions options) {
  add(method, std::move(pattern),
      Handler([h = std::move(handler)](const Request& req, Responder responder) { responder.send(h(req)); }),
      options);
}

bool Router::has(Method method, std::string_view pattern) const {
  return std::any_of(routes_.begin(), routes_.end(),
                     [&](const auto& r) { return r->method == method && r->pattern == pattern; });
}

Router::Match Router::match(Method method, std::string_view path) const {
  thread_local std::vector<std::string_view> segs;
  split_path(path, segs);
  Match m;
  const Route* best = nullptr;
  bool methods[64] = {};  // indexed by verb; verbs are a small enum
  bool any_path = false;
  for (const auto& r : routes_) {
    if (!path_matches(*r, segs)) {
      continue;
    }
    any_path = true;
    if (m.path_route == nullptr) {
      m.path_route = r.get();
    }
    const auto v = static_cast<std::size_t>(r->method);
    if (v < 64) {
      methods[v] = true;
    }
    if (method_serves(r->method, method)) {
      if (best == nullptr || more_specific(*r, *best) ||
          (r->method == method && best->method != method && !more_specific(*best, *r))) {
        best = r.get();
      }
    }
  }
  if (!any_path) {
    return m;
  }

  // Allow: the registered methods in a stable order, HEAD with GET, OPTIONS always.
  static const Method kOrder[] = {Method::get,   Method::head,    Method::post,   Method::put,
                                  Method::patch, Method::delete_, Method::options};
  if (methods[static_cast<std::size_t>(Method::get)]) {
    methods[static_cast<std::size_t>(Method::head)] = true;
  }
  methods[static_cast<std::size_t>(Method::options)] = true;
  for (Method v : kOrder) {
    if (!methods[static_cast<std::size_t>(v)]) {
      continue;
    }
    if (!m.allow.empty()) {
      m.allow += ", ";
    }
    auto name = boost::beast::http::to_string(v);
    m.allow.append(name.data(), name.size());
  }

  if (best == nullptr) {
    m.kind = Match::Kind::kMethodNotAllowed;
    return m;
  }
  for (std::size_t i = 0; i < best->segments.size(); ++i) {
    if (!best->segments[i].is_param) {
      continue;
    }
    auto decoded = percent_decode(segs[i], false, best->segments[i].text);
    if (!decoded.ok()) {
      m.error = decoded.error().message;
      return m;
    }
    m.params.emplace_back(best->segments[i].text, std::move(*decoded));
  }
  m.kind = Match::Kind::kFound;
  m.route = best;
  return m;
}

}  // namespace cocktail::http

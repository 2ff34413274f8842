// Router: maps a method and a path to a handler.
//
// Patterns are literal segments and parameters: "/api/v1/recipes/{id}". A
// parameter matches one non-empty segment (percent-decoded for the handler).
// A trailing slash is significant: "/dashboard/" and "/dashboard" are two
// patterns.
// When several patterns match a path, literal segments win over parameters,
// leftmost first ("/recipes/bulk" beats "/recipes/{id}"). A path that matches
// a pattern under another method only is answered 405 with an Allow header;
// a path that matches nothing, 404. HEAD is served by GET routes (without the
// body); OPTIONS is answered by the server (CORS preflight) unless a route
// claims it.
//
// Routes are added before the server starts; afterwards the router is read
// only and so safe to use from every I/O thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cocktail/http/request.h"
#include "cocktail/http/responder.h"
#include "cocktail/http/response.h"

namespace cocktail::http {

// Runs on an I/O thread: must not block. Answer through the Responder, now
// or later (see responder.h).
using Handler = std::function<void(const Request&, Responder)>;
// A handler that answers before returning. Must not block either: database
// work goes through BlockingExecutor::respond().
using SyncHandler = std::function<Response(const Request&)>;

// RouteOptions::response_timeout for routes that always answer by themselves.
inline constexpr std::chrono::milliseconds kNoResponseTimeout = std::chrono::milliseconds::max();

struct RouteOptions {
  // Largest accepted request body; 0 means ServerOptions::max_body_bytes.
  std::size_t max_body_bytes = 0;
  // The server's safety net for a handler that does not answer in time (503,
  // code "timeout"); 0 means ServerOptions::response_timeout. A route whose
  // answer must be the real outcome of work that cannot be recalled once
  // started (a write answered after its commit) sets kNoResponseTimeout and
  // bounds its own waits.
  std::chrono::milliseconds response_timeout{0};
};

struct Route {
  std::size_t id = 0;  // index in the router, stable
  Method method = Method::get;
  std::string pattern;
  Handler handler;
  RouteOptions options;
  // Parsed pattern: literal segments, or parameter names when is_param.
  struct Segment {
    std::string text;
    bool is_param = false;
  };
  std::vector<Segment> segments;
};

class Router {
 public:
  // Throws std::invalid_argument for a malformed pattern or a duplicate
  // (method, pattern).
  void add(Method method, std::string pattern, Handler handler, RouteOptions options = {});
  void add(Method method, std::string pattern, SyncHandler handler, RouteOptions options = {});

  struct Match {
    enum class Kind { kFound, kNotFound, kMethodNotAllowed } kind = Kind::kNotFound;
    const Route* route = nullptr;       // when kFound
    const Route* path_route = nullptr;  // a route whose pattern matched the path (any method)
    PathParams params;                  // when kFound, decoded
    std::string allow;                  // when the path matched: "GET, HEAD, OPTIONS"
    std::string error;                  // non-empty when a path segment had a bad escape
  };
  // `path` is the raw (not decoded) path of the target, without the query.
  Match match(Method method, std::string_view path) const;

  bool has(Method method, std::string_view pattern) const;
  const std::vector<std::unique_ptr<Route>>& routes() const { return routes_; }

 private:
  std::vector<std::unique_ptr<Route>> routes_;
};

}  // namespace cocktail::http

// CorsPolicy: cross-origin access for browsers (a dashboard served from
// another origin). Only origins in the configured list get
// Access-Control-Allow-Origin; "*" in the list allows any origin. Preflight
// requests (OPTIONS with Access-Control-Request-Method) are answered by the
// server from the router's methods for the path.
//
// Immutable after construction; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "cocktail/http/response.h"

namespace cocktail::http {

struct CorsOptions {
  std::vector<std::string> allowed_origins;  // empty: CORS disabled
  // Request headers a browser may send (beyond the CORS-safelisted ones).
  std::vector<std::string> allowed_headers = {"Authorization", "Content-Type", "If-None-Match",
                                              "X-Request-Id"};
  // Response headers a browser script may read.
  std::vector<std::string> exposed_headers = {"ETag", "X-Request-Id", "Retry-After"};
  int max_age_seconds = 600;  // how long a browser may cache a preflight answer
};

class CorsPolicy {
 public:
  explicit CorsPolicy(CorsOptions options = {});

  bool enabled() const { return !options_.allowed_origins.empty(); }
  bool allows(std::string_view origin) const;
  // Adds Access-Control-Allow-Origin (and Vary, Expose-Headers) to a response
  // to a request from `origin` when that origin is allowed.
  void apply(std::string_view origin, Response& response) const;
  // The answer to a preflight: 204 with the allowed methods (`allow`, as in
  // an Allow header) and headers when the origin is allowed, else 403.
  Response preflight(std::string_view origin, std::string_view allow) const;

 private:
  CorsOptions options_;
  std::string allowed_headers_;  // joined with ", "
  std::string exposed_headers_;
};

}  // namespace cocktail::http

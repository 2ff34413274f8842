#include "cocktail/http/cors.h"

#include <algorithm>
#include <string>

#include "cocktail/http/errors.h"

namespace cocktail::http {
namespace {

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) {
    if (!out.empty()) {
      out += ", ";
    }
    out += i;
  }
  return out;
}

}  // namespace

CorsPolicy::CorsPolicy(CorsOptions options)
    : options_(std::move(options)),
      allowed_headers_(join(options_.allowed_headers)),
      exposed_headers_(join(options_.exposed_headers)) {}

bool CorsPolicy::allows(std::string_view origin) const {
  if (origin.empty()) {
    return false;
  }
  return std::any_of(options_.allowed_origins.begin(), options_.allowed_origins.end(),
                     [&](const std::string& o) { return o == "*" || o == origin; });
}

void CorsPolicy::apply(std::string_view origin, Response& response) const {
  if (!enabled() || !allows(origin)) {
    return;
  }
  response.set_header(Field::access_control_allow_origin, origin);
  // Keep what the handler varies on (Accept-Encoding for pre-compressed bodies).
  const std::string_view vary = response.header(Field::vary);
  if (vary.empty()) {
    response.set_header(Field::vary, "Origin");
  } else if (vary.find("Origin") == std::string_view::npos) {
    response.set_header(Field::vary, std::string(vary) + ", Origin");
  }
  if (!exposed_headers_.empty()) {
    response.set_header(Field::access_control_expose_headers, exposed_headers_);
  }
}

Response CorsPolicy::preflight(std::string_view origin, std::string_view allow) const {
  if (!allows(origin)) {
    return error_response(Status::forbidden, kForbidden, "origin not allowed",
                          R"({"origin":)" + json_quote(origin) + "}");
  }
  Response r = Response::empty(Status::no_content);
  r.set_header(Field::access_control_allow_origin, origin);
  r.set_header(Field::vary, "Origin");
  r.set_header(Field::access_control_allow_methods, allow);
  if (!allowed_headers_.empty()) {
    r.set_header(Field::access_control_allow_headers, allowed_headers_);
  }
  r.set_header(Field::access_control_max_age, std::to_string(options_.max_age_seconds));
  return r;
}

}  // namespace cocktail::http

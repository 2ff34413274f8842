// Fuzzes the pure parsers of libs/http that see request bytes before any
// handler does: routing of a raw path, query strings, percent-decoding,
// integers, listen addresses, If-None-Match, Accept-Encoding, the bearer
// token, CORS origins, JSON quoting and the UTF-8 repairs of error bodies.
//
// Input: a selector, then the text.
//   p route: a method letter (G H P U D O, else PATCH), then the raw path
//   q query string
//   d percent-decode   n integer   l listen address   e If-None-Match
//   a Accept-Encoding  b Authorization   o Origin   j JSON quoting
//   u UTF-8 checks and repairs (core::utf8, which every error body goes through)
// Properties: nothing crashes; a matched route's literal segments equal the
// path's and its parameters are not empty; a parsed integer is in range and
// parses back from its decimal form; quoting any bytes gives a JSON string
// (the bytes themselves when they were UTF-8); core::utf8 agrees with
// simdjson on what is UTF-8, and its repairs and cuts are well-formed.
#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "cocktail/core/utf8.h"
#include "cocktail/http/bearer_token.h"
#include "cocktail/http/cors.h"
#include "cocktail/http/errors.h"
#include "cocktail/http/negotiation.h"
#include "cocktail/http/query.h"
#include "cocktail/http/request.h"
#include "cocktail/http/router.h"
#include "cocktail/http/server.h"
#include "fuzz_input.h"

namespace {

using namespace cocktail;
using http::Method;

// The routes of the three services, in their shapes (literal beats parameter).
http::Router make_router() {
  http::Router router;
  const http::SyncHandler ok = [](const http::Request&) { return http::Response(http::Status::ok); };
  for (const char* pattern :
       {"/api/v1/ingredients", "/api/v1/ingredients/bulk", "/api/v1/ingredients/{id}",
        "/api/v1/ingredients/{id}/children", "/api/v1/recipes", "/api/v1/recipes/bulk",
        "/api/v1/recipes/{id}", "/api/v1/units", "/api/v1/units/{id}", "/api/v1/analytics/{type}",
        "/api/v1/analytics/status", "/api/v1/analytics/stream", "/api/v1/analytics/download/{file}",
        "/api/v1/{a}/{b}/{c}"}) {
    router.add(Method::get, pattern, ok);
  }
  for (const char* pattern : {"/api/v1/ingredients", "/api/v1/ingredients/bulk", "/api/v1/recipes",
                              "/api/v1/recipes/bulk", "/api/v1/units", "/api/v1/regenerate"}) {
    router.add(Method::post, pattern, ok);
  }
  for (const char* pattern : {"/api/v1/ingredients/{id}", "/api/v1/recipes/{id}"}) {
    router.add(Method::put, pattern, ok);
    router.add(Method::delete_, pattern, ok);
  }
  return router;
}

void check_route(const http::Router& router, std::string_view text) {
  if (text.empty()) {
    return;
  }
  Method method = Method::patch;
  switch (text.front()) {
    case 'G': method = Method::get; break;
    case 'H': method = Method::head; break;
    case 'P': method = Method::post; break;
    case 'U': method = Method::put; break;
    case 'D': method = Method::delete_; break;
    case 'O': method = Method::options; break;
    default: break;
  }
  const std::string_view path = text.substr(1);
  const auto m = router.match(method, path);
  if (m.kind != http::Router::Match::Kind::kFound) {
    COCKTAIL_FUZZ_CHECK(m.route == nullptr, path);
    return;
  }
  COCKTAIL_FUZZ_CHECK(m.route != nullptr && m.error.empty(), path);
  std::size_t params = 0;
  for (const auto& segment : m.route->segments) {
    if (segment.is_param) {
      ++params;
    }
  }
  COCKTAIL_FUZZ_CHECK(m.params.size() == params, path);
  // A parameter matches a non-empty segment, and every escape decodes to a byte.
  for (const auto& [name, value] : m.params) {
    COCKTAIL_FUZZ_CHECK(!name.empty() && !value.empty(), path);
  }
  COCKTAIL_FUZZ_CHECK(!m.allow.empty(), path);
}

void check_int(std::string_view text) {
  const auto value = http::parse_int(text, "n", -1000, 1000);
  if (!value.ok()) {
    COCKTAIL_FUZZ_CHECK(!value.error().message.empty(), text);
    return;
  }
  COCKTAIL_FUZZ_CHECK(*value >= -1000 && *value <= 1000, text);
  const auto again = http::parse_int(std::to_string(*value), "n", -1000, 1000);
  COCKTAIL_FUZZ_CHECK(again.ok() && *again == *value, text);
}

// Error bodies quote what clients sent: always valid JSON, the text itself
// when it was UTF-8, its sanitised form otherwise.
void check_quote(std::string_view text) {
  const std::string quoted = http::json_quote(text);
  thread_local simdjson::dom::parser parser;
  std::string_view back;
  const auto error = parser.parse(quoted).get_string().get(back);
  COCKTAIL_FUZZ_CHECK(error == simdjson::SUCCESS, quoted);
  COCKTAIL_FUZZ_CHECK(back == (core::utf8::valid(text) ? std::string(text) : core::utf8::sanitize(text)),
                      quoted);
}

// core::utf8 agrees with simdjson's validator, repairs into well-formed
// text, leaves well-formed text alone, and never cuts inside a character.
void check_utf8(std::string_view text) {
  const bool valid = core::utf8::valid(text);
  COCKTAIL_FUZZ_CHECK(valid == simdjson::validate_utf8(text.data(), text.size()), text);
  const std::string clean = core::utf8::sanitize(text);
  COCKTAIL_FUZZ_CHECK(core::utf8::valid(clean), clean);
  COCKTAIL_FUZZ_CHECK(!valid || clean == text, clean);
  for (std::size_t max : {std::size_t{0}, std::size_t{1}, text.size() / 2, text.size()}) {
    const std::string_view cut = core::utf8::truncate(clean, max);
    COCKTAIL_FUZZ_CHECK(cut.size() <= max && clean.compare(0, cut.size(), cut) == 0, clean);
    COCKTAIL_FUZZ_CHECK(core::utf8::valid(cut), cut);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  char selector = 0;
  std::string_view text;
  if (!fuzz::split_selector(fuzz::as_text(data, size), &selector, &text)) {
    return 0;
  }
  static const http::Router router = make_router();
  static const http::BearerToken token("s3cret-token");
  static const http::CorsPolicy cors(
      http::CorsOptions{{"https://dash.example.org", "http://localhost:3000"}});
  switch (selector) {
    case 'p': check_route(router, text); break;
    case 'q': {
      const auto params = http::parse_query(text);
      if (params.ok()) {
        (void)http::find_query(*params, "limit");
      }
      break;
    }
    case 'd': (void)http::percent_decode(text, true, "field"); break;
    case 'n': check_int(text); break;
    case 'l': {
      const auto address = http::parse_listen_address(text);
      if (address.ok()) {
        COCKTAIL_FUZZ_CHECK(!address->first.empty(), text);
      }
      break;
    }
    case 'e': {
      const auto newline = text.find('\n');
      if (newline == std::string_view::npos) {
        (void)http::etag_matches(text, "\"g12-3f2a\"");
      } else {
        (void)http::etag_matches(text.substr(0, newline), text.substr(newline + 1));
      }
      break;
    }
    case 'a': (void)http::accepts_encoding(text, "gzip"); break;
    case 'b': (void)token.matches(text); break;
    case 'o': {
      http::Response response(http::Status::ok);
      cors.apply(text, response);
      (void)cors.preflight(text, "GET, HEAD, OPTIONS");
      break;
    }
    case 'j': check_quote(text); break;
    case 'u': check_utf8(text); break;
    default: break;
  }
  return 0;
}

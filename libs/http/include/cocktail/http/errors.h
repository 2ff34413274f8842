// JSON error bodies, the contract of every service (architecture.md, "Errors"):
//
//   {"error": {"code": "invalid_argument", "message": "name must not be empty",
//              "details": {"field": "name"}}}
//
// `code` is a stable lowercase name (core::error_code_name() for core errors,
// or one of the transport codes below); `details` is always an object: for a
// core::Error it holds "field" (when set) and "errors" (per-item problems of a
// batch: [{"index", "field", "message"}]).
//
// Every body is valid UTF-8 JSON: strings that quote what a client sent
// (which may be any bytes) have each ill-formed UTF-8 sequence replaced by
// U+FFFD; callers that shorten such text cut with core::utf8::truncate().
#pragma once

#include <string>
#include <string_view>

#include "cocktail/core/result.h"
#include "cocktail/http/response.h"

namespace cocktail::http {

// 400 invalid, 404, 409, 413, 401, 503, 500.
Status status_for(core::ErrorCode code);

// The error response for a core::Error, with the status of its code.
Response error_response(const core::Error& error);
// An error response with any status; `details_json` must be a JSON object.
Response error_response(Status status, std::string_view code, std::string_view message,
                        std::string_view details_json = "{}");

// The body alone, for callers that assemble their own response.
std::string error_body(std::string_view code, std::string_view message, std::string_view details_json = "{}");

// Escapes `text` as a JSON string literal, quotes included.
std::string json_quote(std::string_view text);

// Transport-level codes used by the server itself.
inline constexpr std::string_view kBadRequest = "bad_request";
inline constexpr std::string_view kNotFound = "not_found";
inline constexpr std::string_view kMethodNotAllowed = "method_not_allowed";
inline constexpr std::string_view kTooLarge = "too_large";
inline constexpr std::string_view kHeaderTooLarge = "header_too_large";
inline constexpr std::string_view kUriTooLong = "uri_too_long";
inline constexpr std::string_view kUnauthorized = "unauthorized";
inline constexpr std::string_view kForbidden = "forbidden";
inline constexpr std::string_view kUnavailable = "unavailable";
inline constexpr std::string_view kTimeout = "timeout";
inline constexpr std::string_view kInternal = "internal";
inline constexpr std::string_view kNotImplemented = "not_implemented";

}  // namespace cocktail::http

// Conditional requests and content negotiation for handlers that serve
// pre-built bodies: If-None-Match against an ETag (-> 304), and whether a
// client accepts an encoding such as gzip. Pure functions; thread-safe.
#pragma once

#include <string_view>

namespace cocktail::http {

// True when an If-None-Match header value names `etag` (a quoted entity tag
// such as "\"v12\""): "*", or a comma-separated list with a match, weak
// ("W/") tags compared weakly as RFC 9110 asks for If-None-Match.
bool etag_matches(std::string_view if_none_match, std::string_view etag);

// True when an Accept-Encoding header value allows `coding` ("gzip"): listed
// (or "*") with a q-value above zero.
bool accepts_encoding(std::string_view accept_encoding, std::string_view coding);

}  // namespace cocktail::http

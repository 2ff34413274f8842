// If-None-Match and Accept-Encoding, as the read API needs them (RFC 9110
// §13.1.2 and §12.5.3). Pure functions; thread-safe.
#pragma once

#include <string_view>

namespace cocktail::read_service::detail {

// True when an If-None-Match value names `etag` (quoted): "*", or a
// comma-separated list with a match; "W/" tags compare weakly, as
// If-None-Match asks.
bool etag_matches(std::string_view if_none_match, std::string_view etag);

// True when an Accept-Encoding value allows `coding`: listed (or "*") with a
// q-value above zero. Names compare case-insensitively.
bool accepts_encoding(std::string_view accept_encoding, std::string_view coding);

}  // namespace cocktail::read_service::detail

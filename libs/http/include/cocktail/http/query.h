// Percent-decoding and query-string parsing (RFC 3986, with '+' as a space in
// query strings as HTML forms send it). Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cocktail/core/result.h"

namespace cocktail::http {

// Name/value pairs in the order they appear; parse_query() never yields a name twice.
using QueryParams = std::vector<std::pair<std::string, std::string>>;

// Decodes %XX escapes (and '+' to ' ' when `plus_is_space`). A '%' not
// followed by two hex digits is an error naming `field`.
core::Result<std::string> percent_decode(std::string_view text, bool plus_is_space, std::string_view field);

// "a=1&b=x%20y&flag" -> {{"a","1"},{"b","x y"},{"flag",""}}. Empty items are
// skipped. A malformed escape, or a name given twice ("a=1&a=2", also after
// decoding: "a=1&%61=2"), is an error naming the parameter.
core::Result<QueryParams> parse_query(std::string_view query);

// The first value of `name`, if present.
std::optional<std::string_view> find_query(const QueryParams& params, std::string_view name);

}  // namespace cocktail::http

// UTF-8 checks and repairs for text that leaves the process: JSON bodies must
// be valid UTF-8 (RFC 8259), and a client may send any bytes (a percent-
// escaped path segment, a header) that a message then quotes.
//
// Well-formed means RFC 3629: no overlong forms, no surrogates (U+D800..DFFF),
// nothing above U+10FFFF. Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace cocktail::core::utf8 {

// The replacement for bytes that are not well-formed: U+FFFD.
inline constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// True when `text` is well-formed UTF-8.
bool valid(std::string_view text);

// `text` with every maximal ill-formed subsequence replaced by U+FFFD (the
// W3C/Unicode "substitution of maximal subparts" practice); well-formed text
// comes back unchanged.
std::string sanitize(std::string_view text);

// The longest prefix of `text` of at most `max_bytes` bytes that does not end
// inside a multi-byte character (a cut never splits one). For well-formed
// input the prefix is well-formed.
std::string_view truncate(std::string_view text, std::size_t max_bytes);

}  // namespace cocktail::core::utf8

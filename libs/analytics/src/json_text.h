// Writing catalog text into JSON through RapidJSON's Writer, which escapes
// quotes, backslashes and control characters. Catalog text is UTF-8 by
// contract, but SQLite stores whatever bytes it is given: invalid sequences
// are replaced by U+FFFD so the output is always valid JSON (simdjson and
// browsers reject invalid UTF-8). The common, valid case costs one SIMD scan.
#pragma once

#include <rapidjson/writer.h>

#include <string>
#include <string_view>

namespace cocktail::analytics::json_text {

// `text` with every byte that does not start a well-formed UTF-8 sequence
// (overlong, surrogate, above U+10FFFF, truncated) replaced by U+FFFD.
std::string repair_utf8(std::string_view text);
bool is_valid_utf8(std::string_view text);

template <typename Writer>
void write(Writer& w, std::string_view text) {
  if (is_valid_utf8(text)) {
    w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  } else {
    std::string fixed = repair_utf8(text);
    w.String(fixed.data(), static_cast<rapidjson::SizeType>(fixed.size()));
  }
}

template <typename Writer>
void key(Writer& w, std::string_view k) {
  w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
}

}  // namespace cocktail::analytics::json_text

#include "cocktail/core/utf8.h"

namespace cocktail::core::utf8 {
namespace {

// The length of the well-formed character starting at text[i], or 0 when the
// bytes there are not one. `*consumed` is how many bytes an ill-formed
// sequence spans (its maximal subpart), for the replacement.
std::size_t char_length(std::string_view text, std::size_t i, std::size_t* consumed) {
  const auto b0 = static_cast<unsigned char>(text[i]);
  *consumed = 1;
  if (b0 < 0x80) return 1;
  std::size_t need = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1;
  } else if (b0 == 0xE0) {
    need = 2;
    lo = 0xA0;  // no overlong forms
  } else if (b0 >= 0xE1 && b0 <= 0xEC) {
    need = 2;
  } else if (b0 == 0xED) {
    need = 2;
    hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xEE && b0 <= 0xEF) {
    need = 2;
  } else if (b0 == 0xF0) {
    need = 3;
    lo = 0x90;  // no overlong forms
  } else if (b0 >= 0xF1 && b0 <= 0xF3) {
    need = 3;
  } else if (b0 == 0xF4) {
    need = 3;
    hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;  // a continuation byte, C0, C1, F5..FF
  }
  for (std::size_t k = 1; k <= need; ++k) {
    if (i + k >= text.size()) return 0;
    const auto b = static_cast<unsigned char>(text[i + k]);
    const unsigned char min = k == 1 ? lo : 0x80;
    const unsigned char max = k == 1 ? hi : 0xBF;
    if (b < min || b > max) return 0;
    *consumed = k + 1;
  }
  return need + 1;
}

}  // namespace

bool valid(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    std::size_t consumed = 0;
    const std::size_t n = char_length(text, i, &consumed);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string sanitize(std::string_view text) {
  if (valid(text)) return std::string(text);
  std::string out;
  out.reserve(text.size() + 8);
  for (std::size_t i = 0; i < text.size();) {
    std::size_t consumed = 0;
    const std::size_t n = char_length(text, i, &consumed);
    if (n == 0) {
      out.append(kReplacement);
      i += consumed;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
  }
  return out;
}

std::string_view truncate(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  std::size_t end = max_bytes;
  // Step back over continuation bytes to the start of the character that
  // straddles the cut, and cut before it.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end);
}

}  // namespace cocktail::core::utf8

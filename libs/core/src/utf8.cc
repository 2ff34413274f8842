#include "cocktail/core/utf8.h"

namespace cocktail::core::utf8 {
namespace {

// The lead bytes of well-formed UTF-8 (Unicode, Table 3-7): how many
// continuation bytes follow, and the range the first of them must fall in
// (later ones are always 0x80..0xBF).
struct LeadByte {
  unsigned char first, last;  // the lead bytes this row covers
  std::size_t need;
  unsigned char lo, hi;
};
constexpr LeadByte kLeadBytes[] = {
    {0xC2, 0xDF, 1, 0x80, 0xBF}, {0xE0, 0xE0, 2, 0xA0, 0xBF},  // no overlong forms
    {0xE1, 0xEC, 2, 0x80, 0xBF}, {0xED, 0xED, 2, 0x80, 0x9F},  // no surrogates
    {0xEE, 0xEF, 2, 0x80, 0xBF}, {0xF0, 0xF0, 3, 0x90, 0xBF},  // no overlong forms
    {0xF1, 0xF3, 3, 0x80, 0xBF}, {0xF4, 0xF4, 3, 0x80, 0x8F},  // nothing above U+10FFFF
};

// The length of the well-formed character starting at text[i], or 0 when the
// bytes there are not one. `*consumed` is how many bytes an ill-formed
// sequence spans (its maximal subpart), for the replacement.
std::size_t char_length(std::string_view text, std::size_t i, std::size_t* consumed) {
  const auto b0 = static_cast<unsigned char>(text[i]);
  *consumed = 1;
  if (b0 < 0x80) {
    return 1;
  }
  const LeadByte* lead = nullptr;
  for (const LeadByte& row : kLeadBytes) {
    if (b0 >= row.first && b0 <= row.last) {
      lead = &row;
      break;
    }
  }
  if (lead == nullptr) {
    return 0;  // a continuation byte, C0, C1, F5..FF
  }
  for (std::size_t k = 1; k <= lead->need; ++k) {
    if (i + k >= text.size()) {
      return 0;
    }
    const auto b = static_cast<unsigned char>(text[i + k]);
    const unsigned char min = k == 1 ? lead->lo : 0x80;
    const unsigned char max = k == 1 ? lead->hi : 0xBF;
    if (b < min || b > max) {
      return 0;
    }
    *consumed = k + 1;
  }
  return lead->need + 1;
}

}  // namespace

bool valid(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    std::size_t consumed = 0;
    const std::size_t n = char_length(text, i, &consumed);
    if (n == 0) {
      return false;
    }
    i += n;
  }
  return true;
}

std::string sanitize(std::string_view text) {
  if (valid(text)) {
    return std::string(text);
  }
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
  if (text.size() <= max_bytes) {
    return text;
  }
  std::size_t end = max_bytes;
  // Step back over continuation bytes to the start of the character that
  // straddles the cut, and cut before it.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) {
    --end;
  }
  return text.substr(0, end);
}

}  // namespace cocktail::core::utf8

#include "negotiation.h"

#include <cctype>
#include <cstdlib>
#include <string>

namespace cocktail::read_service::detail {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string_view strip_weak(std::string_view tag) {
  if (tag.size() >= 2 && tag[0] == 'W' && tag[1] == '/') tag.remove_prefix(2);
  return tag;
}

}  // namespace

bool etag_matches(std::string_view header, std::string_view etag) {
  header = trim(header);
  if (header.empty() || etag.empty()) return false;
  if (header == "*") return true;
  const std::string_view want = strip_weak(etag);
  while (!header.empty()) {
    const auto comma = header.find(',');
    const std::string_view item = trim(header.substr(0, comma));
    if (!item.empty() && strip_weak(item) == want) return true;
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  return false;
}

bool accepts_encoding(std::string_view header, std::string_view coding) {
  bool star = false;
  bool star_allowed = false;
  while (!header.empty()) {
    const auto comma = header.find(',');
    std::string_view item = trim(header.substr(0, comma));
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    if (item.empty()) continue;
    double q = 1.0;
    const auto semi = item.find(';');
    std::string_view name = trim(item.substr(0, semi));
    if (semi != std::string_view::npos) {
      std::string_view params = item.substr(semi + 1);
      while (!params.empty()) {
        const auto next = params.find(';');
        std::string_view p = trim(params.substr(0, next));
        params = next == std::string_view::npos ? std::string_view() : params.substr(next + 1);
        if (p.size() >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
          const std::string value(trim(p.substr(2)));
          char* end = nullptr;
          q = std::strtod(value.c_str(), &end);
          if (end == value.c_str()) q = 0.0;  // unparseable: not acceptable
        }
      }
    }
    if (iequals(name, coding)) return q > 0.0;
    if (name == "*") {
      star = true;
      star_allowed = q > 0.0;
    }
  }
  return star && star_allowed;
}

}  // namespace cocktail::read_service::detail

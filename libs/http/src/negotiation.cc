#include "cocktail/http/negotiation.h"

#include <strings.h>

#include <cstdlib>
#include <string>

namespace cocktail::http {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string_view strip_weak(std::string_view tag) {
  if (tag.size() >= 2 && (tag[0] == 'W' || tag[0] == 'w') && tag[1] == '/') {
    tag.remove_prefix(2);
  }
  return tag;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// The q-value of one Accept-Encoding item's parameters ("q=0.5"); 1 when absent.
double q_value(std::string_view params) {
  while (!params.empty()) {
    auto semi = params.find(';');
    std::string_view p = trim(params.substr(0, semi));
    params = semi == std::string_view::npos ? std::string_view() : params.substr(semi + 1);
    if (p.size() >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
      std::string v(p.substr(2));
      char* end = nullptr;
      double q = std::strtod(v.c_str(), &end);
      return end == v.c_str() ? 0.0 : q;
    }
  }
  return 1.0;
}

}  // namespace

bool etag_matches(std::string_view if_none_match, std::string_view etag) {
  if (etag.empty()) {
    return false;
  }
  const std::string_view want = strip_weak(etag);
  while (!if_none_match.empty()) {
    auto comma = if_none_match.find(',');
    std::string_view item = trim(if_none_match.substr(0, comma));
    if_none_match = comma == std::string_view::npos ? std::string_view() : if_none_match.substr(comma + 1);
    if (item == "*" || (!item.empty() && strip_weak(item) == want)) {
      return true;
    }
  }
  return false;
}

bool accepts_encoding(std::string_view accept_encoding, std::string_view coding) {
  double star = -1;
  while (!accept_encoding.empty()) {
    auto comma = accept_encoding.find(',');
    std::string_view item = trim(accept_encoding.substr(0, comma));
    accept_encoding =
        comma == std::string_view::npos ? std::string_view() : accept_encoding.substr(comma + 1);
    auto semi = item.find(';');
    std::string_view name = trim(item.substr(0, semi));
    double q = semi == std::string_view::npos ? 1.0 : q_value(item.substr(semi + 1));
    if (iequals(name, coding)) {
      return q > 0;
    }
    if (name == "*") {
      star = q;
    }
  }
  return star > 0;
}

}  // namespace cocktail::http

#include "cocktail/http/query.h"

#include <algorithm>

namespace cocktail::http {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

}  // namespace

core::Result<std::string> percent_decode(std::string_view text, bool plus_is_space, std::string_view field) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      const int hi = i + 1 < text.size() ? hex_value(text[i + 1]) : -1;
      const int lo = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return core::Error::invalid(std::string(field),
                                    "malformed percent-escape in '" + std::string(field) + "'");
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

core::Result<QueryParams> parse_query(std::string_view query) {
  QueryParams params;
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (item.empty()) {
      continue;
    }
    auto eq = item.find('=');
    std::string_view raw_name = item.substr(0, eq);
    std::string_view raw_value = eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1);
    auto name = percent_decode(raw_name, true, "query");
    if (!name.ok()) {
      return name.error();
    }
    auto value = percent_decode(raw_value, true, *name);
    if (!value.ok()) {
      return value.error();
    }
    params.emplace_back(std::move(*name), std::move(*value));
  }
  // A repeated name is refused rather than resolved (first or last wins):
  // two readers of the same URL (a cache, a proxy, this server) could
  // otherwise disagree on what it asks for.
  std::vector<std::string_view> names;
  names.reserve(params.size());
  for (const auto& [name, value] : params) {
    names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  if (auto dup = std::adjacent_find(names.begin(), names.end()); dup != names.end()) {
    const std::string name(*dup);
    return core::Error::invalid(name, "query parameter '" + name + "' is given more than once");
  }
  return params;
}

std::optional<std::string_view> find_query(const QueryParams& params, std::string_view name) {
  for (const auto& [k, v] : params) {
    if (k == name) {
      return std::string_view(v);
    }
  }
  return std::nullopt;
}

}  // namespace cocktail::http

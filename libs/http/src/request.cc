#include "cocktail/http/request.h"

#include <charconv>

#include "string_view.h"

namespace cocktail::http {

Request::Request(Message message, std::string path, QueryParams query, PathParams params,
                 std::string request_id, std::string_view route)
    : message_(std::move(message)),
      path_(std::move(path)),
      query_(std::move(query)),
      params_(std::move(params)),
      request_id_(std::move(request_id)),
      route_(route) {}

std::string_view Request::path_param(std::string_view name) const {
  for (const auto& [k, v] : params_) {
    if (k == name) {
      return v;
    }
  }
  return {};
}

core::Result<std::int64_t> Request::path_int(std::string_view name, std::int64_t min,
                                             std::int64_t max) const {
  return parse_int(path_param(name), name, min, max);
}

core::Result<std::optional<std::int64_t>> Request::query_int(std::string_view name, std::int64_t min,
                                                             std::int64_t max) const {
  auto text = query(name);
  if (!text) {
    return std::optional<std::int64_t>();
  }
  auto v = parse_int(*text, name, min, max);
  if (!v.ok()) {
    return v.error();
  }
  return std::optional<std::int64_t>(*v);
}

std::string_view Request::header(boost::beast::http::field name) const {
  auto it = message_.find(name);
  return it == message_.end() ? std::string_view() : detail::to_std(it->value());
}

std::string_view Request::header(std::string_view name) const {
  auto it = message_.find(detail::to_beast(name));
  return it == message_.end() ? std::string_view() : detail::to_std(it->value());
}

core::Result<std::int64_t> parse_int(std::string_view text, std::string_view field, std::int64_t min,
                                     std::int64_t max) {
  std::int64_t v = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec != std::errc() || ptr != end) {
    return core::Error::invalid(std::string(field), std::string(field) + " must be an integer");
  }
  if (v < min || v > max) {
    std::string range = std::string(field) + " must be";
    if (min != INT64_MIN) {
      range += " >= " + std::to_string(min);
    }
    if (min != INT64_MIN && max != INT64_MAX) {
      range += " and";
    }
    if (max != INT64_MAX) {
      range += " <= " + std::to_string(max);
    }
    return core::Error::invalid(std::string(field), range);
  }
  return v;
}

}  // namespace cocktail::http

// Request: one parsed HTTP request as a handler sees it.
//
// Owned by the server; a handler receives it by const reference together
// with a Responder, and the reference stays valid for as long as the handler
// keeps that Responder (or a copy of it). Immutable once handed to a handler,
// so it may be read from any thread.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cocktail/core/result.h"
#include "cocktail/http/query.h"

namespace cocktail::http {

using Method = boost::beast::http::verb;
// Path parameters by name, percent-decoded: {"id", "42"} for /recipes/{id}.
using PathParams = std::vector<std::pair<std::string, std::string>>;

class Request {
 public:
  using Message = boost::beast::http::request<boost::beast::http::string_body>;

  Request() = default;
  Request(Message message, std::string path, QueryParams query, PathParams params, std::string request_id,
          std::string_view route);

  Method method() const { return message_.method(); }
  std::string_view method_string() const {
    auto s = message_.method_string();
    return {s.data(), s.size()};
  }
  // The request target as sent ("/api/v1/recipes/5?x=1").
  std::string_view target() const {
    auto s = message_.target();
    return {s.data(), s.size()};
  }
  // The path part of the target, not decoded.
  const std::string& path() const { return path_; }
  // The matched route pattern ("/api/v1/recipes/{id}").
  std::string_view route() const { return route_; }
  // The request id (the client's X-Request-Id when sane, else generated).
  const std::string& request_id() const { return request_id_; }

  // A path parameter, decoded; empty when the route has no such parameter.
  std::string_view path_param(std::string_view name) const;
  // A path parameter as an integer in [min, max]; an error naming it otherwise.
  core::Result<std::int64_t> path_int(std::string_view name, std::int64_t min = 0,
                                      std::int64_t max = INT64_MAX) const;

  const QueryParams& query_params() const { return query_; }
  // The first value of a query parameter.
  std::optional<std::string_view> query(std::string_view name) const { return find_query(query_, name); }
  // A query parameter as an integer in [min, max]; nullopt when absent, an
  // error naming it when not an integer or out of range.
  core::Result<std::optional<std::int64_t>> query_int(std::string_view name, std::int64_t min = INT64_MIN,
                                                      std::int64_t max = INT64_MAX) const;

  // A header value, empty when absent.
  std::string_view header(boost::beast::http::field name) const;
  std::string_view header(std::string_view name) const;
  const std::string& body() const { return message_.body(); }
  const Message& message() const { return message_; }

 private:
  Message message_;
  std::string path_;
  QueryParams query_;
  PathParams params_;
  std::string request_id_;
  std::string_view route_;  // points into the Router, which outlives requests
};

// Parses a whole decimal integer in [min, max]; an error naming `field` otherwise.
core::Result<std::int64_t> parse_int(std::string_view text, std::string_view field, std::int64_t min,
                                     std::int64_t max);

}  // namespace cocktail::http

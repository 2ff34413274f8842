#include <gtest/gtest.h>

#include "cocktail/http/errors.h"
#include "cocktail/http/negotiation.h"
#include "cocktail/http/query.h"
#include "cocktail/http/request.h"
#include "cocktail/http/router.h"

namespace cocktail::http {
namespace {

TEST(Query, DecodesPercentEscapesAndPlus) {
  auto q = parse_query("name=gin%20tonic&x=a+b&flag&&empty=&pct=100%25");
  ASSERT_TRUE(q.ok());
  ASSERT_EQ(q->size(), 5u);
  EXPECT_EQ(*find_query(*q, "name"), "gin tonic");
  EXPECT_EQ(*find_query(*q, "x"), "a b");
  EXPECT_EQ(*find_query(*q, "flag"), "");
  EXPECT_EQ(*find_query(*q, "empty"), "");
  EXPECT_EQ(*find_query(*q, "pct"), "100%");
  EXPECT_FALSE(find_query(*q, "missing").has_value());
}

TEST(Query, RepeatedNamesAreRefusedNamingTheParameter) {
  for (const char* repeated : {"a=1&a=2", "a=1&b=2&a=1", "a&a", "x=1&%78=2", "a=1&a+=2&a%20=3&a+=4"}) {
    auto q = parse_query(repeated);
    ASSERT_FALSE(q.ok()) << repeated;
    EXPECT_EQ(q.error().code, core::ErrorCode::kInvalidArgument);
    EXPECT_NE(q.error().message.find("more than once"), std::string::npos) << q.error().message;
  }
  EXPECT_EQ(parse_query("limit=1&limit=2").error().field, "limit");
  auto distinct = parse_query("a=1&b=2&c");
  ASSERT_TRUE(distinct.ok());
  EXPECT_EQ(distinct->size(), 3u);
}

TEST(Query, MalformedEscapeIsAnErrorNamingTheParameter) {
  for (const char* bad : {"a=%zz", "a=%4", "a=%", "%g1=x"}) {
    auto q = parse_query(bad);
    ASSERT_FALSE(q.ok()) << bad;
    EXPECT_EQ(q.error().code, core::ErrorCode::kInvalidArgument);
  }
  auto q = parse_query("limit=%zz");
  EXPECT_EQ(q.error().field, "limit");
}

TEST(Query, PercentDecodeKeepsPlusInPaths) {
  auto d = percent_decode("a+b%2Fc", false, "id");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, "a+b/c");
}

TEST(ParseInt, AcceptsWholeIntegersInRange) {
  EXPECT_EQ(*parse_int("42", "id", 0, 100), 42);
  EXPECT_EQ(*parse_int("-5", "n", -10, 10), -5);
  for (const char* bad : {"", "4x", "x", "1.5", " 1", "99999999999999999999"}) {
    auto r = parse_int(bad, "id", 0, INT64_MAX);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().field, "id");
  }
  auto r = parse_int("101", "limit", 1, 100);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("<= 100"), std::string::npos);
}

Handler noop() {
  return [](const Request&, const Responder&) {};
}

TEST(Router, MatchesLiteralsAndParameters) {
  Router r;
  r.add(Method::get, "/api/v1/recipes", noop());
  r.add(Method::get, "/api/v1/recipes/{id}", noop());
  r.add(Method::post, "/api/v1/recipes/bulk", noop());
  r.add(Method::get, "/api/v1/recipes/{id}/ingredients/{index}", noop());

  auto m = r.match(Method::get, "/api/v1/recipes/42");
  ASSERT_EQ(m.kind, Router::Match::Kind::kFound);
  EXPECT_EQ(m.route->pattern, "/api/v1/recipes/{id}");
  ASSERT_EQ(m.params.size(), 1u);
  EXPECT_EQ(m.params[0], (std::pair<std::string, std::string>("id", "42")));

  m = r.match(Method::post, "/api/v1/recipes/bulk");
  ASSERT_EQ(m.kind, Router::Match::Kind::kFound);
  EXPECT_EQ(m.route->pattern, "/api/v1/recipes/bulk");

  // GET on the literal path falls back to the parameter route.
  m = r.match(Method::get, "/api/v1/recipes/bulk");
  ASSERT_EQ(m.kind, Router::Match::Kind::kFound);
  EXPECT_EQ(m.route->pattern, "/api/v1/recipes/{id}");

  m = r.match(Method::get, "/api/v1/recipes/7/ingredients/2");
  ASSERT_EQ(m.kind, Router::Match::Kind::kFound);
  ASSERT_EQ(m.params.size(), 2u);
  EXPECT_EQ(m.params[1].second, "2");
}

TEST(Router, DecodesParametersAndRejectsBadEscapes) {
  Router r;
  r.add(Method::get, "/names/{name}", noop());
  auto m = r.match(Method::get, "/names/gin%20%26%20tonic");
  ASSERT_EQ(m.kind, Router::Match::Kind::kFound);
  EXPECT_EQ(m.params[0].second, "gin & tonic");
  m = r.match(Method::get, "/names/%zz");
  EXPECT_NE(m.kind, Router::Match::Kind::kFound);
  EXPECT_FALSE(m.error.empty());
}

TEST(Router, NotFoundAndMethodNotAllowed) {
  Router r;
  r.add(Method::get, "/items/{id}", noop());
  r.add(Method::delete_, "/items/{id}", noop());
  EXPECT_EQ(r.match(Method::get, "/nothing").kind, Router::Match::Kind::kNotFound);
  EXPECT_EQ(r.match(Method::get, "/items").kind, Router::Match::Kind::kNotFound);
  EXPECT_EQ(r.match(Method::get, "/items/").kind, Router::Match::Kind::kNotFound);  // empty parameter
  EXPECT_EQ(r.match(Method::get, "/items/1/extra").kind, Router::Match::Kind::kNotFound);
  auto m = r.match(Method::post, "/items/1");
  EXPECT_EQ(m.kind, Router::Match::Kind::kMethodNotAllowed);
  EXPECT_EQ(m.allow, "GET, HEAD, DELETE, OPTIONS");
}

TEST(Router, HeadIsServedByGet) {
  Router r;
  r.add(Method::get, "/x", noop());
  auto m = r.match(Method::head, "/x");
  ASSERT_EQ(m.kind, Router::Match::Kind::kFound);
  EXPECT_EQ(m.route->method, Method::get);
}

TEST(Router, RejectsBadPatternsAndDuplicates) {
  Router r;
  EXPECT_THROW(r.add(Method::get, "no-slash", noop()), std::invalid_argument);
  EXPECT_THROW(r.add(Method::get, "/a/{}", noop()), std::invalid_argument);
  EXPECT_THROW(r.add(Method::get, "/a//b", noop()), std::invalid_argument);
  r.add(Method::get, "/a", noop());
  EXPECT_THROW(r.add(Method::get, "/a", noop()), std::invalid_argument);
  r.add(Method::post, "/a", noop());  // same pattern, other method: fine
}

TEST(Errors, StatusForEachCode) {
  EXPECT_EQ(status_for(core::ErrorCode::kInvalidArgument), Status::bad_request);
  EXPECT_EQ(status_for(core::ErrorCode::kNotFound), Status::not_found);
  EXPECT_EQ(status_for(core::ErrorCode::kConflict), Status::conflict);
  EXPECT_EQ(status_for(core::ErrorCode::kTooLarge), Status::payload_too_large);
  EXPECT_EQ(status_for(core::ErrorCode::kUnauthorized), Status::unauthorized);
  EXPECT_EQ(status_for(core::ErrorCode::kUnavailable), Status::service_unavailable);
  EXPECT_EQ(status_for(core::ErrorCode::kInternal), Status::internal_server_error);
}

TEST(Errors, BodyShapeForCoreErrors) {
  core::Error e = core::Error::invalid("items", "2 items are invalid");
  e.details.push_back({3, "name", "must not be \"empty\""});
  e.details.push_back({-1, "", "whole batch"});
  Response r = error_response(e);
  EXPECT_EQ(r.status(), Status::bad_request);
  EXPECT_EQ(r.header(Field::content_type), "application/json");
  EXPECT_EQ(
      r.body(),
      R"({"error":{"code":"invalid_argument","message":"2 items are invalid","details":{"field":"items",)"
      R"("errors":[{"index":3,"field":"name","message":"must not be \"empty\""},{"message":"whole batch"}]}}})");

  Response c = error_response(core::Error::conflict("name", "duplicate name"));
  EXPECT_EQ(c.status(), Status::conflict);
  EXPECT_EQ(c.body(),
            R"({"error":{"code":"conflict","message":"duplicate name","details":{"field":"name"}}})");

  Response n = error_response(core::Error::internal("boom"));
  EXPECT_EQ(n.body(), R"({"error":{"code":"internal","message":"boom","details":{}}})");
}

}  // namespace
}  // namespace cocktail::http

namespace cocktail::http {
namespace {

TEST(Negotiation, EtagMatches) {
  EXPECT_TRUE(etag_matches("\"v1\"", "\"v1\""));
  EXPECT_TRUE(etag_matches("\"a\", \"v1\"", "\"v1\""));
  EXPECT_TRUE(etag_matches("W/\"v1\"", "\"v1\""));
  EXPECT_TRUE(etag_matches("*", "\"v1\""));
  EXPECT_FALSE(etag_matches("\"v2\"", "\"v1\""));
  EXPECT_FALSE(etag_matches("", "\"v1\""));
  EXPECT_FALSE(etag_matches("v1", "\"v1\""));
  EXPECT_FALSE(etag_matches("\"v1\"", ""));
}

TEST(Negotiation, AcceptsEncoding) {
  EXPECT_TRUE(accepts_encoding("gzip", "gzip"));
  EXPECT_TRUE(accepts_encoding("deflate, GZIP;q=0.5", "gzip"));
  EXPECT_TRUE(accepts_encoding("gzip, deflate, br", "gzip"));
  EXPECT_TRUE(accepts_encoding("*", "gzip"));
  EXPECT_FALSE(accepts_encoding("gzip;q=0", "gzip"));
  EXPECT_FALSE(accepts_encoding("*, gzip;q=0", "gzip"));
  EXPECT_FALSE(accepts_encoding("*;q=0", "gzip"));
  EXPECT_FALSE(accepts_encoding("", "gzip"));
  EXPECT_FALSE(accepts_encoding("br, deflate", "gzip"));
  EXPECT_FALSE(accepts_encoding("gzipper", "gzip"));
}

}  // namespace
}  // namespace cocktail::http

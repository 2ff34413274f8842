// Requests a hostile or careless client sends, at the byte level: transfer
// codings other than a final chunked (RFC 9112 §6.3: 400 and close, so that a
// body can never be read as a second, smuggled request), HTTP/1.0 with
// Transfer-Encoding, several Authorization or Host headers, repeated query
// parameters, a 413 naming the limit of the route it was for, and error
// bodies that stay valid UTF-8 JSON whatever bytes they quote.
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <atomic>
#include <string>

#include "cocktail/core/utf8.h"
#include "cocktail/http/errors.h"
#include "server_fixture.h"

namespace cocktail::http {
namespace {

using testing::RawConnection;
using namespace std::chrono_literals;

// Counts the requests that reached a handler.
class HardeningTest : public ServerTest {
 protected:
  SyncHandler counted() {
    return [this](const Request& req) {
      ++handled_;
      return Response::text(Status::ok, "ok " + std::string(req.path()) + " " + req.body());
    };
  }
  void start_with_routes() {
    auto o = test_options();
    o.max_body_bytes = 1024;
    make(o);
    router().add(Method::post, "/small", counted());
    router().add(Method::post, "/bulk", counted(), RouteOptions{std::size_t{64} * 1024});
    router().add(Method::get, "/x", counted());
    router().add(Method::get, "/items/{id}", [](const Request& req) {
      // Quotes what the client sent, as a "no such item" message would.
      return error_response(Status::not_found, kNotFound,
                            "no item '" + std::string(req.path_param("id")) + "'",
                            R"({"id":)" + json_quote(req.path_param("id")) + "}");
    });
    start();
  }
  // Sends raw bytes; returns everything read until the server closed.
  std::string exchange(const std::string& bytes) {
    RawConnection raw(port());
    EXPECT_TRUE(raw.send(bytes));
    return raw.read_until_close(3s);
  }

  std::atomic<int> handled_{0};
};

std::size_t count(const std::string& text, std::string_view needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

// The body of a response read whole from a connection.
std::string body_of(const std::string& response) {
  const auto at = response.find("\r\n\r\n");
  return at == std::string::npos ? std::string() : response.substr(at + 4);
}

void expect_utf8_json(const std::string& body) {
  EXPECT_TRUE(core::utf8::valid(body)) << body;
  rapidjson::Document d;
  d.Parse<rapidjson::kParseValidateEncodingFlag>(body.c_str(), body.size());
  EXPECT_FALSE(d.HasParseError()) << rapidjson::GetParseError_En(d.GetParseError()) << ": " << body;
}

TEST_F(HardeningTest, TransferEncodingOtherThanAFinalChunkedIs400AndCloses) {
  start_with_routes();
  // A second request hidden where a body would be: it must never be answered.
  const std::string smuggled = "GET /x HTTP/1.1\r\nHost: x\r\n\r\n";
  for (const std::string te : {"gzip", "xchunked", "chunked, identity", "identity", "chunked;ext=1",
                               "chunked, chunked", "deflate", "chunkedx", ""}) {
    const std::string request = std::string("POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: ")
                                    .append(te)
                                    .append("\r\n\r\n")
                                    .append(smuggled);
    const std::string got = exchange(request);
    EXPECT_EQ(got.rfind("HTTP/1.1 400", 0), 0u) << "TE '" << te << "' -> " << got;
    EXPECT_NE(got.find("Connection: close"), std::string::npos) << te;
    EXPECT_EQ(count(got, "HTTP/1.1 "), 1u) << "TE '" << te << "' answered the smuggled request: " << got;
    expect_utf8_json(body_of(got));
  }
  // Two header lines make one list: "chunked, identity".
  const std::string got = exchange(
      "POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
      "Transfer-Encoding: identity\r\n\r\n" +
      smuggled);
  EXPECT_EQ(got.rfind("HTTP/1.1 400", 0), 0u) << got;
  EXPECT_EQ(count(got, "HTTP/1.1 "), 1u) << got;
  EXPECT_EQ(handled_.load(), 0);
}

TEST_F(HardeningTest, ChunkedUnderAnotherCodingIs501AndCloses) {
  start_with_routes();
  const std::string got = exchange(
      "POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
  EXPECT_EQ(got.rfind("HTTP/1.1 501", 0), 0u) << got;
  EXPECT_NE(got.find(R"("code":"not_implemented")"), std::string::npos) << got;
  EXPECT_NE(got.find("Connection: close"), std::string::npos);
  EXPECT_EQ(handled_.load(), 0);
}

TEST_F(HardeningTest, TransferEncodingInHttp10Is400) {
  start_with_routes();
  const std::string got =
      exchange("POST /small HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
  EXPECT_EQ(got.rfind("HTTP/1.0 400", 0), 0u) << got;
  EXPECT_EQ(handled_.load(), 0);
}

TEST_F(HardeningTest, AFinalChunkedInAnyCaseStillWorksOnAKeptConnection) {
  start_with_routes();
  RawConnection raw(port());
  for (const char* te : {"chunked", "Chunked", " chunked "}) {
    ASSERT_TRUE(raw.send(std::string("POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:") + te +
                         "\r\n\r\n3\r\nabc\r\n0\r\n\r\n"));
    const std::string got = raw.read_until("ok /small abc", 3s);
    EXPECT_EQ(got.rfind("HTTP/1.1 200", 0), 0u) << te << " -> " << got;
  }
  EXPECT_EQ(handled_.load(), 3);
}

TEST_F(HardeningTest, SeveralAuthorizationOrHostHeadersAre400) {
  start_with_routes();
  for (const std::string headers :
       {"Authorization: Bearer a\r\nAuthorization: Bearer b\r\n", "Host: x\r\nHost: y\r\n"}) {
    const std::string got = exchange("GET /x HTTP/1.1\r\n" + headers + "\r\n");
    EXPECT_EQ(got.rfind("HTTP/1.1 400", 0), 0u) << headers << " -> " << got;
    EXPECT_NE(got.find("more than one"), std::string::npos) << got;
  }
  EXPECT_EQ(handled_.load(), 0);
  // One of each is fine.
  EXPECT_EQ(client().get("/x", {{"Authorization", "Bearer a"}}).status, 200);
}

TEST_F(HardeningTest, ARepeatedQueryParameterIs400NamingIt) {
  start_with_routes();
  auto c = client();
  for (const char* q : {"?a=1&a=2", "?a=1&b=2&a=1", "?limit=5&%6Cimit=6", "?a&a"}) {
    auto r = c.get(std::string("/x") + q);
    EXPECT_EQ(r.status, 400) << q;
    EXPECT_NE(r.body.find("more than once"), std::string::npos) << r.body;
  }
  auto r = c.get("/x?limit=5&limit=6");
  EXPECT_NE(r.body.find(R"("field":"limit")"), std::string::npos) << r.body;
  EXPECT_EQ(c.get("/x?a=1&b=2").status, 200);
  EXPECT_EQ(handled_.load(), 1);
}

TEST_F(HardeningTest, A413NamesTheLimitOfItsOwnRoute) {
  start_with_routes();
  // Over every route's limit: refused while the header is read, yet the
  // answer names the single-item route's 1024, not the bulk route's 64 KiB.
  std::string got = exchange(
      "POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(200 * 1024) + "\r\n\r\n");
  EXPECT_EQ(got.rfind("HTTP/1.1 413", 0), 0u) << got;
  EXPECT_NE(got.find(R"("limit_bytes":1024)"), std::string::npos) << got;
  got = exchange("POST /bulk HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(200 * 1024) +
                 "\r\n\r\n");
  EXPECT_NE(got.find(R"("limit_bytes":65536)"), std::string::npos) << got;
  // A chunked body growing past the route's limit says so too.
  const std::string chunk(800, 'x');
  got = exchange("POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n320\r\n" + chunk +
                 "\r\n320\r\n" + chunk + "\r\n0\r\n\r\n");
  EXPECT_EQ(got.rfind("HTTP/1.1 413", 0), 0u) << got;
  EXPECT_NE(got.find(R"("limit_bytes":1024)"), std::string::npos) << got;
}

TEST_F(HardeningTest, ErrorBodiesAreValidUtf8WhateverTheRequestQuotes) {
  start_with_routes();
  auto c = client();
  // Percent-escaped bytes that are not UTF-8, quoted by a handler.
  auto r = c.get("/items/%ff%fe");
  EXPECT_EQ(r.status, 404);
  expect_utf8_json(r.body);
  EXPECT_NE(r.body.find("\xEF\xBF\xBD\xEF\xBF\xBD"), std::string::npos) << r.body;  // two U+FFFD
  // Raw bytes in the path, quoted by the server's own 404.
  std::string got = exchange("GET /\xff\xfe\xc3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(got.rfind("HTTP/1.1 404", 0), 0u) << got;
  expect_utf8_json(body_of(got));
  // A repeated parameter whose name is not UTF-8.
  r = c.get("/x?%ff=1&%ff=2");
  EXPECT_EQ(r.status, 400);
  expect_utf8_json(r.body);
}

TEST(ErrorBodies, EveryWriterReplacesBytesThatAreNotUtf8) {
  expect_utf8_json(error_body("bad_request", "name \xff\xfe", "{\"x\":\"\xc3\"}"));
  core::Error e = core::Error::invalid("na\xffme", "bad \xe6\x97");
  e.details.push_back({2, "f\xfe", "m\xc0\xaf"});
  const auto response = error_response(e);
  expect_utf8_json(std::string(response.body()));
  EXPECT_EQ(json_quote("gin"), "\"gin\"");
  EXPECT_EQ(json_quote("\xff"), "\"\xEF\xBF\xBD\"");
}

}  // namespace
}  // namespace cocktail::http

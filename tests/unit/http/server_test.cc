// The server's synchronous behaviour over real loopback HTTP: routing, errors,
// limits, keep-alive, request ids, access log, metrics, health, auth, CORS.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <string>

#include "cocktail/http/bearer_token.h"
#include "cocktail/http/errors.h"
#include "cocktail/testing/temp_dir.h"
#include "cocktail/testing/wait.h"
#include "server_fixture.h"

namespace cocktail::http {
namespace {

using testing::HttpClient;
using testing::RawConnection;
using namespace std::chrono_literals;

bool is_hex16(const std::string& s) {
  return s.size() == 16 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// The line of `log` that contains `needle`, empty when none.
std::string line_with(const std::string& log, const std::string& needle) {
  auto at = log.find(needle);
  if (at == std::string::npos) {
    return {};
  }
  auto begin = log.rfind('\n', at);
  begin = begin == std::string::npos ? 0 : begin + 1;
  return log.substr(begin, log.find('\n', at) - begin);
}

// Echoes what the handler saw, as JSON-ish text.
SyncHandler echo() {
  return [](const Request& req) {
    std::string out = "route=" + std::string(req.route()) + " path=" + req.path();
    for (const auto& [k, v] : req.query_params()) {
      out.append(" q:").append(k).append("=").append(v);
    }
    out += " id=" + std::string(req.path_param("id"));
    out += " body=" + req.body();
    return Response::text(Status::ok, out);
  };
}

TEST_F(ServerTest, RoutesPathParametersAndQuery) {
  make();
  router().add(Method::get, "/api/v1/items/{id}", echo());
  router().add(Method::post, "/api/v1/items", echo());
  start();
  auto c = client();
  auto r = c.get("/api/v1/items/a%20b?limit=5&name=gin+tonic&x=%C3%A9");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body,
            "route=/api/v1/items/{id} path=/api/v1/items/a%20b q:limit=5 q:name=gin tonic q:x=\xC3\xA9 id=a "
            "b body=");
  r = c.post("/api/v1/items", R"({"name":"x"})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"(route=/api/v1/items path=/api/v1/items id= body={"name":"x"})");
}

TEST_F(ServerTest, TypedParameterHelpersReportTheField) {
  make();
  router().add(Method::get, "/r/{id}", SyncHandler([](const Request& req) {
                 auto id = req.path_int("id", 1);
                 if (!id.ok()) {
                   return error_response(id.error());
                 }
                 auto limit = req.query_int("limit", 1, 20);
                 if (!limit.ok()) {
                   return error_response(limit.error());
                 }
                 return Response::text(Status::ok,
                                       std::to_string(*id) + "/" + std::to_string(limit->value_or(5)));
               }));
  start();
  auto c = client();
  EXPECT_EQ(c.get("/r/12").body, "12/5");
  EXPECT_EQ(c.get("/r/12?limit=20").body, "12/20");
  auto bad = c.get("/r/abc");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find(R"("field":"id")"), std::string::npos) << bad.body;
  bad = c.get("/r/-3");
  EXPECT_EQ(bad.status, 400);
  bad = c.get("/r/3?limit=21");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find(R"("field":"limit")"), std::string::npos) << bad.body;
}

TEST_F(ServerTest, NotFoundAndMethodNotAllowedAsJsonErrors) {
  make();
  router().add(Method::get, "/items/{id}", echo());
  router().add(Method::put, "/items/{id}", echo());
  start();
  auto c = client();
  auto r = c.get("/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.header("Content-Type"), "application/json");
  EXPECT_EQ(r.body.rfind(R"({"error":{"code":"not_found","message":")", 0), 0u) << r.body;
  EXPECT_EQ(r.body.substr(r.body.size() - 16), R"(","details":{}}})") << r.body;
  r = c.del("/items/1");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("Allow"), "GET, HEAD, PUT, OPTIONS");
  EXPECT_NE(r.body.find(R"("code":"method_not_allowed")"), std::string::npos);
  // Errors keep the connection alive.
  EXPECT_EQ(c.get("/items/1").status, 200);
  EXPECT_EQ(c.connections_opened(), 1);
}

TEST_F(ServerTest, HandlerErrorsUseTheContractShape) {
  make();
  router().add(Method::post, "/things", SyncHandler([](const Request&) {
                 core::Error e = core::Error::conflict("name", "a thing with this name exists");
                 return error_response(e);
               }));
  router().add(Method::get, "/throws",
               SyncHandler([](const Request&) -> Response { throw std::runtime_error("boom"); }));
  start();
  auto c = client();
  auto r = c.post("/things", "{}");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(
      r.body,
      R"({"error":{"code":"conflict","message":"a thing with this name exists","details":{"field":"name"}}})");
  r = c.get("/throws");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body, R"({"error":{"code":"internal","message":"internal error","details":{}}})");
}

TEST_F(ServerTest, BodyLimitPerRoute) {
  auto o = test_options();
  o.max_body_bytes = 1024;
  make(o);
  router().add(Method::post, "/small", echo());
  router().add(Method::post, "/bulk", echo(), RouteOptions{std::size_t{64} * 1024});
  start();
  auto c = client();
  EXPECT_EQ(c.post("/small", std::string(1024, 'a')).status, 200);
  auto r = c.post("/small", std::string(1025, 'a'));
  EXPECT_EQ(r.status, 413);
  EXPECT_NE(r.body.find(R"("code":"too_large")"), std::string::npos);
  EXPECT_NE(r.body.find(R"("limit_bytes":1024)"), std::string::npos) << r.body;
  EXPECT_FALSE(r.keep_alive);
  r = c.post("/bulk", std::string(std::size_t{60} * 1024, 'b'));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(c.post("/bulk", std::string(std::size_t{65} * 1024, 'b')).status, 413);
  // Over every route's limit: refused while reading the header.
  EXPECT_EQ(c.post("/bulk", std::string(std::size_t{200} * 1024, 'b')).status, 413);
}

TEST_F(ServerTest, ChunkedBodyOverLimitIs413) {
  auto o = test_options();
  o.max_body_bytes = 100;
  make(o);
  router().add(Method::post, "/small", echo());
  start();
  RawConnection raw(port());
  std::string chunk(80, 'x');
  std::string req = "POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  req += "50\r\n" + chunk + "\r\n50\r\n" + chunk + "\r\n0\r\n\r\n";
  ASSERT_TRUE(raw.send(req));
  auto got = raw.read_until_close(3s);
  EXPECT_EQ(got.rfind("HTTP/1.1 413", 0), 0u) << got;
}

TEST_F(ServerTest, OversizedHeaderIs431) {
  auto o = test_options();
  o.max_header_bytes = 2048;
  make(o);
  router().add(Method::get, "/x", echo());
  start();
  auto c = client();
  EXPECT_EQ(c.get("/x", {{"X-Pad", std::string(1000, 'p')}}).status, 200);
  auto r = c.get("/x", {{"X-Pad", std::string(4000, 'p')}});
  EXPECT_EQ(r.status, 431);
  EXPECT_NE(r.body.find(R"("code":"header_too_large")"), std::string::npos);
}

TEST_F(ServerTest, LongQueryIs414) {
  make();
  router().add(Method::get, "/x", echo());
  start();
  auto c = client();
  auto r = c.get("/x?q=" + std::string(5000, 'a'));
  EXPECT_EQ(r.status, 414);
  EXPECT_NE(r.body.find(R"("code":"uri_too_long")"), std::string::npos);
  EXPECT_EQ(c.get("/x?q=%zz").status, 400);
}

TEST_F(ServerTest, MalformedRequestsAre400) {
  make();
  router().add(Method::get, "/x", echo());
  start();
  for (const char* bad :
       {"GARBAGE\r\n\r\n", "GET /x HTTP/9.9\r\n\r\n", "GET /x HTTP/1.1\r\nBad Header\r\n\r\n",
        "GET /x HTTP/1.1\r\nContent-Length: abc\r\n\r\n", "GET x HTTP/1.1\r\nHost: h\r\n\r\n"}) {
    RawConnection raw(port());
    ASSERT_TRUE(raw.send(bad));
    auto got = raw.read_until_close(3s);
    EXPECT_EQ(got.rfind("HTTP/1.1 400", 0), 0u) << bad << " -> " << got;
    EXPECT_NE(got.find(R"({"error":{"code":"bad_request")"), std::string::npos) << got;
  }
  // The server is unharmed; the absolute form of a target is understood.
  EXPECT_EQ(client().get("/x").status, 200);
  EXPECT_EQ(client().get("http://127.0.0.1/x").status, 200);
}

TEST_F(ServerTest, KeepAliveReusesOneConnection) {
  make();
  router().add(Method::get, "/x", echo());
  start();
  auto c = client();
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(c.get("/x").status, 200);
  }
  EXPECT_EQ(c.connections_opened(), 1);
  EXPECT_EQ(server_->open_connections(), 1u);
  auto r = c.get("/x", {{"Connection", "close"}});
  EXPECT_FALSE(r.keep_alive);
  EXPECT_TRUE(testing::wait_until([&] { return server_->open_connections() == 0; }, 3s));
}

TEST_F(ServerTest, Http10ClosesUnlessAskedToKeepAlive) {
  make();
  router().add(Method::get, "/x", echo());
  start();
  {
    RawConnection raw(port());
    ASSERT_TRUE(raw.send("GET /x HTTP/1.0\r\n\r\n"));
    auto got = raw.read_until_close(3s);
    EXPECT_EQ(got.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << got;
    EXPECT_NE(got.find("Connection: close\r\n"), std::string::npos) << got;
  }
  RawConnection raw(port());
  ASSERT_TRUE(raw.send("GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  auto got = raw.read_until("body=", 3s);
  EXPECT_NE(got.find("Connection: keep-alive\r\n"), std::string::npos) << got;
  EXPECT_NE(got.find("Content-Length: "), std::string::npos) << got;
  EXPECT_FALSE(raw.wait_closed(200ms));
}

TEST_F(ServerTest, PipelinedRequestsAnswerInOrder) {
  make();
  router().add(Method::get, "/items/{id}", echo());
  start();
  RawConnection raw(port());
  ASSERT_TRUE(
      raw.send("GET /items/1 HTTP/1.1\r\nHost: x\r\n\r\nGET /items/2 HTTP/1.1\r\nHost: x\r\nConnection: "
               "close\r\n\r\n"));
  auto got = raw.read_until_close(3s);
  auto first = got.find("id=1");
  auto second = got.find("id=2");
  ASSERT_NE(first, std::string::npos) << got;
  ASSERT_NE(second, std::string::npos) << got;
  EXPECT_LT(first, second);
}

TEST_F(ServerTest, HeadHasLengthButNoBody) {
  make();
  auto body = std::make_shared<const std::string>(5000, 'z');
  router().add(Method::get, "/blob", SyncHandler([body](const Request&) {
                 return Response::shared(Status::ok, body, "application/octet-stream");
               }));
  start();
  auto c = client();
  auto r = c.head("/blob");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Content-Length"), "5000");
  EXPECT_TRUE(r.body.empty());
  r = c.get("/blob");
  EXPECT_EQ(r.body, *body);
  EXPECT_EQ(c.connections_opened(), 1);
}

TEST_F(ServerTest, SharedBodyIsServedWithItsHeaders) {
  make();
  auto bytes = std::make_shared<const std::string>(270 * 1024, 'q');
  router().add(Method::get, "/snap", SyncHandler([bytes](const Request&) {
                 return Response::shared(Status::ok, bytes, "application/json")
                     .set_header(Field::etag, "\"abc\"")
                     .set_header(Field::cache_control, "public, max-age=5")
                     .set_header(Field::content_encoding, "identity");
               }));
  start();
  auto c = client();
  for (int i = 0; i < 3; ++i) {
    auto r = c.get("/snap");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body.size(), bytes->size());
    EXPECT_EQ(r.header("ETag"), "\"abc\"");
    EXPECT_EQ(r.header("Cache-Control"), "public, max-age=5");
  }
  // Ours and the route's: no finished response holds it (the server lets go
  // of a response right after writing it).
  EXPECT_TRUE(testing::wait_until([&] { return bytes.use_count() == 2; }, 2s)) << bytes.use_count();
}

TEST_F(ServerTest, NotModifiedAndNoContentCarryNoBody) {
  make();
  router().add(Method::get, "/etag", SyncHandler([](const Request& req) {
                 if (req.header(Field::if_none_match) == "\"v1\"") {
                   return Response::empty(Status::not_modified).set_header(Field::etag, "\"v1\"");
                 }
                 return Response::text(Status::ok, "fresh").set_header(Field::etag, "\"v1\"");
               }));
  start();
  auto c = client();
  EXPECT_EQ(c.get("/etag").body, "fresh");
  auto r = c.get("/etag", {{"If-None-Match", "\"v1\""}});
  EXPECT_EQ(r.status, 304);
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(c.get("/etag").status, 200);  // connection still in sync
  EXPECT_EQ(c.connections_opened(), 1);
}

TEST_F(ServerTest, RequestIdsAreEchoedOrGenerated) {
  make();
  router().add(Method::get, "/id",
               SyncHandler([](const Request& req) { return Response::text(Status::ok, req.request_id()); }));
  start();
  auto c = client();
  auto r = c.get("/id", {{"X-Request-Id", "client-123.abc"}});
  EXPECT_EQ(r.header("X-Request-Id"), "client-123.abc");
  EXPECT_EQ(r.body, "client-123.abc");
  r = c.get("/id", {{"X-Request-Id", "bad id with spaces\"'"}});
  EXPECT_TRUE(is_hex16(r.header("X-Request-Id"))) << r.header("X-Request-Id");
  auto r2 = c.get("/id");
  EXPECT_TRUE(is_hex16(r2.header("X-Request-Id")));
  EXPECT_NE(r.header("X-Request-Id"), r2.header("X-Request-Id"));
  EXPECT_EQ(c.get("/missing").header("X-Request-Id").size(), 16u);
}

// Redirects this process's stderr (where core::log writes) to a file.
class StderrCapture {
 public:
  StderrCapture() : path_(dir_.file("stderr")) {
    saved_ = ::dup(2);
    int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 2);
    ::close(fd);
  }
  ~StderrCapture() { restore(); }
  void restore() {
    if (saved_ >= 0) {
      ::dup2(saved_, 2);
      ::close(saved_);
      saved_ = -1;
    }
  }
  std::string text() const { return testing::read_file(path_); }

 private:
  testing::TempDir dir_;
  std::string path_;
  int saved_ = -1;
};

TEST_F(ServerTest, OneAccessLogLinePerRequest) {
  auto o = test_options();
  o.access_log = true;
  make(o);
  router().add(Method::get, "/items/{id}", echo());
  start();
  StderrCapture capture;
  {
    auto c = client();
    c.get("/items/7?secret=1", {{"X-Request-Id", "req-42"}});
    c.get("/unknown");
  }
  // The log line is written after the response; give it a moment.
  ASSERT_TRUE(
      testing::wait_until([&] { return capture.text().find("route=unmatched") != std::string::npos; }, 2s));
  capture.restore();
  const std::string log = capture.text();
  const std::string line = line_with(log, "request_id=req-42");
  EXPECT_NE(
      line.find("level=info event=http.request method=GET route=/items/{id} path=/items/7 status=200 bytes="),
      std::string::npos)
      << log;
  EXPECT_NE(line.find(" duration_ms="), std::string::npos) << line;
  const std::string tail = " request_id=req-42";
  EXPECT_EQ(line.substr(line.size() - tail.size()), tail) << line;
  EXPECT_EQ(log.find("secret"), std::string::npos) << "query strings stay out of logs";
  EXPECT_NE(log.find("status=404"), std::string::npos);
}

TEST_F(ServerTest, MetricsCountRequestsByRouteMethodAndStatus) {
  make();
  router().add(Method::get, "/items/{id}", echo());
  start();
  auto c = client();
  for (int i = 0; i < 3; ++i) {
    c.get("/items/" + std::to_string(i));
  }
  c.post("/items/1", "{}");  // 405
  c.get("/nothing/here");    // 404
  auto r = c.get("/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  const std::string& m = r.body;
  EXPECT_NE(m.find(R"(cocktail_http_requests_total{method="GET",route="/items/{id}",status="200"} 3)"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find(R"(cocktail_http_requests_total{method="POST",route="/items/{id}",status="405"} 1)"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find(R"(cocktail_http_requests_total{method="GET",route="unmatched",status="404"} 1)"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find(R"(cocktail_http_request_duration_seconds_count{route="/items/{id}"} 4)"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find(R"(cocktail_http_request_duration_seconds_bucket{route="/items/{id}",le="0.1"})"),
            std::string::npos);
  // The scrape itself is in flight while it is serialised.
  EXPECT_NE(m.find("cocktail_http_requests_in_flight 1"), std::string::npos) << m;
  EXPECT_NE(m.find("cocktail_http_connections_open 1"), std::string::npos) << m;
}

TEST_F(ServerTest, HealthReportsReadiness) {
  make();
  std::atomic<bool> ready{false};
  server_->set_readiness([&] {
    return Readiness{ready.load(), ready.load() ? R"({"generation":3})" : R"({"reason":"no snapshot yet"})"};
  });
  start();
  auto c = client();
  auto r = c.get("/health");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body,
            R"({"status":"not_ready","live":true,"ready":false,"details":{"reason":"no snapshot yet"}})");
  ready = true;
  r = c.get("/health");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"status":"ok","live":true,"ready":true,"details":{"generation":3}})");
}

TEST_F(ServerTest, HealthWithoutCheckIsReady) {
  make();
  start();
  EXPECT_EQ(client().get("/health").status, 200);
}

TEST_F(ServerTest, BearerTokenGuardsWrites) {
  make();
  BearerToken token("s3cret-token");
  router().add(Method::post, "/write", SyncHandler([&token](const Request& req) {
                 if (auto rejected = token.reject(req)) {
                   return std::move(*rejected);
                 }
                 return Response::text(Status::created, "ok");
               }));
  start();
  auto c = client();
  auto r = c.post("/write", "{}");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.header("WWW-Authenticate"), "Bearer");
  EXPECT_NE(r.body.find(R"("code":"unauthorized")"), std::string::npos);
  EXPECT_NE(r.body.find("missing"), std::string::npos);
  r = c.post("/write", "{}", {{"Authorization", "Bearer s3cret-tokeN"}});
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.body.find("invalid"), std::string::npos);
  EXPECT_EQ(c.post("/write", "{}", {{"Authorization", "Basic s3cret-token"}}).status, 401);
  EXPECT_EQ(c.post("/write", "{}", {{"Authorization", "Bearer s3cret-token"}}).status, 201);
  EXPECT_EQ(c.post("/write", "{}", {{"Authorization", "bearer s3cret-token"}}).status, 201);
}

TEST(BearerToken, MatchesOnlyTheExactToken) {
  BearerToken t("abc");
  EXPECT_TRUE(t.matches("Bearer abc"));
  EXPECT_FALSE(t.matches("Bearer abcd"));
  EXPECT_FALSE(t.matches("Bearer ab"));
  EXPECT_FALSE(t.matches("Bearer "));
  EXPECT_FALSE(t.matches("abc"));
  EXPECT_THROW(BearerToken(""), std::invalid_argument);
}

TEST(BearerToken, ReadsTokenFiles) {
  testing::TempDir dir;
  testing::write_file(dir.file("token"), "  tok-1 \n");
  auto t = read_token_file(dir.file("token"));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, "tok-1");
  testing::write_file(dir.file("empty"), "\n");
  EXPECT_FALSE(read_token_file(dir.file("empty")).ok());
  EXPECT_FALSE(read_token_file(dir.file("missing")).ok());
}

TEST_F(ServerTest, CorsForConfiguredOrigins) {
  auto o = test_options();
  o.cors.allowed_origins = {"https://dash.example"};
  make(o);
  router().add(Method::get, "/data", echo());
  router().add(Method::post, "/data", echo());
  router().add(Method::get, "/gz", SyncHandler([](const Request&) {
                 return Response::text(Status::ok, "x").set_header(Field::vary, "Accept-Encoding");
               }));
  start();
  auto c = client();
  auto r = c.get("/data", {{"Origin", "https://dash.example"}});
  EXPECT_EQ(r.header("Access-Control-Allow-Origin"), "https://dash.example");
  EXPECT_EQ(r.header("Vary"), "Origin");
  EXPECT_NE(r.header("Access-Control-Expose-Headers").find("ETag"), std::string::npos);
  r = c.get("/data", {{"Origin", "https://evil.example"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(r.has_header("Access-Control-Allow-Origin"));

  r = c.request("OPTIONS", "/data", {},
                {{"Origin", "https://dash.example"}, {"Access-Control-Request-Method", "POST"}});
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.header("Access-Control-Allow-Origin"), "https://dash.example");
  EXPECT_EQ(r.header("Access-Control-Allow-Methods"), "GET, HEAD, POST, OPTIONS");
  EXPECT_NE(r.header("Access-Control-Allow-Headers").find("Authorization"), std::string::npos);
  EXPECT_EQ(r.header("Access-Control-Max-Age"), "600");

  r = c.request("OPTIONS", "/data", {},
                {{"Origin", "https://evil.example"}, {"Access-Control-Request-Method", "POST"}});
  EXPECT_EQ(r.status, 403);
  r = c.request("OPTIONS", "/data");
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.header("Allow"), "GET, HEAD, POST, OPTIONS");
  EXPECT_EQ(c.request("OPTIONS", "/nothing").status, 404);
  // What a handler varies on is kept.
  r = c.get("/gz", {{"Origin", "https://dash.example"}});
  EXPECT_EQ(r.header("Vary"), "Accept-Encoding, Origin");
  // Errors carry CORS headers too, so that a browser can read them.
  r = c.get("/nothing", {{"Origin", "https://dash.example"}});
  EXPECT_EQ(r.header("Access-Control-Allow-Origin"), "https://dash.example");
}

TEST_F(ServerTest, ExpectContinueGetsInterimResponse) {
  make();
  router().add(Method::post, "/up", echo());
  start();
  RawConnection raw(port());
  ASSERT_TRUE(raw.send("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  auto interim = raw.read_until("\r\n\r\n", 3s);
  EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_TRUE(raw.send("hello"));
  auto got = raw.read_until("body=hello", 3s);
  EXPECT_NE(got.find("HTTP/1.1 200"), std::string::npos) << got;
}

TEST_F(ServerTest, BindsEphemeralPortAndRefusesSecondStart) {
  make();
  start();
  EXPECT_GT(port(), 1024);
  EXPECT_THROW(server_->start(), std::logic_error);
}

TEST_F(ServerTest, BindFailureThrows) {
  make();
  start();
  auto o = test_options();
  o.port = port();  // taken
  metrics::MetricsRegistry other_registry;
  Server other(o, other_registry);
  EXPECT_THROW(other.start(), std::exception);
}

TEST(ListenAddress, Parses) {
  auto a = parse_listen_address("127.0.0.1:8080");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->first, "127.0.0.1");
  EXPECT_EQ(a->second, 8080);
  a = parse_listen_address("[::1]:81");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->first, "::1");
  for (const char* bad : {"", "8080", ":8080", "localhost:80", "1.2.3.4:99999", "1.2.3.4:x", "[::1]80"}) {
    auto r = parse_listen_address(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.error().field, "http");
    }
  }
}

TEST_F(ServerTest, SealedBodiesAreSentWholeWithSendfileEvenToASlowReader) {
  // 8 MB of varied bytes (more than the largest socket send buffer Linux
  // grants by default, 4 MB: the server's socket fills), kept both in
  // memory and in a sealed memory file.
  std::string bytes(std::size_t{8} * 1024 * 1024, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    bytes[i] = static_cast<char>('a' + (i * 7919) % 26);
  }
  auto shared = std::make_shared<const std::string>(bytes);
  auto sealed = SealedBytes::make(bytes);
  ASSERT_NE(sealed, nullptr);
  EXPECT_EQ(sealed->size(), bytes.size());
  make();
  // The seals hold: nobody can change what is sent.
  EXPECT_LT(::write(sealed->fd(), "x", 1), 0);
  EXPECT_LT(::ftruncate(sealed->fd(), 10), 0);
  router().add(Method::get, "/big", [shared, sealed](const Request&) {
    return Response::shared(Status::ok, shared, "application/octet-stream", sealed);
  });
  router().add(Method::head, "/big", [shared, sealed](const Request&) {
    return Response::shared(Status::ok, shared, "application/octet-stream", sealed);
  });
  start();
  auto c = client(10s);
  for (int i = 0; i < 3; ++i) {  // keep-alive across sendfile responses
    auto r = c.get("/big");
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.header("Content-Length"), std::to_string(bytes.size()));
    EXPECT_TRUE(r.body == bytes) << "round " << i;
  }
  // A reader with a small receive buffer: the socket fills, the server waits
  // for it to drain and carries on from where it was.
  RawConnection slow(port(), 20s);
  slow.set_receive_buffer(64 * 1024);
  ASSERT_TRUE(slow.send("GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  const std::string raw = slow.read_until_close(20s);
  const auto split = raw.find("\r\n\r\n");
  ASSERT_NE(split, std::string::npos);
  EXPECT_TRUE(raw.substr(split + 4) == bytes);
  // HEAD: the header only.
  RawConnection head(port());
  ASSERT_TRUE(head.send("HEAD /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  const std::string h = head.read_until_close(5s);
  EXPECT_NE(h.find("Content-Length: " + std::to_string(bytes.size())), std::string::npos);
  EXPECT_EQ(h.size(), h.find("\r\n\r\n") + 4);
}

}  // namespace
}  // namespace cocktail::http

// The dashboard's routes over real loopback HTTP: the page at / and
// /dashboard/ rendered with versioned asset URLs and its Content-Security-
// Policy, the redirect, the config route with and without usage-api, and
// the settings refused.
#include "cocktail/read_service/dashboard.h"

#include <gtest/gtest.h>

#include <memory>

#include "cocktail/http/server.h"
#include "cocktail/metrics/registry.h"
#include "cocktail/testing/http_client.h"

namespace cocktail::read_service {
namespace {

const char* kIndex =
    "<!doctype html><link rel=\"stylesheet\" href=\"{{asset:style.css}}\">"
    "<script type=\"importmap\">{{importmap}}</script><script type=\"module\" "
    "src=\"{{asset:main.js}}\"></script>";

DashboardOptions options(std::string usage = "") {
  DashboardOptions o;
  o.files = {{"index.html", kIndex},
             {"main.js", "import './panels/a.js';\n"},
             {"panels/a.js", "export {};\n"},
             {"style.css", "body{}"}};
  o.usage_api_url = std::move(usage);
  return o;
}

class DashboardServer {
 public:
  explicit DashboardServer(DashboardOptions o) : dashboard_(std::move(o)) {
    http::ServerOptions so;
    so.port = 0;
    so.access_log = false;
    server_ = std::make_unique<http::Server>(so, registry_);
    dashboard_.register_routes(server_->router());
    server_->start();
  }
  ~DashboardServer() { server_->stop(); }
  testing::HttpClient client() { return testing::HttpClient(server_->port()); }
  const Dashboard& dashboard() const { return dashboard_; }

 private:
  metrics::MetricsRegistry registry_;
  Dashboard dashboard_;
  std::unique_ptr<http::Server> server_;
};

TEST(Dashboard, ServesThePageWithVersionedAssets) {
  DashboardServer s(options());
  auto c = s.client();
  const auto& assets = s.dashboard().assets();
  auto page = c.get("/");
  ASSERT_EQ(page.status, 200);
  EXPECT_EQ(page.header("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(page.header("Cache-Control"), "no-cache");
  EXPECT_EQ(page.body, s.dashboard().page());
  EXPECT_NE(page.body.find("href=\"" + assets.versioned_url("style.css") + "\""), std::string::npos);
  EXPECT_NE(page.body.find("src=\"" + assets.versioned_url("main.js") + "\""), std::string::npos);
  EXPECT_NE(
      page.body.find("\"/dashboard/assets/panels/a.js\":\"" + assets.versioned_url("panels/a.js") + "\""),
      std::string::npos);
  EXPECT_EQ(page.body.find("{{"), std::string::npos);
  // The policy allows the import map by hash and nothing from elsewhere.
  const std::string csp = page.header("Content-Security-Policy");
  EXPECT_NE(csp.find(http::csp_sha256_source(assets.import_map())), std::string::npos);
  EXPECT_NE(csp.find("connect-src 'self';"), std::string::npos);
  EXPECT_NE(csp.find("default-src 'self'"), std::string::npos);
  EXPECT_EQ(csp.find("unsafe"), std::string::npos);

  EXPECT_EQ(c.get("/dashboard/").body, page.body);
  EXPECT_EQ(c.get("/", {{"If-None-Match", page.header("ETag")}}).status, 304);
  auto redirect = c.get("/dashboard");
  EXPECT_EQ(redirect.status, 308);
  EXPECT_EQ(redirect.header("Location"), "/dashboard/");
  // index.html is the page, not an asset.
  EXPECT_EQ(c.get("/dashboard/assets/index.html").status, 404);
  EXPECT_EQ(c.get(assets.versioned_url("panels/a.js")).body, "export {};\n");

  auto config = c.get("/dashboard/config.json");
  EXPECT_EQ(config.status, 200);
  EXPECT_EQ(config.body,
            "{\"usage_api\":null,\"analytics_api\":\"/api/v1/analytics/\",\"stream\":\"/api/v1/analytics/"
            "stream\"}");
}

TEST(Dashboard, TellsThePageWhereUsageApiIs) {
  DashboardServer s(options("http://127.0.0.1:8083/"));
  auto c = s.client();
  auto config = c.get("/dashboard/config.json");
  EXPECT_NE(config.body.find("\"usage_api\":\"http://127.0.0.1:8083\""), std::string::npos) << config.body;
  EXPECT_NE(c.get("/").header("Content-Security-Policy").find("connect-src 'self' http://127.0.0.1:8083;"),
            std::string::npos);
}

TEST(Dashboard, RefusesBadSettings) {
  auto no_index = options();
  no_index.files.erase(no_index.files.begin());
  EXPECT_THROW(Dashboard{std::move(no_index)}, std::invalid_argument);
  auto unknown = options();
  unknown.files[0].bytes = "<script type=\"importmap\">{{importmap}}</script>{{asset:gone.js}}";
  EXPECT_THROW(Dashboard{std::move(unknown)}, std::out_of_range);
  auto no_map = options();
  no_map.files[0].bytes = "<p>{{asset:main.js}}</p>";
  EXPECT_THROW(Dashboard{std::move(no_map)}, std::invalid_argument);
  EXPECT_THROW(Dashboard{options("ftp://x")}, std::invalid_argument);
}

TEST(Dashboard, UsageApiUrl) {
  EXPECT_EQ(*parse_usage_api_url("http://127.0.0.1:8083", "f"), "http://127.0.0.1:8083");
  EXPECT_EQ(*parse_usage_api_url("https://usage.example.org/", "f"), "https://usage.example.org");
  EXPECT_EQ(*parse_usage_api_url("http://[::1]:8083", "f"), "http://[::1]:8083");
  for (const char* bad :
       {"", "127.0.0.1:8083", "http://", "http://h:0", "http://h:99999", "http://h:x", "http://h/path",
        "http://u:p@h", "http://h?q=1", "javascript:alert(1)", "http://h'; script-src *"}) {
    auto r = parse_usage_api_url(bad, "--usage-api-url");
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.error().field, "--usage-api-url");
    }
  }
}

}  // namespace
}  // namespace cocktail::read_service

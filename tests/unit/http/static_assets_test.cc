// StaticAssets over real loopback HTTP: versioned and plain URLs, caching
// headers, ETag revalidation, gzip, the import map and templates, bad paths.
#include "cocktail/http/static_assets.h"

#include <string>

#include "server_fixture.h"

namespace cocktail::http {
namespace {

std::string big_js() {
  std::string s;
  for (int i = 0; i < 400; ++i) {
    s += "export const value" + std::to_string(i) + " = " + std::to_string(i) + ";\n";
  }
  return s;
}

std::vector<AssetFile> files() {
  return {{"main.js", big_js()}, {"panels/usage.js", "export const x = 1;\n"}, {"style.css", "body{}"}};
}

TEST(StaticAssetsNames, VersionedUrlsCarryTheContentHash) {
  StaticAssets assets(files(), "/app/");
  const auto* main = assets.find("main.js");
  ASSERT_NE(main, nullptr);
  EXPECT_EQ(main->hash, content_hash(big_js(), StaticAssets::kHashDigits));
  EXPECT_EQ(main->hash.size(), 12u);
  EXPECT_EQ(main->url, "/app/main.js");
  EXPECT_EQ(main->versioned_url, "/app/main." + main->hash + ".js");
  EXPECT_EQ(assets.versioned_url("panels/usage.js"),
            "/app/panels/usage." + content_hash("export const x = 1;\n", 12) + ".js");
  EXPECT_THROW(assets.versioned_url("nope.js"), std::out_of_range);
  // Different bytes, different URL; same bytes, same URL.
  StaticAssets changed({{"main.js", big_js() + "//"}}, "/app/");
  EXPECT_NE(changed.versioned_url("main.js"), main->versioned_url);
  StaticAssets same({{"main.js", big_js()}}, "/app/");
  EXPECT_EQ(same.versioned_url("main.js"), main->versioned_url);
}

TEST(StaticAssetsNames, ContentTypes) {
  EXPECT_EQ(content_type_for("a/b.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(content_type_for("x.css"), "text/css; charset=utf-8");
  EXPECT_EQ(content_type_for("x.html"), "text/html; charset=utf-8");
  EXPECT_EQ(content_type_for("x.svg"), "image/svg+xml");
  EXPECT_EQ(content_type_for("LICENSE"), "application/octet-stream");
}

TEST(StaticAssetsNames, RefusesUnsafeOrDuplicatePaths) {
  for (const char* bad : {"", "/abs.js", "a/../b.js", "./a.js", "a//b.js", "a b.js", "a%2e.js", "a/"}) {
    EXPECT_THROW(StaticAssets({{bad, "x"}}, "/app/"), std::invalid_argument) << bad;
  }
  EXPECT_THROW(StaticAssets({{"a.js", "x"}, {"a.js", "y"}}, "/app/"), std::invalid_argument);
  EXPECT_THROW(StaticAssets({{"a.js", "x"}}, "app/"), std::invalid_argument);
  EXPECT_THROW(StaticAssets({{"a.js", "x"}}, "/app"), std::invalid_argument);
}

TEST(StaticAssetsNames, ImportMapAndTemplate) {
  StaticAssets assets(files(), "/app/");
  const std::string map = assets.import_map();
  EXPECT_EQ(map, "{\"imports\":{\"/app/main.js\":\"" + assets.versioned_url("main.js") +
                     "\",\"/app/panels/usage.js\":\"" + assets.versioned_url("panels/usage.js") + "\"}}");
  EXPECT_EQ(
      assets.render("<link href=\"{{asset:style.css}}\"><script type=\"importmap\">{{importmap}}</script>"),
      "<link href=\"" + assets.versioned_url("style.css") + "\"><script type=\"importmap\">" + map +
          "</script>");
  EXPECT_THROW(assets.render("{{asset:missing.css}}"), std::out_of_range);
  EXPECT_THROW(assets.render("{{other}}"), std::invalid_argument);
  EXPECT_THROW(assets.render("{{asset:style.css"), std::invalid_argument);
  EXPECT_EQ(assets.render("no placeholders"), "no placeholders");
}

TEST(StaticAssetsNames, CspHashSource) {
  // echo -n 'alert(1)' | openssl dgst -sha256 -binary | base64
  EXPECT_EQ(csp_sha256_source("alert(1)"), "'sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI='");
}

TEST_F(ServerTest, ServesPlainAndVersionedUrls) {
  make();
  StaticAssets assets(files(), "/app/");
  assets.register_routes(router());
  start();
  auto c = client();
  const auto* main = assets.find("main.js");

  auto plain = c.get("/app/main.js");
  EXPECT_EQ(plain.status, 200);
  EXPECT_EQ(plain.body, big_js());
  EXPECT_EQ(plain.header("Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(plain.header("Cache-Control"), "no-cache");
  EXPECT_EQ(plain.header("ETag"), "\"" + main->hash + "\"");
  EXPECT_EQ(plain.header("X-Content-Type-Options"), "nosniff");

  auto versioned = c.get(main->versioned_url);
  EXPECT_EQ(versioned.status, 200);
  EXPECT_EQ(versioned.body, big_js());
  EXPECT_EQ(versioned.header("Cache-Control"), "public, max-age=31536000, immutable");

  // Revalidation: either coding's tag gives 304 without a body.
  auto again = c.get("/app/main.js", {{"If-None-Match", plain.header("ETag")}});
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
  auto gz = c.get(main->versioned_url, {{"Accept-Encoding", "gzip, br"}});
  EXPECT_EQ(gz.status, 200);
  EXPECT_EQ(gz.header("Content-Encoding"), "gzip");
  EXPECT_EQ(gz.header("Vary"), "Accept-Encoding");
  EXPECT_EQ(gz.header("ETag"), "\"" + main->hash + "-gz\"");
  EXPECT_LT(gz.body.size(), big_js().size() / 3);
  EXPECT_EQ(gzip_decompress(gz.body), big_js());
  EXPECT_EQ(c.get("/app/main.js", {{"If-None-Match", gz.header("ETag")}}).status, 304);

  // Small files are sent as they are; a subdirectory works; a stale hash does not.
  auto usage = c.get(assets.versioned_url("panels/usage.js"), {{"Accept-Encoding", "gzip"}});
  EXPECT_EQ(usage.status, 200);
  EXPECT_FALSE(usage.has_header("Content-Encoding"));
  EXPECT_EQ(c.get("/app/main.000000000000.js").status, 404);
  EXPECT_EQ(c.get("/app/missing.js").status, 404);
  EXPECT_EQ(c.get("/app/../main.js").status, 404);
  EXPECT_EQ(c.request("HEAD", "/app/main.js").status, 200);
  EXPECT_EQ(c.request("POST", "/app/main.js", "x").status, 405);
}

TEST_F(ServerTest, TrailingSlashIsItsOwnRoute) {
  make();
  router().add(Method::get, "/dashboard/",
               SyncHandler([](const Request&) { return Response::text(Status::ok, "slash"); }));
  router().add(Method::get, "/",
               SyncHandler([](const Request&) { return Response::text(Status::ok, "root"); }));
  EXPECT_THROW(router().add(Method::get, "/a//b", SyncHandler([](const Request&) { return Response(); })),
               std::invalid_argument);
  start();
  auto c = client();
  EXPECT_EQ(c.get("/dashboard/").body, "slash");
  EXPECT_EQ(c.get("/").body, "root");
  EXPECT_EQ(c.get("/dashboard").status, 404);
}

}  // namespace
}  // namespace cocktail::http

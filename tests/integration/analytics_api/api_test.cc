// analytics-api over real HTTP on loopback, against generations written by
// the engine: every route, drill-downs, conditional requests and gzip,
// read-your-writes, the event stream, integrity, the live fallback.
#include <simdjson.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "api_fixture.h"
#include "cocktail/analytics/npy.h"
#include "cocktail/core/utf8.h"
#include "cocktail/read_service/representation.h"
#include "cocktail/testing/wait.h"

namespace cocktail::read_service {
namespace {

using namespace std::chrono_literals;
using testing::HttpClient;
using testing::HttpResponse;

constexpr const char* kApi = "/api/v1/analytics/";

std::string disk(read_test::Engine& e, std::int64_t generation, const std::string& name) {
  return testing::read_file(e.store().generation_dir(generation) / name);
}

TEST_F(AnalyticsApiTest, EveryAnalyticIsServedAsTheEngineWroteIt) {
  const auto gen = engine_.regenerate();
  start();
  auto c = client();
  for (const std::string type :
       {"ingredient-usage", "ingredient-usage-all", "recipe-complexity", "ingredient-tree", "cocktail-space",
        "cocktail-space-em", "recipe-similar"}) {
    HttpResponse r = c.get(kApi + type);
    ASSERT_EQ(r.status, 200) << type << " " << r.body;
    EXPECT_EQ(r.body, disk(engine_, gen.generation, type + ".json")) << type;
    EXPECT_EQ(r.header("Content-Type"), "application/json");
    EXPECT_EQ(header_int(r, "X-Analytics-Generation"), gen.generation);
    EXPECT_EQ(header_int(r, "X-Catalog-Seq"), gen.catalog_seq);
    EXPECT_EQ(r.header("Cache-Control"), "no-cache");
    const std::string sha = gen.manifest.files.at(type + ".json").sha256;
    EXPECT_EQ(r.header("ETag"), "\"g" + std::to_string(gen.generation) + "-" + sha.substr(0, 16) + "\"");
    EXPECT_EQ(snapshot::sha256_hex(r.body), sha);
  }
  // The .npy and its row ids.
  HttpResponse npy = c.get(std::string(kApi) + "recipe-distances-em/download");
  ASSERT_EQ(npy.status, 200);
  EXPECT_EQ(npy.body, disk(engine_, gen.generation, "recipe-distances-em.npy"));
  EXPECT_EQ(npy.header("Content-Type"), "application/octet-stream");
  EXPECT_NE(npy.header("Content-Disposition").find("attachment"), std::string::npos);
  EXPECT_NE(npy.header("Link").find("recipe-distances-em/ids?generation=" + std::to_string(gen.generation)),
            std::string::npos);
  HttpResponse ids =
      c.get(std::string(kApi) + "recipe-distances-em/ids?generation=" + std::to_string(gen.generation));
  ASSERT_EQ(ids.status, 200);
  simdjson::dom::parser p;
  simdjson::dom::element doc = p.parse(ids.body);
  const auto n = doc["data"]["recipe_ids"].get_array().size();
  EXPECT_EQ(npy.body.size() % 4, 0u);
  EXPECT_GE(npy.body.size(), n * n * 4);
  EXPECT_EQ(doc["metadata"]["generation"].get_int64().value(), gen.generation);
  EXPECT_EQ(c.get(std::string(kApi) + "recipe-distances-em/download?generation=999").status, 409);

  // The learned ingredient costs, the same way: m×m float32, ids beside.
  const std::string g = std::to_string(gen.generation);
  HttpResponse costs = c.get(std::string(kApi) + "ingredient-distances-em/download");
  ASSERT_EQ(costs.status, 200) << costs.body;
  EXPECT_EQ(costs.body, disk(engine_, gen.generation, "ingredient-distances-em.npy"));
  EXPECT_EQ(costs.header("Content-Type"), "application/octet-stream");
  EXPECT_EQ(costs.header("Content-Disposition"),
            "attachment; filename=\"ingredient-distances-em-g" + g + ".npy\"");
  EXPECT_EQ(costs.header("Link"),
            "</api/v1/analytics/ingredient-distances-em/ids?generation=" + g + ">; rel=\"describedby\"");
  const auto costs_header = analytics::parse_npy_header(costs.body);
  ASSERT_TRUE(costs_header.ok()) << costs_header.error().message;
  HttpResponse costs_ids = c.get(std::string(kApi) + "ingredient-distances-em/ids?generation=" + g);
  ASSERT_EQ(costs_ids.status, 200);
  simdjson::dom::parser p2;
  simdjson::dom::element costs_doc = p2.parse(costs_ids.body);
  const auto m = costs_doc["data"]["ingredient_ids"].get_array().size();
  EXPECT_EQ(costs_header->shape, (std::vector<std::size_t>{m, m}));
  EXPECT_EQ(costs_doc["metadata"]["analytics_type"].get_string().value(), "ingredient-distances-em-ids");
  EXPECT_EQ(c.get(std::string(kApi) + "ingredient-distances-em/ids?generation=999").status, 409);

  // HEAD: the length without the body.
  HttpResponse head = c.head(std::string(kApi) + "recipe-complexity");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("Content-Length"),
            std::to_string(disk(engine_, gen.generation, "recipe-complexity.json").size()));
  EXPECT_TRUE(head.body.empty());
}

TEST_F(AnalyticsApiTest, AKnownTypeTheGenerationDoesNotHoldYetIs503WithRetryAfter) {
  // The exact analytics only: the generation the fast lane publishes first,
  // before the cocktail space has been computed.
  read_test::Engine exact_only(read_test::CatalogSpec{}, /*with_space=*/false);
  exact_only.regenerate();
  auto o = options();
  o.analytics_path = exact_only.analytics_path();
  start(o);
  auto c = client();
  for (const char* path :
       {"cocktail-space", "cocktail-space-em", "recipe-similar", "recipe-similar?recipe_id=1",
        "recipe-similar?recipe_id=1&limit=3", "recipe-distances-em/download", "recipe-distances-em/ids",
        "ingredient-distances-em/download", "ingredient-distances-em/ids"}) {
    HttpResponse missing = c.get(std::string(kApi) + path);
    EXPECT_EQ(missing.status, 503) << path;
    EXPECT_EQ(missing.header("Retry-After"), "1") << path;
    EXPECT_EQ(missing.header("Cache-Control"), "no-store") << path;
    EXPECT_EQ(header_int(missing, "X-Analytics-Generation"), 1) << path;
    simdjson::dom::parser p;
    simdjson::dom::element doc;
    ASSERT_EQ(p.parse(missing.body).get(doc), simdjson::SUCCESS) << missing.body;
    EXPECT_EQ(doc["error"]["code"].get_string().value(), "unavailable") << path;
    EXPECT_NE(std::string(doc["error"]["message"].get_string().value()).find("not in generation 1 yet"),
              std::string::npos)
        << missing.body;
    EXPECT_EQ(doc["error"]["details"]["generation"].get_int64().value(), 1) << path;
    EXPECT_EQ(doc["error"]["details"]["retry_after_seconds"].get_int64().value(), 1) << path;
  }
  HttpResponse missing = c.get(std::string(kApi) + "cocktail-space");
  EXPECT_NE(missing.body.find("\"known_types\""), std::string::npos);
  EXPECT_NE(missing.body.find("\"available_types\":[\"ingredient-tree\""), std::string::npos) << missing.body;
  // A type that does not exist at all stays 404.
  for (const char* path : {"cocktail-spaces", "recipe-distances", "nope"}) {
    HttpResponse unknown = c.get(std::string(kApi) + path);
    EXPECT_EQ(unknown.status, 404) << path;
    EXPECT_TRUE(unknown.header("Retry-After").empty()) << path;
    EXPECT_NE(unknown.body.find("unknown analytics type"), std::string::npos) << unknown.body;
  }
  EXPECT_EQ(c.get(std::string(kApi) + "ingredient-usage").status, 200);
}

TEST_F(AnalyticsApiTest, AMatrixLeftOutForItsSizeIs404) {
  // The cocktail space computed, its matrices over their size limits: they
  // will not come with the next generation either.
  read_test::Engine no_matrices(read_test::CatalogSpec{}, /*with_space=*/true, /*with_matrices=*/false);
  no_matrices.regenerate();
  auto o = options();
  o.analytics_path = no_matrices.analytics_path();
  start(o);
  auto c = client();
  EXPECT_EQ(c.get(std::string(kApi) + "cocktail-space-em").status, 200);
  for (const char* path : {"recipe-distances-em/download", "recipe-distances-em/ids",
                           "ingredient-distances-em/download", "ingredient-distances-em/ids"}) {
    HttpResponse missing = c.get(std::string(kApi) + path);
    EXPECT_EQ(missing.status, 404) << path;
    EXPECT_TRUE(missing.header("Retry-After").empty()) << path;
    EXPECT_NE(missing.body.find("left out"), std::string::npos) << missing.body;
  }
}

TEST_F(AnalyticsApiTest, StatusStorageHealthAndMetrics) {
  const auto gen = engine_.regenerate();
  start();
  auto c = client();
  HttpResponse s = c.get(std::string(kApi) + "status");
  ASSERT_EQ(s.status, 200);
  simdjson::dom::parser p;
  simdjson::dom::element d = p.parse(s.body)["data"];
  EXPECT_EQ(d["generation"].get_int64().value(), gen.generation);
  EXPECT_EQ(d["catalog_seq"].get_int64().value(), gen.catalog_seq);
  EXPECT_EQ(d["source"].get_string().value(), "snapshot");
  EXPECT_GE(d["age_seconds"].get_double().value(), 0.0);
  for (const auto& [name, entry] : gen.manifest.files) {
    std::string type = name.substr(0, name.rfind(".json") == name.size() - 5 ? name.size() - 5 : name.size());
    auto f = d["files"][type];
    ASSERT_FALSE(f.error()) << type;
    EXPECT_EQ(f["sha256"].get_string().value(), entry.sha256);
    EXPECT_EQ(f["bytes"].get_int64().value(), entry.bytes);
  }

  HttpResponse m = c.get("/api/v1/storage/metrics");
  ASSERT_EQ(m.status, 200);
  simdjson::dom::element sm = p.parse(m.body)["data"];
  EXPECT_EQ(sm["generation_count"].get_int64().value(), 1);
  EXPECT_EQ(sm["current_generation"].get_int64().value(), gen.generation);
  // The generation's files and its manifest.
  EXPECT_EQ(sm["file_count"].get_int64().value(), static_cast<std::int64_t>(gen.manifest.files.size()) + 1);
  EXPECT_GT(sm["used_bytes"].get_int64().value(), 0);
  EXPECT_GT(sm["filesystem"]["total_bytes"].get_int64().value(), 0);
  EXPECT_GT(sm["filesystem"]["available_bytes"].get_int64().value(), 0);

  HttpResponse h = c.get("/health");
  EXPECT_EQ(h.status, 200);
  EXPECT_NE(h.body.find("\"generation\":" + std::to_string(gen.generation)), std::string::npos);

  c.get(std::string(kApi) + "recipe-complexity");
  const std::string text = c.get("/metrics").body;
  for (const char* name : {"cocktail_http_requests_total", "cocktail_http_request_duration_seconds",
                           "cocktail_snapshot_generation ", "cocktail_snapshot_catalog_seq ",
                           "cocktail_snapshot_staleness_seconds", "cocktail_snapshot_age_seconds",
                           "cocktail_snapshot_verification_failures_total 0",
                           "cocktail_events_received_total", "cocktail_events_malformed_total"}) {
    EXPECT_NE(text.find(name), std::string::npos) << name;
  }
  EXPECT_NE(text.find("route=\"/api/v1/analytics/recipe-complexity\""), std::string::npos);
}

TEST_F(AnalyticsApiTest, NotModifiedAndGzip) {
  engine_.regenerate();
  start();
  auto c = client();
  const std::string url = std::string(kApi) + "ingredient-usage-all";
  HttpResponse plain = c.get(url);
  ASSERT_EQ(plain.status, 200);
  const std::string etag = plain.header("ETag");
  EXPECT_EQ(plain.header("Vary"), "Accept-Encoding");

  HttpResponse again = c.get(url, {{"If-None-Match", etag}});
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
  EXPECT_EQ(again.header("ETag"), etag);
  EXPECT_EQ(c.get(url, {{"If-None-Match", "\"other\", " + etag}}).status, 304);
  EXPECT_EQ(c.get(url, {{"If-None-Match", "W/" + etag}}).status, 304);
  EXPECT_EQ(c.get(url, {{"If-None-Match", "*"}}).status, 304);
  EXPECT_EQ(c.get(url, {{"If-None-Match", "\"g0-stale\""}}).status, 200);

  HttpResponse gz = c.get(url, {{"Accept-Encoding", "gzip, deflate, br"}});
  ASSERT_EQ(gz.status, 200);
  EXPECT_EQ(gz.header("Content-Encoding"), "gzip");
  EXPECT_LT(gz.body.size(), plain.body.size());
  EXPECT_EQ(gzip_decompress(gz.body), plain.body);
  EXPECT_NE(gz.header("ETag"), etag);
  EXPECT_EQ(c.get(url, {{"Accept-Encoding", "gzip"}, {"If-None-Match", gz.header("ETag")}}).status, 304);
  // q=0 refuses gzip; an identity-only client never gets it.
  EXPECT_TRUE(c.get(url, {{"Accept-Encoding", "gzip;q=0, identity"}}).header("Content-Encoding").empty());
  EXPECT_EQ(c.get(url, {{"Accept-Encoding", "*"}}).header("Content-Encoding"), "gzip");

  // Drill-down views are pre-compressed too, and revalidate the same way.
  const std::string drill = std::string(kApi) + "ingredient-usage?level=1";
  HttpResponse dv = c.get(drill, {{"Accept-Encoding", "gzip"}});
  ASSERT_EQ(dv.status, 200);
  const std::string body = dv.header("Content-Encoding") == "gzip" ? gzip_decompress(dv.body) : dv.body;
  EXPECT_EQ(body, c.get(drill).body);
  EXPECT_EQ(c.get(drill, {{"If-None-Match", dv.header("ETag")}}).status, 304);

  // A new generation changes the tag: the old one no longer matches.
  publish_change();
  EXPECT_EQ(c.get(url, {{"If-None-Match", etag}}).status, 200);
}

TEST_F(AnalyticsApiTest, DrillDownsOverHttpAgreeWithIngredientUsageAll) {
  const auto gen = engine_.regenerate();
  start();
  auto c = client();
  simdjson::dom::parser p;
  const std::string all_body = c.get(std::string(kApi) + "ingredient-usage-all").body;
  simdjson::dom::element all = p.parse(all_body);
  std::vector<std::pair<std::int64_t, std::optional<std::int64_t>>> rows;
  for (auto r : all["data"].get_array()) {
    std::optional<std::int64_t> parent;
    if (!r["parent_id"].is_null()) {
      parent = r["parent_id"].get_int64().value();
    }
    rows.emplace_back(r["ingredient_id"].get_int64().value(), parent);
  }
  int parents = 0;
  for (const auto& [id, unused] : rows) {
    std::vector<std::int64_t> want;
    for (const auto& [cid, parent] : rows) {
      if (parent == id) {
        want.push_back(cid);
      }
    }
    HttpResponse r = c.get(std::string(kApi) + "ingredient-usage?parent_id=" + std::to_string(id));
    ASSERT_EQ(r.status, 200) << r.body;
    simdjson::dom::parser q;
    simdjson::dom::element doc = q.parse(r.body);
    std::vector<std::int64_t> got;
    for (auto row : doc["data"].get_array()) {
      got.push_back(row["ingredient_id"].get_int64().value());
    }
    EXPECT_EQ(got, want) << "parent_id=" << id;
    EXPECT_EQ(doc["metadata"]["generation"].get_int64().value(), gen.generation);
    EXPECT_EQ(doc["metadata"]["parent_id"].get_int64().value(), id);
    parents += want.empty() ? 0 : 1;
  }
  EXPECT_GT(parents, 3);
  // The root view without parameters is the stored file; with level=0 the same rows from the index.
  simdjson::dom::parser q1, q2;
  auto root = q1.parse(c.get(std::string(kApi) + "ingredient-usage").body)["data"];
  auto level0 = q2.parse(c.get(std::string(kApi) + "ingredient-usage?level=0").body)["data"];
  EXPECT_EQ(simdjson::minify(root), simdjson::minify(level0));
  // An unknown parent is a 404 naming the field.
  HttpResponse unknown = c.get(std::string(kApi) + "ingredient-usage?parent_id=999999");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_NE(unknown.body.find("\"field\":\"parent_id\""), std::string::npos);
}

TEST_F(AnalyticsApiTest, RecipeSimilarWithLimits) {
  engine_.regenerate();
  start();
  auto c = client();
  simdjson::dom::parser p;
  const std::string file = c.get(std::string(kApi) + "recipe-similar").body;
  simdjson::dom::element first = p.parse(file)["data"].at(0);
  const std::int64_t id = first["recipe_id"].get_int64();
  auto count = [&](const std::string& query) {
    HttpResponse r = c.get(std::string(kApi) + "recipe-similar?" + query);
    EXPECT_EQ(r.status, 200) << query << " " << r.body;
    simdjson::dom::parser q;
    simdjson::dom::element doc = q.parse(r.body);
    // What older front ends read, at the top level, nearest first; the same under data.
    EXPECT_EQ(doc["recipe_id"].get_int64().value(), id);
    EXPECT_EQ(doc["recipe_name"].get_string().value(), first["recipe_name"].get_string().value());
    EXPECT_EQ(simdjson::minify(doc["neighbors"].value()), simdjson::minify(doc["data"]["neighbors"].value()));
    double previous = 0.0;
    for (simdjson::dom::element n : doc["neighbors"].get_array()) {
      EXPECT_GE(n["distance"].get_double().value(), previous);
      previous = n["distance"].get_double().value();
    }
    EXPECT_EQ(doc["metadata"]["analytics_type"].get_string().value(), "recipe-similar");
    return doc["neighbors"].get_array().size();
  };
  EXPECT_EQ(count("recipe_id=" + std::to_string(id)), 5u);
  EXPECT_EQ(count("recipe_id=" + std::to_string(id) + "&limit=1"), 1u);
  EXPECT_EQ(count("recipe_id=" + std::to_string(id) + "&limit=20"),
            std::min<std::size_t>(20, first["neighbors"].get_array().size()));
  // Up to the neighbours stored per recipe (20 by default), no further.
  HttpResponse over =
      c.get(std::string(kApi) + "recipe-similar?recipe_id=" + std::to_string(id) + "&limit=21");
  EXPECT_NE(over.body.find("at most 20"), std::string::npos) << over.body;
  for (const char* bad : {"limit=0", "limit=21", "limit=abc", "limit=-1", "limit=5.5"}) {
    HttpResponse r = c.get(std::string(kApi) + "recipe-similar?recipe_id=" + std::to_string(id) + "&" + bad);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_NE(r.body.find("\"field\":\"limit\""), std::string::npos) << r.body;
  }
  for (const char* bad : {"recipe_id=abc", "recipe_id=-3", "recipe_id=0", "recipe_id=", "recipe_id=1e3",
                          "recipe_id=99999999999999999999999"}) {
    HttpResponse r = c.get(std::string(kApi) + "recipe-similar?" + bad);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_NE(r.body.find("\"field\":\"recipe_id\""), std::string::npos) << r.body;
  }
  EXPECT_EQ(c.get(std::string(kApi) + "recipe-similar?recipe_id=987654").status, 404);
  EXPECT_EQ(c.get(std::string(kApi) + "recipe-similar?limit=3").status, 400);
}

TEST_F(AnalyticsApiTest, BadInputGetsAClearErrorAndTouchesNothing) {
  engine_.regenerate();
  start();
  auto c = client();
  for (const char* q :
       {"parent_id=abc", "parent_id=-1", "parent_id=1.5", "parent_id=%41", "parent_id=1&level=x", "level=-1",
        "level=1001", "min_seq=abc", "min_seq=-4", "wait_ms=10001&min_seq=1", "wait_ms=-1&min_seq=1"}) {
    HttpResponse r = c.get(std::string(kApi) + "ingredient-usage?" + q);
    EXPECT_EQ(r.status, 400) << q << " " << r.body;
    EXPECT_NE(r.body.find("\"code\":\"invalid_argument\""), std::string::npos) << r.body;
  }
  EXPECT_EQ(c.get(std::string(kApi) + "ingredient-usage", {{"X-Min-Catalog-Seq", "x"}}).status, 400);
  EXPECT_EQ(c.get(std::string(kApi) + "ingredient-usage?parent_id=%zz").status, 400);

  // Unknown types and traversal attempts are 404s, never a file read.
  for (const char* path : {"nope", "..%2F..%2Fv1%2FCURRENT", "..%2fmanifest.json", "manifest", "%2e%2e",
                           "CURRENT", "ingredient-usage.json", "recipe-distances-em.npy"}) {
    HttpResponse r = c.get(std::string(kApi) + path);
    EXPECT_EQ(r.status, 404) << path << " " << r.body;
    EXPECT_NE(r.body.find("\"known_types\""), std::string::npos) << path;
  }
  EXPECT_EQ(c.get("/api/v1/analytics/../../etc/passwd").status, 404);
  EXPECT_EQ(c.get("/api/v1/analytics/recipe-distances-em/download/../../x").status, 404);
  EXPECT_EQ(c.request("POST", std::string(kApi) + "recipe-complexity", "{}").status, 405);

  // A huge query string: refused before any handler runs.
  EXPECT_EQ(c.get(std::string(kApi) + "ingredient-usage?parent_id=1&x=" + std::string(8000, 'a')).status,
            414);
  // Nothing of that changed what is served.
  EXPECT_EQ(c.get(std::string(kApi) + "ingredient-usage").status, 200);
}

TEST_F(AnalyticsApiTest, ErrorBodiesAreValidUtf8JsonWhateverThePathHolds) {
  engine_.regenerate();
  start();
  auto c = client();
  std::string long_name;
  for (int i = 0; i < 30; ++i) {
    long_name += "%E6%97%A5";  // 30 x U+65E5: 90 bytes, echoed cut to 64
  }
  for (const std::string& type :
       {std::string("%ff%fe"), std::string("%C3"), long_name, std::string("a%80b")}) {
    HttpResponse r = c.get(std::string(kApi) + type);
    EXPECT_EQ(r.status, 404) << type;
    EXPECT_TRUE(core::utf8::valid(r.body)) << type << ": " << r.body;
    simdjson::dom::parser parser;  // validates UTF-8 as it parses
    auto doc = parser.parse(r.body);
    EXPECT_FALSE(doc.error()) << type << ": " << r.body;
  }
  // Cut at 64 bytes, between characters: 21 whole ones (63 bytes).
  std::string echoed;
  for (int i = 0; i < 21; ++i) {
    echoed += "日";
  }
  HttpResponse r = c.get(std::string(kApi) + long_name);
  EXPECT_NE(r.body.find("\"analytics_type\":\"" + echoed + "\""), std::string::npos) << r.body;
}

TEST_F(AnalyticsApiTest, ReadersSeeOnlyWholeGenerationsWhile100AreSwappedIn) {
  // The exact analytics only: the point is the swaps, a hundred of them.
  read_test::Engine fast(read_test::CatalogSpec{}, /*with_space=*/false);
  fast.regenerate();
  auto o = options();
  o.analytics_path = fast.analytics_path();
  o.check_interval = std::chrono::milliseconds(5);  // the refresh thread follows CURRENT by itself
  start(o);

  struct Seen {
    std::int64_t generation;
    std::string file;
    std::string sha;
  };
  std::mutex mu;
  std::vector<Seen> seen;
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  auto reader = [&](const std::vector<std::string>& types) {
    HttpClient c(port(), 5s);
    std::vector<Seen> mine;
    while (!done.load()) {
      for (const auto& t : types) {
        HttpResponse r =
            c.get(kApi + t, t == "ingredient-tree" ? testing::Headers{{"Accept-Encoding", "gzip"}}
                                                   : testing::Headers{});
        if (r.status != 200) {
          failures++;
          continue;
        }
        const std::string body = r.header("Content-Encoding") == "gzip" ? gzip_decompress(r.body) : r.body;
        mine.push_back({header_int(r, "X-Analytics-Generation"), t + ".json", snapshot::sha256_hex(body)});
      }
    }
    std::lock_guard<std::mutex> lock(mu);
    seen.insert(seen.end(), mine.begin(), mine.end());
  };
  std::thread r1(reader, std::vector<std::string>{"ingredient-usage", "recipe-complexity"});
  std::thread r2(reader, std::vector<std::string>{"ingredient-tree", "ingredient-usage-all"});

  std::map<std::int64_t, snapshot::Manifest> manifests;
  for (int i = 0; i < 100; ++i) {
    auto s = fast.change_and_regenerate();
    manifests[s.generation] = s.manifest;
    service_->cache().request_refresh();
  }
  const auto last = manifests.rbegin()->first;
  EXPECT_TRUE(testing::wait_until([&] { return service_->cache().current()->generation() == last; }, 5s));
  done = true;
  r1.join();
  r2.join();

  EXPECT_EQ(failures.load(), 0);
  ASSERT_GT(seen.size(), 100u);
  std::set<std::int64_t> generations;
  for (const auto& s : seen) {
    generations.insert(s.generation);
    if (s.generation == 1) {
      continue;  // the first generation, written before the loop
    }
    auto m = manifests.find(s.generation);
    ASSERT_NE(m, manifests.end()) << s.generation;
    EXPECT_EQ(m->second.files.at(s.file).sha256, s.sha) << "generation " << s.generation << " " << s.file;
  }
  // The readers really saw the swaps.
  EXPECT_GT(generations.size(), 10u);
}

TEST_F(AnalyticsApiTest, ACorruptFileIsNotServedAndIsCounted) {
  const auto good = engine_.regenerate();
  start();
  auto c = client();
  const std::string before = c.get(std::string(kApi) + "recipe-complexity").body;

  const auto bad = engine_.change_and_regenerate();
  const auto path = engine_.store().generation_dir(bad.generation) / "recipe-complexity.json";
  std::string bytes = testing::read_file(path);
  bytes[bytes.size() / 2] ^= 1;
  testing::write_file(path, bytes);
  service_->cache().refresh();

  HttpResponse r = c.get(std::string(kApi) + "recipe-complexity");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, before);
  EXPECT_EQ(header_int(r, "X-Analytics-Generation"), good.generation);
  // The other files of the refused generation are not served either.
  EXPECT_EQ(header_int(c.get(std::string(kApi) + "ingredient-usage"), "X-Analytics-Generation"),
            good.generation);
  EXPECT_NE(c.get("/metrics").body.find("cocktail_snapshot_verification_failures_total 1"),
            std::string::npos);
  const std::string status = c.get(std::string(kApi) + "status").body;
  EXPECT_NE(status.find("\"verification_failures\":1"), std::string::npos) << status;
  EXPECT_NE(status.find("generations/" + std::to_string(bad.generation) + "/recipe-complexity.json"),
            std::string::npos)
      << status;
}

TEST_F(AnalyticsApiTest, MinSeqAnswersOnceALaterGenerationLands) {
  const auto first = engine_.regenerate();
  start();
  const std::int64_t want = first.catalog_seq + 1;

  // Already covered: answered at once.
  EXPECT_EQ(client()
                .get(std::string(kApi) + "recipe-complexity?min_seq=" + std::to_string(first.catalog_seq))
                .status,
            200);

  std::atomic<bool> answered{false};
  HttpResponse waited;
  auto t0 = std::chrono::steady_clock::now();
  std::thread waiter([&] {
    HttpClient c(port(), 15s);
    waited = c.get(std::string(kApi) + "ingredient-usage?level=1&min_seq=" + std::to_string(want) +
                   "&wait_ms=8000");
    answered = true;
  });
  ASSERT_TRUE(testing::wait_until([&] { return service_->waiters().waiting() == 1; }, 5s));
  EXPECT_FALSE(answered.load());
  const auto later = publish_change();
  waiter.join();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 6s);
  ASSERT_EQ(waited.status, 200) << waited.body;
  EXPECT_EQ(header_int(waited, "X-Analytics-Generation"), later.generation);
  EXPECT_GE(header_int(waited, "X-Catalog-Seq"), want);
  EXPECT_NE(waited.body.find("\"level\":1"), std::string::npos);

  // The header form.
  HttpResponse h = client().get(std::string(kApi) + "recipe-complexity",
                                {{"X-Min-Catalog-Seq", std::to_string(later.catalog_seq)}});
  EXPECT_EQ(h.status, 200);
}

TEST_F(AnalyticsApiTest, MinSeqGives503AfterWaitMsWhenNothingCoversIt) {
  const auto first = engine_.regenerate();
  start();
  auto c = client();
  const auto t0 = std::chrono::steady_clock::now();
  HttpResponse r =
      c.get(std::string(kApi) + "recipe-complexity?min_seq=" + std::to_string(first.catalog_seq + 100) +
            "&wait_ms=300");
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.status, 503);
  EXPECT_GE(took, 300ms);
  EXPECT_EQ(r.header("Retry-After"), "1");
  simdjson::dom::parser p;
  simdjson::dom::element e = p.parse(r.body)["error"];
  EXPECT_EQ(e["code"].get_string().value(), "unavailable");
  EXPECT_EQ(e["details"]["catalog_seq"].get_int64().value(), first.catalog_seq);
  EXPECT_EQ(e["details"]["min_seq"].get_int64().value(), first.catalog_seq + 100);
  // wait_ms=0: answered at once.
  EXPECT_EQ(c.get(std::string(kApi) +
                  "recipe-complexity?wait_ms=0&min_seq=" + std::to_string(first.catalog_seq + 1))
                .status,
            503);
  EXPECT_EQ(service_->waiters().waiting(), 0u);
}

TEST_F(AnalyticsApiTest, TheStreamAnnouncesASwapWithin100Ms) {
  engine_.regenerate();
  std::mutex mu;
  std::map<std::int64_t, std::chrono::steady_clock::time_point> swapped_at;
  start(options(), [&](ReadService& s) {
    s.cache().add_listener([&](const std::shared_ptr<const Generation>& g) {
      std::lock_guard<std::mutex> lock(mu);
      swapped_at[g->generation()] = std::chrono::steady_clock::now();
    });
  });
  testing::EventStreamClient stream(port(), std::string(kApi) + "stream");
  ASSERT_EQ(stream.status(), 200);
  EXPECT_NE(stream.headers().find("Content-Type")->second.find("text/event-stream"), std::string::npos);
  auto hello = stream.next(3s);
  ASSERT_TRUE(hello.has_value());
  EXPECT_EQ(hello->event, "generation");
  EXPECT_EQ(hello->id, "1");
  EXPECT_NE(hello->data.find("\"generation\":1"), std::string::npos);
  ASSERT_TRUE(testing::wait_until([&] { return service_->announcer().clients() == 1; }, 3s));

  for (int i = 0; i < 3; ++i) {
    const auto next = publish_change();
    auto ev = stream.next(3s);
    const auto arrived = std::chrono::steady_clock::now();
    ASSERT_TRUE(ev.has_value());
    EXPECT_EQ(ev->id, std::to_string(next.generation));
    EXPECT_NE(ev->data.find("\"catalog_seq\":" + std::to_string(next.catalog_seq)), std::string::npos)
        << ev->data;
    EXPECT_NE(ev->data.find("\"generated_at\":\""), std::string::npos);
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_LT(arrived - swapped_at.at(next.generation), 100ms);
  }
  stream.close();
  EXPECT_TRUE(testing::wait_until([&] { return service_->announcer().clients() == 0; }, 3s));
}

TEST_F(AnalyticsApiTest, LiveFallbackBeforeTheFirstSnapshot) {
  auto o = options();
  o.db_path = engine_.db_path();
  start(o);
  auto c = client();
  HttpResponse usage = c.get(std::string(kApi) + "ingredient-usage");
  ASSERT_EQ(usage.status, 200) << usage.body;
  EXPECT_EQ(usage.header("X-Analytics-Source"), "live");
  EXPECT_EQ(c.get("/health").status, 200);
  HttpResponse complexity = c.get(std::string(kApi) + "recipe-complexity");
  ASSERT_EQ(complexity.status, 200);
  HttpResponse drill = c.get(std::string(kApi) + "ingredient-usage?level=1");
  ASSERT_EQ(drill.status, 200);
  EXPECT_EQ(c.get(std::string(kApi) + "ingredient-usage?parent_id=424242").status, 404);
  // Everything else waits for a snapshot.
  HttpResponse tree = c.get(std::string(kApi) + "ingredient-tree");
  EXPECT_EQ(tree.status, 503);
  EXPECT_EQ(tree.header("Retry-After"), "1");
  EXPECT_EQ(c.get(std::string(kApi) + "recipe-similar?recipe_id=1").status, 503);
  EXPECT_EQ(c.get(std::string(kApi) + "recipe-distances-em/download").status, 503);

  // The live numbers are the engine's: once a snapshot lands, its data is identical.
  const auto gen = engine_.regenerate();
  service_->cache().refresh();
  simdjson::dom::parser a, b, d, e;
  HttpResponse snap = c.get(std::string(kApi) + "ingredient-usage");
  EXPECT_TRUE(snap.header("X-Analytics-Source").empty());
  EXPECT_EQ(header_int(snap, "X-Analytics-Generation"), gen.generation);
  EXPECT_EQ(simdjson::minify(a.parse(usage.body)["data"]), simdjson::minify(b.parse(snap.body)["data"]));
  EXPECT_EQ(simdjson::minify(d.parse(complexity.body)["data"]),
            simdjson::minify(e.parse(c.get(std::string(kApi) + "recipe-complexity").body)["data"]));
  simdjson::dom::parser f, g;
  EXPECT_EQ(simdjson::minify(f.parse(drill.body)["data"]),
            simdjson::minify(g.parse(c.get(std::string(kApi) + "ingredient-usage?level=1").body)["data"]));
}

TEST_F(AnalyticsApiTest, WithoutSnapshotOrCatalogEverythingIs503) {
  start();
  auto c = client();
  for (const char* path : {"ingredient-usage", "recipe-complexity", "ingredient-tree", "cocktail-space"}) {
    HttpResponse r = c.get(std::string(kApi) + path);
    EXPECT_EQ(r.status, 503) << path;
    EXPECT_EQ(r.header("Retry-After"), "1");
    EXPECT_NE(r.body.find("no analytics snapshot has been loaded yet"), std::string::npos);
  }
  EXPECT_EQ(c.get("/health").status, 503);
  EXPECT_EQ(c.get(std::string(kApi) + "status").status, 200);
  // A min_seq request waits for the first generation.
  std::thread later([&] {
    std::this_thread::sleep_for(100ms);
    engine_.regenerate();
    service_->cache().refresh();
  });
  HttpResponse r = c.get(std::string(kApi) + "ingredient-tree?min_seq=1&wait_ms=5000");
  later.join();
  EXPECT_EQ(r.status, 200);
}

TEST_F(AnalyticsApiTest, CorsForConfiguredOriginsKeepsVary) {
  engine_.regenerate();
  auto o = options();
  o.http.cors.allowed_origins = {"https://dash.example"};
  start(o);
  auto c = client();
  HttpResponse r = c.get(std::string(kApi) + "ingredient-usage-all", {{"Origin", "https://dash.example"}});
  EXPECT_EQ(r.header("Access-Control-Allow-Origin"), "https://dash.example");
  EXPECT_NE(r.header("Vary").find("Accept-Encoding"), std::string::npos) << r.header("Vary");
  EXPECT_NE(r.header("Vary").find("Origin"), std::string::npos);
  EXPECT_NE(r.header("Access-Control-Expose-Headers").find("X-Catalog-Seq"), std::string::npos);
  EXPECT_TRUE(c.get(std::string(kApi) + "ingredient-usage-all", {{"Origin", "https://evil.example"}})
                  .header("Access-Control-Allow-Origin")
                  .empty());
  HttpResponse pre = c.request("OPTIONS", std::string(kApi) + "ingredient-usage", "",
                               {{"Origin", "https://dash.example"},
                                {"Access-Control-Request-Method", "GET"},
                                {"Access-Control-Request-Headers", "X-Min-Catalog-Seq"}});
  EXPECT_EQ(pre.status, 204);
  EXPECT_NE(pre.header("Access-Control-Allow-Headers").find("X-Min-Catalog-Seq"), std::string::npos);
}

}  // namespace
}  // namespace cocktail::read_service

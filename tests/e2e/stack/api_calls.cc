#include "api_calls.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace cocktail::e2e {

using namespace std::chrono_literals;

rapidjson::Document parse_json(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str(), text.size());
  return d;
}

std::string json_string(const std::string& text) {
  rapidjson::StringBuffer out;
  rapidjson::Writer<rapidjson::StringBuffer> w(out);
  w.String(text.c_str(), static_cast<rapidjson::SizeType>(text.size()));
  return out.GetString();
}

Written write(testing::HttpClient& catalog, const Stack& stack, const std::string& method,
              const std::string& target, const std::string& body) {
  testing::Headers headers = stack.auth();
  if (!body.empty()) {
    headers.emplace_back("Content-Type", "application/json");
  }
  auto r = catalog.request(method, target, body, headers);
  Written w;
  w.status = r.status;
  w.raw = r.body;
  w.body = parse_json(r.body);
  if (const std::string h = r.header("X-Catalog-Seq"); !h.empty()) {
    w.header_seq = std::stoll(h);
  }
  if (!w.body.HasParseError() && w.body.IsObject()) {
    if (w.body.HasMember("catalog_seq") && w.body["catalog_seq"].IsInt64()) {
      w.catalog_seq = w.body["catalog_seq"].GetInt64();
    }
    if (w.body.HasMember("item") && w.body["item"].IsObject() && w.body["item"].HasMember("id")) {
      w.id = w.body["item"]["id"].GetInt64();
    } else if (w.body.HasMember("id") && w.body["id"].IsInt64()) {
      w.id = w.body["id"].GetInt64();
    }
  }
  return w;
}

std::int64_t acknowledged(const Written& w, int status, std::int64_t after) {
  EXPECT_EQ(w.status, status) << w.raw;
  EXPECT_EQ(w.catalog_seq, w.header_seq) << "body and X-Catalog-Seq disagree: " << w.raw;
  EXPECT_GT(w.catalog_seq, after) << "a write must commit a newer seq: " << w.raw;
  if (w.status != status || w.catalog_seq != w.header_seq || w.catalog_seq <= after) {
    return -1;
  }
  return w.catalog_seq;
}

rapidjson::Document read_analytics(testing::HttpClient& analytics, const std::string& path, std::int64_t seq,
                                   int* status) {
  const std::string target = path + (path.find('?') == std::string::npos ? "?" : "&") +
                             "min_seq=" + std::to_string(seq) + "&wait_ms=10000";
  auto r = analytics.get(target);
  if (status) {
    *status = r.status;
  }
  auto d = parse_json(r.body);
  EXPECT_EQ(r.status, 200) << "GET " << target << ": " << r.body;
  return d;
}

::testing::AssertionResult analytics_match_catalog(Stack& stack, CatalogFacts& facts,
                                                   AnalyticsFacts& analytics) {
  try {
    facts = read_catalog_facts(stack.db_path());
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "reading the catalog: " << e.what();
  }
  auto client = stack.client(Service::kAnalyticsApi);
  int status = 0;
  auto usage = read_analytics(client, "/api/v1/analytics/ingredient-usage-all", facts.latest_seq, &status);
  if (status != 200) {
    return ::testing::AssertionFailure() << "ingredient-usage-all: HTTP " << status;
  }
  if (auto problem = read_usage_all(usage, analytics)) {
    return ::testing::AssertionFailure() << *problem;
  }
  const std::int64_t usage_generation = analytics.generation;
  if (analytics.catalog_seq != facts.latest_seq || usage_generation <= 0) {
    return ::testing::AssertionFailure()
           << "ingredient-usage-all came from generation " << usage_generation << " at catalog_seq "
           << analytics.catalog_seq << ", the catalog is at " << facts.latest_seq;
  }
  auto complexity = read_analytics(client, "/api/v1/analytics/recipe-complexity", facts.latest_seq, &status);
  if (status != 200) {
    return ::testing::AssertionFailure() << "recipe-complexity: HTTP " << status;
  }
  if (auto problem = read_complexity(complexity, analytics)) {
    return ::testing::AssertionFailure() << *problem;
  }
  if (analytics.catalog_seq != facts.latest_seq || analytics.generation <= 0) {
    return ::testing::AssertionFailure()
           << "recipe-complexity came from generation " << analytics.generation << " at catalog_seq "
           << analytics.catalog_seq << ", the catalog is at " << facts.latest_seq;
  }
  std::string differences = compare_usage(facts.usage, analytics.usage);
  differences += compare_complexity(facts.complexity, analytics.complexity);
  if (!differences.empty()) {
    return ::testing::AssertionFailure()
           << "analytics at seq " << facts.latest_seq << " differ from the catalog:\n"
           << differences.substr(0, 4000);
  }
  return ::testing::AssertionSuccess();
}

}  // namespace cocktail::e2e

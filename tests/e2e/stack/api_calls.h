// The calls end-to-end tests make against a running Stack: writes through
// catalog-api that return the acknowledged catalog_seq, analytics reads with
// read-your-writes, and the comparison of the analytics with CatalogFacts.
// Free functions over a caller-owned HttpClient; no state of their own.
#pragma once

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "catalog_facts.h"
#include "cocktail/testing/http_client.h"
#include "stack.h"

namespace cocktail::e2e {

// Parses a JSON body; a document with HasParseError() when it is not JSON.
rapidjson::Document parse_json(const std::string& text);

// A string as a JSON string literal (quotes and escapes).
std::string json_string(const std::string& text);

// One catalog-api write and its answer.
struct Written {
  int status = 0;
  std::int64_t catalog_seq = -1;  // from the body; -1 when absent
  std::int64_t header_seq = -1;   // X-Catalog-Seq; -1 when absent
  std::int64_t id = -1;           // item.id of a create or update, id of a delete
  rapidjson::Document body;
  std::string raw;
};

// Sends `method target body` with the bearer token. HttpClientError passes
// through (a service that is down).
Written write(testing::HttpClient& catalog, const Stack& stack, const std::string& method,
              const std::string& target, const std::string& body = {});

// A write that must be acknowledged with `status`: the body's catalog_seq
// and the header agree and are above `after`. Returns the seq (-1 and a test
// failure otherwise).
std::int64_t acknowledged(const Written& w, int status, std::int64_t after);

// GET `path` from analytics-api with min_seq=`seq` (waiting up to 10 s for a
// generation that covers it); the parsed envelope, or a parse error.
rapidjson::Document read_analytics(testing::HttpClient& analytics, const std::string& path, std::int64_t seq,
                                   int* status = nullptr);

// Reads the catalog's facts and the analytics at min_seq = the catalog's
// latest seq, and checks that they agree exactly: every ingredient's usage
// row and the recipe-complexity histogram, from a snapshot generation whose
// catalog_seq is the catalog's (nothing else may write meanwhile).
// `analytics` receives what analytics-api said.
::testing::AssertionResult analytics_match_catalog(Stack& stack, CatalogFacts& facts,
                                                   AnalyticsFacts& analytics);

}  // namespace cocktail::e2e

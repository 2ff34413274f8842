// Dashboard: the analytics web page analytics-api serves (docs/dashboard.md).
//
//   GET /  and  GET /dashboard/     the page (index.html rendered once at start)
//   GET /dashboard                  308 to /dashboard/
//   GET /dashboard/config.json      what the page cannot know by itself: where usage-api is
//   GET /dashboard/assets/…         its scripts, styles and D3 (http::StaticAssets:
//                                   content-hashed URLs cached for a year, plain ones revalidated)
//
// The files come from the caller (analytics-api compiles
// services/analytics-api/web/ and Debian's D3 bundle into its binary), so the
// read service stays one self-contained program. The page reads only the
// public read API of the same origin; the one other origin it may talk to
// is the usage-api configured here, which the page's Content-Security-Policy
// names (and nothing else).
//
// Immutable after construction; the routes borrow the Dashboard, which must
// outlive the server.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cocktail/core/result.h"
#include "cocktail/http/router.h"
#include "cocktail/http/static_assets.h"

namespace cocktail::read_service {

struct DashboardOptions {
  // The page's files, relative to services/analytics-api/web/; must hold
  // index.html, a template whose {{asset:PATH}} and {{importmap}} are filled in
  // at start (http::StaticAssets::render).
  std::vector<http::AssetFile> files;
  // usage-api's base URL ("http://127.0.0.1:8083"); empty: usage tracking
  // is not configured, and the page says so instead of drawing the panel.
  std::string usage_api_url;
};

// "http://host:port" with an optional trailing '/', no path, query or
// credentials: the usage-api base URL normalised (trailing '/' dropped), or
// an error naming `field`.
core::Result<std::string> parse_usage_api_url(std::string_view text, std::string_view field);

class Dashboard {
 public:
  static constexpr std::string_view kAssetPrefix = "/dashboard/assets/";

  // Throws std::invalid_argument when index.html is missing, a placeholder
  // names no file, or usage_api_url is not a valid base URL.
  explicit Dashboard(DashboardOptions options);

  void register_routes(http::Router& router) const;

  const http::StaticAssets& assets() const { return *assets_; }
  // The rendered page and its Content-Security-Policy.
  const std::string& page() const { return *page_->identity; }
  const std::string& content_security_policy() const { return csp_; }

 private:
  http::Response serve_page(const http::Request& request) const;

  std::unique_ptr<http::StaticAssets> assets_;
  std::shared_ptr<const http::Representation> page_;
  std::shared_ptr<const http::Representation> config_;
  std::string csp_;
};

}  // namespace cocktail::read_service

#include "cocktail/read_service/dashboard.h"

#include <algorithm>
#include <stdexcept>

#include "cocktail/http/errors.h"

namespace cocktail::read_service {
namespace {

using http::Field;
using http::Method;
using http::Request;
using http::Response;
using http::Status;

constexpr std::string_view kIndex = "index.html";
constexpr std::string_view kImportMapOpen = "<script type=\"importmap\">";

// The import map is the page's one inline script; the policy allows exactly
// its bytes (by hash), scripts and styles of this origin, and connections to
// this origin and to usage-api when configured. Nothing else can load.
std::string page_policy(const std::string& import_map, const std::string& usage_origin) {
  std::string csp = "default-src 'self'; script-src 'self' " + http::csp_sha256_source(import_map) +
                    "; style-src 'self'; img-src 'self' data:; connect-src 'self'";
  if (!usage_origin.empty()) {
    csp.append(" ").append(usage_origin);
  }
  csp.append("; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'");
  return csp;
}

}  // namespace

core::Result<std::string> parse_usage_api_url(std::string_view text, std::string_view field) {
  const std::string f(field);
  std::string_view rest = text;
  if (rest.substr(0, 7) == "http://") {
    rest.remove_prefix(7);
  } else if (rest.substr(0, 8) == "https://") {
    rest.remove_prefix(8);
  } else {
    return core::Error::invalid(f, f + " must start with http:// or https://");
  }
  if (!rest.empty() && rest.back() == '/') {
    rest.remove_suffix(1);
  }
  if (rest.empty()) {
    return core::Error::invalid(f, f + " has no host");
  }
  const bool allowed = std::all_of(rest.begin(), rest.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == ':' || c == '[' || c == ']';
  });
  if (!allowed) {
    return core::Error::invalid(f, f + " must be scheme://host[:port] with no path, query or credentials");
  }
  const std::size_t colon = rest.rfind(':');
  if (colon != std::string_view::npos && rest.back() != ']') {
    const std::string_view port = rest.substr(colon + 1);
    if (port.empty() || port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        std::stoi(std::string(port)) == 0 || std::stoi(std::string(port)) > 65535) {
      return core::Error::invalid(f, f + " has a bad port");
    }
  }
  return std::string(text.substr(0, text.size() - (text.back() == '/' ? 1 : 0)));
}

Dashboard::Dashboard(DashboardOptions options) {
  std::string usage;
  if (!options.usage_api_url.empty()) {
    auto url = parse_usage_api_url(options.usage_api_url, "usage_api_url");
    if (!url.ok()) {
      throw std::invalid_argument(url.error().message);
    }
    usage = *url;
  }
  std::string index;
  auto it = std::find_if(options.files.begin(), options.files.end(),
                         [](const http::AssetFile& f) { return f.path == kIndex; });
  if (it == options.files.end()) {
    throw std::invalid_argument("dashboard files hold no index.html");
  }
  index = std::move(it->bytes);
  options.files.erase(it);
  assets_ = std::make_unique<http::StaticAssets>(std::move(options.files), std::string(kAssetPrefix));

  const std::string page = assets_->render(index);
  if (page.find(kImportMapOpen) == std::string::npos) {
    throw std::invalid_argument("dashboard index.html has no <script type=\"importmap\">");
  }
  csp_ = page_policy(assets_->import_map(), usage);
  // The page names the versioned assets, so its own tag is its hash.
  page_ = http::make_representation(page, "text/html; charset=utf-8",
                                    "page-" + http::content_hash(page, http::StaticAssets::kHashDigits));
  const std::string config =
      "{\"usage_api\":" + (usage.empty() ? std::string("null") : http::json_quote(usage)) +
      ",\"analytics_api\":\"/api/v1/analytics/\",\"stream\":\"/api/v1/analytics/stream\"}";
  config_ = http::make_representation(
      config, "application/json", "config-" + http::content_hash(config, http::StaticAssets::kHashDigits));
}

Response Dashboard::serve_page(const Request& request) const {
  Response r = http::represent(request, *page_);
  r.set_header(Field::cache_control, http::StaticAssets::kRevalidate);
  r.set_header("Content-Security-Policy", csp_);
  r.set_header("X-Content-Type-Options", "nosniff");
  r.set_header("Referrer-Policy", "no-referrer");
  return r;
}

void Dashboard::register_routes(http::Router& router) const {
  assets_->register_routes(router);
  auto page = [this](const Request& q) { return serve_page(q); };
  router.add(Method::get, "/", http::SyncHandler(page));
  router.add(Method::get, "/dashboard/", http::SyncHandler(page));
  router.add(Method::get, "/dashboard", http::SyncHandler([](const Request&) {
               return Response::empty(Status::permanent_redirect).set_header(Field::location, "/dashboard/");
             }));
  router.add(Method::get, "/dashboard/config.json", http::SyncHandler([this](const Request& q) {
               Response r = http::represent(q, *config_);
               r.set_header(Field::cache_control, http::StaticAssets::kRevalidate);
               return r;
             }));
}

}  // namespace cocktail::read_service

#include "cocktail/http/static_assets.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>
#include <stdexcept>

#include "cocktail/http/errors.h"

namespace cocktail::http {
namespace {

constexpr std::string_view kImportMapPlaceholder = "{{importmap}}";
constexpr std::string_view kAssetPlaceholder = "{{asset:";

std::string hex(const unsigned char* bytes, std::size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(kDigits[bytes[i] >> 4]);
    out.push_back(kDigits[bytes[i] & 0xf]);
  }
  return out;
}

void sha256(std::string_view text, unsigned char out[SHA256_DIGEST_LENGTH]) {
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), out);
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Paths are keys and URL segments at once: a small, safe alphabet, no
// segment that a URL resolver would fold ("." and "..").
void check_path(std::string_view path) {
  const bool allowed = std::all_of(path.begin(), path.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_' || c == '/';
  });
  if (path.empty() || path.front() == '/' || !allowed) {
    throw std::invalid_argument("static asset path must be relative, [A-Za-z0-9._-/]: " + std::string(path));
  }
  std::size_t start = 0;
  for (;;) {
    const std::size_t slash = path.find('/', start);
    const std::string_view seg =
        path.substr(start, slash == std::string_view::npos ? path.npos : slash - start);
    if (seg.empty() || seg == "." || seg == "..") {
      throw std::invalid_argument("static asset path has an empty, '.' or '..' segment: " +
                                  std::string(path));
    }
    if (slash == std::string_view::npos) {
      break;
    }
    start = slash + 1;
  }
}

// "panels/usage.js" + "3f2a" -> "panels/usage.3f2a.js"; "LICENSE" -> "LICENSE.3f2a".
std::string versioned_path(std::string_view path, std::string_view hash) {
  const std::size_t slash = path.rfind('/');
  const std::size_t dot = path.rfind('.');
  const bool has_ext = dot != std::string_view::npos && (slash == std::string_view::npos || dot > slash + 1);
  std::string out;
  if (has_ext) {
    out.append(path.substr(0, dot)).append(".").append(hash).append(path.substr(dot));
  } else {
    out.append(path).append(".").append(hash);
  }
  return out;
}

}  // namespace

std::string_view content_type_for(std::string_view path) {
  struct Type {
    std::string_view ext, type;
  };
  static constexpr Type kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".txt", "text/plain; charset=utf-8"},
      {".map", "application/json"},
      {".woff2", "font/woff2"},
  };
  for (const auto& t : kTypes) {
    if (ends_with(path, t.ext)) {
      return t.type;
    }
  }
  return "application/octet-stream";
}

std::string content_hash(std::string_view bytes, std::size_t digits) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  sha256(bytes, digest);
  return hex(digest, SHA256_DIGEST_LENGTH).substr(0, digits);
}

std::string csp_sha256_source(std::string_view text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  sha256(text, digest);
  unsigned char b64[4 * ((SHA256_DIGEST_LENGTH + 2) / 3) + 1];
  const int n = EVP_EncodeBlock(b64, digest, SHA256_DIGEST_LENGTH);
  return "'sha256-" + std::string(reinterpret_cast<const char*>(b64), static_cast<std::size_t>(n)) + "'";
}

StaticAssets::StaticAssets(std::vector<AssetFile> files, std::string url_prefix)
    : url_prefix_(std::move(url_prefix)) {
  if (url_prefix_.empty() || url_prefix_.front() != '/' || url_prefix_.back() != '/') {
    throw std::invalid_argument("static asset prefix must start and end with '/': " + url_prefix_);
  }
  for (auto& f : files) {
    check_path(f.path);
    if (assets_.count(f.path) != 0) {
      throw std::invalid_argument("duplicate static asset: " + f.path);
    }
    Asset a;
    a.path = f.path;
    a.hash = content_hash(f.bytes, kHashDigits);
    a.url = url_prefix_ + f.path;
    a.versioned_url = url_prefix_ + versioned_path(f.path, a.hash);
    // The tag names the content alone: the same bytes keep their tag across
    // restarts and replicas, so revalidation keeps working behind a balancer.
    a.representation = make_representation(std::move(f.bytes), content_type_for(f.path), a.hash);
    std::string key = a.path;
    assets_.emplace(std::move(key), std::move(a));
  }
}

const StaticAssets::Asset* StaticAssets::find(std::string_view path) const {
  auto it = assets_.find(path);
  return it == assets_.end() ? nullptr : &it->second;
}

const std::string& StaticAssets::versioned_url(std::string_view path) const {
  const Asset* a = find(path);
  if (a == nullptr) {
    throw std::out_of_range("no static asset " + std::string(path));
  }
  return a->versioned_url;
}

std::string StaticAssets::import_map() const {
  std::string out = "{\"imports\":{";
  bool first = true;
  for (const auto& [path, a] : assets_) {
    if (!ends_with(path, ".js")) {
      continue;
    }
    if (!first) {
      out.push_back(',');
    }
    first = false;
    out.append(json_quote(a.url)).push_back(':');
    out.append(json_quote(a.versioned_url));
  }
  out.append("}}");
  return out;
}

std::string StaticAssets::render(std::string_view text) const {
  std::string out;
  out.reserve(text.size() + 1024);
  const std::string map = import_map();
  for (;;) {
    const std::size_t open = text.find("{{");
    if (open == std::string_view::npos) {
      break;
    }
    out.append(text.substr(0, open));
    text.remove_prefix(open);
    const std::size_t close = text.find("}}");
    if (close == std::string_view::npos) {
      throw std::invalid_argument("unterminated {{ in a template");
    }
    const std::string_view placeholder = text.substr(0, close + 2);
    if (placeholder == kImportMapPlaceholder) {
      out.append(map);
    } else if (placeholder.substr(0, kAssetPlaceholder.size()) == kAssetPlaceholder) {
      out.append(versioned_url(
          placeholder.substr(kAssetPlaceholder.size(), placeholder.size() - kAssetPlaceholder.size() - 2)));
    } else {
      throw std::invalid_argument("unknown template placeholder " + std::string(placeholder));
    }
    text.remove_prefix(close + 2);
  }
  out.append(text);
  return out;
}

Response StaticAssets::serve(const Request& request, const Asset& asset, bool versioned) {
  Response r = represent(request, *asset.representation);
  r.set_header(Field::cache_control, versioned ? kImmutable : kRevalidate);
  r.set_header("X-Content-Type-Options", "nosniff");
  return r;
}

void StaticAssets::register_routes(Router& router) const {
  for (const auto& [path, a] : assets_) {
    const Asset* asset = &a;
    router.add(Method::get, a.url,
               SyncHandler([asset](const Request& q) { return serve(q, *asset, false); }));
    router.add(Method::get, a.versioned_url,
               SyncHandler([asset](const Request& q) { return serve(q, *asset, true); }));
  }
}

}  // namespace cocktail::http

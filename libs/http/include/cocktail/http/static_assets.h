// StaticAssets: a fixed set of files held in memory (compiled into the
// binary) served the way a CDN serves a web application's assets.
//
// Each file is answered at two URLs under the prefix:
//
//   /dashboard/assets/main.js                plain: Cache-Control no-cache (revalidate: 304)
//   /dashboard/assets/main.3f2a9c1d0e4b.js   versioned by the first 12 hex digits of the
//                                            content's SHA-256: cached for a year, immutable
//
// both with a strong ETag (the content hash), If-None-Match (304), and a
// gzip copy compressed once at start for clients that accept it. A page
// refers to the versioned URLs, so a browser never asks twice for bytes it
// has and never uses stale ones after the files change: render() replaces
// `{{asset:main.js}}` in a template by the versioned URL, and
// `{{importmap}}` by an import map that sends every plain module URL to its
// versioned one (so `import "./api.js"` inside a module resolves to the
// versioned file too, with no build step rewriting imports).
//
//   StaticAssets assets(files, "/dashboard/assets/");
//   assets.register_routes(server.router());
//   std::string html = assets.render(template_text);
//
// Immutable after construction: every member is safe from any thread. The
// routes registered borrow the StaticAssets, which must outlive the server.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cocktail/http/representation.h"
#include "cocktail/http/router.h"

namespace cocktail::http {

// One file: its path relative to the prefix ("main.js", "panels/usage.js")
// and its bytes.
struct AssetFile {
  std::string path;
  std::string bytes;
};

// The media type of a file name by its extension ("text/javascript;
// charset=utf-8" for .js); application/octet-stream when unknown.
std::string_view content_type_for(std::string_view path);

// The first `digits` hex digits of the SHA-256 of `bytes`: a tag that names
// content alone (the same bytes keep it across restarts and replicas).
std::string content_hash(std::string_view bytes, std::size_t digits);

// The value of a Content-Security-Policy source for an inline script or
// style: "'sha256-<base64 of the SHA-256 of text>'".
std::string csp_sha256_source(std::string_view text);

class StaticAssets {
 public:
  // How many hex digits of the content's SHA-256 a versioned URL carries.
  static constexpr std::size_t kHashDigits = 12;
  // Cache-Control of versioned URLs and of everything else.
  static constexpr std::string_view kImmutable = "public, max-age=31536000, immutable";
  static constexpr std::string_view kRevalidate = "no-cache";

  struct Asset {
    std::string path;           // "panels/usage.js"
    std::string url;            // "/dashboard/assets/panels/usage.js"
    std::string versioned_url;  // "/dashboard/assets/panels/usage.3f2a9c1d0e4b.js"
    std::string hash;           // the first kHashDigits hex digits of the SHA-256
    std::shared_ptr<const Representation> representation;
  };

  // `url_prefix` starts and ends with '/'. Throws std::invalid_argument for
  // a path that is empty, absolute, has an empty, "." or ".." segment, or
  // a character outside [A-Za-z0-9._-/], and for a duplicate path.
  StaticAssets(std::vector<AssetFile> files, std::string url_prefix);

  // The asset at `path`, or null.
  const Asset* find(std::string_view path) const;
  // Its versioned URL; throws std::out_of_range when there is no such asset.
  const std::string& versioned_url(std::string_view path) const;
  // {"imports": {"<url>": "<versioned url>", …}} for every .js asset, keys sorted.
  std::string import_map() const;
  // `text` with every `{{asset:PATH}}` replaced by PATH's versioned URL and
  // `{{importmap}}` by import_map(). Throws std::out_of_range naming an
  // unknown PATH, std::invalid_argument for an unterminated placeholder.
  std::string render(std::string_view text) const;

  // GET (and HEAD) routes for both URLs of every asset.
  void register_routes(Router& router) const;
  // `asset` as the answer to `request`; `versioned` picks the caching.
  static Response serve(const Request& request, const Asset& asset, bool versioned);

  const std::map<std::string, Asset, std::less<>>& assets() const { return assets_; }
  const std::string& url_prefix() const { return url_prefix_; }

 private:
  std::string url_prefix_;
  std::map<std::string, Asset, std::less<>> assets_;
};

}  // namespace cocktail::http

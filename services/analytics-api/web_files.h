// The dashboard's files, compiled into analytics-api from
// services/analytics-api/web/ and Debian's D3 bundle (vendor/d3.min.js) by
// embed_files.cmake. See docs/dashboard.md.
#pragma once

#include <vector>

#include "cocktail/http/static_assets.h"

namespace cocktail::analytics_api {

std::vector<http::AssetFile> web_files();

}  // namespace cocktail::analytics_api

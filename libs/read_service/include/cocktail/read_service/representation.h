// Representation: one response body ready to send (identity bytes, a gzip
// copy, their entity tags, sealed copies for sendfile). The type and its
// helpers live in the HTTP layer (cocktail/http/representation.h), which
// also serves the dashboard's static assets with them; the read service uses
// them under its own names.
#pragma once

#include "cocktail/http/representation.h"

namespace cocktail::read_service {

using http::gzip_compress;
using http::gzip_decompress;
using http::make_representation;
using http::Representation;
using http::with_gzip;

}  // namespace cocktail::read_service

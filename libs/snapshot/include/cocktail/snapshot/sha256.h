// SHA-256 of a byte string, as 64 lowercase hex digits (OpenSSL EVP).
// Thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace cocktail::snapshot {

std::string sha256_hex(std::string_view bytes);

}  // namespace cocktail::snapshot

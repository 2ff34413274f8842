// BearerToken: the shared secret that guards write routes
// ("Authorization: Bearer <token>").
//
// The comparison takes the same time whatever the candidate (both sides are
// hashed with SHA-256 and the digests compared with CRYPTO_memcmp), so the
// answer time tells an attacker nothing about the token. Immutable;
// thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "cocktail/core/result.h"
#include "cocktail/http/request.h"
#include "cocktail/http/response.h"

namespace cocktail::http {

class BearerToken {
 public:
  // `token` must not be empty (std::invalid_argument otherwise).
  explicit BearerToken(std::string_view token);

  // True when `authorization` is "Bearer <the token>" (scheme case-insensitive).
  bool matches(std::string_view authorization) const;
  // OK, or an kUnauthorized error saying what is missing or wrong.
  core::Status check(const Request& request) const;
  // nullopt when the request carries the token; otherwise the 401 response
  // (JSON error body and WWW-Authenticate: Bearer) to send.
  std::optional<Response> reject(const Request& request) const;

 private:
  unsigned char digest_[32]{};
};

// Reads a token from a file: the first line, surrounding whitespace removed.
// An error when the file cannot be read or holds no token.
core::Result<std::string> read_token_file(const std::string& path);

}  // namespace cocktail::http

#include "cocktail/http/bearer_token.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <strings.h>

#include <fstream>
#include <stdexcept>

#include "cocktail/http/errors.h"

namespace cocktail::http {
namespace {

constexpr std::string_view kScheme = "Bearer ";

void digest(std::string_view text, unsigned char out[SHA256_DIGEST_LENGTH]) {
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), out);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

BearerToken::BearerToken(std::string_view token) {
  if (token.empty()) {
    throw std::invalid_argument("bearer token must not be empty");
  }
  digest(token, digest_);
}

bool BearerToken::matches(std::string_view authorization) const {
  if (authorization.size() <= kScheme.size() ||
      ::strncasecmp(authorization.data(), kScheme.data(), kScheme.size()) != 0) {
    return false;
  }
  // Hashing first makes the comparison independent of the candidate's length
  // and content; CRYPTO_memcmp does not stop at the first difference.
  unsigned char candidate[SHA256_DIGEST_LENGTH];
  digest(trim(authorization.substr(kScheme.size())), candidate);
  return CRYPTO_memcmp(candidate, digest_, SHA256_DIGEST_LENGTH) == 0;
}

core::Status BearerToken::check(const Request& request) const {
  auto header = request.header(Field::authorization);
  if (header.empty()) {
    return core::Error{core::ErrorCode::kUnauthorized, "Authorization", "missing bearer token", {}};
  }
  if (!matches(header)) {
    return core::Error{core::ErrorCode::kUnauthorized, "Authorization", "invalid bearer token", {}};
  }
  return core::Ok{};
}

std::optional<Response> BearerToken::reject(const Request& request) const {
  auto status = check(request);
  if (status.ok()) {
    return std::nullopt;
  }
  Response r = error_response(status.error());
  r.set_header(Field::www_authenticate, "Bearer");
  return r;
}

core::Result<std::string> read_token_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return core::Error::invalid("token-file", "cannot read token file " + path);
  }
  std::string line;
  std::getline(in, line);
  std::string token(trim(line));
  if (token.empty()) {
    return core::Error::invalid("token-file", "token file " + path + " holds no token");
  }
  return token;
}

}  // namespace cocktail::http

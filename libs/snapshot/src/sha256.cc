#include "cocktail/snapshot/sha256.h"

#include <openssl/evp.h>

#include <stdexcept>

namespace cocktail::snapshot {

std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &len, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("EVP_Digest(sha256) failed");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(2 * static_cast<std::size_t>(len), '0');
  for (unsigned int i = 0; i < len; ++i) {
    out[2 * std::size_t{i}] = kHex[digest[i] >> 4];
    out[2 * std::size_t{i} + 1] = kHex[digest[i] & 0xF];
  }
  return out;
}

}  // namespace cocktail::snapshot

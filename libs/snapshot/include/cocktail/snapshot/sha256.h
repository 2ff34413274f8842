// SHA-256 as 64 lowercase hex digits (OpenSSL EVP): of a byte string at
// once, or of a stream fed in pieces (a file read in chunks without holding
// it in memory). Thread-safe; a Sha256 object is used by one thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace cocktail::snapshot {

std::string sha256_hex(std::string_view bytes);

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(std::string_view bytes);
  // The digest of everything fed so far; the object is spent afterwards.
  std::string hex();

 private:
  struct Context;
  std::unique_ptr<Context> ctx_;
};

}  // namespace cocktail::snapshot

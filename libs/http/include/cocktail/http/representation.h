// Representation: one response body ready to send — the identity bytes, a
// gzip copy compressed once, and the entity tags of both. Built once (when a
// snapshot generation is loaded, when a derived view is first asked for, or
// when a service starts with files compiled into it) so that serving it costs
// a reference count, never a copy or a compression.
//
//   auto rep = make_representation(bytes, "application/json", "g12-3f2a9c");
//   Response r = represent(request, *rep);   // 304, gzip or identity
//   r.set_header(Field::cache_control, "no-cache");
//
// Immutable after construction; share it freely across threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "cocktail/http/request.h"
#include "cocktail/http/response.h"
#include "cocktail/http/sealed_bytes.h"

namespace cocktail::http {

struct Representation {
  std::shared_ptr<const std::string> identity;
  // Null when gzip would not make the body smaller (or it is tiny).
  std::shared_ptr<const std::string> gzip;
  // Strong entity tags, quoted: "\"g12-0123456789abcdef\"" and the gzip
  // variant's "\"g12-0123456789abcdef-gz\"" (RFC 9110: each content coding
  // is its own representation).
  std::string etag;
  std::string gzip_etag;
  std::string content_type;
  // The same bytes in sealed memory files, for bodies from 64 KiB to 8 MiB:
  // the server sends them with sendfile(2) (SealedBytes). Null otherwise,
  // or where sealed memory files are not available.
  std::shared_ptr<const SealedBytes> identity_sealed;
  std::shared_ptr<const SealedBytes> gzip_sealed;
  // The gzip copy is still to be made (with_gzip): a large body is served
  // as identity meanwhile, so that compressing it never delays publishing
  // the generation that holds it.
  bool gzip_pending = false;
};

// Compresses `bytes` (gzip, zlib level 6) unless it is shorter than
// `min_gzip_bytes` or gzip saves less than a tenth. `tag` is the unquoted
// entity tag ("g12-0123456789abcdef"). Throws std::runtime_error when zlib
// fails (out of memory).
// Bodies above `max_eager_gzip_bytes` get no gzip copy yet (gzip_pending).
std::shared_ptr<const Representation> make_representation(std::string bytes, std::string_view content_type,
                                                          std::string_view tag,
                                                          std::size_t min_gzip_bytes = 256,
                                                          std::size_t max_eager_gzip_bytes = SIZE_MAX);
// A copy of `rep` with its gzip copy made (when gzip saves a tenth).
std::shared_ptr<const Representation> with_gzip(const Representation& rep);

// `rep` as the answer to `request`: 304 Not Modified when If-None-Match
// names either coding's tag (both carry the same content), the gzip copy
// when Accept-Encoding allows it, else the identity bytes (from sealed
// memory when it has them); with ETag and, when a gzip copy exists,
// Vary: Accept-Encoding. Caching headers are the caller's.
Response represent(const Request& request, const Representation& rep);

// gzip (RFC 1952) of `bytes` at zlib `level`. Throws std::runtime_error.
std::string gzip_compress(std::string_view bytes, int level = 6);
// The inverse, for tests and tools; throws std::runtime_error on a corrupt
// stream or when the output would exceed `max_bytes`.
std::string gzip_decompress(std::string_view bytes, std::size_t max_bytes = 1u << 30);

}  // namespace cocktail::http

#include "cocktail/http/representation.h"

#include <zlib.h>

#include <stdexcept>

#include "cocktail/http/negotiation.h"

namespace cocktail::http {

std::string gzip_compress(std::string_view bytes, int level) {
  z_stream zs{};
  // windowBits 15 + 16: a gzip header and trailer rather than zlib's.
  if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("gzip: deflateInit2 failed");
  }
  // Output in chunks appended to a string that only grows as needed: a
  // buffer sized by deflateBound would stay resident at the input's size.
  std::string out;
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  zs.avail_in = static_cast<uInt>(bytes.size());
  char chunk[64 * 1024];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(chunk);
    zs.avail_out = sizeof chunk;
    rc = deflate(&zs, Z_FINISH);
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
      deflateEnd(&zs);
      throw std::runtime_error("gzip: deflate failed");
    }
    out.append(chunk, sizeof chunk - zs.avail_out);
  }
  deflateEnd(&zs);
  out.shrink_to_fit();
  return out;
}

std::string gzip_decompress(std::string_view bytes, std::size_t max_bytes) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) {
    throw std::runtime_error("gunzip: inflateInit2 failed");
  }
  std::string out;
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  zs.avail_in = static_cast<uInt>(bytes.size());
  char buf[64 * 1024];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&zs);
      throw std::runtime_error("gunzip: corrupt stream");
    }
    out.append(buf, sizeof buf - zs.avail_out);
    if (out.size() > max_bytes) {
      inflateEnd(&zs);
      throw std::runtime_error("gunzip: output too large");
    }
    if (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) {
      inflateEnd(&zs);
      throw std::runtime_error("gunzip: truncated stream");
    }
  }
  inflateEnd(&zs);
  return out;
}

namespace {

constexpr std::size_t kMaxSealedBytes = std::size_t{8} * 1024 * 1024;

// Large bodies also in sealed memory files, sent with sendfile(2); not the
// largest (a distance matrix), downloaded rarely, whose copy would double
// the memory they take.
std::shared_ptr<const SealedBytes> seal(const std::shared_ptr<const std::string>& b) {
  if (!b || b->size() < SealedBytes::kMinBytes || b->size() > kMaxSealedBytes) {
    return nullptr;
  }
  return SealedBytes::make(*b);
}

// Adds the gzip copy when it saves at least a tenth.
void compress_into(Representation& rep, std::string_view tag) {
  std::string gz = gzip_compress(*rep.identity);
  if (gz.size() < rep.identity->size() - rep.identity->size() / 10) {
    rep.gzip = std::make_shared<const std::string>(std::move(gz));
    rep.gzip_etag.clear();
    rep.gzip_etag.append("\"").append(tag).append("-gz\"");
    rep.gzip_sealed = seal(rep.gzip);
  }
}

}  // namespace

std::shared_ptr<const Representation> make_representation(std::string bytes, std::string_view content_type,
                                                          std::string_view tag, std::size_t min_gzip_bytes,
                                                          std::size_t max_eager_gzip_bytes) {
  auto rep = std::make_shared<Representation>();
  rep->content_type = std::string(content_type);
  rep->etag.reserve(tag.size() + 2);
  rep->etag.append("\"").append(tag).append("\"");
  const bool compress = bytes.size() >= min_gzip_bytes;
  rep->identity = std::make_shared<const std::string>(std::move(bytes));
  rep->identity_sealed = seal(rep->identity);
  if (compress && rep->identity->size() > max_eager_gzip_bytes) {
    rep->gzip_pending = true;
  } else if (compress) {
    compress_into(*rep, tag);
  }
  return rep;
}

std::shared_ptr<const Representation> with_gzip(const Representation& rep) {
  auto out = std::make_shared<Representation>(rep);
  out->gzip_pending = false;
  // The tag without its quotes.
  compress_into(*out, std::string_view(rep.etag).substr(1, rep.etag.size() - 2));
  return out;
}

Response represent(const Request& request, const Representation& rep) {
  const std::string_view inm = request.header(Field::if_none_match);
  const bool gz = rep.gzip && accepts_encoding(request.header(Field::accept_encoding), "gzip");
  const std::string& etag = gz ? rep.gzip_etag : rep.etag;
  // Either coding's tag revalidates: both carry the same content.
  const bool not_modified =
      !inm.empty() && (etag_matches(inm, rep.etag) || (rep.gzip && etag_matches(inm, rep.gzip_etag)));
  Response r = not_modified ? Response::empty(Status::not_modified)
                            : Response::shared(Status::ok, gz ? rep.gzip : rep.identity, rep.content_type,
                                               gz ? rep.gzip_sealed : rep.identity_sealed);
  r.set_header(Field::etag, etag);
  if (rep.gzip) {
    r.set_header(Field::vary, "Accept-Encoding");
  }
  if (gz && !not_modified) {
    r.set_header(Field::content_encoding, "gzip");
  }
  return r;
}

}  // namespace cocktail::http

#include "cocktail/analytics/npy.h"

#include <bit>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace cocktail::analytics {
namespace {

constexpr std::string_view kMagic{"\x93NUMPY", 6};
constexpr std::size_t kAlignment = 64;

std::uint32_t to_little_endian(std::uint32_t x) {
  if constexpr (std::endian::native == std::endian::little) {
    return x;
  } else {
    return ((x & 0xffu) << 24) | ((x & 0xff00u) << 8) | ((x >> 8) & 0xff00u) | (x >> 24);
  }
}

core::Error malformed(std::string message) { return core::Error::invalid("npy", std::move(message)); }

}  // namespace

std::string npy_float32_header(std::size_t rows, std::size_t cols) {
  // Built by append: GCC 12 misreports -Wrestrict on chained operator+.
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (";
  dict.append(std::to_string(rows)).append(", ").append(std::to_string(cols)).append("), }");
  const std::size_t preamble = kMagic.size() + 2 + 2;
  std::size_t header_len = dict.size() + 1;  // + '\n'
  header_len += (kAlignment - (preamble + header_len) % kAlignment) % kAlignment;
  if (header_len > 0xffff) {
    throw std::invalid_argument("npy_float32_header: header too long for version 1.0");
  }
  std::string out;
  out.reserve(preamble + header_len);
  out.append(kMagic);
  out.push_back('\x01');
  out.push_back('\x00');
  out.push_back(static_cast<char>(header_len & 0xff));
  out.push_back(static_cast<char>(header_len >> 8));
  out.append(dict);
  out.append(header_len - dict.size() - 1, ' ');
  out.push_back('\n');
  return out;
}

void append_float32_le(std::string& out, std::span<const float> values) {
  const std::size_t at = out.size();
  out.resize(at + values.size() * sizeof(float));
  char* dst = out.data() + at;
  for (const float v : values) {
    const std::uint32_t bits = to_little_endian(std::bit_cast<std::uint32_t>(v));
    std::memcpy(dst, &bits, sizeof bits);
    dst += sizeof bits;
  }
}

std::string npy_float32_matrix(std::span<const float> values, std::size_t rows, std::size_t cols) {
  if (values.size() != rows * cols) {
    throw std::invalid_argument("npy_float32_matrix: size mismatch");
  }
  std::string out = npy_float32_header(rows, cols);
  out.reserve(out.size() + values.size() * sizeof(float));
  append_float32_le(out, values);
  return out;
}

core::Result<NpyHeader> parse_npy_header(std::string_view file) {
  if (file.size() < kMagic.size() + 4 || file.substr(0, kMagic.size()) != kMagic) {
    return malformed("not a .npy file (magic)");
  }
  const auto major = static_cast<unsigned char>(file[6]);
  std::size_t header_len = 0;
  std::size_t preamble = 0;
  if (major == 1) {
    preamble = 10;
    header_len = static_cast<unsigned char>(file[8]) |
                 (static_cast<std::size_t>(static_cast<unsigned char>(file[9])) << 8);
  } else if (major == 2) {
    if (file.size() < 12) {
      return malformed("truncated preamble");
    }
    preamble = 12;
    for (int b = 3; b >= 0; --b) {
      header_len = (header_len << 8) | static_cast<unsigned char>(file[8 + b]);
    }
  } else {
    return malformed("unsupported format version");
  }
  if (file.size() < preamble + header_len) {
    return malformed("truncated header");
  }
  const std::string_view dict = file.substr(preamble, header_len);
  if (dict.empty() || dict.back() != '\n') {
    return malformed("header does not end with a newline");
  }

  NpyHeader header;
  header.data_offset = preamble + header_len;
  auto value_of = [&](std::string_view key) -> std::string_view {
    std::string quoted(1, '\'');
    quoted.append(key).append("':");
    const std::size_t at = dict.find(quoted);
    if (at == std::string_view::npos) {
      return {};
    }
    std::size_t p = at + quoted.size();
    while (p < dict.size() && dict[p] == ' ') {
      ++p;
    }
    return dict.substr(p);
  };
  const std::string_view descr = value_of("descr");
  if (descr.size() < 2 || descr[0] != '\'') {
    return malformed("missing descr");
  }
  const std::size_t descr_end = descr.find('\'', 1);
  if (descr_end == std::string_view::npos) {
    return malformed("unterminated descr");
  }
  header.descr = std::string(descr.substr(1, descr_end - 1));
  const std::string_view order = value_of("fortran_order");
  if (order.substr(0, 4) == "True") {
    header.fortran_order = true;
  } else if (order.substr(0, 5) != "False") {
    return malformed("missing fortran_order");
  }
  const std::string_view shape = value_of("shape");
  if (shape.empty() || shape[0] != '(') {
    return malformed("missing shape");
  }
  const std::size_t shape_end = shape.find(')');
  if (shape_end == std::string_view::npos) {
    return malformed("unterminated shape");
  }
  std::size_t count = 1;
  for (std::size_t p = 1; p < shape_end;) {
    if (!std::isdigit(static_cast<unsigned char>(shape[p]))) {
      ++p;
      continue;
    }
    std::size_t dim = 0;
    for (; p < shape_end && std::isdigit(static_cast<unsigned char>(shape[p])); ++p) {
      dim = dim * 10 + static_cast<std::size_t>(shape[p] - '0');
      if (dim > (std::size_t{1} << 40)) {
        return malformed("dimension too large");
      }
    }
    header.shape.push_back(dim);
    count *= dim;
  }
  std::size_t item = 0;
  if (header.descr == "<f4" || header.descr == "<i4" || header.descr == "<u4") {
    item = 4;
  } else if (header.descr == "<f8" || header.descr == "<i8" || header.descr == "<u8") {
    item = 8;
  } else {
    return malformed("unsupported dtype");
  }
  if (file.size() - header.data_offset != count * item) {
    return malformed("data size does not match the shape");
  }
  return header;
}

}  // namespace cocktail::analytics

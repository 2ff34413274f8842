// NumPy .npy (format version 1.0) for the EM distance matrix download:
// a little-endian float32 ('<f4') matrix in C order. The reader checks the
// header only; it exists for tests and for validating stored files.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cocktail/core/result.h"

namespace cocktail::analytics {

// The preamble and header of a rows × cols '<f4' C-order array: magic,
// version 1.0, the header dict padded with spaces so that the data starts at
// a multiple of 64 bytes. The data follows as rows·cols little-endian floats.
std::string npy_float32_header(std::size_t rows, std::size_t cols);

// Appends floats in little-endian byte order (a row of the array).
void append_float32_le(std::string& out, std::span<const float> values);

// The whole file at once; values.size() must equal rows · cols.
std::string npy_float32_matrix(std::span<const float> values, std::size_t rows, std::size_t cols);

struct NpyHeader {
  std::string descr;  // e.g. "<f4"
  bool fortran_order = false;
  std::vector<std::size_t> shape;
  std::size_t data_offset = 0;  // where the array bytes start
};

// Parses and checks magic, version (1.0 or 2.0) and the header dict; fails
// (kInvalidArgument) on anything malformed or on a size that does not match
// the header's shape and dtype.
core::Result<NpyHeader> parse_npy_header(std::string_view file);

}  // namespace cocktail::analytics

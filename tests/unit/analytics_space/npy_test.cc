#include "cocktail/analytics/npy.h"

#include <gtest/gtest.h>

#include <cstring>

namespace cocktail::analytics {
namespace {

TEST(Npy, HeaderLayout) {
  const std::vector<float> values{0.0f, 1.5f, -2.25f, 3.0f, 4.0f, 5.0f};
  const std::string file = npy_float32_matrix(values, 2, 3);
  ASSERT_GE(file.size(), 10u);
  EXPECT_EQ(file.substr(0, 6), std::string("\x93NUMPY", 6));
  EXPECT_EQ(file[6], '\x01');
  EXPECT_EQ(file[7], '\x00');
  const std::size_t header_len =
      static_cast<unsigned char>(file[8]) | (static_cast<unsigned char>(file[9]) << 8);
  EXPECT_EQ((10 + header_len) % 64, 0u);
  const std::string dict = file.substr(10, header_len);
  EXPECT_EQ(dict.rfind("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 0), 0u);
  EXPECT_EQ(dict.back(), '\n');
  EXPECT_EQ(file.size(), 10 + header_len + 6 * sizeof(float));
  // Little-endian IEEE 754: 1.5f is 0x3fc00000.
  const unsigned char* data = reinterpret_cast<const unsigned char*>(file.data()) + 10 + header_len;
  EXPECT_EQ(data[4], 0x00);
  EXPECT_EQ(data[5], 0x00);
  EXPECT_EQ(data[6], 0xc0);
  EXPECT_EQ(data[7], 0x3f);
}

TEST(Npy, RoundTrip) {
  std::vector<float> values(std::size_t{7} * 7);
  for (std::size_t i = 0; i < values.size(); ++i) {
    values[i] = static_cast<float>(i) * 0.1f - 1.0f;
  }
  const std::string file = npy_float32_matrix(values, 7, 7);
  const auto header = parse_npy_header(file);
  ASSERT_TRUE(header.ok()) << header.error().message;
  EXPECT_EQ(header->descr, "<f4");
  EXPECT_FALSE(header->fortran_order);
  EXPECT_EQ(header->shape, (std::vector<std::size_t>{7, 7}));
  EXPECT_EQ(header->data_offset % 64, 0u);
  std::vector<float> back(values.size());
  std::memcpy(back.data(), file.data() + header->data_offset, back.size() * sizeof(float));
  EXPECT_EQ(back, values);
}

TEST(Npy, EmptyAndStreamedMatrices) {
  const std::string empty = npy_float32_matrix({}, 0, 0);
  const auto header = parse_npy_header(empty);
  ASSERT_TRUE(header.ok());
  EXPECT_EQ(header->shape, (std::vector<std::size_t>{0, 0}));
  // Header + rows appended one by one equals the whole-file writer.
  const std::vector<float> rows{1, 2, 3, 4};
  std::string streamed = npy_float32_header(2, 2);
  append_float32_le(streamed, std::span<const float>(rows).subspan(0, 2));
  append_float32_le(streamed, std::span<const float>(rows).subspan(2, 2));
  EXPECT_EQ(streamed, npy_float32_matrix(rows, 2, 2));
}

TEST(Npy, RejectsMalformedFiles) {
  const std::string good = npy_float32_matrix(std::vector<float>(4, 1.0f), 2, 2);
  EXPECT_FALSE(parse_npy_header("not numpy").ok());
  EXPECT_FALSE(parse_npy_header(good.substr(0, good.size() - 1)).ok());  // truncated data
  std::string bad_version = good;
  bad_version[6] = '\x07';
  EXPECT_FALSE(parse_npy_header(bad_version).ok());
  std::string bad_dtype = good;
  bad_dtype.replace(bad_dtype.find("<f4"), 3, "|O8");
  EXPECT_FALSE(parse_npy_header(bad_dtype).ok());
  EXPECT_THROW(npy_float32_matrix(std::vector<float>(3), 2, 2), std::invalid_argument);
}

}  // namespace
}  // namespace cocktail::analytics

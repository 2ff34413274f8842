// Helpers shared by the fuzz targets (tests/fuzz/README.md).
//
// Most targets read their input as one selector character followed by text:
// "i{\"name\": \"Gin\"}" is an ingredient body for the catalog target. Seeds
// stay readable and a new shape is one more case in a switch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace cocktail::fuzz {

// The input as text (bytes, not necessarily UTF-8).
inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Splits "<selector><text>"; false for an empty input.
inline bool split_selector(std::string_view input, char* selector, std::string_view* text) {
  if (input.empty()) {
    return false;
  }
  *selector = input.front();
  *text = input.substr(1);
  return true;
}

// Reports a broken property and aborts: libFuzzer saves the input as a crash.
[[noreturn]] inline void fail(const char* file, int line, const char* property, std::string_view detail) {
  std::fprintf(stderr, "%s:%d: property failed: %s\n  %.*s\n", file, line, property,
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

}  // namespace cocktail::fuzz

// COCKTAIL_FUZZ_CHECK(property, detail): `detail` (a string_view) explains the failure.
#define COCKTAIL_FUZZ_CHECK(property, detail)                                         \
  do {                                                                                \
    if (!(property)) ::cocktail::fuzz::fail(__FILE__, __LINE__, #property, (detail)); \
  } while (false)

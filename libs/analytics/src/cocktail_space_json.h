// JSON helpers shared by the cocktail-space writers (RapidJSON Writer).
#pragma once

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <charconv>
#include <cmath>
#include <string>
#include <string_view>

namespace cocktail::analytics::detail {

// A RapidJSON output stream appending straight to a std::string, so that a
// large document (recipe-similar is about 1 GB at 10⁵ recipes) is not held
// twice, once in a StringBuffer and once in its copy.
struct StringSink {
  using Ch = char;
  std::string* out;
  void Put(char c) { out->push_back(c); }
  void Flush() {}
};

using JsonWriter = rapidjson::Writer<StringSink>;

inline void write_string(JsonWriter& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

// A float32 value in its shortest round-tripping decimal form ("0.35", not
// "0.3499999940395355"); null if not finite.
inline void write_float(JsonWriter& w, float value) {
  if (!std::isfinite(value)) {
    w.Null();
    return;
  }
  char buf[32];
  const auto res = std::to_chars(buf, buf + sizeof buf, value);
  w.RawValue(buf, static_cast<std::size_t>(res.ptr - buf), rapidjson::kNumberType);
}

}  // namespace cocktail::analytics::detail

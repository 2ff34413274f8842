#include "cocktail/core/utf8.h"

#include <gtest/gtest.h>

namespace cocktail::core {
namespace {

TEST(Utf8, WellFormedTextIsValidAndUnchanged) {
  for (std::string_view text : {"", "plain ascii", "Crème de cassis", "日本酒", "🍸 martini", "\x7f"}) {
    EXPECT_TRUE(utf8::valid(text)) << text;
    EXPECT_EQ(utf8::sanitize(text), text);
  }
}

TEST(Utf8, IllFormedSequencesAreReplaced) {
  const std::string r(utf8::kReplacement);
  // The path segment of /api/v1/analytics/%ff%fe.
  EXPECT_FALSE(utf8::valid("\xff\xfe"));
  EXPECT_EQ(utf8::sanitize("\xff\xfe"), r + r);
  EXPECT_EQ(utf8::sanitize("a\x80z"), "a" + r + "z");            // a lone continuation byte
  EXPECT_EQ(utf8::sanitize("\xc0\xaf"), r + r);                  // an overlong '/'
  EXPECT_EQ(utf8::sanitize("\xed\xa0\x80"), r + r + r);          // a surrogate
  EXPECT_EQ(utf8::sanitize("\xf4\x90\x80\x80"), r + r + r + r);  // above U+10FFFF
  EXPECT_EQ(utf8::sanitize("gin \xe6\x97"), "gin " + r);         // cut mid-character: one replacement
  EXPECT_EQ(utf8::sanitize("\xe6\x97x"), r + "x");               // maximal subpart, then the next char
  for (std::string_view bad :
       {"\xff\xfe", "a\x80z", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe6\x97"}) {
    EXPECT_TRUE(utf8::valid(utf8::sanitize(bad)));
  }
}

TEST(Utf8, TruncateNeverSplitsACharacter) {
  const std::string text = "日本酒";  // three 3-byte characters
  EXPECT_EQ(utf8::truncate(text, 9), text);
  EXPECT_EQ(utf8::truncate(text, 8), "日本");
  EXPECT_EQ(utf8::truncate(text, 7), "日本");
  EXPECT_EQ(utf8::truncate(text, 6), "日本");
  EXPECT_EQ(utf8::truncate(text, 2), "");
  EXPECT_EQ(utf8::truncate("abc", 2), "ab");
  for (std::size_t n = 0; n <= text.size(); ++n) {
    EXPECT_TRUE(utf8::valid(utf8::truncate(text, n))) << n;
  }
}

}  // namespace
}  // namespace cocktail::core

#include "common/base/utf8.h"

#include <gtest/gtest.h>

#include <string>

namespace vmesh {
namespace {

TEST(Utf8Test, AcceptsValidText) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91"));  // é € 🔑
  EXPECT_TRUE(IsValidUtf8("\xf4\x8f\xbf\xbf"));                           // U+10FFFF
  EXPECT_TRUE(IsValidUtf8(std::string_view("a\0b", 3)));
}

TEST(Utf8Test, FindsTheFirstInvalidByte) {
  EXPECT_EQ(InvalidUtf8Offset("ab\xff"), 2u);
  EXPECT_EQ(InvalidUtf8Offset("\x80"), 0u);              // lone continuation byte
  EXPECT_EQ(InvalidUtf8Offset("x\xc3"), 1u);             // truncated
  EXPECT_EQ(InvalidUtf8Offset("\xc0\xaf"), 0u);          // overlong '/'
  EXPECT_EQ(InvalidUtf8Offset("\xe0\x80\xaf"), 0u);      // overlong
  EXPECT_EQ(InvalidUtf8Offset("ok\xed\xa0\x80"), 2u);    // surrogate U+D800
  EXPECT_EQ(InvalidUtf8Offset("\xf4\x90\x80\x80"), 0u);  // above U+10FFFF
  EXPECT_EQ(InvalidUtf8Offset("\xe2\x82"), 0u);          // truncated 3-byte sequence
  EXPECT_EQ(InvalidUtf8Offset("\xe2\x28\xa1"), 0u);      // bad continuation
}

}  // namespace
}  // namespace vmesh

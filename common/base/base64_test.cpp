#include "common/base/base64.h"

#include <gtest/gtest.h>

namespace vmesh {
namespace {

TEST(Base64, RoundTripsEveryLength) {
  std::string bytes;
  for (int i = 0; i < 70; ++i) {
    EXPECT_EQ(*Base64Decode(Base64Encode(bytes)), bytes);
    EXPECT_EQ(*Base64Decode(Base64Encode(bytes, Base64Alphabet::kUrl)), bytes);
    bytes += static_cast<char>(i * 37 + 250);
  }
}

TEST(Base64, KnownVectorsAndBadInput) {
  EXPECT_EQ(Base64Encode("foob"), "Zm9vYg==");
  EXPECT_EQ(Base64Encode("\xfb\xff", Base64Alphabet::kUrl), "-_8");
  EXPECT_EQ(*Base64Decode("Zm9v\nYmFy"), "foobar");
  EXPECT_EQ(*Base64Decode("Zm9vYg"), "foob") << "padding optional";
  EXPECT_FALSE(Base64Decode("Zm9v!"));
  EXPECT_FALSE(Base64Decode("Zm9vY"));
  EXPECT_FALSE(Base64Decode("Zg===="));
  EXPECT_FALSE(Base64Decode("Zg=x"));
}

}  // namespace
}  // namespace vmesh

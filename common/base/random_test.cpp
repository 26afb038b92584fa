#include "common/base/random.h"

#include <gtest/gtest.h>

#include <set>

namespace vmesh {
namespace {

int FailingSource(unsigned char*, int) { return 0; }

int CountingSource(unsigned char* buf, int num) {
  for (int i = 0; i < num; ++i) buf[i] = static_cast<unsigned char>(i);
  return 1;
}

TEST(Random, HexHasTwoDigitsPerByteAndDiffers) {
  auto a = RandomHex(16);
  auto b = RandomHex(16);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->size(), 32u);
  EXPECT_EQ(a->find_first_not_of("0123456789abcdef"), std::string::npos) << *a;
  EXPECT_NE(*a, *b);
  EXPECT_EQ(*RandomHex(3, CountingSource), "000102");
}

TEST(Random, UuidIsVersion4) {
  auto uuid = RandomUuid();
  ASSERT_TRUE(uuid.ok());
  ASSERT_EQ(uuid->size(), 36u);
  EXPECT_EQ((*uuid)[8], '-');
  EXPECT_EQ((*uuid)[14], '4');
  EXPECT_NE(std::string("89ab").find((*uuid)[19]), std::string::npos) << *uuid;
  EXPECT_EQ(*RandomUuid(CountingSource), "00010203-0405-4607-8809-0a0b0c0d0e0f");
}

TEST(Random, AFailingGeneratorIsAnErrorNotAnId) {
  for (auto r : {RandomBytes(16, FailingSource), RandomHex(16, FailingSource), RandomUuid(FailingSource)}) {
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("random number generator failed"), std::string::npos) << r.error().message;
    EXPECT_EQ(r.error().code, ErrorCode::kInternal);
  }
}

}  // namespace
}  // namespace vmesh

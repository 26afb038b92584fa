#include "common/base/time.h"

#include <gtest/gtest.h>

namespace vmesh {
namespace {

using namespace std::chrono;

TimePoint At(std::int64_t seconds, std::int64_t nanos = 0) {
  return TimePoint(duration_cast<TimePoint::duration>(std::chrono::seconds(seconds) + nanoseconds(nanos)));
}

TEST(Rfc3339, FormatsWholeSecondsInUtcWithZ) {
  EXPECT_EQ(FormatRfc3339(At(0)), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(At(1714564800)), "2024-05-01T12:00:00Z");
  EXPECT_EQ(FormatRfc3339(At(951782400)), "2000-02-29T00:00:00Z") << "leap day";
  EXPECT_EQ(FormatRfc3339(At(4102444799)), "2099-12-31T23:59:59Z");
  EXPECT_EQ(FormatRfc3339(At(-1)), "1969-12-31T23:59:59Z");
}

TEST(Rfc3339, FormatsFractionalSecondsTruncated) {
  EXPECT_EQ(FormatRfc3339(At(1714564800, 250'999'000), 3), "2024-05-01T12:00:00.250Z");
  EXPECT_EQ(FormatRfc3339(At(1714564800, 250'999'000), 6), "2024-05-01T12:00:00.250999Z");
  EXPECT_EQ(FormatRfc3339(At(1714564800, 999'000'000), 0), "2024-05-01T12:00:00Z") << "not rounded up";
  EXPECT_EQ(FormatRfc3339(At(-1, 500'000'000), 3), "1969-12-31T23:59:59.500Z");
}

TEST(Rfc3339, ParsesZuluOffsetsAndFractions) {
  EXPECT_EQ(*ParseRfc3339("2024-05-01T12:00:00Z"), At(1714564800));
  EXPECT_EQ(*ParseRfc3339("2024-05-01t12:00:00z"), At(1714564800));
  EXPECT_EQ(*ParseRfc3339("2024-05-01T14:30:00+02:30"), At(1714564800));
  EXPECT_EQ(*ParseRfc3339("2024-05-01T11:00:00-01:00"), At(1714564800));
  EXPECT_EQ(*ParseRfc3339("2024-05-01T12:00:00.25Z"), At(1714564800, 250'000'000));
  EXPECT_EQ(*ParseRfc3339("1969-12-31T23:59:59.5Z"), At(-1, 500'000'000));
}

TEST(Rfc3339, RoundTripsEveryPrecision) {
  for (std::int64_t s : {std::int64_t{0}, std::int64_t{951782400}, std::int64_t{1714564800}, std::int64_t{-86401},
                         std::int64_t{4102444800}}) {
    for (int digits : {0, 3, 6, 9}) {
      const std::int64_t nanos = digits == 0 ? 0 : digits == 3 ? 123'000'000 : digits == 6 ? 123'456'000 : 123'456'789;
      const TimePoint t = At(s, nanos);
      auto parsed = ParseRfc3339(FormatRfc3339(t, digits));
      ASSERT_TRUE(parsed.ok()) << FormatRfc3339(t, digits);
      EXPECT_EQ(*parsed, t) << FormatRfc3339(t, digits);
    }
  }
}

TEST(Rfc3339, UtcTimePointOfBrokenDownFields) {
  EXPECT_EQ(UtcTimePoint(2024, 5, 1, 12, 0, 0), At(1714564800));
  EXPECT_EQ(UtcTimePoint(1970, 1, 1, 0, 0, 0), At(0));
  EXPECT_EQ(FormatRfc3339(UtcTimePoint(2000, 2, 29, 23, 59, 59)), "2000-02-29T23:59:59Z");
}

TEST(Rfc3339, RefusesWhatIsNotATimeAndQuotesIt) {
  for (const char* bad :
       {"", "2024-05-01", "2024-05-01T12:00:00", "2024-13-01T00:00:00Z", "2023-02-29T00:00:00Z", "2024-05-01T24:00:00Z",
        "2024-05-01T12:00:60Z", "2024-05-01T12:00:00.Z", "2024-05-01T12:00:00+0200", "2024-05-01T12:00:00Z trailing",
        "yesterday", "9999-12-31T23:59:59Z"}) {
    auto parsed = ParseRfc3339(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_NE(parsed.error().message.find("\"" + std::string(bad) + "\""), std::string::npos) << parsed.error().message;
  }
}

}  // namespace
}  // namespace vmesh

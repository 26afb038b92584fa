#include "common/link/backoff.h"

#include <gtest/gtest.h>

#include <set>

namespace vmesh::link {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(BackoffTest, CeilingDoublesFromBaseUpToCap) {
  Backoff backoff(BackoffPolicy{});
  EXPECT_EQ(backoff.Ceiling(0), seconds(1));
  EXPECT_EQ(backoff.Ceiling(1), seconds(2));
  EXPECT_EQ(backoff.Ceiling(2), seconds(4));
  EXPECT_EQ(backoff.Ceiling(5), seconds(32));
  EXPECT_EQ(backoff.Ceiling(6), seconds(60));
  EXPECT_EQ(backoff.Ceiling(1000), seconds(60));  // no overflow
}

TEST(BackoffTest, SeededSequenceIsDeterministicAndWithinFullJitterBounds) {
  Backoff a(BackoffPolicy{}, Backoff::SeededRandom(42));
  Backoff b(BackoffPolicy{}, Backoff::SeededRandom(42));
  std::set<int64_t> distinct;
  for (int attempt = 0; attempt < 20; ++attempt) {
    const milliseconds ceiling = a.Ceiling(attempt);
    ASSERT_EQ(a.attempt(), attempt);
    const milliseconds delay = a.Next();
    EXPECT_EQ(delay, b.Next()) << "attempt " << attempt;
    EXPECT_GE(delay, milliseconds(0));
    EXPECT_LE(delay, ceiling) << "attempt " << attempt;
    distinct.insert(delay.count());
  }
  EXPECT_GT(distinct.size(), 15u);  // jittered, not a fixed ladder
}

TEST(BackoffTest, FullJitterSpreadsOverTheWholeRange) {
  // Full jitter: uniform over [0, ceiling], so both the low and the high quarter are hit.
  Backoff backoff(BackoffPolicy{}, Backoff::SeededRandom(7));
  int low = 0, high = 0;
  const int kSamples = 2000;
  for (int i = 0; i < kSamples; ++i) {
    backoff.Reset();
    for (int skip = 0; skip < 3; ++skip) backoff.Next();
    const milliseconds delay = backoff.Next();  // attempt 3: ceiling 8 s
    ASSERT_LE(delay, seconds(8));
    if (delay < seconds(2)) ++low;
    if (delay > seconds(6)) ++high;
  }
  EXPECT_NEAR(low, kSamples / 4, kSamples / 10);
  EXPECT_NEAR(high, kSamples / 4, kSamples / 10);
}

TEST(BackoffTest, InjectedRandomExtremesGiveZeroAndCeiling) {
  uint64_t value = 0;
  Backoff backoff(BackoffPolicy{}, [&] { return value; });
  EXPECT_EQ(backoff.Next(), milliseconds(0));
  value = ~uint64_t{0};
  EXPECT_EQ(backoff.Next(), seconds(2));  // attempt 1
  EXPECT_EQ(backoff.Next(), seconds(4));  // attempt 2
}

TEST(BackoffTest, ResetsAfterStablePeriodOnly) {
  uint64_t max = ~uint64_t{0};
  Backoff backoff(BackoffPolicy{}, [&] { return max; });
  const Backoff::Clock::time_point t0{};
  for (int i = 0; i < 5; ++i) backoff.Next();
  EXPECT_EQ(backoff.attempt(), 5);

  // Up for 59 s: not stable, the ladder continues.
  backoff.Connected(t0);
  EXPECT_EQ(backoff.Disconnected(t0 + seconds(59)), seconds(32));
  EXPECT_EQ(backoff.attempt(), 6);

  // Up for a full minute: back to the base.
  backoff.Connected(t0 + seconds(100));
  EXPECT_EQ(backoff.Disconnected(t0 + seconds(160)), seconds(1));
  EXPECT_EQ(backoff.attempt(), 1);

  // A failed attempt (no Connected) just advances.
  EXPECT_EQ(backoff.Disconnected(t0 + seconds(500)), seconds(2));
}

TEST(BackoffTest, ConfigurablePolicy) {
  Backoff backoff(BackoffPolicy{milliseconds(100), milliseconds(250), milliseconds(10)}, [] { return ~uint64_t{0}; });
  EXPECT_EQ(backoff.Next(), milliseconds(100));
  EXPECT_EQ(backoff.Next(), milliseconds(200));
  EXPECT_EQ(backoff.Next(), milliseconds(250));
  EXPECT_EQ(backoff.Next(), milliseconds(250));
}

}  // namespace
}  // namespace vmesh::link

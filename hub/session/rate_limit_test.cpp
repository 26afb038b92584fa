#include "hub/session/rate_limit.h"

#include <gtest/gtest.h>

namespace vmesh::hub {
namespace {

using namespace std::chrono_literals;

TEST(TokenBucketTest, BurstThenOneTokenPerRefillInterval) {
  const TokenBucket::TimePoint t0(std::chrono::seconds(1'800'000'000));
  TokenBucket bucket({.per_minute = 10, .burst = 10}, t0);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(bucket.TryTake(t0)) << "token " << i + 1 << " of the burst";
  EXPECT_FALSE(bucket.TryTake(t0)) << "the 11th in the same instant";
  EXPECT_FALSE(bucket.TryTake(t0 + 5s)) << "a token takes 6 s to come back";
  EXPECT_TRUE(bucket.TryTake(t0 + 6s));
  EXPECT_FALSE(bucket.TryTake(t0 + 6s));
  // A long pause refills up to the burst, not beyond.
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(bucket.TryTake(t0 + 1h));
  EXPECT_FALSE(bucket.TryTake(t0 + 1h));
}

TEST(TokenBucketTest, AClockGoingBackwardsAddsNothing) {
  const TokenBucket::TimePoint t0(std::chrono::seconds(1'800'000'000));
  TokenBucket bucket({.per_minute = 60, .burst = 1}, t0);
  EXPECT_TRUE(bucket.TryTake(t0));
  EXPECT_FALSE(bucket.TryTake(t0 - 1h));
  EXPECT_FALSE(bucket.TryTake(t0 + 500ms)) << "time is measured from the latest instant seen";
  EXPECT_TRUE(bucket.TryTake(t0 + 1s));
}

TEST(RateLimitTest, ToStringNamesRateAndBurst) {
  EXPECT_EQ((RateLimit{.per_minute = 10, .burst = 10}).ToString(), "10 per minute (burst 10)");
  EXPECT_EQ((RateLimit{.per_minute = 0.5, .burst = 3}).ToString(), "0.5 per minute (burst 3)");
}

}  // namespace
}  // namespace vmesh::hub

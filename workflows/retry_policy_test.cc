#include "workflows/retry_policy.h"

#include <gtest/gtest.h>

namespace zlh::workflows {
namespace {

TEST(RetryPolicyTest, BackoffGrowsAndIsCapped) {
  RetryPolicy p;
  p.initial_backoff = Millis(100);
  p.multiplier = 2;
  p.max_backoff = Millis(1000);
  EXPECT_EQ(p.Backoff(1).count(), 100);
  EXPECT_EQ(p.Backoff(2).count(), 200);
  EXPECT_EQ(p.Backoff(4).count(), 800);
  EXPECT_EQ(p.Backoff(5).count(), 1000);
  EXPECT_EQ(p.Backoff(2, 1.2).count(), 240);
  EXPECT_EQ(p.Backoff(2, 5.0).count(), 240);  // jitter is clamped
}

TEST(RetryPolicyTest, RetriesOnlyRetryableErrorsWithinAttempts) {
  RetryPolicy p;
  p.max_attempts = 3;
  EXPECT_TRUE(p.ShouldRetry(Unavailable("down"), 1));
  EXPECT_TRUE(p.ShouldRetry(Unavailable("down"), 2));
  EXPECT_FALSE(p.ShouldRetry(Unavailable("down"), 3));
  EXPECT_FALSE(p.ShouldRetry(InvalidArgument("bad"), 1));
  EXPECT_FALSE(RetryPolicy::AtMostOnce().ShouldRetry(Unavailable("down"), 1));
}

}  // namespace
}  // namespace zlh::workflows

// How a step retries: attempts, exponential backoff, per-attempt timeout, errors never retried,
// and at-most-once execution for destructive actions. A plain value; thread-compatible.
#pragma once

#include <cstdint>
#include <vector>

#include "base/duration.h"
#include "base/status.h"

namespace zlh::workflows {

struct RetryPolicy {
  uint32_t max_attempts = 5;
  Millis initial_backoff{200};
  double multiplier = 2.0;
  Millis max_backoff{60'000};
  // 0: no limit. An attempt that runs longer is cancelled (its pending I/O aborts) and awaited,
  // then fails with kDeadlineExceeded (and may be retried): attempts never overlap.
  Millis attempt_timeout{0};
  // Errors that no retry can fix: the step fails at once.
  std::vector<Code> non_retryable = DefaultNonRetryable();
  // The step is never run twice: its start is made durable first, and a restart that finds it
  // started without an outcome fails it with kInterrupted instead of running it again. Implies one
  // attempt.
  bool at_most_once = false;

  // kInvalidArgument, kNotFound, kAlreadyExists, kFailedPrecondition, kCancelled,
  // kNonDeterminism, kInterrupted, kLeaseLost, kQuotaExceeded, kHeld, kNoCapacity.
  static std::vector<Code> DefaultNonRetryable();
  // One attempt, no retry.
  static RetryPolicy Once();
  // At most once (see above).
  static RetryPolicy AtMostOnce();

  // Whether a failure with `error` on attempt number `attempt` (1-based) gets another attempt.
  bool ShouldRetry(const Status& error, uint32_t attempt) const;
  // The wait after failed attempt `attempt`: initial * multiplier^(attempt-1), capped at
  // max_backoff, scaled by `jitter` in [0.8, 1.2] so that many failing steps do not retry in step.
  Millis Backoff(uint32_t attempt, double jitter = 1.0) const;
};

}  // namespace zlh::workflows

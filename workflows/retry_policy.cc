#include "workflows/retry_policy.h"

#include <algorithm>
#include <cmath>

namespace zlh::workflows {

std::vector<Code> RetryPolicy::DefaultNonRetryable() {
  return {Code::kInvalidArgument, Code::kNotFound,
          Code::kAlreadyExists,   Code::kFailedPrecondition,
          Code::kCancelled,       Code::kNonDeterminism,
          Code::kInterrupted,     Code::kLeaseLost,
          Code::kQuotaExceeded,   Code::kHeld,
          Code::kNoCapacity};
}

RetryPolicy RetryPolicy::Once() {
  RetryPolicy p;
  p.max_attempts = 1;
  return p;
}

RetryPolicy RetryPolicy::AtMostOnce() {
  RetryPolicy p = Once();
  p.at_most_once = true;
  return p;
}

bool RetryPolicy::ShouldRetry(const Status& error, uint32_t attempt) const {
  if (at_most_once || attempt >= max_attempts) return false;
  return std::find(non_retryable.begin(), non_retryable.end(), error.code()) ==
         non_retryable.end();
}

Millis RetryPolicy::Backoff(uint32_t attempt, double jitter) const {
  double ms = static_cast<double>(initial_backoff.count()) *
              std::pow(multiplier, static_cast<double>(attempt > 0 ? attempt - 1 : 0));
  ms = std::min(ms, static_cast<double>(max_backoff.count()));
  ms *= std::clamp(jitter, 0.8, 1.2);
  return Millis(static_cast<int64_t>(ms));
}

}  // namespace zlh::workflows

// The outbox's delivery rules (SPEC §10), as pure functions the dispatcher applies: how long to
// wait before the next try, what one attempt's answer means (delivered, try again, refused for
// good), and when a notification must also go by email.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "activities/services.h"
#include "base/duration.h"
#include "base/status.h"
#include "proto/domain.pb.h"

namespace zlh::notify {

struct BackoffOptions {
  Millis initial{1'000};
  Millis max{60'000};
};

// The wait after the `failures`-th failure in a row (1 for the first; 0 counts as 1):
// min(max, initial × 2^(failures−1)) × (0.8 + 0.2 × rand), `rand` in [0, 1) — so never above max.
Millis Backoff(uint32_t failures, const BackoffOptions& options, double rand);

// The longest wait a 429's retry_after is honoured for; a longer one is cut to it.
inline constexpr Millis kLongestRetryAfter{3'600'000};
// A 429 that says no wait: this one.
inline constexpr Millis kDefaultRetryAfter{1'000};

enum class Verdict { kDelivered, kRetry, kRefused };
// Why an attempt is tried again (the metrics' `reason`).
enum class RetryReason { kNone, kRateLimited, kUnavailable, kTimeout };

// What one attempt came to.
struct Outcome {
  Verdict verdict = Verdict::kRetry;
  RetryReason reason = RetryReason::kNone;  // kRetry only
  // kRetry: the wait the answer asked for (a 429's); nullopt: the caller's Backoff.
  std::optional<Millis> wait;
  int32_t status = 0;  // the HTTP status or SMTP reply; 0 when no answer came
  std::string error;   // "" when delivered: "HTTP 404 Unknown Webhook (10015)", "no answer ..."
};

// A Discord post's answer: 2xx delivered; 429 retried after its retry_after (1 s when it gives
// none; at most kLongestRetryAfter, however far beyond the backoff's cap); 5xx, no answer and a
// timeout retried with backoff; any other status — every other 4xx (404 with code 10015 for a
// deleted webhook, 401, 400, 408, 425) — and a post that could not be made (no webhook for the
// channel) refused.
Outcome Classify(const activities::PostResult& result);

// An email's outcome (Mailer::Send): OK delivered (250); kUnavailable (no connection, an SMTP 4xx)
// and kDeadlineExceeded retried with backoff; kInvalidArgument (an SMTP 5xx, AUTH refused) and
// kFailedPrecondition (a configuration that cannot work: no STARTTLS, a certificate not trusted)
// refused; anything else retried.
Outcome ClassifyEmail(const Status& sent);

// The metrics' name of a retry reason: "rate_limited", "unavailable", "timeout" ("" for kNone).
const char* ReasonName(RetryReason reason);

// When a notification also goes by email (SPEC §10). `enabled`: an email.smtpUrl is configured.
struct EmailPolicy {
  bool enabled = false;
  Millis fallback_after{5 * 60'000};
  bool always_critical = false;  // every #alerts-critical message, at once
  bool digest = false;           // the daily digest, at once
};

// The channel every critical alert goes to.
inline constexpr char kCriticalChannel[] = "alerts-critical";

// Why `n` must now also go by email — "digest", "always_critical", "refused" or "fallback_after",
// checked in that order — or nullopt: email is not enabled, `n` already has an email delivery, or
// no rule applies. A message that does not ping is emailed only as the digest or a critical
// under always_critical; one that pings is emailed once Discord refused it, or while its Discord
// delivery is still pending `fallback_after` after it was recorded.
std::optional<std::string> EmailReason(const proto::Notification& n, const EmailPolicy& policy,
                                       int64_t now_ms);

}  // namespace zlh::notify

// The outbox's delivery rules (policy.h).
// Thread-safety: pure functions.
#include "notify/policy.h"

#include <algorithm>
#include <cmath>

#include "fleet/outbox.h"

namespace zlh::notify {
namespace {

Outcome Retry(RetryReason reason, int32_t status, std::string error,
              std::optional<Millis> wait = std::nullopt) {
  return Outcome{Verdict::kRetry, reason, wait, status, std::move(error)};
}

Outcome Refused(int32_t status, std::string error) {
  return Outcome{Verdict::kRefused, RetryReason::kNone, std::nullopt, status, std::move(error)};
}

// "HTTP 404 Unknown Webhook (10015)".
std::string HttpError(const activities::PostResult& r) {
  std::string error = "HTTP " + std::to_string(r.http_status);
  if (!r.message.empty()) error += " " + r.message;
  if (r.discord_code != 0) error += " (" + std::to_string(r.discord_code) + ")";
  return error;
}

// An attempt that got no answer.
Outcome Unanswered(const Status& transport) {
  switch (transport.code()) {
    case Code::kDeadlineExceeded:
      return Retry(RetryReason::kTimeout, 0, transport.message());
    case Code::kInvalidArgument:  // no request could be made: no webhook for the channel
      return Refused(0, transport.message());
    default:
      return Retry(RetryReason::kUnavailable, 0, transport.message());
  }
}

const proto::Delivery* DiscordDelivery(const proto::Notification& n) {
  for (const auto& d : n.deliveries()) {
    if (d.route() == fleet::DiscordRoute(n.channel())) return &d;
  }
  return nullptr;
}

bool HasEmail(const proto::Notification& n) {
  return std::any_of(n.deliveries().begin(), n.deliveries().end(),
                     [](const proto::Delivery& d) { return d.route() == fleet::kEmailRoute; });
}

}  // namespace

Millis Backoff(uint32_t failures, const BackoffOptions& options, double rand) {
  const double max = static_cast<double>(options.max.count());
  const uint32_t doublings = std::min<uint32_t>(std::max<uint32_t>(failures, 1) - 1, 62);
  const double uncapped =
      static_cast<double>(options.initial.count()) * std::ldexp(1.0, static_cast<int>(doublings));
  const double jitter = 0.8 + 0.2 * std::clamp(rand, 0.0, 1.0);
  return Millis(static_cast<int64_t>(std::min(max, std::min(max, uncapped) * jitter)));
}

Outcome Classify(const activities::PostResult& r) {
  if (!r.transport.ok()) return Unanswered(r.transport);
  const int32_t status = static_cast<int32_t>(r.http_status);
  if (r.delivered())
    return Outcome{Verdict::kDelivered, RetryReason::kNone, std::nullopt, status, ""};
  if (status == 429) {
    Millis wait = std::min(r.retry_after.value_or(kDefaultRetryAfter), kLongestRetryAfter);
    return Retry(RetryReason::kRateLimited, status, HttpError(r), wait);
  }
  if (status >= 500) return Retry(RetryReason::kUnavailable, status, HttpError(r));
  return Refused(status, HttpError(r));
}

Outcome ClassifyEmail(const Status& sent) {
  constexpr int32_t kSmtpOk = 250;
  switch (sent.code()) {
    case Code::kOk:
      return Outcome{Verdict::kDelivered, RetryReason::kNone, std::nullopt, kSmtpOk, ""};
    case Code::kDeadlineExceeded:
      return Retry(RetryReason::kTimeout, 0, sent.message());
    case Code::kInvalidArgument:
    case Code::kFailedPrecondition:
      return Refused(0, sent.message());
    default:
      return Retry(RetryReason::kUnavailable, 0, sent.message());
  }
}

const char* ReasonName(RetryReason reason) {
  switch (reason) {
    case RetryReason::kRateLimited:
      return "rate_limited";
    case RetryReason::kUnavailable:
      return "unavailable";
    case RetryReason::kTimeout:
      return "timeout";
    case RetryReason::kNone:
      break;
  }
  return "";
}

std::optional<std::string> EmailReason(const proto::Notification& n, const EmailPolicy& policy,
                                       int64_t now_ms) {
  if (!policy.enabled || HasEmail(n)) return std::nullopt;
  if (n.digest() && policy.digest) return "digest";
  if (n.channel() == kCriticalChannel && policy.always_critical) return "always_critical";
  const proto::Delivery* discord = DiscordDelivery(n);
  if (!n.ping() || discord == nullptr) return std::nullopt;
  if (discord->state() == proto::DELIVERY_FAILED) return "refused";
  if (discord->state() == proto::DELIVERY_PENDING &&
      now_ms - n.recorded_ms() >= policy.fallback_after.count()) {
    return "fallback_after";
  }
  return std::nullopt;
}

}  // namespace zlh::notify

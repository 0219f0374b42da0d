// The outbox's delivery rules (policy.h): backoff, what an answer means, and when email is due.
#include "notify/policy.h"

#include <gtest/gtest.h>

#include "fleet/outbox.h"

namespace zlh::notify {
namespace {

using activities::PostResult;

PostResult Answer(long status, std::string message = "", int code = 0,
                  std::optional<Millis> retry_after = std::nullopt) {
  PostResult r;
  r.http_status = status;
  r.message = std::move(message);
  r.discord_code = code;
  r.retry_after = retry_after;
  return r;
}

PostResult NoAnswer(Status why) {
  PostResult r;
  r.transport = std::move(why);
  return r;
}

// A notification recorded at 1,000 ms with its Discord delivery in `state`.
proto::Notification Recorded(const std::string& channel, bool ping,
                             proto::DeliveryState state = proto::DELIVERY_PENDING) {
  proto::Notification n;
  n.set_id(1);
  n.set_key("wf:notify");
  n.set_channel(channel);
  n.set_content("text");
  n.set_ping(ping);
  n.set_recorded_ms(1'000);
  proto::Delivery* d = n.add_deliveries();
  d->set_route(fleet::DiscordRoute(channel));
  d->set_state(state);
  return n;
}

EmailPolicy Enabled() {
  EmailPolicy p;
  p.enabled = true;
  p.fallback_after = Millis(60'000);
  return p;
}

TEST(PolicyTest, BackoffDoublesAndNeverExceedsMaxBackoff) {
  BackoffOptions o{Millis(1'000), Millis(60'000)};
  // The top of the jitter (rand → 1) is the doubling itself; the bottom is 80 % of it.
  EXPECT_EQ(Backoff(1, o, 1.0), Millis(1'000));
  EXPECT_EQ(Backoff(2, o, 1.0), Millis(2'000));
  EXPECT_EQ(Backoff(5, o, 1.0), Millis(16'000));
  EXPECT_EQ(Backoff(5, o, 0.0), Millis(12'800));
  EXPECT_EQ(Backoff(0, o, 1.0), Millis(1'000));
  for (uint32_t n : {7u, 8u, 30u, 64u, 1'000u, 4'000'000'000u}) {
    for (double r : {0.0, 0.5, 0.999, 1.0}) {
      Millis wait = Backoff(n, o, r);
      EXPECT_LE(wait, o.max) << n << " " << r;
      EXPECT_GE(wait, Millis(48'000)) << n << " " << r;  // capped, then jittered down
    }
  }
}

TEST(PolicyTest, A429WaitsItsRetryAfterEvenBeyondTheCap) {
  Outcome limited = Classify(Answer(429, "You are being rate limited.", 0, Millis(350)));
  EXPECT_EQ(limited.verdict, Verdict::kRetry);
  EXPECT_EQ(limited.reason, RetryReason::kRateLimited);
  EXPECT_EQ(limited.wait, Millis(350));
  EXPECT_EQ(limited.status, 429);
  // Beyond any backoff cap: honoured; beyond an hour: an hour.
  EXPECT_EQ(Classify(Answer(429, "", 0, Millis(600'000))).wait, Millis(600'000));
  EXPECT_EQ(Classify(Answer(429, "", 0, Millis(86'400'000))).wait, kLongestRetryAfter);
  EXPECT_EQ(Classify(Answer(429)).wait, kDefaultRetryAfter);  // it said no wait
}

TEST(PolicyTest, Every4xxButA429IsARefusal) {
  for (long status : {400L, 401L, 403L, 404L, 405L, 408L, 413L, 425L, 499L}) {
    Outcome o = Classify(Answer(status, "Nope"));
    EXPECT_EQ(o.verdict, Verdict::kRefused) << status;
    EXPECT_EQ(o.status, status);
    EXPECT_EQ(o.error, "HTTP " + std::to_string(status) + " Nope");
  }
  // No request could be made: the channel has no webhook.
  Outcome nowhere = Classify(NoAnswer(InvalidArgument("discord: no webhook for 'x'")));
  EXPECT_EQ(nowhere.verdict, Verdict::kRefused);
  EXPECT_EQ(nowhere.status, 0);
  EXPECT_NE(nowhere.error.find("no webhook"), std::string::npos);
}

TEST(PolicyTest, Discord10015IsARefusal) {
  Outcome gone = Classify(Answer(404, "Unknown Webhook", 10015));
  EXPECT_EQ(gone.verdict, Verdict::kRefused);
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(gone.error, "HTTP 404 Unknown Webhook (10015)");
}

TEST(PolicyTest, FiveHundredsAndTimeoutsAreRetried) {
  for (long status : {500L, 502L, 503L, 504L}) {
    Outcome o = Classify(Answer(status, "Service Unavailable"));
    EXPECT_EQ(o.verdict, Verdict::kRetry) << status;
    EXPECT_EQ(o.reason, RetryReason::kUnavailable);
    EXPECT_FALSE(o.wait.has_value()) << "the backoff's to choose";
  }
  Outcome late = Classify(NoAnswer(Status(Code::kDeadlineExceeded, "no answer within 10s")));
  EXPECT_EQ(late.verdict, Verdict::kRetry);
  EXPECT_EQ(late.reason, RetryReason::kTimeout);
  EXPECT_EQ(late.status, 0);
  EXPECT_EQ(late.error, "no answer within 10s");
  Outcome refused = Classify(NoAnswer(Unavailable("Couldn't connect to server")));
  EXPECT_EQ(refused.verdict, Verdict::kRetry);
  EXPECT_EQ(refused.reason, RetryReason::kUnavailable);
  Outcome shown = Classify(Answer(204));
  EXPECT_EQ(shown.verdict, Verdict::kDelivered);
  EXPECT_EQ(shown.status, 204);
  EXPECT_EQ(shown.error, "");
  EXPECT_STREQ(ReasonName(RetryReason::kRateLimited), "rate_limited");
  EXPECT_STREQ(ReasonName(RetryReason::kTimeout), "timeout");
}

// SmtpMailer's errors: a 4xx reply or no connection is kUnavailable, a 5xx kInvalidArgument, a
// configuration that cannot work kFailedPrecondition.
TEST(PolicyTest, SmtpRefusalsAreFinalAndTheRestRetried) {
  EXPECT_EQ(ClassifyEmail(Status::Ok()).verdict, Verdict::kDelivered);
  EXPECT_EQ(ClassifyEmail(Status::Ok()).status, 250);
  Outcome busy = ClassifyEmail(Unavailable("email: Failed sending data (SMTP 451)"));
  EXPECT_EQ(busy.verdict, Verdict::kRetry);
  EXPECT_EQ(busy.reason, RetryReason::kUnavailable);
  EXPECT_EQ(ClassifyEmail(Status(Code::kDeadlineExceeded, "slow")).reason, RetryReason::kTimeout);
  EXPECT_EQ(ClassifyEmail(InvalidArgument("email: (SMTP 550)")).verdict, Verdict::kRefused);
  EXPECT_EQ(ClassifyEmail(FailedPrecondition("no STARTTLS")).verdict, Verdict::kRefused);
}

TEST(PolicyTest, TheDigestAndEveryCriticalGoAtOnceWhenAsked) {
  EmailPolicy p = Enabled();
  proto::Notification digest = Recorded("system-health", false);
  digest.set_digest(true);
  EXPECT_EQ(EmailReason(digest, p, 1'000), std::nullopt);
  p.digest = true;
  EXPECT_EQ(EmailReason(digest, p, 1'000), "digest");
  proto::Notification critical = Recorded(kCriticalChannel, false);
  EXPECT_EQ(EmailReason(critical, p, 1'000), std::nullopt);
  p.always_critical = true;
  EXPECT_EQ(EmailReason(critical, p, 1'000), "always_critical");
  EXPECT_EQ(EmailReason(Recorded(kCriticalChannel, true, proto::DELIVERY_DELIVERED), p, 1'000),
            "always_critical");
}

TEST(PolicyTest, ARefusedPingIsEmailedAtOnce) {
  EXPECT_EQ(EmailReason(Recorded("alerts-billing", true, proto::DELIVERY_FAILED), Enabled(), 1'000),
            "refused");
  EXPECT_EQ(EmailReason(Recorded("audit-log", false, proto::DELIVERY_FAILED), Enabled(), 1'000),
            std::nullopt);
}

TEST(PolicyTest, APingStillPendingAfterFallbackAfterIsEmailed) {
  proto::Notification n = Recorded("alerts-provisioning", true);
  EXPECT_EQ(EmailReason(n, Enabled(), 1'000 + 59'999), std::nullopt);
  EXPECT_EQ(EmailReason(n, Enabled(), 1'000 + 60'000), "fallback_after");
}

TEST(PolicyTest, ANonPingIsNeverEmailedByFallback) {
  EXPECT_EQ(EmailReason(Recorded("alerts-repairs", false), Enabled(), 1'000'000'000), std::nullopt);
}

TEST(PolicyTest, NoEmailConfiguredEmailsNothing) {
  EmailPolicy off = Enabled();
  off.enabled = false;
  off.always_critical = off.digest = true;
  proto::Notification n = Recorded(kCriticalChannel, true, proto::DELIVERY_FAILED);
  n.set_digest(true);
  EXPECT_EQ(EmailReason(n, off, 1'000'000'000), std::nullopt);
}

TEST(PolicyTest, AMessageOnDiscordInTimeIsNotEmailed) {
  EXPECT_EQ(EmailReason(Recorded("alerts-critical", true, proto::DELIVERY_DELIVERED), Enabled(),
                        1'000'000),
            std::nullopt);
}

TEST(PolicyTest, AnEntryWithAnEmailDeliveryGetsNoOther) {
  proto::Notification n = Recorded("alerts-critical", true, proto::DELIVERY_FAILED);
  proto::Delivery* email = n.add_deliveries();
  email->set_route(fleet::kEmailRoute);
  email->set_state(proto::DELIVERY_PENDING);
  EXPECT_EQ(EmailReason(n, Enabled(), 1'000'000), std::nullopt);
}

}  // namespace
}  // namespace zlh::notify

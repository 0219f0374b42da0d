// One attempt of the dispatcher (dispatcher.h): W1, the send, W2, and what they count.
// Thread-safety: the dispatcher's executor thread; the edits run in journal transactions.
#include <spdlog/spdlog.h>

#include "base/clock.h"
#include "fleet/outbox.h"
#include "journal/append_durably.h"
#include "notify/dispatcher_state.h"

namespace zlh::notify {
namespace {

// How long a lane waits after the journal refused one of its attempt's writes (it fail-stops on
// a write error: the node is going down).
constexpr Millis kHoldAfterWriteError{5'000};

// The entry `id` as `txn` sees it with its delivery on `route` pending; nullopt when it is not
// (pruned, or that delivery already ended).
Result<std::optional<proto::Notification>> PendingOn(journal::Txn& txn, uint64_t id,
                                                     const std::string& route) {
  auto read = fleet::GetNotification(txn, id);
  if (!read.ok()) return read.status();
  if (!read->has_value()) return read;
  const proto::Delivery* d = FindDelivery(**read, route);
  if (!d || d->state() != proto::DELIVERY_PENDING) return std::optional<proto::Notification>();
  return read;
}

}  // namespace

void RecordOutcome(proto::Delivery& d, const Outcome& outcome, int64_t now_ms, Millis wait) {
  d.set_in_flight_ms(0);
  d.set_last_status(outcome.status);
  d.set_last_error(outcome.error);
  switch (outcome.verdict) {
    case Verdict::kDelivered:
      d.set_parts_done(d.parts_done() + 1);
      d.set_next_try_ms(0);  // the next part at once
      if (d.parts_done() >= d.parts()) {
        d.set_state(proto::DELIVERY_DELIVERED);
        d.set_done_ms(now_ms);
      }
      break;
    case Verdict::kRetry:
      d.set_next_try_ms(now_ms + wait.count());
      break;
    case Verdict::kRefused:
      d.set_state(proto::DELIVERY_FAILED);
      d.set_done_ms(now_ms);
      d.set_next_try_ms(0);
      break;
  }
}

void AddEmailDelivery(proto::Notification& n, const std::string& reason, int64_t now_ms) {
  proto::Delivery* email = n.add_deliveries();
  email->set_route(fleet::kEmailRoute);
  email->set_state(proto::DELIVERY_PENDING);
  email->set_reason(reason);
  email->set_added_ms(now_ms);
}

const char* RouteKind(const std::string& route) {
  return route == fleet::kEmailRoute ? "email" : "discord";
}

Task<void> Dispatcher::Attempt(std::string route, uint64_t id) {
  auto state = state_;
  auto begun = co_await BeginAttempt(route, id);
  bool held = !begun.ok();
  if (held) {
    spdlog::error("outbox: notification {}: its attempt on {} cannot be recorded: {}", id, route,
                  begun.status().ToString());
  } else if (begun->has_value()) {
    Outcome outcome = co_await Send(route, **begun);
    Lane& lane = state->lanes.lanes()[route];
    if (outcome.verdict != Verdict::kRetry) {
      lane.failures = 0;
    } else if (!outcome.wait) {
      ++lane.failures;
    }
    Millis wait = outcome.wait.value_or(Backoff(lane.failures, options_.backoff, state->Uniform()));
    if (Status ended = co_await EndAttempt(route, id, outcome, wait); !ended.ok()) {
      spdlog::error(
          "outbox: notification {}: the outcome of its attempt on {} cannot be "
          "recorded: {}",
          id, route, ended.ToString());
      held = true;
    }
  }
  Lane& lane = state->lanes.lanes()[route];
  if (held) lane.hold_until_ms = NowMs() + kHoldAfterWriteError.count();
  lane.busy = false;
  --state->in_flight;
  state->Poke();
}

Task<Result<std::optional<proto::Notification>>> Dispatcher::BeginAttempt(const std::string& route,
                                                                          uint64_t id) {
  auto begun = std::make_shared<std::optional<proto::Notification>>();
  const int64_t now = NowMs();
  const activities::Notifier& discord = discord_;  // PartCount is pure: safe on the writer
  Status s = co_await journal::AppendDurably(journal_, [route, id, now, begun, &discord](journal::Txn& t) -> Status {
    auto read = PendingOn(t, id, route);
    if (!read.ok()) return read.status();
    if (!read->has_value()) return Status::Ok();
    proto::Notification& n = **read;
    proto::Delivery& d = *FindDelivery(n, route);
    d.set_attempts(d.attempts() + 1);
    d.set_in_flight_ms(now);
    if (d.parts() == 0) {
      d.set_parts(
          route == fleet::kEmailRoute ? 1 : static_cast<uint32_t>(discord.PartCount(n.content())));
    }
    ZLH_RETURN_IF_ERROR(fleet::PutNotification(t, n));
    *begun = std::move(n);
    return Status::Ok();
  });
  if (!s.ok()) co_return s;
  if (begun->has_value()) {
    state_->lanes.Update(**begun);
  } else {
    state_->lanes.Forget(route, id);  // not pending after all: trying it again would spin
  }
  co_return std::move(*begun);
}

Task<Outcome> Dispatcher::Send(const std::string& route, const proto::Notification& n) {
  if (route == fleet::kEmailRoute) {
    if (!mailer_) {
      co_return Outcome{Verdict::kRefused, RetryReason::kNone, std::nullopt, 0,
                        "email is not configured (email.smtpUrl)"};
    }
    co_return ClassifyEmail(co_await mailer_->Send({n.key(), 0}, n.channel(), n.content()));
  }
  const proto::Delivery* d = FindDelivery(n, route);
  co_return Classify(
      co_await discord_.PostPart(n.key(), n.channel(), n.content(), n.ping(), d->parts_done()));
}

Task<Status> Dispatcher::EndAttempt(const std::string& route, uint64_t id, const Outcome& outcome,
                                    Millis wait) {
  auto ended = std::make_shared<std::optional<proto::Notification>>();
  const int64_t now = NowMs();
  const EmailPolicy email = options_.email;
  Status s =
      co_await journal::AppendDurably(journal_, [route, id, now, outcome, wait, email, ended](journal::Txn& t) -> Status {
        auto read = PendingOn(t, id, route);
        if (!read.ok()) return read.status();
        if (!read->has_value()) return Status::Ok();
        proto::Notification& n = **read;
        RecordOutcome(*FindDelivery(n, route), outcome, now, wait);
        if (outcome.verdict == Verdict::kRefused && route != fleet::kEmailRoute) {
          // Refused by Discord: a ping goes by email, in this same write.
          if (auto reason = EmailReason(n, email, now)) AddEmailDelivery(n, *reason, now);
        }
        ZLH_RETURN_IF_ERROR(fleet::PutNotification(t, n));
        *ended = std::move(n);
        return Status::Ok();
      });
  if (!s.ok()) co_return s;
  if (ended->has_value()) {
    state_->lanes.Update(**ended);
    Tally(route, **ended, outcome, wait);
  }
  co_return Status::Ok();
}

void Dispatcher::Tally(const std::string& route, const proto::Notification& n,
                       const Outcome& outcome, Millis wait) {
  State& s = *state_;
  Lane& lane = s.lanes.lanes()[route];
  lane.failing = outcome.verdict != Verdict::kDelivered;
  const proto::Delivery& d = *FindDelivery(n, route);
  switch (outcome.verdict) {
    case Verdict::kDelivered:
      if (d.state() == proto::DELIVERY_DELIVERED) ++s.counters.delivered;
      break;
    case Verdict::kRetry:
      ++s.counters.retries[RetryKey{RouteKind(route), n.channel(), ReasonName(outcome.reason)}];
      spdlog::info("outbox: notification {} (#{}) on {}, attempt {}: {}; next try in {}", n.id(),
                   n.channel(), route, d.attempts(), outcome.error, FormatDuration(wait));
      break;
    case Verdict::kRefused: {
      ++s.counters.failed;
      lane.refused_ms = d.done_ms();
      const proto::Delivery* email = FindDelivery(n, fleet::kEmailRoute);
      spdlog::warn("outbox: notification {} (#{}) refused on {}: {}{}", n.id(), n.channel(), route,
                   outcome.error,
                   email && email->reason() == "refused" ? "; it goes by email" : "");
      break;
    }
  }
}

}  // namespace zlh::notify

// The dispatcher's bookkeeping writes (dispatcher.h): recovery of the attempts a restart cut
// short, the email deliveries the rules call for, and pruning.
// Thread-safety: the dispatcher's executor thread; the edits run in journal transactions.
#include <spdlog/spdlog.h>

#include "base/clock.h"
#include "fleet/outbox.h"
#include "journal/append_durably.h"
#include "notify/dispatcher_state.h"

namespace zlh::notify {
namespace {

// Deletions per prune write (the rest waits for the next).
constexpr size_t kPruneLimit = 1'000;
// How far back a refusal is looked for at the start, for `failing`.
constexpr int64_t kRefusalsShownMs = 3'600'000;

// An attempt a restart cut short.
struct Cut {
  uint64_t id = 0;
  std::string channel;
  std::string route;
  uint32_t attempt = 0;
};

// Clears every attempt in flight on `n`, counting it interrupted; what it cleared.
std::vector<Cut> ClearInFlight(proto::Notification& n) {
  std::vector<Cut> cut;
  for (auto& d : *n.mutable_deliveries()) {
    if (d.state() != proto::DELIVERY_PENDING || d.in_flight_ms() == 0) continue;
    d.set_interrupted(d.interrupted() + 1);
    d.set_in_flight_ms(0);
    cut.push_back(Cut{n.id(), n.channel(), d.route(), d.attempts()});
  }
  return cut;
}

bool InFlight(const proto::Notification& n) {
  for (const auto& d : n.deliveries()) {
    if (d.state() == proto::DELIVERY_PENDING && d.in_flight_ms() != 0) return true;
  }
  return false;
}

}  // namespace

Task<Status> Dispatcher::Recover() {
  State& s = *state_;
  ZLH_CO_RETURN_IF_ERROR(s.lanes.Rescan(journal_));
  const int64_t now = NowMs();
  auto recent = fleet::NotificationsSince(journal_, now - kRefusalsShownMs);
  if (!recent.ok()) co_return recent.status();
  for (const auto& n : *recent) {
    const proto::Delivery* d = FindDelivery(n, fleet::DiscordRoute(n.channel()));
    if (d && d->state() == proto::DELIVERY_FAILED && now - d->done_ms() < kRefusalsShownMs) {
      Lane& lane = s.lanes.lanes()[d->route()];
      lane.refused_ms = std::max(lane.refused_ms, d->done_ms());
    }
  }
  std::vector<uint64_t> ids;
  for (const auto& [id, n] : s.lanes.entries()) {
    if (InFlight(n)) ids.push_back(id);
  }
  if (ids.empty()) co_return Status::Ok();
  auto cleared = std::make_shared<std::vector<proto::Notification>>();
  auto cuts = std::make_shared<std::vector<Cut>>();
  ZLH_CO_RETURN_IF_ERROR(co_await journal::AppendDurably(journal_, [ids, cleared, cuts](journal::Txn& t) -> Status {
    for (uint64_t id : ids) {
      auto read = fleet::GetNotification(t, id);
      if (!read.ok()) return read.status();
      if (!read->has_value()) continue;
      for (Cut& c : ClearInFlight(**read)) cuts->push_back(std::move(c));
      ZLH_RETURN_IF_ERROR(fleet::PutNotification(t, **read));
      cleared->push_back(std::move(**read));
    }
    return Status::Ok();
  }));
  for (const auto& n : *cleared) s.lanes.Update(n);
  for (const Cut& c : *cuts) {
    ++s.counters.interrupted;
    spdlog::warn(
        "outbox: notification {} (#{}) attempt {} on {} was cut by a restart: it may show "
        "twice",
        c.id, c.channel, c.attempt, c.route);
  }
  co_return Status::Ok();
}

Task<Status> Dispatcher::ApplyEmailRules(int64_t now_ms) {
  State& s = *state_;
  const bool leads = Leads();
  const EmailPolicy email = options_.email;
  std::vector<uint64_t> due;
  for (const auto& [id, n] : s.lanes.entries()) {
    if ((leads || n.origin() == proto::ORIGIN_NODE) && EmailReason(n, email, now_ms)) {
      due.push_back(id);
    }
  }
  if (due.empty()) co_return Status::Ok();
  auto added = std::make_shared<std::vector<proto::Notification>>();
  ZLH_CO_RETURN_IF_ERROR(co_await journal::AppendDurably(journal_, [due, email, now_ms, added](journal::Txn& t) -> Status {
    for (uint64_t id : due) {
      auto read = fleet::GetNotification(t, id);
      if (!read.ok()) return read.status();
      if (!read->has_value()) continue;
      auto reason = EmailReason(**read, email, now_ms);
      if (!reason) continue;
      AddEmailDelivery(**read, *reason, now_ms);
      ZLH_RETURN_IF_ERROR(fleet::PutNotification(t, **read));
      added->push_back(std::move(**read));
    }
    return Status::Ok();
  }));
  for (const auto& n : *added) {
    s.lanes.Update(n);
    spdlog::info("outbox: notification {} (#{}) goes by email too ({})", n.id(), n.channel(),
                 FindDelivery(n, fleet::kEmailRoute)->reason());
  }
  co_return Status::Ok();
}

Task<Status> Dispatcher::Prune(int64_t now_ms) {
  auto pruned = std::make_shared<size_t>(0);
  const int64_t delivered_before = now_ms - options_.keep_delivered.count();
  const int64_t failed_before = now_ms - options_.keep_failed.count();
  ZLH_CO_RETURN_IF_ERROR(co_await journal::AppendDurably(journal_, [=](journal::Txn& t) -> Status {
    auto n = fleet::PruneNotifications(t, delivered_before, failed_before, kPruneLimit);
    if (!n.ok()) return n.status();
    *pruned = *n;
    return Status::Ok();
  }));
  if (*pruned > 0) spdlog::info("outbox: pruned {} delivered or failed notification(s)", *pruned);
  co_return Status::Ok();
}

}  // namespace zlh::notify

// The dispatcher's loop (dispatcher.h): start, stop, wake, and each pass — rescan, email rules,
// pruning, and the attempts that may start.
// Thread-safety: as its header says.
#include "notify/dispatcher.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>

#include "base/clock.h"
#include "notify/dispatcher_state.h"

namespace zlh::notify {

namespace asio = boost::asio;

DispatcherOptions OptionsOf(const config::Settings& s, std::function<bool()> leads) {
  DispatcherOptions o;
  o.backoff = BackoffOptions{s.notify_initial_backoff, s.notify_max_backoff};
  o.concurrency = s.notify_concurrency;
  o.keep_delivered = s.notify_keep_delivered;
  o.keep_failed = s.notify_keep_failed;
  const auto& email = s.file.email();
  o.email =
      EmailPolicy{s.HasEmail(), s.email_fallback_after, email.always_critical(), email.digest()};
  for (const auto& [channel, url] : s.file.discord().webhooks()) o.channels.push_back(channel);
  o.leads = std::move(leads);
  return o;
}

Dispatcher::Dispatcher(asio::any_io_executor ex, journal::Journal& journal,
                       activities::Notifier& discord, activities::Mailer* mailer,
                       DispatcherOptions options)
    : ex_(std::move(ex)),
      journal_(journal),
      discord_(discord),
      mailer_(mailer),
      options_(std::move(options)),
      state_(std::make_shared<State>(ex_)) {
  if (options_.concurrency == 0) options_.concurrency = 1;
  if (!mailer_) options_.email.enabled = false;
}

Dispatcher::~Dispatcher() = default;

void Dispatcher::UseRoutes(EmailPolicy email, std::vector<std::string> channels) {
  options_.email = email;
  if (!mailer_) options_.email.enabled = false;
  options_.channels = std::move(channels);
  Wake();
}

void Dispatcher::Start() {
  if (state_->started) return;
  state_->started = state_->running = true;
  asio::co_spawn(ex_, Run(), asio::detached);
}

Task<void> Dispatcher::Stop(Millis deadline) {
  auto state = state_;
  state->stopped = true;
  state->Poke();
  asio::steady_timer wait(ex_);
  const auto until = std::chrono::steady_clock::now() + deadline;
  while ((state->in_flight > 0 || state->running) && std::chrono::steady_clock::now() < until) {
    wait.expires_after(Millis(10));
    co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  if (state->in_flight > 0) {
    spdlog::warn(
        "outbox: stopping with {} attempt(s) in flight: the next start counts them as "
        "interrupted and sends them again",
        state->in_flight);
  }
}

void Dispatcher::Wake() {
  asio::post(ex_, [weak = std::weak_ptr<State>(state_)] {
    if (auto state = weak.lock()) {
      state->rescan_due = true;
      state->Poke();
    }
  });
}

Snapshot Dispatcher::snapshot() const {
  Snapshot s = state_->view;
  s.counters = state_->counters;
  return s;
}

Task<void> Dispatcher::Run() {
  auto state = state_;
  if (Status s = co_await Recover(); !s.ok()) {
    spdlog::error("outbox: cannot recover the attempts a restart cut short: {}", s.ToString());
  }
  while (!state->stopped) {
    co_await Pass();
    if (state->stopped) break;
    co_await Sleep();
  }
  state->running = false;
}

Task<void> Dispatcher::Sleep() {
  State& s = *state_;
  if (s.woken) {
    s.woken = false;
    co_return;
  }
  const int64_t now = NowMs();
  int64_t until = s.next_rescan_ms;
  if (s.in_flight < options_.concurrency) {
    // A head that is not yet due wakes the loop when it is.
    for (auto& [route, lane] : s.lanes.lanes()) {
      if (lane.busy) continue;
      const proto::Notification* head = s.lanes.Head(route, Leads());
      const proto::Delivery* d = head ? FindDelivery(*head, route) : nullptr;
      if (d) until = std::min(until, std::max({now, d->next_try_ms(), lane.hold_until_ms}));
    }
  }
  s.timer.expires_after(Millis(std::max<int64_t>(0, until - now)));
  co_await s.timer.async_wait(asio::as_tuple(asio::use_awaitable));
  s.woken = false;
}

Task<void> Dispatcher::Pass() {
  auto state = state_;
  int64_t now = NowMs();
  if (state->rescan_due || now >= state->next_rescan_ms) {
    state->rescan_due = false;
    state->next_rescan_ms = now + options_.rescan.count();
    if (Status read = state->lanes.Rescan(journal_); !read.ok()) {
      spdlog::error("outbox: cannot read the pending deliveries: {}", read.ToString());
    } else if (options_.email.enabled) {
      if (Status e = co_await ApplyEmailRules(now); !e.ok()) {
        spdlog::error("outbox: cannot record the email deliveries due: {}", e.ToString());
      }
    }
    if (now >= state->next_prune_ms) {
      state->next_prune_ms = now + options_.prune_every.count();
      if (Status p = co_await Prune(now); !p.ok()) {
        spdlog::error("outbox: cannot prune: {}", p.ToString());
      }
    }
    state->view = state->lanes.View(NowMs(), options_.channels, options_.email.enabled);
  }
  if (!state->stopped) StartDueAttempts(NowMs());
}

void Dispatcher::StartDueAttempts(int64_t now_ms) {
  State& s = *state_;
  const bool leads = Leads();
  std::vector<std::pair<uint64_t, std::string>> due;  // head id, route
  for (auto& [route, lane] : s.lanes.lanes()) {
    if (lane.busy || lane.hold_until_ms > now_ms) continue;
    const proto::Notification* head = s.lanes.Head(route, leads);
    const proto::Delivery* d = head ? FindDelivery(*head, route) : nullptr;
    if (d && d->next_try_ms() <= now_ms) due.emplace_back(head->id(), route);
  }
  std::sort(due.begin(), due.end());  // the oldest head first, when not all may start
  for (auto& [id, route] : due) {
    if (s.in_flight >= options_.concurrency) break;
    s.lanes.lanes()[route].busy = true;
    ++s.in_flight;
    asio::co_spawn(ex_, Attempt(route, id), asio::detached);
  }
}

}  // namespace zlh::notify

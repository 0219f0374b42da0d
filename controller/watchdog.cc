#include "controller/watchdog.h"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>

#include "base/clock.h"
#include "fleet/outbox.h"

namespace zlh::controller {

namespace asio = boost::asio;

struct Watchdog::State {
  explicit State(asio::any_io_executor ex) : timer(ex) {}
  asio::steady_timer timer;
  bool stopped = false;
};

Watchdog::Watchdog(asio::any_io_executor ex, Millis interval, const DecisionLog& log,
                   journal::Journal& journal, std::function<void()> notified,
                   std::function<bool()> others_act)
    : ex_(std::move(ex)),
      interval_(interval),
      log_(log),
      journal_(journal),
      notified_(std::move(notified)),
      others_act_(std::move(others_act)) {}

Watchdog::~Watchdog() { Stop(); }

void Watchdog::Start() {
  if (state_) return;
  state_ = std::make_shared<State>(ex_);
  asio::co_spawn(
      ex_,
      [this, state = state_]() -> asio::awaitable<void> {
        int64_t acted = NowMs();  // a fresh node gets two ticks before it speaks
        bool alerted = false;
        while (!state->stopped) {
          auto slept_from = std::chrono::steady_clock::now();
          state->timer.expires_after(interval_);
          co_await state->timer.async_wait(asio::as_tuple(asio::use_awaitable));
          if (state->stopped) co_return;
          int64_t now = NowMs();
          if (std::chrono::steady_clock::now() - slept_from > 2 * interval_) {
            // This node was not running (paused, or starved) and cannot tell who acted meanwhile;
            // its own lock state is stale too. It gives the controller two ticks, as a fresh node.
            acted = now;
            continue;
          }
          acted = std::max(acted, log_.last_tick_ms());
          if (others_act_ && others_act_()) acted = now;
          bool silent = now - acted > 2 * interval_.count();
          if (silent && !alerted) {
            alerted = true;
            Alert(acted, Millis(now - acted));
          } else if (!silent && alerted) {
            alerted = false;  // the outage is over: the next one alerts again
            spdlog::info("a controller acts again");
          }
        }
      },
      asio::detached);
}

void Watchdog::Alert(int64_t acted_ms, Millis silence) {
  spdlog::error("no controller has acted for {}: alerting", FormatDuration(silence));
  fleet::Intent intent;
  intent.key = "watchdog:" + std::to_string(acted_ms);  // one per outage
  intent.channel = "alerts-critical";
  intent.content = "No controller has acted for " + FormatDuration(silence) +
                   " (more than two ticks): Redis down or the controller lock lost. " +
                   "Nothing is being reconciled.";
  intent.ping = true;
  intent.origin = proto::ORIGIN_NODE;
  intent.source = "watchdog";
  journal_.Append(
      {},
      [intent](journal::Txn& t) -> Status {
        return fleet::EnqueueNotification(t, intent, NowMs()).status();
      },
      // On the journal's writer: back to the executor, where `notified` runs.
      [ex = ex_, notified = notified_](Status s) {
        asio::post(ex, [s = std::move(s), notified] {
          if (!s.ok()) {
            spdlog::error("watchdog alert not recorded: {}", s.ToString());
          } else if (notified) {
            notified();
          }
        });
      });
}

void Watchdog::Stop() {
  if (!state_) return;
  state_->stopped = true;
  state_->timer.cancel();
  state_.reset();
}

}  // namespace zlh::controller

#include "controller/watchdog.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "base/clock.h"

namespace zlh::controller {

namespace asio = boost::asio;

struct Watchdog::State {
  explicit State(asio::any_io_executor ex) : timer(ex) {}
  asio::steady_timer timer;
  bool stopped = false;
};

Watchdog::Watchdog(asio::any_io_executor ex, Millis interval, const DecisionLog& log,
                   activities::Notifier& notifier, std::function<bool()> others_act)
    : ex_(std::move(ex)),
      interval_(interval),
      log_(log),
      notifier_(notifier),
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
            spdlog::error("no controller has acted for {}: alerting", FormatDuration(Millis(now - acted)));
            std::string text = "No controller has acted for " + FormatDuration(Millis(now - acted)) +
                               " (more than two ticks): Redis down or the controller lock lost. " +
                               "Nothing is being reconciled.";
            Status s = co_await notifier_.Post({"watchdog:" + std::to_string(acted), 0},
                                               "alerts-critical", text, true);
            if (state->stopped) co_return;
            if (!s.ok()) spdlog::error("watchdog alert not sent: {}", s.ToString());
          } else if (!silent && alerted) {
            alerted = false;  // the outage is over: the next one alerts again
            spdlog::info("a controller acts again");
          }
        }
      },
      asio::detached);
}

void Watchdog::Stop() {
  if (!state_) return;
  state_->stopped = true;
  state_->timer.cancel();
  state_.reset();
}

}  // namespace zlh::controller

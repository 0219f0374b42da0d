#include "scheduler/cron.h"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

#include "base/clock.h"

namespace zlh::scheduler {

namespace asio = boost::asio;

struct Cron::State {
  explicit State(asio::any_io_executor ex) : timer(ex) {}
  asio::steady_timer timer;
  bool stopped = false;
  std::string previous;  // the last tick's workflow
};

// A tick whose previous run has not ended is skipped: slow ticks collapse instead of queueing.
bool Cron::PreviousRunning(const State& state) const {
  if (state.previous.empty()) return false;
  auto summary = engine_.Summary(state.previous);
  if (!summary.ok()) return false;
  int s = summary->status();
  return s == proto::QUEUED || s == proto::RUNNING || s == proto::WAITING;
}

Schedule Schedule::Every(Millis interval) {
  int64_t every = std::max<int64_t>(interval.count(), 1);
  return {[every](int64_t now) { return now / every; }, [every](int64_t tick) { return tick * every; }};
}

Cron::Cron(workflows::Engine& engine, Millis interval,
           std::function<workflows::StartRequest(int64_t)> make)
    : Cron(engine, Schedule::Every(interval), std::move(make)) {}

Cron::Cron(workflows::Engine& engine, Schedule schedule,
           std::function<workflows::StartRequest(int64_t)> make)
    : engine_(engine), schedule_(std::move(schedule)), make_(std::move(make)) {}

Cron::~Cron() { Stop(); }

void Cron::Start() {
  if (state_) return;
  state_ = std::make_shared<State>(engine_.executor());
  asio::co_spawn(
      engine_.executor(),
      [this, state = state_]() -> workflows::Task<void> {
        while (!state->stopped) {
          int64_t tick = schedule_.tick_at(NowMs());
          if (tick != last_tick_ && !PreviousRunning(*state)) {
            last_tick_ = tick;
            auto started = co_await engine_.Start(make_(tick));
            if (state->stopped) co_return;
            if (started.ok()) {
              state->previous = started->id;
            } else {
              spdlog::warn("cron: tick {} not started: {}", tick, started.status().ToString());
            }
          }
          // Sleep to the next tick's boundary.
          state->timer.expires_after(
              std::chrono::milliseconds(std::max<int64_t>(schedule_.start_of(tick + 1) - NowMs() + 1, 1)));
          co_await state->timer.async_wait(asio::as_tuple(asio::use_awaitable));
        }
      },
      asio::detached);
}

void Cron::Stop() {
  if (!state_) return;
  state_->stopped = true;
  state_->timer.cancel();
  state_.reset();
}

}  // namespace zlh::scheduler

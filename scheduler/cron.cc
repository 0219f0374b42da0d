#include "scheduler/cron.h"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

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

Cron::Cron(workflows::Engine& engine, Millis interval,
           std::function<workflows::StartRequest(int64_t)> make)
    : engine_(engine), interval_(interval), make_(std::move(make)) {}

Cron::~Cron() { Stop(); }

void Cron::Start() {
  if (state_) return;
  state_ = std::make_shared<State>(engine_.executor());
  asio::co_spawn(
      engine_.executor(),
      [this, state = state_]() -> workflows::Task<void> {
        const int64_t every = interval_.count();
        while (!state->stopped) {
          int64_t tick = NowMs() / every;
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
          state->timer.expires_after(std::chrono::milliseconds((tick + 1) * every - NowMs() + 1));
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

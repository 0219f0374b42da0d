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

constexpr int64_t kRetryMs = 5'000;

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
          bool due = tick != last_tick_;
          if (due && !PreviousRunning(*state)) {
            workflows::StartRequest request = make_(tick);
            std::string type = request.type;
            auto started = co_await engine_.Start(std::move(request));
            if (state->stopped) co_return;
            if (started.ok()) {
              last_tick_ = tick;
              state->previous = started->id;
              due = false;
              if (!started->created) {
                spdlog::info("cron: {} tick {} was started before ({})", type, tick, started->id);
              }
            } else {
              spdlog::warn("cron: {} tick {} not started: {}", type, tick, started.status().ToString());
            }
          }
          // To the next tick's boundary; a tick still due (its start failed, or the previous run
          // has not ended) is tried again sooner, so a daily tick is not lost for the day.
          int64_t wake = schedule_.start_of(tick + 1);
          if (due) wake = std::min(wake, NowMs() + kRetryMs);
          state->timer.expires_after(std::chrono::milliseconds(std::max<int64_t>(wake - NowMs() + 1, 1)));
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

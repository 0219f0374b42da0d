// Cron: fires a workflow at every tick of a schedule — a fixed interval (the 60-second reconcile,
// SPEC §5.4) or once a day at a local time (the digest, §5.5). Ticks are numbered by wall-clock
// time (for an interval, tick = now / interval), and each start carries a dedup key per tick, so a
// restart never fires a tick twice; after downtime only the current tick fires (the missed ones
// collapse into it), and a tick fires only once the previous run has ended (tried again every few
// seconds until the next tick begins), so slow runs never pile up; a tick whose start failed is
// tried again the same way.
//
// Thread-safety: runs on the engine's thread; Start and Stop there too.
#pragma once

#include <functional>
#include <memory>

#include "base/duration.h"
#include "workflows/engine.h"

namespace zlh::scheduler {

// When ticks happen: the tick current at a time, and when a tick begins (both wall-clock ms).
struct Schedule {
  std::function<int64_t(int64_t now_ms)> tick_at;
  std::function<int64_t(int64_t tick)> start_of;

  static Schedule Every(Millis interval);
};

class Cron {
 public:
  // `make(tick)` builds the start request of tick `tick`. The engine must outlive the Cron.
  Cron(workflows::Engine& engine, Millis interval,
       std::function<workflows::StartRequest(int64_t tick)> make);
  Cron(workflows::Engine& engine, Schedule schedule,
       std::function<workflows::StartRequest(int64_t tick)> make);
  ~Cron();
  Cron(const Cron&) = delete;
  Cron& operator=(const Cron&) = delete;

  // Fires the current tick now, then every tick.
  void Start();
  void Stop();
  int64_t last_tick() const { return last_tick_; }

 private:
  struct State;
  bool PreviousRunning(const State& state) const;
  workflows::Engine& engine_;
  Schedule schedule_;
  std::function<workflows::StartRequest(int64_t)> make_;
  std::shared_ptr<State> state_;
  int64_t last_tick_ = 0;
};

}  // namespace zlh::scheduler

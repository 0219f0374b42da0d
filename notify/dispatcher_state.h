// The dispatcher's state between its coroutines (dispatcher.h), and the entry edits its writes
// make. Internal to notify/: dispatcher.cc (the loop), attempt.cc (one attempt) and upkeep.cc
// (recovery, email rules, pruning) share it.
//
// Thread-safety: the dispatcher's executor thread only; the edits run in journal transactions.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <random>
#include <string>

#include "notify/dispatcher.h"
#include "notify/lanes.h"
#include "notify/policy.h"

namespace zlh::notify {

struct Dispatcher::State {
  explicit State(boost::asio::any_io_executor ex) : timer(std::move(ex)) {}

  boost::asio::steady_timer timer;  // the loop's sleep; cancelled to wake it
  Lanes lanes;
  Snapshot view;  // the lanes as of the last rescan
  Counters counters;
  std::mt19937_64 random{std::random_device{}()};
  size_t in_flight = 0;
  bool started = false;
  bool running = false;  // the loop has not ended
  bool stopped = false;
  bool woken = false;      // skip the next sleep
  bool rescan_due = true;  // read the pending index on the next pass
  int64_t next_rescan_ms = 0;
  int64_t next_prune_ms = 0;

  double Uniform() { return std::uniform_real_distribution<double>(0.0, 1.0)(random); }
  // Ends the loop's sleep: a lane finished, or the dispatcher was woken or stopped.
  void Poke() {
    woken = true;
    timer.cancel();
  }
};

// Records `outcome` on delivery `d` at `now_ms`: the attempt no longer in flight, its answer, and a
// part shown (the delivery done with its last), a retry after `wait`, or a refusal.
void RecordOutcome(proto::Delivery& d, const Outcome& outcome, int64_t now_ms, Millis wait);
// Appends a pending email delivery to `n`, added at `now_ms` for `reason`.
void AddEmailDelivery(proto::Notification& n, const std::string& reason, int64_t now_ms);
// The metrics' route of a lane: "email" or "discord".
const char* RouteKind(const std::string& route);

}  // namespace zlh::notify

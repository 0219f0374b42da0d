// Watchdog: SPEC §6.4's "when no controller has acted for more than two ticks (Redis down, lock
// lost), that is itself an alert" — #alerts-critical with a ping, once per outage. It runs on every
// node whatever its role and outside any workflow (a node without the lock runs none), so its
// alert is recorded in the node's outbox as the node's own (origin NODE: delivered whether or not
// the node leads), in a write of its own: at most one per outage and node.
//
// A node counts the controller as acting when it completed a tick itself, or when Redis answers
// and another node holds the lock (`others_act`). A node whose own timer fired far too late (it was
// paused: SIGSTOP, a stalled VM) does not judge the silence it slept through.
//
// Thread-safety: runs on the engine's thread; Start and Stop there too.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <memory>

#include "base/duration.h"
#include "controller/decision_log.h"
#include "journal/journal.h"

namespace zlh::controller {

class Watchdog {
 public:
  // Everything must outlive the Watchdog. `notified` runs on `ex` once an alert is durably in
  // the outbox (zlhd: notify::Dispatcher::Wake); it may be null.
  Watchdog(boost::asio::any_io_executor ex, Millis interval, const DecisionLog& log,
           journal::Journal& journal, std::function<void()> notified,
           std::function<bool()> others_act);
  ~Watchdog();
  void Start();
  void Stop();

 private:
  struct State;
  // Records the alert that nobody acted since `acted_ms` (for `silence`) in the outbox.
  void Alert(int64_t acted_ms, Millis silence);

  boost::asio::any_io_executor ex_;
  Millis interval_;
  const DecisionLog& log_;
  journal::Journal& journal_;
  std::function<void()> notified_;
  std::function<bool()> others_act_;
  std::shared_ptr<State> state_;
};

}  // namespace zlh::controller

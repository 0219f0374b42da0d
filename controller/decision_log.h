// DecisionLog: the controller's recent decisions for GET /api/controller (SPEC §7.1: the last 100;
// the full record is in the journal, in each reconcile's `diff` and `record_incidents` results).
//
// Thread-safety: used on the engine's thread only.
#pragma once

#include <boost/json.hpp>
#include <deque>
#include <string>

namespace zlh::controller {

class DecisionLog {
 public:
  static constexpr size_t kKept = 100;
  struct Entry {
    int64_t tick = 0;
    std::string server_id, drift, rule, action, breaker, workflow_id;
  };
  // Adds an entry, unless the same tick already logged this server and drift (a replay).
  void Add(Entry e);
  void TickDone(int64_t tick, int64_t at_ms);
  boost::json::array Json() const;
  int64_t last_tick_ms() const { return last_tick_ms_; }

 private:
  std::deque<Entry> entries_;
  int64_t last_tick_ms_ = 0;
};

}  // namespace zlh::controller

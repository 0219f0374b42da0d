// A workflow's history folded into what replay needs: per step number, the recorded outcome,
// attempts, backoff and timers; the signals not yet consumed; cancellation. Pure; not thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "proto/events.pb.h"

namespace zlh::workflows {

struct StepHistory {
  std::string name;
  uint32_t attempts = 0;             // attempts started so far (numbering of the next one)
  uint32_t attempts_since_retry = 0;  // what the retry policy counts
  bool in_flight = false;            // StepStarted without an outcome (at-most-once steps)
  std::optional<std::string> result;
  uint64_t consumed_seq = 0;         // signal waits: the SignalReceived consumed (0: timed out)
  std::optional<Status> final_error;
  int64_t retry_at_ms = 0;           // the durable backoff's wake time
  std::optional<int64_t> timer_fire_at_ms;
  bool timer_fired = false;
  bool retake_on_retry = false;      // its result is dropped when the workflow is retried
};

struct History {
  proto::WorkflowStarted started;
  std::map<uint32_t, StepHistory> steps;
  // Signals received and not yet consumed, per name, oldest first: (seq, payload).
  std::map<std::string, std::deque<std::pair<uint64_t, std::string>>> signals;
  bool cancel_requested = false;
  std::string cancel_reason;
  bool cancel_delivered = false;
  uint64_t last_seq = 0;

  // Folds `events` (in seq order, starting with WorkflowStarted). kCorruption when the sequence has
  // a gap or does not start with WorkflowStarted.
  static Result<History> Fold(const std::vector<proto::Event>& events);
  // Applies one more event.
  void Apply(const proto::Event& event);
};

// The Status an Error message holds.
Status StatusFromProto(const proto::Error& error);
void StatusToProto(const Status& status, proto::Error* out);

}  // namespace zlh::workflows

// WorkflowView: a workflow as an operator reads it — each step with its status, attempts, times
// and last error, and what the workflow waits for — folded from its summary and events. Used by
// zlh-journal (and the HTTP API's workflow reads). Pure; thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "proto/events.pb.h"
#include "proto/records.pb.h"

namespace zlh::workflows {

struct StepView {
  uint32_t step = 0;
  std::string name;
  // completed, failed, retrying (a backoff is pending), running (an at-most-once step started),
  // waiting (a timer or signal), timed_out (a signal wait), cancelled, interrupted.
  std::string status;
  uint32_t attempts = 0;
  int64_t started_ms = 0;
  int64_t completed_ms = 0;  // 0 while not done
  std::string error;         // the last error, "code: message"
  std::string waiting_for;   // a step that waits for a condition (a lease): what it waits for
  int64_t wake_ms = 0;       // retrying: the next attempt; waiting: the timer or timeout
};

struct WorkflowView {
  proto::WorkflowSummary summary;  // status, result, error as recorded
  std::string input;
  std::vector<StepView> steps;     // in step-number order
  uint64_t last_seq = 0;           // from the events (the stored summary may lag)
  int64_t updated_ms = 0;          // time of the newest event
};

WorkflowView BuildView(const proto::WorkflowSummary& summary,
                       const std::vector<proto::Event>& events);

// "queued", "running", ... for a summary status.
std::string StatusName(int status);
// The status for a lower-case name; 0 when unknown.
int StatusFromName(const std::string& name);

}  // namespace zlh::workflows

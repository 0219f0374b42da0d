// The registry of workflow types: name → code and queue. Filled before the engine starts, then
// read-only (and so safe to share between threads).
#pragma once

#include <map>
#include <string>

#include "base/status.h"
#include "workflows/context.h"

namespace zlh::workflows {

// Runs in the same write as the cancellation of a workflow that never ran (cancelled while
// queued): undoes what its start recorded (a server record), given its input.
using CancelledQueuedFn = std::function<Status(journal::Txn& txn, const std::string& input)>;

struct Definition {
  std::string type;
  std::string queue;  // the named queue whose concurrency limit applies
  WorkflowFn fn;
  CancelledQueuedFn cancelled_queued;  // may be null
};

class Registry {
 public:
  // kAlreadyExists when `type` is registered already; kInvalidArgument for an empty type or queue.
  Status Register(std::string type, std::string queue, WorkflowFn fn,
                  CancelledQueuedFn cancelled_queued = nullptr);
  // nullptr when unknown.
  const Definition* Find(std::string_view type) const;

 private:
  std::map<std::string, Definition, std::less<>> defs_;
};

}  // namespace zlh::workflows

// The registry of workflow types: name → code and queue. Filled before the engine starts, then
// read-only (and so safe to share between threads).
#pragma once

#include <map>
#include <string>

#include "base/status.h"
#include "workflows/context.h"

namespace zlh::workflows {

struct Definition {
  std::string type;
  std::string queue;  // the named queue whose concurrency limit applies
  WorkflowFn fn;
};

class Registry {
 public:
  // kAlreadyExists when `type` is registered already; kInvalidArgument for an empty type or queue.
  Status Register(std::string type, std::string queue, WorkflowFn fn);
  // nullptr when unknown.
  const Definition* Find(std::string_view type) const;

 private:
  std::map<std::string, Definition, std::less<>> defs_;
};

}  // namespace zlh::workflows

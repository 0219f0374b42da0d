#include "workflows/registry.h"

namespace zlh::workflows {

Status Registry::Register(std::string type, std::string queue, WorkflowFn fn,
                          CancelledQueuedFn cancelled_queued) {
  if (type.empty() || queue.empty()) return InvalidArgument("workflow type and queue are required");
  if (defs_.count(type)) return {Code::kAlreadyExists, "workflow type '" + type + "' is registered"};
  std::string key = type;
  defs_.emplace(std::move(key), Definition{std::move(type), std::move(queue), std::move(fn),
                                            std::move(cancelled_queued)});
  return Status::Ok();
}

const Definition* Registry::Find(std::string_view type) const {
  auto it = defs_.find(type);
  return it == defs_.end() ? nullptr : &it->second;
}

}  // namespace zlh::workflows

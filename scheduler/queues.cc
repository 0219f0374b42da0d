#include "scheduler/queues.h"

#include <algorithm>

namespace zlh::scheduler {

Queues::Queues(std::map<std::string, uint32_t> limits, uint32_t default_limit)
    : limits_(std::move(limits)), default_limit_(default_limit) {}

Queues::Queue& Queues::Get(const std::string& name) {
  auto it = queues_.find(name);
  if (it != queues_.end()) return it->second;
  Queue q;
  auto limit = limits_.find(name);
  q.limit = limit != limits_.end() ? limit->second : default_limit_;
  return queues_.emplace(name, std::move(q)).first->second;
}

void Queues::Queued(const std::string& queue, const std::string& id) {
  Get(queue).waiting.push_back(id);
  Admit(queue);
}

void Queues::Resumed(const std::string& queue) { ++Get(queue).running; }

void Queues::Reset() {
  for (auto& [name, q] : queues_) {
    q.running = 0;
    q.waiting.clear();
  }
}

void Queues::Finished(const std::string& queue) {
  Queue& q = Get(queue);
  if (q.running > 0) --q.running;
  Admit(queue);
}

void Queues::Withdrawn(const std::string& queue, const std::string& id) {
  auto& waiting = Get(queue).waiting;
  waiting.erase(std::remove(waiting.begin(), waiting.end(), id), waiting.end());
}

void Queues::Admit(const std::string& name) {
  Queue& q = Get(name);
  while (engine_ && q.running < q.limit && !q.waiting.empty()) {
    std::string id = std::move(q.waiting.front());
    q.waiting.pop_front();
    if (engine_->Launch(id)) ++q.running;
  }
}

std::map<std::string, QueueStats> Queues::stats() const {
  std::map<std::string, QueueStats> out;
  for (const auto& [name, q] : queues_) out[name] = {q.limit, q.running, q.waiting.size()};
  return out;
}

}  // namespace zlh::scheduler

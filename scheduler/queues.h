// Queues: the engine's Admission with named queues and concurrency limits. A queued workflow is a
// record (an id in a FIFO here and in the journal's queue index), not a suspended coroutine, so
// hundreds of thousands can wait; when a slot frees, the oldest waiting workflow of that queue is
// launched.
//
// Thread-safety: used on the engine's thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>

#include "workflows/admission.h"
#include "workflows/engine.h"

namespace zlh::scheduler {

struct QueueStats {
  uint32_t limit = 0;
  uint32_t running = 0;
  size_t queued = 0;
};

class Queues final : public workflows::Admission {
 public:
  // `limits` per queue name; other queues get `default_limit`.
  explicit Queues(std::map<std::string, uint32_t> limits, uint32_t default_limit = 1000);

  // The engine to launch admitted workflows on; set before the engine starts or recovers.
  void Attach(workflows::Engine& engine) { engine_ = &engine; }

  void Queued(const std::string& queue, const std::string& id) override;
  void Resumed(const std::string& queue) override;
  void Finished(const std::string& queue) override;
  void Withdrawn(const std::string& queue, const std::string& id) override;
  void Reset() override;

  std::map<std::string, QueueStats> stats() const;

 private:
  struct Queue {
    uint32_t limit = 0;
    uint32_t running = 0;
    std::deque<std::string> waiting;
  };
  Queue& Get(const std::string& name);
  void Admit(const std::string& name);

  std::map<std::string, uint32_t> limits_;
  uint32_t default_limit_;
  std::map<std::string, Queue> queues_;
  workflows::Engine* engine_ = nullptr;
};

}  // namespace zlh::scheduler

// Admission: decides when a recorded workflow runs. The engine records every new (or retried)
// workflow as `queued` and tells its Admission; the Admission calls Engine::Launch when the
// workflow may run. scheduler::Queues implements it with per-queue concurrency limits; it is passed
// in so that the runtime does not depend on the scheduler.
//
// Thread-safety: called on the engine's thread only.
#pragma once

#include <string>

namespace zlh::workflows {

class Admission {
 public:
  virtual ~Admission() = default;
  // Workflow `id` of `queue` is recorded as queued and waits to be launched.
  virtual void Queued(const std::string& queue, const std::string& id) = 0;
  // A workflow of `queue` runs without having been admitted (it was running before a restart): it
  // holds a slot.
  virtual void Resumed(const std::string& queue) = 0;
  // A workflow of `queue` that held a slot has stopped running.
  virtual void Finished(const std::string& queue) = 0;
  // Queued workflow `id` ended (cancelled) before it was launched.
  virtual void Withdrawn(const std::string& queue, const std::string& id) = 0;
  // The engine forgot every workflow (Engine::Suspend): forget them too.
  virtual void Reset() {}
};

}  // namespace zlh::workflows

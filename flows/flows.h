// The ZLH workflows (SPEC §5.1, §5.1b, §5.2): `provision`, `deprovision` and `operation`, written
// against the activities' interfaces and the domain tables, and registered with their queues.
//
// Thread-safety: the workflows run on the engine's thread; Deps must outlive the engine.
#pragma once

#include <functional>
#include <string>

#include "activities/hypervisor.h"
#include "activities/services.h"
#include "config/config.h"
#include "journal/journal.h"
#include "workflows/engine.h"
#include "workflows/registry.h"

namespace zlh::flows {

// What the workflows act on. Not owned; `engine` may be set after Register (it is needed only
// once workflows run).
struct Deps {
  activities::Hypervisor* hypervisor = nullptr;
  activities::Agent* agent = nullptr;
  activities::Proxy* proxy = nullptr;
  activities::Dns* dns = nullptr;
  activities::Backups* backups = nullptr;
  activities::Billing* billing = nullptr;
  const config::Settings* settings = nullptr;
  journal::Journal* journal = nullptr;
  workflows::Engine* engine = nullptr;
  // Called after a step recorded notifications in the outbox (flows/steps.h Notify), so that its
  // dispatcher delivers them now rather than at its next rescan; from the engine's thread. zlhd:
  // notify::Dispatcher::Wake. Null: nobody is told (the dispatcher's rescan finds them).
  std::function<void()> notified;
};

inline constexpr char kProvision[] = "provision";
inline constexpr char kDeprovision[] = "deprovision";
inline constexpr char kOperation[] = "operation";

// Registers the three workflow types (queues: provision; operation for the other two).
Status Register(workflows::Registry& registry, Deps& deps);

}  // namespace zlh::flows

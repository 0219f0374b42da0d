#include "flows/flows.h"

#include "flows/provision.h"

namespace zlh::flows {

Status Register(workflows::Registry& registry, Deps& deps) {
  Deps* d = &deps;
  ZLH_RETURN_IF_ERROR(registry.Register(
      kProvision, "provision", [d](workflows::Context& ctx) { return Provision(*d, ctx); },
      ProvisionCancelledQueued));
  ZLH_RETURN_IF_ERROR(registry.Register(kDeprovision, "operation", [d](workflows::Context& ctx) {
    return Deprovision(*d, ctx);
  }));
  return registry.Register(kOperation, "operation",
                           [d](workflows::Context& ctx) { return Operation(*d, ctx); });
}

}  // namespace zlh::flows

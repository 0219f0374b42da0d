// The workflow bodies of flows/ (registered by flows.cc). Internal to flows/.
#pragma once

#include "flows/flows.h"
#include "workflows/context.h"

namespace zlh::flows {

workflows::Task<Result<std::string>> Provision(Deps& deps, workflows::Context& ctx);
// A provisioning cancelled before it ran: its server record (queued, no VMID) is marked failed.
Status ProvisionCancelledQueued(journal::Txn& txn, const std::string& input);
workflows::Task<Result<std::string>> Deprovision(Deps& deps, workflows::Context& ctx);
workflows::Task<Result<std::string>> Operation(Deps& deps, workflows::Context& ctx);

}  // namespace zlh::flows

// The readiness gate shared by the ZLH workflows: probing the agent in a container until it reports
// ready (GET /health), as one Context::Poll step. Internal to flows/.
#pragma once

#include <cstdint>

#include "base/clock.h"
#include "flows/flows.h"
#include "workflows/context.h"

namespace zlh::flows {

// One probe: done ("ready") when the agent reports ready; the agent's reported error fails the
// gate; no answer yet, installing or starting is not yet.
workflows::Task<Result<workflows::ProbeAnswer>> ProbeAgent(Deps& deps, activities::AgentTarget agent);

// The gate's poll: every timing.readinessProbeInterval until `since` + timing.readinessTimeout.
workflows::PollSpec AgentReadySpec(const config::Settings& settings, int64_t vmid, TimeMs since);

// Step "wait_agent_ready": waits until `agent` (a container's, by its VMID and recorded address)
// is ready, for at most the configured readiness timeout from now. Also the repairs' wait
// (controller/repair.cc).
workflows::Task<Status> AwaitAgentReady(workflows::Context& ctx, Deps& deps,
                                        activities::AgentTarget agent);

}  // namespace zlh::flows

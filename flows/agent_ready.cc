#include "flows/agent_ready.h"

#include "base/duration.h"

namespace zlh::flows {

using workflows::ProbeAnswer;
using workflows::Task;

Task<Result<ProbeAnswer>> ProbeAgent(Deps& d, activities::AgentTarget agent) {
  auto health = co_await d.agent->Health(std::move(agent));
  if (!health.ok()) {
    Code c = health.status().code();
    if (c == Code::kUnavailable || c == Code::kDeadlineExceeded) {
      co_return ProbeAnswer::NotYet("unreachable");
    }
    co_return health.status();
  }
  if (health->status == "ready") co_return ProbeAnswer::Done("ready");
  if (health->status == "error") co_return FailedPrecondition("the agent reports an error");
  co_return ProbeAnswer::NotYet(health->status);
}

workflows::PollSpec AgentReadySpec(const config::Settings& s, int64_t vmid, TimeMs since) {
  workflows::PollSpec spec;
  spec.kind = "agent";
  spec.detail = "VMID " + std::to_string(vmid);
  spec.interval = s.readiness_probe_interval;
  spec.deadline_ms = since + s.readiness_timeout.count();
  spec.gave_up = "the agent was not ready after " + FormatDuration(s.readiness_timeout);
  return spec;
}

Task<Status> AwaitAgentReady(workflows::Context& ctx, Deps& d, activities::AgentTarget agent) {
  auto since = co_await ctx.Now();
  if (!since.ok()) co_return since.status();
  auto ready = co_await ctx.Poll(
      "wait_agent_ready", [&d, agent](const workflows::StepInfo&) { return ProbeAgent(d, agent); },
      AgentReadySpec(*d.settings, agent.vmid, *since));
  co_return ready.ok() ? Status::Ok() : ready.status();
}

}  // namespace zlh::flows

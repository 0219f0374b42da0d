// Helpers shared by the ZLH workflows: retry policies from the config, the CallContext an activity
// gets from a step, and the names and addresses a server is known by. Internal to flows/.
#pragma once

#include <string>

#include "activities/hypervisor.h"
#include "activities/services.h"
#include "config/config.h"
#include "proto/domain.pb.h"
#include "workflows/context.h"
#include "workflows/retry_policy.h"

namespace zlh::flows {

// An activity step: retried with backoff on what may pass (no answer, 5xx); each attempt is
// bounded by the activity's own timeouts.
workflows::RetryPolicy ActivityPolicy(const config::Settings& settings);
// A compensation step: tried harder, since giving up leaves something behind.
workflows::RetryPolicy CompensationPolicy(const config::Settings& settings);

activities::CallContext CallOf(const workflows::StepInfo& info);

// The agent of `server`'s container: its VMID and recorded address.
activities::AgentTarget AgentOf(const proto::Server& server);
// Where the proxy sends players to `server`: "<address>:<gamePort>" (SPEC §5.1); "" when no
// address is recorded.
std::string ProxyAddressOf(const config::Settings& settings, const proto::Server& server);
// The A record's content for `server`: the container's address for dev, the proxy's public
// address for games.
std::string ARecordOf(const config::Settings& settings, const proto::Server& server);

// "survival.play.example"
std::string Fqdn(const config::Settings& settings, const std::string& name);
// "_minecraft._tcp.survival.play.example"
std::string SrvName(const config::Settings& settings, const std::string& name);

}  // namespace zlh::flows

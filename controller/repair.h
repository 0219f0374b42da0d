// The `repair` workflow (SPEC §5.3, §6.2, §9.6): one repair of one server, unless a lease or
// maintenance holds it back; a destructive one (level 3) only once an operator approves it. A
// repair that starts the container waits for its agent (a durable poll) and starts the game, so a
// server it leaves running runs its game. Internal to controller/ (registered by controller.h).
#pragma once

#include <string>

#include "flows/flows.h"
#include "workflows/context.h"

namespace zlh::controller {

// Its input: {"serverId", "repair", "level", ...} as reconcile starts it. A level-3 repair waits
// for signal "approve": an empty payload, or {"fromTemplate": true}, which lets a missing
// container with no backup be rebuilt from its template (an empty world).
workflows::Task<Result<std::string>> Repair(flows::Deps& d, workflows::Context& ctx);

}  // namespace zlh::controller

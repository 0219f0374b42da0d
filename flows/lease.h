// A server's operation lease as the `operation` and `deprovision` workflows hold it (SPEC §5.2):
// taken in arrival order by a transactional step that waits (status waiting, kind "lease") while
// another workflow holds it, heartbeated into the side table while held, released in the same
// write as the workflow's end whatever the end, and checked before every action: a holder whose
// epoch was bumped fails with lease_lost instead of acting.
//
// Thread-safety: on the engine's thread, inside a workflow.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "flows/flows.h"
#include "proto/domain.pb.h"
#include "workflows/context.h"

namespace zlh::flows {

struct HeldLease {
  std::string server_id;
  uint64_t epoch = 0;
  proto::Server server;  // the server as it was when the lease was taken (recorded)
  std::shared_ptr<void> heartbeat;  // the heartbeat stops when this is dropped
};

// The step `acquire_lease`. `allow` says whether the server's status permits the workflow
// (kFailedPrecondition naming the status otherwise).
using ServerCheck = std::function<Status(const proto::Server&)>;
workflows::Task<Result<HeldLease>> AcquireLease(workflows::Context& ctx, Deps& deps,
                                                const std::string& server_id, ServerCheck allow);

// kLeaseLost unless `lease` is still held by workflow `holder` at its epoch.
Status CheckLease(const journal::Journal& journal, const HeldLease& lease,
                  const std::string& holder);

}  // namespace zlh::flows

// The domain tables folded from the events (SPEC §8.7): what the servers, VMIDs, leases,
// maintenance flags, node drains and billing statuses must be, given the histories of the ZLH workflows and
// the system streams — and the check that the tables hold exactly that (zlh-journal verify).
//
// The fold knows the workflows' steps: a provisioning's start makes its server (queued);
// allocate_vmid gives it its VMID, node and address (provisioning; older histories: the VMID
// only, and allocate_address the node and address later), mark_ready makes it running on the node
// create_container chose, release_vmid frees the VMID and the address (failed); a provisioning
// cancelled before it ran fails its server. Operations and deletions change a server only while
// holding its lease, so their changes are ordered by the lease epoch they held: set_status sets the
// status, deprovision's release_vmid deletes the server (no VMID, no address). A lease is held by
// the workflow with its highest epoch until that workflow ends.
//
// Thread-safety: reads only.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "journal/journal.h"
#include "proto/domain.pb.h"
#include "workflows/verify.h"

namespace zlh::flows {

struct FoldedDomain {
  std::map<std::string, proto::Server> servers;   // by server id
  std::map<std::string, proto::Lease> leases;     // by server id
  std::map<std::string, bool> maintenance;        // server id → on
  std::map<std::string, bool> drained;            // node → on
  std::map<std::string, std::string> billing;     // customer id → active / suspended
};

Result<FoldedDomain> FoldDomain(const journal::Journal& journal);

// Every difference between the tables and the fold.
Result<std::vector<workflows::Violation>> VerifyFold(const journal::Journal& journal);

}  // namespace zlh::flows

// Where a new server goes and which address it gets (SPEC §9.1, §9.2): the hypervisor's view that
// the choice needs (its online nodes and their memory, the VMIDs and net0 addresses its guests use)
// is gathered before the transaction, and the choice is made inside it, with the VMID, against the
// tables' drains and committed memory (capacity.h), so that two concurrent provisionings never
// take the same address or the same room. Also the recorded form of that choice, which
// provision's replay and the fold (fold.h) read back. Internal to flows/.
//
// Thread-safety: pure functions, except GatherFleet (an activity call on the caller's executor).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "config/config.h"
#include "flows/flows.h"
#include "journal/journal.h"
#include "workflows/context.h"

namespace zlh::flows {

// What allocate_vmid recorded: "101 pve1 10.20.1.10" (VMID, node, address), or "101 pve1 dhcp" in
// dhcp mode (the address is discovered after the start: record_address). Histories recorded
// before addresses existed hold a bare "101": node and address are then empty.
struct Allocation {
  int64_t vmid = 0;
  std::string node;
  std::string address;  // "" in dhcp mode
  bool dhcp = false;
};
std::string FormatAllocation(const Allocation& a);
Result<Allocation> ParseAllocation(std::string_view recorded);

// What the hypervisor reports, as the transaction needs it. Its encoding is the prepare's result
// of a transactional step: handed to the transaction in the same run, not recorded. A view
// encoded without "maxmem" (before placement weighed memory) still decodes, with no memory told.
struct FleetView {
  std::vector<std::string> nodes;         // the online nodes, least loaded first
  std::map<std::string, int64_t> maxmem;  // node → its memory in bytes (absent or 0: not told)
  std::set<int64_t> vmids;                // in use by any guest
  std::set<uint32_t> addresses;           // in the net0 of any container (ip=A/P)
};
std::string EncodeFleetView(const FleetView& view);
Result<FleetView> DecodeFleetView(std::string_view encoded);
// Asks the hypervisor (nodes, guests, and the config of each container that is not one of ours)
// and returns the encoded view: a transactional step's prepare.
workflows::Task<Result<std::string>> GatherFleet(Deps& d);

// The address `net0` ("name=eth0,...,ip=10.20.1.10/22,...") gives, if a static one.
std::optional<uint32_t> Net0Address(std::string_view net0);

struct Placement {
  std::string node;
  std::string address;
};
// Inside the transaction: takes the lowest free address of the pool of the first node (fewest live
// servers first, then the hypervisor's order) that is not drained, has room for `plan`'s memory
// (CapacityRefusal) and whose pool has an address (in dhcp mode, no address: the first node that
// has room). `only_node`, when set, is the one node allowed
// and holds the server's container already (a history from before addresses): only its address
// is chosen. kNoCapacity, naming why each node was refused, when no node fits.
Result<Placement> PlaceServer(journal::Txn& txn, const config::Settings& settings,
                              const FleetView& view, std::string_view server_id,
                              std::string_view plan, std::string_view only_node = "");

}  // namespace zlh::flows

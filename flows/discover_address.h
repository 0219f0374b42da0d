// dhcp mode's address (SPEC §9.1): after the container's start, Proxmox's view of its interfaces
// (GET …/interfaces) is polled until eth0 has an IPv4 address, durably like the agent's readiness
// gate; the address is then recorded on the server and in the address table in one write.
// Internal to flows/.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "activities/hypervisor.h"
#include "flows/flows.h"
#include "workflows/context.h"

namespace zlh::flows {

// eth0's IPv4 address in `interfaces` ("10.20.1.10" from inet "10.20.1.10/22"); "" when none yet.
std::string Eth0Address(const std::vector<activities::GuestInterface>& interfaces);

// Steps "discover_address" (a poll every timing.readinessProbeInterval, giving up after
// timing.readinessTimeout) and "record_address" (fleet::RecordAddress for `server_id`): the
// address container `vmid` on `node` got.
workflows::Task<Result<std::string>> DiscoverAddress(workflows::Context& ctx, Deps& deps,
                                                     std::string server_id, std::string node,
                                                     int64_t vmid);

}  // namespace zlh::flows

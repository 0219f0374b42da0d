// The configuration provisioning gives a container (SPEC §9.2): its network (net0 from the node's
// pool and the recorded address, or ip=dhcp on network.bridge in dhcp mode), its size from the plan (cores, memory, swap, root disk), and
// onboot, tags and description; applied idempotently: the current config is read first and only
// what differs is set, and the root disk only ever grows. Internal to flows/.
//
// Thread-safety: pure functions, except ApplySpec (activity calls on the caller's executor).
#pragma once

#include <cstdint>
#include <string>

#include "activities/hypervisor.h"
#include "base/status.h"
#include "config/config.h"
#include "flows/inputs.h"
#include "workflows/context.h"

namespace zlh::flows {

struct ContainerSpec {
  activities::GuestConfig
      config;  // net0, cores, memory, swap, nameserver (not in dhcp mode), onboot, tags, description
  uint32_t disk_gb = 0;
};

// The spec of `in`'s container on `node` at `address` (unused in dhcp mode). kFailedPrecondition
// when the plan or the node's pool is not configured (any more).
Result<ContainerSpec> SpecOf(const config::Settings& settings, const ProvisionInput& in,
                             const std::string& node, const std::string& address);

// Reads container `vmid`'s config, sets what differs from `spec`, and grows its root disk when it
// is smaller than the plan's. Returns what it did, for the journal: "cores 2, memory 4096 MB, ...;
// set cores memory net0; rootfs 8G → 20G".
workflows::Task<Result<std::string>> ApplySpec(activities::Hypervisor& hypervisor,
                                               activities::CallContext ctx, std::string node,
                                               int64_t vmid, ContainerSpec spec);

// The size in GB of a rootfs value ("local:101/vm-101-disk-0.raw,size=8G"); 0 when it says none.
double RootfsGb(const std::string& rootfs);

}  // namespace zlh::flows

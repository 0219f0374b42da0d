// A node's capacity as placement sees it (SPEC §9.2): the memory its live servers' plans commit,
// the memory it may commit (placement.memoryOvercommit × the maxmem Proxmox reports), its drain,
// and why a node cannot take one more server. Placement (placement.h) decides with these inside its
// transaction; GET /api/nodes shows them.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "activities/hypervisor.h"
#include "config/config.h"
#include "fleet/tables.h"
#include "proto/domain.pb.h"

namespace zlh::flows {

// A plan's memory in MB. A plan no longer configured counts as the largest configured one: the
// memory of a live server is never left out.
int64_t PlanMemoryMb(const config::Settings& settings, std::string_view plan);
// The memory (MB) the live servers of `use` commit.
int64_t CommittedMemoryMb(const config::Settings& settings, const fleet::NodeUse& use);
// The memory (MB) a node of `maxmem` bytes may commit: memoryOvercommit × maxmem, rounded down;
// 0 when its memory is not told (maxmem 0).
int64_t MemoryLimitMb(const config::Settings& settings, int64_t maxmem);

// Why a node cannot take a new server whose plan needs `plan_mb` ("drained: <reason>", "memory
// not reported (...)", "61440 of 65536 MB committed, the plan needs 8192"); nullopt when it can.
// `drain` is the node's drain record, if any (an off one does not refuse).
std::optional<std::string> CapacityRefusal(const config::Settings& settings,
                                           const proto::NodeDrain* drain, const fleet::NodeUse& use,
                                           int64_t maxmem, int64_t plan_mb);

// One node as GET /api/nodes shows it.
struct NodeState {
  std::string name;
  std::string status;  // online, offline, unknown (the hypervisor's); absent: it does not report it
  bool drained = false;
  std::string drain_reason;
  int64_t drained_since_ms = 0;  // 0 when not drained
  size_t servers = 0;            // live servers placed on it
  int64_t committed_mb = 0;
  int64_t maxmem_mb = 0;  // 0 when not told
  int64_t limit_mb = 0;   // what it may commit (MemoryLimitMb)
};
// Every node the hypervisor reports, and every node the tables name (a live server or a drain
// record) that it does not, in name order.
std::vector<NodeState> NodeStates(const config::Settings& settings,
                                  const std::vector<activities::HostNode>& reported,
                                  const std::vector<proto::NodeDrain>& drains,
                                  const std::map<std::string, fleet::NodeUse>& use);

}  // namespace zlh::flows

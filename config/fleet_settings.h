// The parts of the configuration that shape the fleet's containers (SPEC §9.1, §9.2): plans as
// container sizes, the static address pools and placement's memory overcommit, with their defaults (the plans small, medium and
// large; one loopback pool for the simulated fleet) and validation naming the field
// ("network.pools[0].first: ..."). Internal to config/: config.cc calls these.
//
// Thread-safety: pure functions.
#pragma once

#include "base/status.h"
#include "proto/config.pb.h"

namespace zlh::config {

// The loopback pool the simulated fleet uses when no pool is configured (SPEC §9.7).
constexpr const char* kLoopbackPool = "loopback";

// Fills in the default plans and pool when none is configured, and each pool's nameservers.
void ApplyFleetDefaults(proto::config::Config& c);
// kInvalidArgument naming the first bad field of `plans` or `network`.
Status ValidateFleet(const proto::config::Config& c);
// placement.memoryOvercommit: 1.0 when absent; kInvalidArgument naming the field unless it is a
// finite ratio above 0 and at most kMaxMemoryOvercommit.
constexpr int kMaxMemoryOvercommit = 10;
Result<double> MemoryOvercommit(const proto::config::Config& c);

}  // namespace zlh::config

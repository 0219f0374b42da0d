// Which outside world a zlhd start acts on (SPEC §9.3): the simulated fleet only when asked for —
// no config file at all, or --fleet sim|URL — and otherwise the services a config file names,
// which must then be all of them, with nothing left at a default that only the simulator has.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "config/config.h"

namespace zlh::config {

enum class FleetKind {
  kSimulated,   // in-process (no config file, or --fleet sim)
  kOneUrl,      // every service at one zlh-sim (--fleet URL)
  kConfigured,  // the services of the config file
};

struct Fleet {
  FleetKind kind = FleetKind::kSimulated;
  std::string url;  // kOneUrl's
};

// The fleet of a start with `--fleet fleet_flag` ("" when not given, "sim" or a URL) and a config
// file when `file_given`. kInvalidArgument when the file is the fleet and is not complete: every
// problem, "; "-separated, each naming its field ("dns.url: required when proxmox.url is set"),
// or, when the file names no service, what to do instead.
Result<Fleet> ChooseFleet(std::string_view fleet_flag, bool file_given, const Settings& settings);

// What a config for the real fleet lacks or leaves at a simulator-only default, one message per
// field; empty when it is complete. `trigger` names the field that made it a real config.
std::vector<std::string> MissingForRealFleet(const Settings& settings, std::string_view trigger);

}  // namespace zlh::config

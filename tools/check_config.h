// zlhd --check-config (SPEC §9.3, §9.7): after the file itself is checked, every configured
// service is probed read-only (activities/probes.h) and each check prints one line on stdout,
// "ok   <service>: <what>" or "FAIL <service>: <why>". Nothing changes anywhere.
//
// Thread-safety: CheckServices runs its own event loop; call it from one thread.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"

namespace zlh::tools {

// One check's outcome; `service` is proxmox, dns, proxy, agent, billing, discord (or config).
struct Check {
  std::string service;
  bool ok = false;
  std::string text;  // what was verified, or why it failed
};

// "ok   proxmox: Proxmox VE 8.2.4" / "FAIL dns: ...", always one line.
std::string FormatCheck(const Check& check);

// Probes every service `settings` names (its URLs already final: a real config, or one pointed at
// a zlh-sim); every check in order: Proxmox version, privileges and each template; the DNS token
// and zone; the proxy; the agent (configuration only: agents live in containers); billing; each
// Discord webhook.
std::vector<Check> CheckServices(const config::Settings& settings);

}  // namespace zlh::tools

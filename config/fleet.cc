// ChooseFleet and MissingForRealFleet (fleet.h).
#include "config/fleet.h"

#include <utility>

namespace zlh::config {
namespace {

// The fields whose URL makes a config file name a real service, in the order they are reported.
std::vector<std::pair<const char*, std::string>> ServiceUrls(const proto::config::Config& c) {
  return {{"proxmox.url", c.proxmox().url()},
          {"dns.url", c.dns().url()},
          {"proxy.url", c.proxy().url()},
          {"billing.url", c.billing().url()}};
}

bool IsLoopback(const std::string& address) {
  return address.rfind("127.", 0) == 0 || address == "::1" || address == "localhost";
}

}  // namespace

std::vector<std::string> MissingForRealFleet(const Settings& settings, std::string_view trigger) {
  const proto::config::Config& c = settings.file;
  const std::string when = "required when " + std::string(trigger) + " is set";
  std::vector<std::string> out;
  auto require = [&](const char* field, const std::string& value) {
    if (value.empty()) out.push_back(std::string(field) + ": " + when);
  };
  require("proxmox.url", c.proxmox().url());
  require("proxmox.token", c.proxmox().token());
  require("dns.url", c.dns().url());
  require("dns.token", c.dns().token());
  // The defaults the simulated fleet runs on; no real zone or proxy has them.
  if (c.dns().zone_id() == "zlh") out.push_back("dns.zoneId: " + when + " ('zlh' is the simulator's)");
  if (c.dns().zone() == "play.example") {
    out.push_back("dns.zone: " + when + " (play.example is the simulator's)");
  }
  require("proxy.url", c.proxy().url());
  require("proxy.token", c.proxy().token());
  if (IsLoopback(c.proxy().public_address())) {
    out.push_back("proxy.publicAddress: " + when + " (" + c.proxy().public_address() +
                  " is the simulator's: players cannot reach a loopback address)");
  }
  require("agent.token", c.agent().token());
  require("billing.url", c.billing().url());
  require("billing.token", c.billing().token());
  // Only the built-in loopback pool has no nodes: no player reaches a container on it.
  bool pooled = c.network().mode() == Settings::kDhcpMode;
  for (const auto& pool : c.network().pools()) pooled |= !pool.nodes().empty();
  if (!pooled) {
    out.push_back("network.pools: " + when + " (or network.mode \"dhcp\"; without either, " +
                  "containers get the simulator's loopback addresses)");
  }
  return out;
}

Result<Fleet> ChooseFleet(std::string_view fleet_flag, bool file_given, const Settings& settings) {
  if (fleet_flag == "sim" || (fleet_flag.empty() && !file_given)) {
    return Fleet{FleetKind::kSimulated, ""};
  }
  if (!fleet_flag.empty()) return Fleet{FleetKind::kOneUrl, std::string(fleet_flag)};
  std::string trigger;
  for (const auto& [field, url] : ServiceUrls(settings.file)) {
    if (!url.empty() && trigger.empty()) trigger = field;
  }
  if (trigger.empty()) {
    return InvalidArgument(
        "names no service (proxmox.url, dns.url, proxy.url, billing.url): a config file runs the "
        "real fleet, so name every service, or pass --fleet sim (or --fleet URL) to run this file "
        "on a simulated one");
  }
  std::vector<std::string> missing = MissingForRealFleet(settings, trigger);
  if (missing.empty()) return Fleet{FleetKind::kConfigured, ""};
  std::string message;
  for (const std::string& m : missing) message += (message.empty() ? "" : "; ") + m;
  return InvalidArgument(message);
}

}  // namespace zlh::config

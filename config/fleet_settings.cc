#include "config/fleet_settings.h"

#include <cmath>
#include <set>
#include <string>

#include "base/ipv4.h"

namespace zlh::config {
namespace {

namespace pc = proto::config;

Status Bad(const std::string& field, const std::string& problem) {
  return InvalidArgument(field + ": " + problem);
}

void DefaultPlans(pc::Config& c) {
  struct P {
    const char* name;
    uint32_t cores, memory_mb, swap_mb, disk_gb;
  };
  for (const P& p : {P{"small", 2, 4096, 512, 20}, P{"medium", 4, 8192, 1024, 40},
                     P{"large", 8, 16384, 2048, 80}}) {
    pc::Plan* plan = c.add_plans();
    plan->set_name(p.name);
    plan->set_cores(p.cores);
    plan->set_memory_mb(p.memory_mb);
    plan->set_swap_mb(p.swap_mb);
    plan->set_disk_gb(p.disk_gb);
  }
}

// The simulated fleet's pool: loopback addresses, reported and never dialed. It names no node:
// it serves every node of the simulator (a configured pool must name its nodes).
pc::Pool DefaultPool() {
  pc::Pool pool;
  pool.set_name(kLoopbackPool);
  pool.set_bridge("vmbr0");
  pool.set_cidr("127.1.0.0/16");
  pool.set_gateway("127.1.0.1");
  pool.set_first("127.1.0.10");
  pool.set_last("127.1.255.254");
  pool.add_nameservers("127.1.0.1");
  return pool;
}

Status ValidatePlans(const pc::Config& c) {
  std::set<std::string> names;
  for (int i = 0; i < c.plans_size(); ++i) {
    const pc::Plan& p = c.plans(i);
    std::string field = "plans[" + std::to_string(i) + "]";
    if (p.name().empty()) return Bad(field + ".name", "required");
    if (!names.insert(p.name()).second) return Bad(field + ".name", "'" + p.name() + "' repeated");
    if (p.cores() == 0) return Bad(field + ".cores", "required, at least 1");
    if (p.memory_mb() < 16) return Bad(field + ".memoryMb", "required, at least 16");
    if (p.disk_gb() == 0) return Bad(field + ".diskGb", "required, at least 1");
  }
  return Status::Ok();
}

// An address field of `pool` that must lie inside its block.
Result<uint32_t> AddressIn(const std::string& field, const std::string& text, const Cidr& block,
                           const std::string& cidr) {
  if (text.empty()) return Bad(field, "required");
  auto address = ParseIpv4(text);
  if (!address) return Bad(field, "'" + text + "' is not an IPv4 address");
  if (!block.Contains(*address)) return Bad(field, text + " is not inside cidr " + cidr);
  return *address;
}

Status ValidatePool(const pc::Pool& p, const std::string& field, std::set<std::string>& nodes) {
  if (p.name().empty()) return Bad(field + ".name", "required");
  bool built_in = p.SerializeAsString() == DefaultPool().SerializeAsString();
  if (p.nodes().empty() && !built_in) {
    return Bad(field + ".nodes", "required: the nodes this pool serves");
  }
  for (const auto& node : p.nodes()) {
    if (node.empty()) return Bad(field + ".nodes", "an empty node name");
    if (!nodes.insert(node).second) {
      return Bad(field + ".nodes", "node '" + node + "' is served by two pools");
    }
  }
  if (p.bridge().empty()) return Bad(field + ".bridge", "required");
  if (p.cidr().empty()) return Bad(field + ".cidr", "required");
  auto block = ParseCidr(p.cidr());
  if (!block) return Bad(field + ".cidr", "'" + p.cidr() + "' is not a block like 10.20.0.0/22");
  auto gateway = AddressIn(field + ".gateway", p.gateway(), *block, p.cidr());
  if (!gateway.ok()) return gateway.status();
  auto first = AddressIn(field + ".first", p.first(), *block, p.cidr());
  if (!first.ok()) return first.status();
  auto last = AddressIn(field + ".last", p.last(), *block, p.cidr());
  if (!last.ok()) return last.status();
  if (*last < *first) return Bad(field + ".last", p.last() + " is below first " + p.first());
  if (*gateway >= *first && *gateway <= *last) {
    return Bad(field + ".gateway", p.gateway() + " is inside first..last: it would be given out");
  }
  if (p.vlan() > 4094) return Bad(field + ".vlan", "0 (untagged) or 1-4094");
  for (int i = 0; i < p.nameservers_size(); ++i) {
    if (!ParseIpv4(p.nameservers(i))) {
      return Bad(field + ".nameservers[" + std::to_string(i) + "]",
                 "'" + p.nameservers(i) + "' is not an IPv4 address");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<double> MemoryOvercommit(const pc::Config& c) {
  if (!c.placement().has_memory_overcommit()) return 1.0;
  double ratio = c.placement().memory_overcommit();
  // Protobuf's JSON reads "NaN" and "Infinity" as doubles: neither is a ratio.
  if (!std::isfinite(ratio) || ratio <= 0 || ratio > kMaxMemoryOvercommit) {
    return Bad("placement.memoryOvercommit",
               "must be above 0 and at most " + std::to_string(kMaxMemoryOvercommit) +
                   " (a share of each node's memory, e.g. 1.5)");
  }
  return ratio;
}

void ApplyFleetDefaults(pc::Config& c) {
  if (c.plans().empty()) DefaultPlans(c);
  bool dhcp = c.network().mode() == "dhcp";
  if (c.network().pools().empty() && !dhcp) *c.mutable_network()->add_pools() = DefaultPool();
  for (auto& pool : *c.mutable_network()->mutable_pools()) {
    if (pool.nameservers().empty() && !pool.gateway().empty()) pool.add_nameservers(pool.gateway());
  }
}

namespace {

// network.mode, and the fields that belong to the other mode refused rather than ignored.
Status ValidateMode(const pc::Network& n) {
  if (n.mode().empty() || n.mode() == "static") {
    if (!n.bridge().empty() || n.vlan() != 0) {
      return Bad(n.bridge().empty() ? "network.vlan" : "network.bridge",
                 "only with network.mode \"dhcp\" (in static mode each pool names its own)");
    }
    return Status::Ok();
  }
  if (n.mode() != "dhcp") {
    return Bad("network.mode", "'" + n.mode() + "' is neither \"static\" nor \"dhcp\"");
  }
  if (!n.pools().empty()) {
    return Bad("network.pools", "not used when network.mode is \"dhcp\": remove them");
  }
  if (n.bridge().empty()) return Bad("network.bridge", "required when network.mode is \"dhcp\"");
  if (n.vlan() > 4094) return Bad("network.vlan", "0 (untagged) or 1-4094");
  return Status::Ok();
}

}  // namespace

Status ValidateFleet(const pc::Config& c) {
  ZLH_RETURN_IF_ERROR(ValidatePlans(c));
  ZLH_RETURN_IF_ERROR(ValidateMode(c.network()));
  std::set<std::string> names, nodes;
  for (int i = 0; i < c.network().pools_size(); ++i) {
    const pc::Pool& p = c.network().pools(i);
    std::string field = "network.pools[" + std::to_string(i) + "]";
    ZLH_RETURN_IF_ERROR(ValidatePool(p, field, nodes));
    if (!names.insert(p.name()).second) return Bad(field + ".name", "'" + p.name() + "' repeated");
  }
  return Status::Ok();
}

}  // namespace zlh::config

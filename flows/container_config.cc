#include "flows/container_config.h"

#include <cstdlib>
#include <map>
#include <sstream>

#include "base/ipv4.h"

namespace zlh::flows {
namespace {

using Options = std::map<std::string, std::string>;

// "a=1,b=2" → {a: 1, b: 2} (Proxmox's property strings).
Options SplitOptions(const std::string& text) {
  Options out;
  std::istringstream in(text);
  for (std::string part; std::getline(in, part, ',');) {
    size_t eq = part.find('=');
    if (eq != std::string::npos) out[part.substr(0, eq)] = part.substr(eq + 1);
  }
  return out;
}

std::string Trimmed(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// True when the current net0 already says what `wanted` says (Proxmox adds hwaddr and type).
bool SameNet0(const std::string& current, const std::string& wanted) {
  Options have = SplitOptions(current);
  have.erase("hwaddr");
  have.erase("type");
  return have == SplitOptions(wanted);
}

// The net0 to set: the wanted one, keeping the container's MAC address when it has one.
std::string Net0ToSet(const activities::GuestConfig& current, const std::string& wanted) {
  auto it = current.find("net0");
  if (it == current.end()) return wanted;
  Options have = SplitOptions(it->second);
  auto mac = have.find("hwaddr");
  return mac == have.end() ? wanted : wanted + ",hwaddr=" + mac->second;
}

// dhcp mode's net0: the configured bridge and VLAN, the address from the DHCP server.
std::string DhcpNet0(const proto::config::Network& network) {
  std::string net0 = "name=eth0,bridge=" + network.bridge() + ",ip=dhcp";
  if (network.vlan() != 0) net0 += ",tag=" + std::to_string(network.vlan());
  return net0 + ",firewall=1";
}

std::string Net0(const proto::config::Pool& pool, const std::string& address) {
  auto block = ParseCidr(pool.cidr());
  std::string net0 = "name=eth0,bridge=" + pool.bridge() + ",ip=" + address + "/" +
                     std::to_string(block ? block->prefix : 32) + ",gw=" + pool.gateway();
  if (pool.vlan() != 0) net0 += ",tag=" + std::to_string(pool.vlan());
  return net0 + ",firewall=1";
}

}  // namespace

Result<ContainerSpec> SpecOf(const config::Settings& settings, const ProvisionInput& in,
                             const std::string& node, const std::string& address) {
  const proto::config::Plan* plan = settings.FindPlan(in.plan);
  if (!plan) return FailedPrecondition("plan '" + in.plan + "' is not configured");
  ContainerSpec spec;
  if (settings.Dhcp()) {  // the DHCP server tells the nameservers too
    spec.config["net0"] = DhcpNet0(settings.file.network());
  } else {
    const proto::config::Pool* pool = settings.PoolOf(node);
    if (!pool) return FailedPrecondition("no address pool serves node " + node);
    std::string nameservers;
    for (const auto& ns : pool->nameservers()) nameservers += (nameservers.empty() ? "" : " ") + ns;
    spec.config["net0"] = Net0(*pool, address);
    spec.config["nameserver"] = nameservers;
  }
  spec.config.insert({{"cores", std::to_string(plan->cores())},
                 {"memory", std::to_string(plan->memory_mb())},
                 {"swap", std::to_string(plan->swap_mb())},
                 {"onboot", "1"},
                 {"tags", "zlh;customer-" + in.customer_id},
                 {"description", "zlh server " + in.server_id + ", customer " + in.customer_id +
                                     ", plan " + in.plan}});
  spec.disk_gb = plan->disk_gb();
  return spec;
}

double RootfsGb(const std::string& rootfs) {
  Options options = SplitOptions(rootfs);
  auto size = options.find("size");
  if (size == options.end() || size->second.empty()) return 0;
  const std::string& text = size->second;
  double value = std::strtod(text.c_str(), nullptr);
  switch (text.back()) {
    case 'T':
      return value * 1024;
    case 'G':
      return value;
    case 'M':
      return value / 1024;
    case 'K':
      return value / (1024 * 1024);
    default:
      return value / (1024.0 * 1024 * 1024);  // bytes
  }
}

workflows::Task<Result<std::string>> ApplySpec(activities::Hypervisor& hypervisor,
                                               activities::CallContext ctx, std::string node,
                                               int64_t vmid, ContainerSpec spec) {
  auto current = co_await hypervisor.Config(node, vmid);
  if (!current.ok()) co_return current.status();
  activities::GuestConfig changes;
  for (const auto& [key, wanted] : spec.config) {
    auto it = current->find(key);
    std::string have = it == current->end() ? "" : it->second;
    bool same = key == "net0" ? SameNet0(have, wanted) : Trimmed(have) == Trimmed(wanted);
    if (!same) changes[key] = key == "net0" ? Net0ToSet(*current, wanted) : wanted;
  }
  ZLH_CO_RETURN_IF_ERROR(co_await hypervisor.SetConfig(ctx, node, vmid, changes));
  auto rootfs = current->find("rootfs");
  double disk = rootfs == current->end() ? 0 : RootfsGb(rootfs->second);
  bool grow = disk < spec.disk_gb;
  if (grow) ZLH_CO_RETURN_IF_ERROR(co_await hypervisor.ResizeRootfs(ctx, node, vmid, spec.disk_gb));

  const auto& c = spec.config;
  std::ostringstream out;
  out << "cores " << c.at("cores") << ", memory " << c.at("memory") << " MB, swap " << c.at("swap")
      << " MB, disk " << spec.disk_gb << " GB, net0 " << c.at("net0") << "; ";
  if (changes.empty()) out << "config already so";
  if (!changes.empty()) out << "set";
  for (const auto& [key, value] : changes) out << " " << key;
  if (grow) out << "; rootfs " << disk << "G → " << spec.disk_gb << "G";
  co_return out.str();
}

}  // namespace zlh::flows

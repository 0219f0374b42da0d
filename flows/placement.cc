#include "flows/placement.h"

#include <algorithm>
#include <boost/json.hpp>
#include <map>
#include <sstream>

#include "base/ipv4.h"
#include "fleet/tables.h"
#include "flows/capacity.h"

namespace zlh::flows {
namespace {

namespace json = boost::json;

// allocate_vmid's third field in dhcp mode, where an address would be.
constexpr char kDhcpAllocation[] = "dhcp";

// The online nodes' names, least loaded first: lowest CPU load, then the lowest share of memory
// used. An offline node takes no server.
std::vector<std::string> ByLoad(std::vector<activities::HostNode> nodes) {
  auto load = [](const activities::HostNode& n) {
    double mem = n.maxmem > 0 ? static_cast<double>(n.mem) / static_cast<double>(n.maxmem) : 1.0;
    return std::pair{n.cpu, mem};
  };
  std::stable_sort(nodes.begin(), nodes.end(),
                   [&](const auto& a, const auto& b) { return load(a) < load(b); });
  std::vector<std::string> out;
  for (const auto& n : nodes) {
    if (n.online()) out.push_back(n.name);
  }
  return out;
}

// The candidate nodes of `view` (only `only_node` when set), fewest live servers first, then the
// hypervisor's order.
std::vector<std::string> Candidates(const FleetView& view,
                                    const std::map<std::string, fleet::NodeUse>& use,
                                    std::string_view only_node) {
  std::vector<std::string> order;
  for (const auto& n : view.nodes) {
    if (only_node.empty() || n == only_node) order.push_back(n);
  }
  auto servers_on = [&](const std::string& node) {
    auto it = use.find(node);
    return it == use.end() ? size_t{0} : it->second.servers;
  };
  std::stable_sort(order.begin(), order.end(), [&](const std::string& a, const std::string& b) {
    return servers_on(a) < servers_on(b);
  });
  return order;
}

// Why `node` cannot take the server on capacity grounds (drain, memory); nullopt when it can.
std::optional<std::string> Refusal(const config::Settings& settings, const FleetView& view,
                                   const std::vector<proto::NodeDrain>& drains,
                                   const std::map<std::string, fleet::NodeUse>& use,
                                   const std::string& node, int64_t plan_mb) {
  const proto::NodeDrain* drain = nullptr;
  for (const auto& d : drains) {
    if (d.node() == node) drain = &d;
  }
  auto u = use.find(node);
  auto maxmem = view.maxmem.find(node);
  return CapacityRefusal(settings, drain, u == use.end() ? fleet::NodeUse() : u->second,
                         maxmem == view.maxmem.end() ? 0 : maxmem->second, plan_mb);
}

std::string Joined(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "; ") + p;
  return out;
}

}  // namespace

std::string FormatAllocation(const Allocation& a) {
  return std::to_string(a.vmid) + " " + a.node + " " + (a.dhcp ? kDhcpAllocation : a.address);
}

Result<Allocation> ParseAllocation(std::string_view recorded) {
  std::istringstream in{std::string(recorded)};
  Allocation a;
  std::string vmid;
  in >> vmid >> a.node >> a.address;
  try {
    size_t used = 0;
    a.vmid = std::stoll(vmid, &used);
    if (used != vmid.size() || a.vmid <= 0) throw std::invalid_argument(vmid);
  } catch (const std::exception&) {
    return Corruption("allocate_vmid's result '" + std::string(recorded) + "' is not a VMID");
  }
  if (a.address == kDhcpAllocation) {
    a.dhcp = true;
    a.address.clear();
  }
  return a;
}

std::string EncodeFleetView(const FleetView& view) {
  json::array nodes, vmids, addresses;
  json::object maxmem;
  for (const auto& n : view.nodes) nodes.emplace_back(n);
  for (const auto& [node, bytes] : view.maxmem) maxmem[node] = bytes;
  for (int64_t v : view.vmids) vmids.emplace_back(v);
  for (uint32_t a : view.addresses) addresses.emplace_back(FormatIpv4(a));
  return json::serialize(json::object{{"nodes", std::move(nodes)},
                                      {"maxmem", std::move(maxmem)},
                                      {"vmids", std::move(vmids)},
                                      {"addresses", std::move(addresses)}});
}

Result<FleetView> DecodeFleetView(std::string_view encoded) {
  FleetView view;
  try {
    json::value v = json::parse(encoded);
    for (const auto& n : v.at("nodes").as_array()) view.nodes.emplace_back(n.as_string());
    if (const json::value* maxmem = v.as_object().if_contains("maxmem")) {
      for (const auto& [node, bytes] : maxmem->as_object()) {
        view.maxmem[std::string(node)] = bytes.to_number<int64_t>();
      }
    }
    for (const auto& x : v.at("vmids").as_array()) view.vmids.insert(x.to_number<int64_t>());
    for (const auto& a : v.at("addresses").as_array()) {
      if (auto address = ParseIpv4(a.as_string())) view.addresses.insert(*address);
    }
  } catch (const std::exception& e) {
    return Corruption(std::string("the hypervisor's view cannot be read: ") + e.what());
  }
  return view;
}

std::optional<uint32_t> Net0Address(std::string_view net0) {
  std::istringstream in{std::string(net0)};
  for (std::string part; std::getline(in, part, ',');) {
    if (part.rfind("ip=", 0) != 0) continue;
    std::string ip = part.substr(3);
    return ParseIpv4(ip.substr(0, ip.find('/')));
  }
  return std::nullopt;
}

workflows::Task<Result<std::string>> GatherFleet(Deps& d) {
  auto nodes = co_await d.hypervisor->Nodes();
  if (!nodes.ok()) co_return nodes.status();
  auto guests = co_await d.hypervisor->Guests();
  if (!guests.ok()) co_return guests.status();
  // Our own servers' addresses are in the address table: only the others' configs are read.
  std::set<int64_t> ours;
  if (d.journal) {
    auto held = fleet::ListVmids(*d.journal);
    if (!held.ok()) co_return held.status();
    for (const auto& [vmid, server] : *held) ours.insert(vmid);
  }
  FleetView view;
  for (const auto& n : *nodes) {
    if (n.online()) view.maxmem[n.name] = n.maxmem;
  }
  view.nodes = ByLoad(std::move(*nodes));
  for (const auto& g : *guests) {
    view.vmids.insert(g.vmid);
    // Templates never run: their net0 is no address in use.
    if (ours.count(g.vmid) || g.is_template || (g.type != "lxc" && !g.type.empty())) continue;
    auto config = co_await d.hypervisor->Config(g.node, g.vmid);
    if (!config.ok()) co_return config.status();
    auto net0 = config->find("net0");
    if (net0 == config->end()) continue;
    if (auto address = Net0Address(net0->second)) view.addresses.insert(*address);
  }
  co_return EncodeFleetView(view);
}

Result<Placement> PlaceServer(journal::Txn& txn, const config::Settings& settings,
                              const FleetView& view, std::string_view server_id,
                              std::string_view plan, std::string_view only_node) {
  auto use = fleet::LiveUsePerNode(txn);
  if (!use.ok()) return use.status();
  auto drains = fleet::ListNodeDrains(txn);
  if (!drains.ok()) return drains.status();
  int64_t plan_mb = PlanMemoryMb(settings, plan);
  std::vector<std::string> refused;  // "<node>: <why>"
  for (const auto& node : Candidates(view, *use, only_node)) {
    // A node that holds the container already is not chosen again: only its address is.
    if (only_node.empty()) {
      if (auto why = Refusal(settings, view, *drains, *use, node, plan_mb)) {
        refused.push_back(node + ": " + *why);
        continue;
      }
    }
    if (settings.Dhcp()) return Placement{node, ""};
    const proto::config::Pool* pool = settings.PoolOf(node);
    auto first = pool ? ParseIpv4(pool->first()) : std::nullopt;
    auto last = pool ? ParseIpv4(pool->last()) : std::nullopt;
    if (!first || !last) {  // the pool's fields are validated at start
      refused.push_back(node + ": no address pool serves it");
      continue;
    }
    auto address = fleet::AllocateAddress(txn, *first, *last, view.addresses, server_id);
    if (!address.ok()) return address.status();
    if (address->has_value()) return Placement{node, FormatIpv4(**address)};
    refused.push_back(node + ": its address pool " + pool->name() + " is full");
  }
  std::string what = only_node.empty() ? "no node fits plan '" + std::string(plan) + "' (" +
                                             std::to_string(plan_mb) + " MB)"
                                       : "no free address on node " + std::string(only_node);
  if (refused.empty()) {
    return Status(Code::kNoCapacity, what + (only_node.empty()
                                                 ? ": the hypervisor reports no online node"
                                                 : ": the hypervisor does not report it online"));
  }
  return Status(Code::kNoCapacity, what + ": " + Joined(refused));
}

}  // namespace zlh::flows

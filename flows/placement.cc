#include "flows/placement.h"

#include <algorithm>
#include <boost/json.hpp>
#include <map>
#include <sstream>

#include "base/ipv4.h"
#include "fleet/tables.h"

namespace zlh::flows {
namespace {

namespace json = boost::json;

// The node names, least loaded first: lowest CPU load, then the lowest share of memory used.
std::vector<std::string> ByLoad(std::vector<activities::HostNode> nodes) {
  auto load = [](const activities::HostNode& n) {
    double mem = n.maxmem > 0 ? static_cast<double>(n.mem) / static_cast<double>(n.maxmem) : 1.0;
    return std::pair{n.cpu, mem};
  };
  std::stable_sort(nodes.begin(), nodes.end(),
                   [&](const auto& a, const auto& b) { return load(a) < load(b); });
  std::vector<std::string> out;
  for (const auto& n : nodes) out.push_back(n.name);
  return out;
}

}  // namespace

std::string FormatAllocation(const Allocation& a) {
  return std::to_string(a.vmid) + " " + a.node + " " + a.address;
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
  return a;
}

std::string EncodeFleetView(const FleetView& view) {
  json::array nodes, vmids, addresses;
  for (const auto& n : view.nodes) nodes.emplace_back(n);
  for (int64_t v : view.vmids) vmids.emplace_back(v);
  for (uint32_t a : view.addresses) addresses.emplace_back(FormatIpv4(a));
  return json::serialize(json::object{{"nodes", std::move(nodes)},
                                      {"vmids", std::move(vmids)},
                                      {"addresses", std::move(addresses)}});
}

Result<FleetView> DecodeFleetView(std::string_view encoded) {
  FleetView view;
  try {
    json::value v = json::parse(encoded);
    for (const auto& n : v.at("nodes").as_array()) view.nodes.emplace_back(n.as_string());
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
                              std::string_view only_node) {
  auto per_node = fleet::LiveServersPerNode(txn);
  if (!per_node.ok()) return per_node.status();
  std::vector<std::string> order;
  for (const auto& n : view.nodes) {
    if (only_node.empty() || n == only_node) order.push_back(n);
  }
  auto servers_on = [&](const std::string& node) {
    auto it = per_node->find(node);
    return it == per_node->end() ? size_t{0} : it->second;
  };
  std::stable_sort(order.begin(), order.end(), [&](const std::string& a, const std::string& b) {
    return servers_on(a) < servers_on(b);
  });
  for (const auto& node : order) {
    const proto::config::Pool* pool = settings.PoolOf(node);
    if (!pool) continue;
    auto first = ParseIpv4(pool->first()), last = ParseIpv4(pool->last());
    if (!first || !last) continue;  // validated at start: cannot happen
    auto address = fleet::AllocateAddress(txn, *first, *last, view.addresses, server_id);
    if (!address.ok()) return address.status();
    if (address->has_value()) return Placement{node, FormatIpv4(**address)};
  }
  std::string where = only_node.empty() ? "on any node" : "on node " + std::string(only_node);
  return Status(Code::kNoCapacity, "no free address " + where + " (" +
                                       std::to_string(view.nodes.size()) +
                                       " nodes reported; their pools are full or absent)");
}

}  // namespace zlh::flows

#include "flows/capacity.h"

#include <algorithm>
#include <cmath>

namespace zlh::flows {
namespace {

constexpr double kBytesPerMb = 1024.0 * 1024.0;  // Proxmox's "MB" of memory is a MiB

}  // namespace

int64_t PlanMemoryMb(const config::Settings& settings, std::string_view plan) {
  if (const proto::config::Plan* p = settings.FindPlan(plan)) return p->memory_mb();
  int64_t largest = 0;
  for (const auto& p : settings.file.plans()) largest = std::max<int64_t>(largest, p.memory_mb());
  return largest;
}

int64_t CommittedMemoryMb(const config::Settings& settings, const fleet::NodeUse& use) {
  int64_t mb = 0;
  for (const auto& [plan, servers] : use.plans) {
    mb += PlanMemoryMb(settings, plan) * static_cast<int64_t>(servers);
  }
  return mb;
}

int64_t MemoryLimitMb(const config::Settings& settings, int64_t maxmem) {
  if (maxmem <= 0) return 0;
  return static_cast<int64_t>(
      std::floor(settings.memory_overcommit * static_cast<double>(maxmem) / kBytesPerMb));
}

std::optional<std::string> CapacityRefusal(const config::Settings& settings,
                                           const proto::NodeDrain* drain, const fleet::NodeUse& use,
                                           int64_t maxmem, int64_t plan_mb) {
  if (drain && drain->on()) {
    return "drained" + (drain->reason().empty() ? std::string() : " (" + drain->reason() + ")");
  }
  if (maxmem <= 0) {
    return std::string("its memory is not reported (the API token needs Sys.Audit on the node)");
  }
  int64_t committed = CommittedMemoryMb(settings, use);
  int64_t limit = MemoryLimitMb(settings, maxmem);
  if (committed + plan_mb > limit) {
    return std::to_string(committed) + " of " + std::to_string(limit) +
           " MB committed, the plan needs " + std::to_string(plan_mb);
  }
  return std::nullopt;
}

std::vector<NodeState> NodeStates(const config::Settings& settings,
                                  const std::vector<activities::HostNode>& reported,
                                  const std::vector<proto::NodeDrain>& drains,
                                  const std::map<std::string, fleet::NodeUse>& use) {
  std::map<std::string, NodeState> by_name;
  auto at = [&by_name](const std::string& name) -> NodeState& {
    NodeState& n = by_name[name];
    if (n.name.empty()) {
      n.name = name;
      n.status = "absent";
    }
    return n;
  };
  for (const auto& h : reported) {
    NodeState& n = at(h.name);
    n.status = h.status;
    n.maxmem_mb = static_cast<int64_t>(static_cast<double>(h.maxmem) / kBytesPerMb);
    n.limit_mb = MemoryLimitMb(settings, h.maxmem);
  }
  for (const auto& d : drains) {
    if (!d.on()) continue;
    NodeState& n = at(d.node());
    n.drained = true;
    n.drain_reason = d.reason();
    n.drained_since_ms = d.since_ms();
  }
  for (const auto& [node, u] : use) {
    NodeState& n = at(node);
    n.servers = u.servers;
    n.committed_mb = CommittedMemoryMb(settings, u);
  }
  std::vector<NodeState> out;
  for (auto& [name, n] : by_name) out.push_back(std::move(n));
  return out;
}

}  // namespace zlh::flows

#include "flows/discover_address.h"

#include "base/duration.h"
#include "base/ipv4.h"
#include "fleet/tables.h"
#include "flows/steps.h"

namespace zlh::flows {
namespace {

using workflows::ProbeAnswer;
using workflows::Task;

// One look at the container's interfaces: done with eth0's address once it has one.
Task<Result<ProbeAnswer>> ProbeAddress(Deps& d, std::string node, int64_t vmid) {
  auto interfaces = co_await d.hypervisor->Interfaces(node, vmid);
  if (!interfaces.ok()) {
    Code c = interfaces.status().code();
    if (c == Code::kUnavailable || c == Code::kDeadlineExceeded) {
      co_return ProbeAnswer::NotYet("Proxmox unreachable");
    }
    co_return interfaces.status();
  }
  std::string address = Eth0Address(*interfaces);
  if (address.empty()) co_return ProbeAnswer::NotYet("eth0 has no IPv4 address yet");
  co_return ProbeAnswer::Done(address);
}

}  // namespace

std::string Eth0Address(const std::vector<activities::GuestInterface>& interfaces) {
  for (const auto& i : interfaces) {
    if (i.name != "eth0") continue;
    std::string address = i.inet.substr(0, i.inet.find('/'));
    return ParseIpv4(address) ? address : "";
  }
  return "";
}

Task<Result<std::string>> DiscoverAddress(workflows::Context& ctx, Deps& d, std::string server_id,
                                          std::string node, int64_t vmid) {
  auto since = co_await ctx.Now();
  if (!since.ok()) co_return since.status();
  const config::Settings& s = *d.settings;
  workflows::PollSpec spec;
  spec.kind = "address";
  spec.detail = "eth0 of VMID " + std::to_string(vmid);
  spec.interval = s.readiness_probe_interval;
  spec.deadline_ms = *since + s.readiness_timeout.count();
  spec.gave_up = "eth0 of VMID " + std::to_string(vmid) + " had no IPv4 address from DHCP after " +
                 FormatDuration(s.readiness_timeout);
  auto address = co_await ctx.Poll(
      "discover_address",
      [&d, node, vmid](const workflows::StepInfo&) { return ProbeAddress(d, node, vmid); }, spec);
  if (!address.ok()) co_return address.status();
  co_return co_await ctx.TxnStep(
      "record_address",
      [server_id, address = *address](journal::Txn& t,
                                      const workflows::StepInfo&) -> Result<std::string> {
        ZLH_RETURN_IF_ERROR(fleet::RecordAddress(t, server_id, address));
        return address;
      });
}

}  // namespace zlh::flows

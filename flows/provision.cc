// provision (SPEC §5.1): allocate_vmid, create_container, start_container, wait_agent_ready,
// install_workload, start_workload, register_proxy, publish_dns, mark_ready; on a failure retries
// cannot fix (or a cancel) the reached steps are undone in reverse, #alerts-provisioning is pinged,
// and release_vmid frees the VMID and marks the server failed in the same write as the failure.
#include "flows/provision.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>
#include <sstream>

#include "activities/agent_http.h"
#include "flows/agent_ready.h"
#include "base/clock.h"
#include "fleet/tables.h"
#include "flows/inputs.h"
#include "flows/steps.h"

namespace zlh::flows {
namespace {

using workflows::Context;
using workflows::StepInfo;
using workflows::Task;

enum Stage {
  kAllocate = 1,
  kCreate,
  kStart,
  kReady,
  kInstall,
  kStartWorkload,
  kRegister,
  kPublish,
  kMarkReady,
};

// The least loaded node: lowest CPU load, then the lowest share of memory used.
std::string LeastLoaded(const std::vector<activities::HostNode>& nodes) {
  auto load = [](const activities::HostNode& n) {
    double mem = n.maxmem > 0 ? static_cast<double>(n.mem) / static_cast<double>(n.maxmem) : 1.0;
    return std::pair{n.cpu, mem};
  };
  auto best = std::min_element(nodes.begin(), nodes.end(),
                               [&](const auto& a, const auto& b) { return load(a) < load(b); });
  return best == nodes.end() ? "" : best->name;
}

// The VMIDs the hypervisor reports, "101,102,...".
Task<Result<std::string>> GuestVmids(Deps& d) {
  auto guests = co_await d.hypervisor->Guests();
  if (!guests.ok()) co_return guests.status();
  std::string out;
  for (const auto& g : *guests) out += std::to_string(g.vmid) + ",";
  co_return out;
}

std::set<int64_t> ParseVmids(const std::string& list) {
  std::set<int64_t> out;
  std::stringstream in(list);
  for (std::string v; std::getline(in, v, ',');) {
    if (!v.empty()) out.insert(std::stoll(v));
  }
  return out;
}

// Creates the container (idempotent by VMID and hostname) and returns its node.
// The container, on the least-loaded node; the node it is on (an earlier attempt's, when that got
// through: Clone is idempotent by VMID and hostname).
Task<Result<std::string>> CreateContainer(Deps& d, const proto::config::Template& tpl,
                                          int64_t vmid, std::string hostname, const StepInfo& info) {
  auto nodes = co_await d.hypervisor->Nodes();
  if (!nodes.ok()) co_return nodes.status();
  std::string node = LeastLoaded(*nodes);
  if (node.empty()) co_return Unavailable("the hypervisor reports no node");
  co_return co_await d.hypervisor->Clone(CallOf(info), tpl.template_node(), tpl.template_vmid(),
                                         node, vmid, hostname);
}

// Destroys our container wherever it is; absent is success.
Task<Result<std::string>> DestroyContainer(Deps& d, int64_t vmid, std::string hostname,
                                           const StepInfo& info) {
  auto guests = co_await d.hypervisor->Guests();
  if (!guests.ok()) co_return guests.status();
  for (const auto& g : *guests) {
    if (g.vmid != vmid) continue;
    if (g.name != hostname) co_return "not ours: left alone";
    if (g.status == "running") {
      ZLH_CO_RETURN_IF_ERROR(co_await d.hypervisor->Stop(CallOf(info), g.node, vmid));
    }
    ZLH_CO_RETURN_IF_ERROR(co_await d.hypervisor->Destroy(CallOf(info), g.node, vmid, hostname));
    co_return "destroyed";
  }
  co_return "absent";
}

class Provisioning {
 public:
  Provisioning(Deps& d, Context& ctx, ProvisionInput in)
      : d_(d), ctx_(ctx), s_(*d.settings), in_(std::move(in)), dev_(in_.ctype == "dev") {}

  Task<Result<std::string>> Run() {
    Status failure = co_await Forward();
    if (failure.ok()) co_return "server " + in_.server_id + " running as VMID " + std::to_string(vmid_);
    if (!ctx_.fatal().ok()) co_return ctx_.fatal();  // stopping: resumes at the next boot
    co_await Compensate(failure);
    co_return failure;
  }

 private:
  // Runs the steps in order; the first failure that retries could not fix, or OK.
  Task<Status> Forward() {
    const std::string tpl_name = dev_ ? "dev" : in_.game;
    const proto::config::Template* found = s_.FindTemplate(tpl_name);
    stage_ = kAllocate;
    auto vmid = co_await ctx_.TxnStep(
        "allocate_vmid", [this](const StepInfo&) { return GuestVmids(d_); },
        [first = s_.file.vmids().first(), last = s_.file.vmids().last(),
         id = in_.server_id](journal::Txn& t, const StepInfo& info) -> Result<std::string> {
          auto server = fleet::GetServer(t, id);
          if (!server.ok()) return server.status();
          if (!server->has_value()) return NotFound("server " + id + " does not exist");
          auto vmid = fleet::AllocateVmid(t, first, last, ParseVmids(info.prepared), id);
          if (!vmid.ok()) return vmid.status();
          (*server)->set_vmid(*vmid);
          (*server)->set_status(proto::SERVER_PROVISIONING);
          ZLH_RETURN_IF_ERROR(fleet::PutServer(t, **server));
          return std::to_string(*vmid);
        },
        ActivityPolicy(s_));
    if (!vmid.ok()) co_return vmid.status();
    vmid_ = std::stoll(*vmid);
    if (!found) co_return InvalidArgument("no template '" + tpl_name + "' is configured");
    proto::config::Template tpl = *found;

    stage_ = kCreate;
    auto node = co_await ctx_.Step(
        "create_container",
        [this, tpl](const StepInfo& info) {
          return CreateContainer(d_, tpl, vmid_, in_.name, info);
        },
        ActivityPolicy(s_));
    if (!node.ok()) co_return node.status();
    node_ = *node;

    stage_ = kStart;
    ZLH_CO_RETURN_IF_ERROR(Done(co_await ctx_.Step(
        "start_container",
        [this](const StepInfo& info) -> Task<Result<std::string>> {
          ZLH_CO_RETURN_IF_ERROR(co_await d_.hypervisor->Start(CallOf(info), node_, vmid_));
          co_return "started";
        },
        ActivityPolicy(s_))));

    stage_ = kReady;
    ZLH_CO_RETURN_IF_ERROR(co_await WaitAgentReady());

    stage_ = kInstall;
    ZLH_CO_RETURN_IF_ERROR(Done(co_await ctx_.Step(
        "install_workload",
        [this, loader = tpl.loader()](const StepInfo& info) -> Task<Result<std::string>> {
          ZLH_CO_RETURN_IF_ERROR(
              co_await d_.agent->Install(CallOf(info), vmid_, dev_ ? "dev" : in_.game, loader));
          co_return "installed";
        },
        ActivityPolicy(s_))));

    ZLH_CO_RETURN_IF_ERROR(co_await StartWorkload());

    if (!dev_) {  // Velocity is for Minecraft
      stage_ = kRegister;
      ZLH_CO_RETURN_IF_ERROR(Done(co_await ctx_.Step(
          "register_proxy",
          [this](const StepInfo& info) -> Task<Result<std::string>> {
            std::string address =
                activities::ContainerAddress(vmid_) + ":" + std::to_string(s_.file.proxy().game_port());
            ZLH_CO_RETURN_IF_ERROR(co_await d_.proxy->Register(CallOf(info), in_.name, address));
            co_return address;
          },
          ActivityPolicy(s_))));
    }

    stage_ = kPublish;
    ZLH_CO_RETURN_IF_ERROR(Done(co_await ctx_.Step(
        "publish_dns",
        [this](const StepInfo& info) -> Task<Result<std::string>> {
          const auto& proxy = s_.file.proxy();
          std::string a = dev_ ? activities::ContainerAddress(vmid_) : proxy.public_address();
          ZLH_CO_RETURN_IF_ERROR(
              co_await d_.dns->Publish(CallOf(info), {"", "A", Fqdn(s_, in_.name), a}));
          if (!dev_) {
            std::string srv = "0 5 " + std::to_string(proxy.public_port()) + " " +
                              proxy.public_host();
            ZLH_CO_RETURN_IF_ERROR(
                co_await d_.dns->Publish(CallOf(info), {"", "SRV", SrvName(s_, in_.name), srv}));
          }
          co_return "published";
        },
        ActivityPolicy(s_))));

    stage_ = kMarkReady;
    ZLH_CO_RETURN_IF_ERROR(Done(co_await ctx_.TxnStep(
        "mark_ready", [id = in_.server_id, node = node_](journal::Txn& t, const StepInfo&)
                          -> Result<std::string> {
          auto server = fleet::GetServer(t, id);
          if (!server.ok()) return server.status();
          if (!server->has_value()) return NotFound("server " + id + " does not exist");
          (*server)->set_status(proto::SERVER_RUNNING);
          (*server)->set_node(node);
          ZLH_RETURN_IF_ERROR(fleet::PutServer(t, **server));
          return "running";
        })));
    co_return Status::Ok();
  }

  static Status Done(const Result<std::string>& r) { return r.ok() ? Status::Ok() : r.status(); }

  // start_workload: a running server runs its game. Added after the first release: provisionings
  // in flight whose history went past install_workload without it go on without it (their game
  // is started by the controller's workload repair, or by the operator's start).
  Task<Status> StartWorkload() {
    auto version = co_await ctx_.Version("start-workload", 0, 1);
    if (!version.ok()) co_return version.status();
    if (*version < 1) co_return Status::Ok();
    stage_ = kStartWorkload;
    co_return Done(co_await ctx_.Step(
        "start_workload",
        [this](const StepInfo& info) -> Task<Result<std::string>> {
          ZLH_CO_RETURN_IF_ERROR(co_await d_.agent->Workload(CallOf(info), vmid_, true));
          co_return "running";
        },
        ActivityPolicy(s_)));
  }

  // The readiness gate (agent_ready.h): one poll step, its history the wait and the outcome,
  // however many probes it takes.
  Task<Status> WaitAgentReady() {
    auto since = co_await ctx_.Now();
    if (!since.ok()) co_return since.status();
    workflows::PollSpec spec = AgentReadySpec(s_, vmid_, *since);
    for (;;) {
      auto state = co_await ctx_.Poll(
          "wait_agent_ready", [this](const StepInfo&) { return ProbeAgent(d_, vmid_); }, spec);
      if (!state.ok()) co_return state.status();
      if (*state == "ready") co_return Status::Ok();
      // A history recorded before the gate was one poll step: a step per probe ("unreachable",
      // "installing", "error"...), each followed by the time and a durable sleep. Such a workflow,
      // in flight across the upgrade, replays those steps here and polls on from where it was.
      if (*state == "error") co_return FailedPrecondition("the agent reports an error");
      auto now = co_await ctx_.Now();
      if (!now.ok()) co_return now.status();
      if (*now >= spec.deadline_ms) {
        co_return Status(Code::kDeadlineExceeded, spec.gave_up + " (last probe: " + *state + ")");
      }
      ZLH_CO_RETURN_IF_ERROR(co_await ctx_.Sleep(s_.readiness_probe_interval));
    }
  }

  // Undoes the steps reached, in reverse; then the alert, then release_vmid with the failure.
  Task<void> Compensate(const Status& failure) {
    spdlog::warn("provision {} (server {}) failed at stage {}: {}; compensating", ctx_.id(),
                 in_.server_id, stage_, failure.ToString());
    if (stage_ >= kPublish) {
      (void)co_await ctx_.Step(
          "unpublish_dns",
          [this](const StepInfo& info) -> Task<Result<std::string>> {
            ZLH_CO_RETURN_IF_ERROR(co_await d_.dns->Unpublish(CallOf(info), "A", Fqdn(s_, in_.name)));
            if (!dev_) {
              ZLH_CO_RETURN_IF_ERROR(
                  co_await d_.dns->Unpublish(CallOf(info), "SRV", SrvName(s_, in_.name)));
            }
            co_return "unpublished";
          },
          CompensationPolicy(s_));
    }
    if (stage_ >= kRegister && !dev_) {
      (void)co_await ctx_.Step(
          "unregister_proxy",
          [this](const StepInfo& info) -> Task<Result<std::string>> {
            ZLH_CO_RETURN_IF_ERROR(co_await d_.proxy->Unregister(CallOf(info), in_.name));
            co_return "unregistered";
          },
          CompensationPolicy(s_));
    }
    if (stage_ >= kCreate) {
      (void)co_await ctx_.Step(
          "destroy_container",
          [this](const StepInfo& info) { return DestroyContainer(d_, vmid_, in_.name, info); },
          CompensationPolicy(s_));
    }
    if (!ctx_.fatal().ok()) co_return;
    (void)co_await ctx_.Step(
        "notify",
        [this, failure](const StepInfo& info) -> Task<Result<std::string>> {
          std::string text = "Provisioning of " + in_.name + " (server " + in_.server_id +
                             ", customer " + in_.customer_id + ") failed: " + failure.ToString() +
                             ". Its container, DNS records, proxy registration and VMID were " +
                             "released. Workflow " + ctx_.id() + ".";
          ZLH_CO_RETURN_IF_ERROR(
              co_await d_.notifier->Post(CallOf(info), "alerts-provisioning", text, true));
          co_return "sent";
        },
        CompensationPolicy(s_));
    if (!ctx_.fatal().ok()) co_return;
    (void)ctx_.FinalTxnStep(
        "release_vmid", [id = in_.server_id, vmid = vmid_](journal::Txn& t,
                                                            const StepInfo&) -> Result<std::string> {
          auto server = fleet::GetServer(t, id);
          if (!server.ok()) return server.status();
          if (vmid != 0) ZLH_RETURN_IF_ERROR(fleet::ReleaseVmid(t, vmid, id));
          if (server->has_value()) {
            // No VMID any more: a later deletion must not act on one another server may hold.
            (*server)->set_vmid(0);
            (*server)->set_status(proto::SERVER_FAILED);
            ZLH_RETURN_IF_ERROR(fleet::PutServer(t, **server));
          }
          return vmid != 0 ? "released " + std::to_string(vmid) : "no VMID";
        });
  }

  Deps& d_;
  Context& ctx_;
  const config::Settings& s_;
  ProvisionInput in_;
  bool dev_;
  int stage_ = 0;
  int64_t vmid_ = 0;
  std::string node_;
};

}  // namespace

Status ProvisionCancelledQueued(journal::Txn& txn, const std::string& input) {
  auto in = ParseProvisionInput(input);
  if (!in.ok()) return in.status();
  auto server = fleet::GetServer(txn, in->server_id);
  if (!server.ok()) return server.status();
  if (!server->has_value()) return Status::Ok();
  (*server)->set_status(proto::SERVER_FAILED);
  return fleet::PutServer(txn, **server);
}

Task<Result<std::string>> Provision(Deps& deps, Context& ctx) {
  auto in = ParseProvisionInput(ctx.input());
  if (!in.ok()) co_return in.status();
  Provisioning p(deps, ctx, std::move(*in));
  co_return co_await p.Run();
}

}  // namespace zlh::flows

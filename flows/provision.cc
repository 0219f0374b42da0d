// provision (SPEC §5.1, §9.1, §9.2): allocate_vmid (with the node and the address),
// create_container, configure_container, start_container, [dhcp mode: discover_address,
// record_address,] wait_agent_ready, install_workload,
// start_workload, register_proxy, publish_dns, mark_ready; on a failure retries cannot fix (or a
// cancel) the reached steps are undone in reverse, #alerts-provisioning is pinged, and
// release_vmid frees the VMID and the address and marks the server failed in the same write as
// the failure.
//
// Histories recorded before addresses existed (allocate_vmid's result a bare VMID) go on along
// their old path; they take allocate_address (and configure_container, once the container exists)
// at the first point where their history ends, so a replay meets every recorded step at its number.
#include "flows/provision.h"

#include <spdlog/spdlog.h>

#include "flows/agent_ready.h"
#include "base/clock.h"
#include "base/log_context.h"
#include "fleet/tables.h"
#include "flows/container_config.h"
#include "flows/discover_address.h"
#include "flows/inputs.h"
#include "flows/placement.h"
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

// The least loaded node (a history recorded before the node was chosen with the address).
Task<Result<std::string>> LeastLoaded(Deps& d) {
  auto view = co_await GatherFleet(d);
  if (!view.ok()) co_return view.status();
  auto decoded = DecodeFleetView(*view);
  if (!decoded.ok()) co_return decoded.status();
  if (decoded->nodes.empty()) co_return Unavailable("the hypervisor reports no node");
  co_return decoded->nodes.front();
}

// The container on `node` (the recorded one; the least loaded when none is recorded), idempotent
// by VMID and hostname; the node it is on (an earlier attempt's, when that got through).
Task<Result<std::string>> CreateContainer(Deps& d, const proto::config::Template& tpl,
                                          std::string node, int64_t vmid, std::string hostname,
                                          const StepInfo& info) {
  if (node.empty()) {
    auto least = co_await LeastLoaded(d);
    if (!least.ok()) co_return least.status();
    node = *least;
  }
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
    if (g.name.empty()) co_return Unavailable("VMID " + std::to_string(vmid) + " is not named yet");
    if (g.name != hostname) co_return "not ours: left alone";
    if (g.status == "running") {
      ZLH_CO_RETURN_IF_ERROR(co_await d.hypervisor->Stop(CallOf(info), g.node, vmid));
    }
    ZLH_CO_RETURN_IF_ERROR(co_await d.hypervisor->Destroy(CallOf(info), g.node, vmid, hostname));
    co_return "destroyed";
  }
  co_return "absent";
}

// The transaction of allocate_vmid (`with_vmid`: the VMID, the node and the address) and of
// allocate_address (histories from before addresses: the node — `node` when the container is placed
// already — and the address), each recorded on the server in the same write.
Result<Allocation> Allocate(journal::Txn& t, const config::Settings& s, const std::string& id,
                            const StepInfo& info, bool with_vmid, const std::string& node) {
  auto view = DecodeFleetView(info.prepared);
  if (!view.ok()) return view.status();
  auto server = fleet::GetServer(t, id);
  if (!server.ok()) return server.status();
  if (!server->has_value()) return NotFound("server " + id + " does not exist");
  Allocation a;
  if (with_vmid) {
    auto vmid = fleet::AllocateVmid(t, s.file.vmids().first(), s.file.vmids().last(), view->vmids, id);
    if (!vmid.ok()) return vmid.status();
    a.vmid = *vmid;
    (*server)->set_vmid(*vmid);
    (*server)->set_status(proto::SERVER_PROVISIONING);
  }
  auto placed = PlaceServer(t, s, *view, id, (*server)->plan(), node);
  if (!placed.ok()) return placed.status();
  a.node = placed->node;
  a.address = placed->address;
  a.dhcp = with_vmid && s.Dhcp();
  (*server)->set_node(a.node);
  (*server)->set_address(a.address);
  ZLH_RETURN_IF_ERROR(fleet::PutServer(t, **server));
  return a;
}

class Provisioning {
 public:
  Provisioning(Deps& d, Context& ctx, ProvisionInput in)
      : d_(d), ctx_(ctx), s_(*d.settings), in_(std::move(in)), dev_(in_.ctype == "dev") {}

  Task<Result<std::string>> Run() {
    Status failure = co_await Forward();
    if (failure.ok()) {
      co_return "server " + in_.server_id + " running as VMID " + std::to_string(vmid_) +
          (address_.empty() ? "" : " at " + address_);
    }
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
    auto allocated = co_await ctx_.TxnStep(
        "allocate_vmid", [this](const StepInfo&) { return GatherFleet(d_); },
        [&s = s_, id = in_.server_id](journal::Txn& t, const StepInfo& info) -> Result<std::string> {
          auto a = Allocate(t, s, id, info, true, "");
          if (!a.ok()) return a.status();
          return FormatAllocation(*a);
        },
        ActivityPolicy(s_));
    if (!allocated.ok()) co_return allocated.status();
    auto allocation = ParseAllocation(*allocated);
    if (!allocation.ok()) co_return allocation.status();
    vmid_ = allocation->vmid;
    node_ = allocation->node;
    address_ = allocation->address;
    dhcp_ = allocation->dhcp;
    if (!found) co_return InvalidArgument("no template '" + tpl_name + "' is configured");
    proto::config::Template tpl = *found;

    ZLH_CO_RETURN_IF_ERROR(co_await Enter(kCreate));
    auto node = co_await ctx_.Step(
        "create_container",
        [this, tpl](const StepInfo& info) {
          return CreateContainer(d_, tpl, node_, vmid_, in_.name, info);
        },
        ActivityPolicy(s_));
    if (!node.ok()) co_return node.status();
    node_ = *node;
    if (!address_.empty() || dhcp_) ZLH_CO_RETURN_IF_ERROR(co_await Configure());

    ZLH_CO_RETURN_IF_ERROR(co_await Enter(kStart));
    ZLH_CO_RETURN_IF_ERROR(Done(co_await ctx_.Step(
        "start_container",
        [this](const StepInfo& info) -> Task<Result<std::string>> {
          ZLH_CO_RETURN_IF_ERROR(co_await d_.hypervisor->Start(CallOf(info), node_, vmid_));
          co_return "started";
        },
        ActivityPolicy(s_))));

    ZLH_CO_RETURN_IF_ERROR(co_await Enter(kReady));
    if (dhcp_ && address_.empty()) {
      auto discovered = co_await DiscoverAddress(ctx_, d_, in_.server_id, node_, vmid_);
      if (!discovered.ok()) co_return discovered.status();
      address_ = *discovered;
    }
    ZLH_CO_RETURN_IF_ERROR(co_await WaitAgentReady());

    ZLH_CO_RETURN_IF_ERROR(co_await Enter(kInstall));
    ZLH_CO_RETURN_IF_ERROR(Done(co_await ctx_.Step(
        "install_workload",
        [this, loader = tpl.loader()](const StepInfo& info) -> Task<Result<std::string>> {
          ZLH_CO_RETURN_IF_ERROR(
              co_await d_.agent->Install(CallOf(info), Target(), dev_ ? "dev" : in_.game, loader));
          co_return "installed";
        },
        ActivityPolicy(s_))));

    ZLH_CO_RETURN_IF_ERROR(co_await StartWorkload());

    if (!dev_) {  // Velocity is for Minecraft
      ZLH_CO_RETURN_IF_ERROR(co_await Enter(kRegister));
      ZLH_CO_RETURN_IF_ERROR(Done(co_await ctx_.Step(
          "register_proxy",
          [this](const StepInfo& info) -> Task<Result<std::string>> {
            std::string address = ProxyAddressOf(s_, Record());
            if (address.empty()) co_return NoAddress();
            ZLH_CO_RETURN_IF_ERROR(co_await d_.proxy->Register(CallOf(info), in_.name, address));
            co_return address;
          },
          ActivityPolicy(s_))));
    }

    ZLH_CO_RETURN_IF_ERROR(co_await Enter(kPublish));
    ZLH_CO_RETURN_IF_ERROR(Done(co_await ctx_.Step(
        "publish_dns",
        [this](const StepInfo& info) -> Task<Result<std::string>> {
          const auto& proxy = s_.file.proxy();
          std::string a = ARecordOf(s_, Record());
          if (a.empty()) co_return NoAddress();
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

    ZLH_CO_RETURN_IF_ERROR(co_await Enter(kMarkReady));
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

  // The server as far as this workflow knows it (for the address helpers of steps.h).
  proto::Server Record() const {
    proto::Server s;
    s.set_server_id(in_.server_id);
    s.set_ctype(in_.ctype);
    s.set_vmid(vmid_);
    s.set_address(address_);
    return s;
  }
  activities::AgentTarget Target() const { return {vmid_, address_}; }
  Status NoAddress() const {
    return FailedPrecondition("server " + in_.server_id +
                              " has no recorded address (provisioned before addresses were)");
  }

  // Moves on to `stage`. A history recorded before addresses existed takes allocate_address (and
  // configure_container, when its container exists) here if its history ends here; where its
  // history goes on, it keeps its old path.
  Task<Status> Enter(Stage stage) {
    stage_ = stage;
    // In dhcp mode no pool serves it: such a history goes on without an address, and stops
    // where it needs one (NoAddress).
    if (!address_.empty() || dhcp_ || s_.Dhcp()) co_return Status::Ok();
    std::string next = ctx_.RecordedNext();
    if (!next.empty() && next != "allocate_address") co_return Status::Ok();
    auto placed = co_await ctx_.TxnStep(
        "allocate_address", [this](const StepInfo&) { return GatherFleet(d_); },
        [&s = s_, id = in_.server_id, node = node_](journal::Txn& t,
                                                    const StepInfo& info) -> Result<std::string> {
          auto a = Allocate(t, s, id, info, false, node);
          if (!a.ok()) return a.status();
          return a->node + " " + a->address;
        },
        ActivityPolicy(s_));
    if (!placed.ok()) co_return placed.status();
    node_ = placed->substr(0, placed->find(' '));
    address_ = placed->substr(placed->find(' ') + 1);
    if (stage_ > kCreate) co_return co_await Configure();
    co_return Status::Ok();
  }

  // Step configure_container: the container's network and size (SPEC §9.2).
  Task<Status> Configure() {
    auto spec = SpecOf(s_, in_, node_, address_);
    if (!spec.ok()) co_return spec.status();
    co_return Done(co_await ctx_.Step(
        "configure_container",
        [this, spec = *spec](const StepInfo& info) {
          return ApplySpec(*d_.hypervisor, CallOf(info), node_, vmid_, spec);
        },
        ActivityPolicy(s_)));
  }

  // start_workload: a running server runs its game. Added after the first release: provisionings
  // in flight whose history went past install_workload without it go on without it (their game
  // is started by the controller's workload repair, or by the operator's start).
  Task<Status> StartWorkload() {
    auto version = co_await ctx_.Version("start-workload", 0, 1);
    if (!version.ok()) co_return version.status();
    if (*version < 1) co_return Status::Ok();
    ZLH_CO_RETURN_IF_ERROR(co_await Enter(kStartWorkload));
    co_return Done(co_await ctx_.Step(
        "start_workload",
        [this](const StepInfo& info) -> Task<Result<std::string>> {
          ZLH_CO_RETURN_IF_ERROR(co_await d_.agent->Workload(CallOf(info), Target(), true));
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
          "wait_agent_ready", [this](const StepInfo&) { return ProbeAgent(d_, Target()); }, spec);
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
    std::string text = "Provisioning of " + in_.name + " (server " + in_.server_id + ", customer " +
                       in_.customer_id + ") failed: " + failure.ToString() +
                       ". Its container, DNS records, proxy registration, VMID and address were " +
                       "released. Workflow " + ctx_.id() + ".";
    (void)co_await Notify(d_, ctx_, "notify", {"alerts-provisioning", std::move(text), true});
    if (!ctx_.fatal().ok()) co_return;
    (void)ctx_.FinalTxnStep(
        "release_vmid",
        [id = in_.server_id](journal::Txn& t, const StepInfo&) -> Result<std::string> {
          auto released = fleet::ReleaseServer(t, id, proto::SERVER_FAILED);
          if (!released.ok() && released.status().code() == Code::kNotFound) return "no server";
          return released;
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
  std::string address_;  // "" until allocated or discovered (or for a history from before addresses)
  bool dhcp_ = false;    // the address is discovered after the start (network.mode dhcp)
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
  logging::SetServerId(in->server_id);
  Provisioning p(deps, ctx, std::move(*in));
  co_return co_await p.Run();
}

}  // namespace zlh::flows

// operation (SPEC §5.2) and deprovision (SPEC §5.1b): both take the server's lease first
// (acquire_lease, in arrival order), check it before every action, and release it in the same
// write as their end.
#include <spdlog/spdlog.h>

#include "base/log_context.h"
#include "fleet/tables.h"
#include "flows/agent_ready.h"
#include "flows/inputs.h"
#include "flows/lease.h"
#include "flows/provision.h"
#include "flows/steps.h"

namespace zlh::flows {
namespace {

using workflows::Context;
using workflows::StepFn;
using workflows::StepInfo;
using workflows::Task;

using Action = std::function<Task<Status>(const activities::CallContext&)>;

class LeasedWork {
 public:
  LeasedWork(Deps& d, Context& ctx) : d_(d), ctx_(ctx), s_(*d.settings) {}

  Task<Status> Acquire(const std::string& server_id, ServerCheck allow) {
    auto held = co_await AcquireLease(ctx_, d_, server_id, std::move(allow));
    if (!held.ok()) co_return held.status();
    lease_ = std::move(*held);
    co_return Status::Ok();
  }
  const proto::Server& server() const { return lease_.server; }
  int64_t vmid() const { return lease_.server.vmid(); }
  const std::string& node() const { return lease_.server.node(); }

  // Step `name`: checks the lease, then acts.
  Task<Status> Act(std::string name, Action action, workflows::RetryPolicy policy) {
    auto r = co_await ctx_.Step(
        std::move(name),
        [this, action = std::move(action)](const StepInfo& info) -> Task<Result<std::string>> {
          if (d_.journal) ZLH_CO_RETURN_IF_ERROR(CheckLease(*d_.journal, lease_, ctx_.id()));
          ZLH_CO_RETURN_IF_ERROR(co_await action(CallOf(info)));
          co_return "done";
        },
        std::move(policy));
    co_return r.ok() ? Status::Ok() : r.status();
  }
  Task<Status> Act(std::string name, Action action) {
    co_return co_await Act(std::move(name), std::move(action), ActivityPolicy(s_));
  }

  // Step `set_status`: the server's status in the table, if the lease is still ours.
  Task<Status> SetStatus(proto::ServerStatus status, bool by_billing = false) {
    auto r = co_await ctx_.TxnStep(
        "set_status", [lease = lease_, me = ctx_.id(), status, by_billing](journal::Txn& t,
                                                               const StepInfo&) -> Result<std::string> {
          auto now = fleet::GetLease(t, lease.server_id);
          if (!now.ok()) return now.status();
          if (now->holder() != me || now->epoch() != lease.epoch) {
            return Status(Code::kLeaseLost, "lease of server " + lease.server_id + " was lost");
          }
          auto server = fleet::GetServer(t, lease.server_id);
          if (!server.ok()) return server.status();
          if (!server->has_value()) return NotFound("server " + lease.server_id + " does not exist");
          (*server)->set_status(status);
          (*server)->set_stopped_by_billing(by_billing && status == proto::SERVER_STOPPED);
          ZLH_RETURN_IF_ERROR(fleet::PutServer(t, **server));
          return fleet::ServerStatusName(status);
        });
    co_return r.ok() ? Status::Ok() : r.status();
  }

  // Step stop_workload: the agent stops the game. An agent that cannot be reached does not stop
  // the operation: the container's stop, next, ends the workload; the step's result says so (an
  // operator's restart is how a server with a broken agent comes back).
  Task<Status> StopWorkload() {
    auto r = co_await ctx_.Step(
        "stop_workload",
        [this](const StepInfo& info) -> Task<Result<std::string>> {
          if (d_.journal) ZLH_CO_RETURN_IF_ERROR(CheckLease(*d_.journal, lease_, ctx_.id()));
          auto power = co_await d_.hypervisor->PowerState(node(), vmid());
          if (power.ok() && *power != "running") co_return "nothing runs: the container is " + *power;
          Status stopped = co_await d_.agent->Workload(CallOf(info), AgentOf(server()), false);
          if (stopped.ok()) co_return "stopped";
          if (stopped.code() == Code::kUnavailable || stopped.code() == Code::kDeadlineExceeded) {
            co_return "the agent is unreachable (" + stopped.message() +
                "); the container's stop ends the workload";
          }
          co_return stopped;
        },
        ActivityPolicy(s_));
    co_return r.ok() ? Status::Ok() : r.status();
  }
  // After the container starts, its agent must be up before it can start the game. This wait was
  // added after the first release: an operation in flight whose history is past this point goes
  // on without it.
  Task<Status> AgentReady() {
    auto version = co_await ctx_.Version("operation-agent-ready", 0, 1);
    if (!version.ok()) co_return version.status();
    if (*version < 1) co_return Status::Ok();
    co_return co_await AwaitAgentReady(ctx_, d_, AgentOf(server()));
  }
  Task<Status> StartWorkload() {
    return Act("start_workload", [this](const activities::CallContext& c) {
      return d_.agent->Workload(c, AgentOf(server()), true);
    });
  }
  Task<Status> StopContainer() {
    return Act("stop_container", [this](const activities::CallContext& c) -> Task<Status> {
      auto power = co_await d_.hypervisor->PowerState(node(), vmid());
      if (power.ok() && *power == "stopped") co_return Status::Ok();
      if (!power.ok() && power.status().code() == Code::kNotFound) co_return Status::Ok();
      co_return co_await d_.hypervisor->Stop(c, node(), vmid());
    });
  }
  Task<Status> StartContainer() {
    return Act("start_container", [this](const activities::CallContext& c) {
      return d_.hypervisor->Start(c, node(), vmid());
    });
  }

  Deps& d_;
  Context& ctx_;
  const config::Settings& s_;
  HeldLease lease_;
};

Status Provisioned(const proto::Server& s) {
  if (s.status() == proto::SERVER_RUNNING || s.status() == proto::SERVER_STOPPED) return Status::Ok();
  return FailedPrecondition("server " + s.server_id() + " is " +
                            fleet::ServerStatusName(s.status()) +
                            "; operations need a running or stopped server");
}

Status Deletable(const proto::Server& s) {
  if (s.status() == proto::SERVER_QUEUED || s.status() == proto::SERVER_PROVISIONING) {
    return FailedPrecondition("server " + s.server_id() +
                              " is still provisioning; cancel its provisioning instead");
  }
  if (s.status() == proto::SERVER_DELETED) {
    return FailedPrecondition("server " + s.server_id() + " is deleted already");
  }
  return Status::Ok();
}

}  // namespace

Task<Result<std::string>> Operation(Deps& d, Context& ctx) {
  auto in = ParseOperationInput(ctx.input());
  if (!in.ok()) co_return in.status();
  logging::SetServerId(in->server_id);
  LeasedWork w(d, ctx);
  ZLH_CO_RETURN_IF_ERROR(co_await w.Acquire(in->server_id, Provisioned));
  const std::string& op = in->op;
  if (op == "stop") {
    ZLH_CO_RETURN_IF_ERROR(co_await w.StopWorkload());
    ZLH_CO_RETURN_IF_ERROR(co_await w.StopContainer());
    ZLH_CO_RETURN_IF_ERROR(co_await w.SetStatus(proto::SERVER_STOPPED, in->reason == "billing"));
  } else if (op == "start") {
    ZLH_CO_RETURN_IF_ERROR(co_await w.StartContainer());
    ZLH_CO_RETURN_IF_ERROR(co_await w.AgentReady());
    ZLH_CO_RETURN_IF_ERROR(co_await w.StartWorkload());
    ZLH_CO_RETURN_IF_ERROR(co_await w.SetStatus(proto::SERVER_RUNNING));
  } else if (op == "restart") {
    ZLH_CO_RETURN_IF_ERROR(co_await w.StopWorkload());
    ZLH_CO_RETURN_IF_ERROR(co_await w.StopContainer());
    ZLH_CO_RETURN_IF_ERROR(co_await w.StartContainer());
    ZLH_CO_RETURN_IF_ERROR(co_await w.AgentReady());
    ZLH_CO_RETURN_IF_ERROR(co_await w.StartWorkload());
    ZLH_CO_RETURN_IF_ERROR(co_await w.SetStatus(proto::SERVER_RUNNING));
  } else if (op == "backup") {
    ZLH_CO_RETURN_IF_ERROR(co_await w.Act("run_backup", [&](const activities::CallContext& c) {
      return d.backups->Run(c, w.node(), w.vmid());
    }));
  } else if (op == "restore") {
    ZLH_CO_RETURN_IF_ERROR(co_await w.StopWorkload());
    ZLH_CO_RETURN_IF_ERROR(co_await w.StopContainer());
    // At most once: a restore cut short by a crash is not repeated blindly (SPEC §5.1b).
    ZLH_CO_RETURN_IF_ERROR(co_await w.Act(
        "restore_backup",
        [&, backup = in->backup_id](const activities::CallContext& c) -> Task<Status> {
          std::string id = backup;
          if (id.empty()) {
            auto list = co_await d.backups->List(w.node(), w.vmid());
            if (!list.ok()) co_return list.status();
            if (list->empty()) co_return FailedPrecondition("the server has no backup to restore");
            id = list->back().id;
          }
          co_return co_await d.backups->Restore(c, w.node(), w.vmid(), id);
        },
        workflows::RetryPolicy::AtMostOnce()));
    ZLH_CO_RETURN_IF_ERROR(co_await w.StartContainer());
    ZLH_CO_RETURN_IF_ERROR(co_await w.AgentReady());
    ZLH_CO_RETURN_IF_ERROR(co_await w.StartWorkload());
    ZLH_CO_RETURN_IF_ERROR(co_await w.SetStatus(proto::SERVER_RUNNING));
  } else {
    co_return InvalidArgument("op: '" + op + "' is not start, stop, restart, backup or restore");
  }
  co_return op + " done";
}

Task<Result<std::string>> Deprovision(Deps& d, Context& ctx) {
  auto in = ParseOperationInput(ctx.input());
  if (!in.ok()) co_return in.status();
  logging::SetServerId(in->server_id);
  LeasedWork w(d, ctx);
  ZLH_CO_RETURN_IF_ERROR(co_await w.Acquire(in->server_id, Deletable));
  const proto::Server& server = w.server();
  const config::Settings& s = *d.settings;
  bool game = server.ctype() != "dev";
  if (server.vmid() != 0) {
    // A workload that cannot be stopped cleanly is stopped with its container.
    Status stopped = co_await w.StopWorkload();
    if (!ctx.fatal().ok()) co_return ctx.fatal();
    if (stopped.code() == Code::kLeaseLost || stopped.code() == Code::kCancelled) co_return stopped;
    ZLH_CO_RETURN_IF_ERROR(co_await w.StopContainer());
  }
  ZLH_CO_RETURN_IF_ERROR(co_await w.Act("unpublish_dns", [&](const activities::CallContext& c) -> Task<Status> {
    ZLH_CO_RETURN_IF_ERROR(co_await d.dns->Unpublish(c, "A", Fqdn(s, server.name())));
    if (game) ZLH_CO_RETURN_IF_ERROR(co_await d.dns->Unpublish(c, "SRV", SrvName(s, server.name())));
    co_return Status::Ok();
  }));
  if (game) {
    ZLH_CO_RETURN_IF_ERROR(co_await w.Act("unregister_proxy", [&](const activities::CallContext& c) {
      return d.proxy->Unregister(c, server.name());
    }));
  }
  if (server.vmid() != 0) {
    ZLH_CO_RETURN_IF_ERROR(co_await w.Act("destroy_container", [&](const activities::CallContext& c) {
      return d.hypervisor->Destroy(c, server.node(), server.vmid(), server.name());
    }));
  }
  // The VMID and the address are free at once: the next provisioning may take them.
  auto released = co_await ctx.TxnStep("release_vmid",
                                       [id = server.server_id()](journal::Txn& t, const StepInfo&) {
                                         return fleet::ReleaseServer(t, id, proto::SERVER_DELETED);
                                       });
  if (!released.ok()) co_return released.status();
  co_return "server " + server.server_id() + " deleted";
}

}  // namespace zlh::flows

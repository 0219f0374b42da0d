// The repair workflow (repair.h): check, (propose and await approval,) act, bring the game back,
// report. Each call on the outside world is its own step, so a crash resumes after the last one.
#include "controller/repair.h"

#include <boost/json.hpp>

#include "activities/services.h"
#include "base/clock.h"
#include "fleet/tables.h"
#include "flows/agent_ready.h"
#include "flows/container_config.h"
#include "flows/inputs.h"
#include "flows/steps.h"

namespace zlh::controller {
namespace {

namespace json = boost::json;
using workflows::Context;
using workflows::StepInfo;
using workflows::Task;

// The one call of a repair that is a single action on the outside world.
Task<Status> RunRepair(flows::Deps& d, const std::string& repair, const proto::Server& server,
                       const StepInfo& info) {
  const config::Settings& s = *d.settings;
  const auto& px = s.file.proxy();
  auto call = flows::CallOf(info);
  if (repair == "republish_dns") {
    std::string a = flows::ARecordOf(s, server);
    if (a.empty())
      co_return FailedPrecondition("server " + server.name() + " has no recorded address");
    ZLH_CO_RETURN_IF_ERROR(co_await d.dns->Publish(call, {"", "A", flows::Fqdn(s, server.name()), a}));
    if (server.ctype() != "dev") {
      std::string srv = "0 5 " + std::to_string(px.public_port()) + " " + px.public_host();
      ZLH_CO_RETURN_IF_ERROR(
          co_await d.dns->Publish(call, {"", "SRV", flows::SrvName(s, server.name()), srv}));
    }
    co_return Status::Ok();
  }
  if (repair == "reregister_proxy") {
    std::string address = flows::ProxyAddressOf(s, server);
    if (address.empty())
      co_return FailedPrecondition("server " + server.name() + " has no recorded address");
    co_return co_await d.proxy->Register(call, server.name(), address);
  }
  if (repair == "restart_agent") {
    // Proxmox refuses to reboot a stopped container ("VM 101 not running"): one that stopped since
    // it was observed running (or whose status and agent were read on either side of its stop) is
    // started instead, which is what the reboot was for.
    auto power = co_await d.hypervisor->PowerState(server.node(), server.vmid());
    if (power.ok() && *power == "stopped") co_return co_await d.hypervisor->Start(call, server.node(), server.vmid());
    co_return co_await d.hypervisor->Reboot(call, server.node(), server.vmid());
  }
  if (repair == "restore_backup") {
    // The newest backup over the container (Proxmox restores only a stopped one), then started.
    auto backups = co_await d.backups->List(server.node(), server.vmid());
    if (!backups.ok()) co_return backups.status();
    if (backups->empty()) co_return FailedPrecondition("server " + server.name() + " has no backup");
    auto power = co_await d.hypervisor->PowerState(server.node(), server.vmid());
    if (power.ok() && *power == "running") {
      ZLH_CO_RETURN_IF_ERROR(co_await d.hypervisor->Stop(call, server.node(), server.vmid()));
    }
    ZLH_CO_RETURN_IF_ERROR(co_await d.backups->Restore(call, server.node(), server.vmid(), backups->back().id));
    co_return co_await d.hypervisor->Start(call, server.node(), server.vmid());
  }
  if (repair == "start_container") co_return co_await d.hypervisor->Start(call, server.node(), server.vmid());
  if (repair == "restart_workload") co_return co_await d.agent->Workload(call, flows::AgentOf(server), true);
  co_return InvalidArgument("unknown repair '" + repair + "'");
}

// A repair after which the container has just started: its game is not running yet.
bool StartsTheContainer(const std::string& repair) {
  return repair == "start_container" || repair == "restart_agent" || repair == "restore_backup";
}

Task<Status> StartWorkload(flows::Deps& d, Context& ctx, const proto::Server& server) {
  auto started = co_await ctx.Step(
      "start_workload",
      [&d, server](const StepInfo& info) -> Task<Result<std::string>> {
        ZLH_CO_RETURN_IF_ERROR(co_await d.agent->Workload(flows::CallOf(info), flows::AgentOf(server), true));
        co_return "started";
      },
      flows::ActivityPolicy(*d.settings));
  co_return started.ok() ? Status::Ok() : started.status();
}

// After a repair that started the container: its agent, then its game. Added after the first
// release: a repair whose history went past this point without it ends as it did.
Task<Status> BringTheGameBack(flows::Deps& d, Context& ctx, const proto::Server& server) {
  auto version = co_await ctx.Version("repair-starts-game", 0, 1);
  if (!version.ok()) co_return version.status();
  if (*version < 1) co_return Status::Ok();
  ZLH_CO_RETURN_IF_ERROR(co_await flows::AwaitAgentReady(ctx, d, flows::AgentOf(server)));
  co_return co_await StartWorkload(d, ctx, server);
}

// The approval's payload (api/workflow_api.cc sends it): "" or {"fromTemplate": true}.
bool FromTemplate(const std::string& approval) {
  boost::system::error_code ec;
  json::value v = json::parse(approval, ec);
  if (ec || !v.is_object()) return false;
  const json::value* from = v.as_object().if_contains("fromTemplate");
  return from && from->is_bool() && from->as_bool();
}

// The rebuild's source: the newest of the server's backups; "template" when it has none and the
// approval allows it; "none" otherwise.
Task<Result<std::string>> FindRebuildSource(flows::Deps& d, Context& ctx, const proto::Server& server,
                                            bool from_template) {
  co_return co_await ctx.Step(
      "find_backup",
      [&d, server, from_template](const StepInfo&) -> Task<Result<std::string>> {
        auto backups = co_await d.backups->List(server.node(), server.vmid());
        if (!backups.ok()) co_return backups.status();
        if (!backups->empty()) co_return backups->back().id;
        co_return std::string(from_template ? "template" : "none");
      },
      flows::ActivityPolicy(*d.settings));
}

// An approval that cannot be carried out (no backup, and no word that the template will do) is
// not the end: the operator is told, and the proposal waits for another approval.
Task<Result<std::string>> AskForTemplateApproval(flows::Deps& d, Context& ctx, const proto::Server& server) {
  std::string text = "Cannot rebuild server " + server.name() + " (VMID " +
                     std::to_string(server.vmid()) +
                     ") as approved: it has no backup. To rebuild it from its template, with an "
                     "empty world, approve again with {\"fromTemplate\": true} (zlh-journal "
                     "approve " +
                     ctx.id() + " --from-template); or cancel the repair.";
  (void)co_await flows::Notify(d, ctx, "ask_from_template",
                               {"alerts-critical", std::move(text), true});
  co_return co_await ctx.WaitSignal("approve", Millis(7LL * 24 * 3600 * 1000));
}

// The container made again from `source` (a backup volume, or "template" with `tpl`); returns
// the node it is on. At most once, as a restore: a rebuild cut short is not repeated blindly
// (§5.1b).
Task<Result<std::string>> Recreate(flows::Deps& d, Context& ctx, const proto::Server& server,
                                   const std::string& source, const proto::config::Template* tpl) {
  if (source == "template") {
    co_return co_await ctx.Step(
        "clone_template",
        [&d, server, tpl](const StepInfo& info) -> Task<Result<std::string>> {
          co_return co_await d.hypervisor->Clone(flows::CallOf(info), tpl->template_node(),
                                                 tpl->template_vmid(), server.node(), server.vmid(),
                                                 server.name());
        },
        workflows::RetryPolicy::AtMostOnce());
  }
  co_return co_await ctx.Step(
      "restore_backup",
      [&d, server, source](const StepInfo& info) -> Task<Result<std::string>> {
        ZLH_CO_RETURN_IF_ERROR(
            co_await d.backups->Restore(flows::CallOf(info), server.node(), server.vmid(), source));
        co_return server.node();
      },
      workflows::RetryPolicy::AtMostOnce());
}

// Step configure_container: its network and size as provisioning configured them (a server
// provisioned before addresses has none recorded, and keeps what it has).
Task<Status> Configure(flows::Deps& d, Context& ctx, const proto::Server& server, const std::string& node) {
  if (server.address().empty()) co_return Status::Ok();
  auto configured = co_await ctx.Step(
      "configure_container",
      [&d, server, node](const StepInfo& info) -> Task<Result<std::string>> {
        flows::ProvisionInput as_provisioned;
        as_provisioned.server_id = server.server_id();
        as_provisioned.customer_id = server.customer_id();
        as_provisioned.plan = server.plan();
        auto spec = flows::SpecOf(*d.settings, as_provisioned, node, server.address());
        if (!spec.ok()) co_return spec.status();
        co_return co_await flows::ApplySpec(*d.hypervisor, flows::CallOf(info), node, server.vmid(), *spec);
      },
      flows::ActivityPolicy(*d.settings));
  co_return configured.ok() ? Status::Ok() : configured.status();
}

// rebuild_container, approved: the container again from its newest backup (its world as it was
// then), or, when it has none and the approval says so, from its template (an empty world);
// configured as its plan says, started, its agent awaited, the game installed (template only) and
// started. DNS and the proxy still name its recorded address. Returns where it came from.
Task<Result<std::string>> Rebuild(flows::Deps& d, Context& ctx, const proto::Server& server,
                                  bool from_template) {
  const config::Settings& s = *d.settings;
  std::string game = server.ctype() == "dev" ? "dev" : server.game();
  const proto::config::Template* tpl = s.FindTemplate(game);
  auto source = co_await FindRebuildSource(d, ctx, server, from_template);
  while (source.ok() && *source == "none") {
    auto approved = co_await AskForTemplateApproval(d, ctx, server);
    if (!approved.ok()) co_return approved.status();
    source = co_await FindRebuildSource(d, ctx, server, FromTemplate(*approved));
  }
  if (!source.ok()) co_return source.status();
  bool cloned = *source == "template";
  if (cloned && !tpl) co_return InvalidArgument("no template for '" + game + "'");
  auto node = co_await Recreate(d, ctx, server, *source, tpl);
  if (!node.ok()) co_return node.status();
  ZLH_CO_RETURN_IF_ERROR(co_await Configure(d, ctx, server, *node));
  auto started = co_await ctx.Step(
      "start_container",
      [&d, server, node = *node](const StepInfo& info) -> Task<Result<std::string>> {
        ZLH_CO_RETURN_IF_ERROR(co_await d.hypervisor->Start(flows::CallOf(info), node, server.vmid()));
        co_return "started";
      },
      flows::ActivityPolicy(s));
  if (!started.ok()) co_return started.status();
  ZLH_CO_RETURN_IF_ERROR(co_await flows::AwaitAgentReady(ctx, d, flows::AgentOf(server)));
  if (cloned) {
    auto installed = co_await ctx.Step(
        "install_workload",
        [&d, server, game, loader = tpl->loader()](const StepInfo& info) -> Task<Result<std::string>> {
          ZLH_CO_RETURN_IF_ERROR(
              co_await d.agent->Install(flows::CallOf(info), flows::AgentOf(server), game, loader));
          co_return "installed";
        },
        flows::ActivityPolicy(s));
    if (!installed.ok()) co_return installed.status();
  }
  ZLH_CO_RETURN_IF_ERROR(co_await StartWorkload(d, ctx, server));
  co_return cloned ? std::string("from its template (an empty world)") : "from backup " + *source;
}

// Rebuilds recorded by the first release did it all in one step; such a history replays it.
Task<Result<std::string>> RebuildAsFirstRecorded(Context& ctx) {
  auto done = co_await ctx.Step(
      "rebuild_container",
      [](const StepInfo&) -> Task<Result<std::string>> {
        co_return FailedPrecondition("this rebuild began under an earlier release and was cut short");
      },
      workflows::RetryPolicy::AtMostOnce());
  if (!done.ok()) co_return done.status();
  co_return std::string();  // its report said no more
}

// The alert of a stale lease cleared: it breaks §8.4.
flows::Message LeaseClearedAlert(const std::string& subject, const std::string& holder,
                                 uint64_t epoch) {
  return {"alerts-critical",
          "Cleared the stale lease of " + subject + " held by " + holder + " (epoch " +
              std::to_string(epoch) + " → " + std::to_string(epoch + 1) +
              "): its holder had ended or was unknown, which must not happen (§8.4).",
          true};
}

// Housekeeping: clears a stale lease if the holder observed still holds it at the epoch observed
// (bumping the epoch, recorded on the server's lease stream), and alerts: it breaks §8.4. The
// alert is recorded in the clearing's write; a history from before that (version 0) records it in
// its own step, `notify`, as it once posted it.
Task<Result<std::string>> ClearStaleLease(flows::Deps& d, Context& ctx, const std::string& server_id,
                                          const std::string& subject, const std::string& holder,
                                          uint64_t epoch) {
  auto version = co_await ctx.Version("lease-alert-in-txn", 0, 1);
  if (!version.ok()) co_return version.status();
  const bool in_txn = *version >= 1;
  flows::Message alert = LeaseClearedAlert(subject, holder, epoch);
  auto cleared = co_await ctx.TxnStep(
      "clear_stale_lease",
      [server_id, holder, epoch, in_txn, alert](journal::Txn& t,
                                                const StepInfo& info) -> Result<std::string> {
        auto done = fleet::ClearLease(t, server_id, holder, epoch);
        if (!done.ok()) return done.status();
        if (!*done) return "changed meanwhile: left alone";
        if (in_txn) {
          auto id = flows::EnqueueMessage(t, info, alert, info.idempotency_key);
          if (!id.ok()) return id.status();
        }
        return "cleared";
      });
  if (!cleared.ok()) co_return cleared.status();
  if (*cleared == "cleared") {
    if (in_txn) {
      if (d.notified) d.notified();
    } else {
      (void)co_await flows::Notify(d, ctx, "notify", std::move(alert));
    }
  }
  co_return *cleared;
}

// Step "check": nothing repairs a server under an operation's lease or in maintenance (§6.3).
Task<Result<proto::Server>> CheckRepairable(Context& ctx, const std::string& server_id) {
  auto checked = co_await ctx.TxnStep(
      "check", [server_id](journal::Txn& t, const StepInfo&) -> Result<std::string> {
        auto server = fleet::GetServer(t, server_id);
        if (!server.ok()) return server.status();
        if (!server->has_value()) return NotFound("server " + server_id + " does not exist");
        int status = (*server)->status();
        if (status != proto::SERVER_RUNNING && status != proto::SERVER_STOPPED) {
          return FailedPrecondition("server " + server_id + " is " + fleet::ServerStatusName(status));
        }
        auto lease = fleet::GetLease(t, server_id);
        if (!lease.ok()) return lease.status();
        if (!lease->holder().empty()) {
          return Status(Code::kHeld, "operation " + lease->holder() + " holds the lease");
        }
        auto maintenance = fleet::GetMaintenance(t, server_id);
        if (!maintenance.ok()) return maintenance.status();
        if (maintenance->has_value() && (*maintenance)->on()) {
          return Status(Code::kHeld, "the server is in maintenance");
        }
        return (*server)->SerializeAsString();
      });
  if (!checked.ok()) co_return checked.status();
  proto::Server server;
  if (!server.ParseFromString(*checked)) {
    co_return Status(Code::kCorruption, "repair " + ctx.id() + ": its check recorded no readable server");
  }
  co_return server;
}

// What a proposed rebuild would start from, for the operator deciding on it.
Task<std::string> RebuildSource(flows::Deps& d, const proto::Server& server) {
  auto backups = co_await d.backups->List(server.node(), server.vmid());
  if (!backups.ok()) {
    co_return "its backups could not be listed (" + backups.status().message() +
        "); approved, it is restored from its newest backup if it has one";
  }
  if (backups->empty()) {
    co_return "it has no backup: approve with {\"fromTemplate\": true} to rebuild it from its "
              "template, with an empty world";
  }
  co_return "approved, it is restored from its newest backup, " + backups->back().id + " of " +
      FormatRfc3339(backups->back().created_ms);
}

// Destructive: only ever proposed (§5.3). The operator approves it through the API or
// zlh-journal; a week without an answer ends the proposal. Returns the approval's payload.
Task<Result<std::string>> ProposeAndAwaitApproval(flows::Deps& d, Context& ctx,
                                                  const std::string& repair,
                                                  const proto::Server& server) {
  Status proposed = co_await flows::NotifyPrepared(
      d, ctx, "propose",
      [&d, repair, server, id = ctx.id()](const StepInfo&) -> Task<Result<std::string>> {
        std::string why = "its level-2 repair failed 3 times";
        if (repair == "rebuild_container") {
          why = "its container is gone from the hypervisor; " + co_await RebuildSource(d, server);
        }
        co_return "Proposed " + repair + " for server " + server.name() + " (VMID " +
            std::to_string(server.vmid()) + "): " + why +
            ". Nothing is done until an operator approves: POST /api/repairs/" + id +
            "/approve (zlh-journal approve " + id + ").";
      },
      {"alerts-critical", "", true}, flows::ActivityPolicy(*d.settings));
  if (!proposed.ok()) co_return proposed;
  co_return co_await ctx.WaitSignal("approve", Millis(7LL * 24 * 3600 * 1000));
}

Task<Status> Report(flows::Deps& d, Context& ctx, const std::string& repair, const proto::Server& server,
                    int64_t level, const std::string& how) {
  std::string text = "Repaired " + server.name() + " (VMID " + std::to_string(server.vmid()) +
                     "): " + repair + (how.empty() ? "" : " " + how) + " (level " +
                     std::to_string(level) + ").";
  // A level-2 repair (a reboot, a start) pings when nobody is at work to see it (§6.5): decided
  // when it is recorded (a replay returns what was recorded, whatever the time now).
  bool ping = level == 2 && !d.settings->business_hours.Contains(NowMs());
  (void)co_await flows::Notify(d, ctx, "notify", {"alerts-repairs", std::move(text), ping});
  co_return Status::Ok();
}

// The repair itself, approved where it had to be; how it was done, for the report.
Task<Result<std::string>> Perform(flows::Deps& d, Context& ctx, const std::string& repair,
                                  const proto::Server& server, int64_t level, const std::string& approval) {
  if (repair == "rebuild_container") {
    auto version = co_await ctx.Version("rebuild-from-backup", 0, 1);
    if (!version.ok()) co_return version.status();
    if (*version < 1) co_return co_await RebuildAsFirstRecorded(ctx);
    co_return co_await Rebuild(d, ctx, server, FromTemplate(approval));
  }
  auto done = co_await ctx.Step(
      repair,
      [&d, repair, server](const StepInfo& info) -> Task<Result<std::string>> {
        ZLH_CO_RETURN_IF_ERROR(co_await RunRepair(d, repair, server, info));
        co_return "done";
      },
      // A restore is not repeated blindly after a crash (§5.1b).
      level >= 3 ? workflows::RetryPolicy::AtMostOnce() : flows::ActivityPolicy(*d.settings));
  if (!done.ok()) co_return done.status();
  if (StartsTheContainer(repair)) ZLH_CO_RETURN_IF_ERROR(co_await BringTheGameBack(d, ctx, server));
  co_return std::string();
}

}  // namespace

Task<Result<std::string>> Repair(flows::Deps& d, Context& ctx) {
  boost::system::error_code ec;
  json::value v = json::parse(ctx.input(), ec);
  if (ec || !v.is_object()) co_return Status(Code::kCorruption, "repair input is not a JSON object");
  const json::object& in = v.as_object();
  std::string server_id(in.at("serverId").as_string());
  std::string repair(in.at("repair").as_string());
  int64_t level = in.at("level").as_int64();
  if (repair == "clear_stale_lease") {
    const json::value* subject = in.if_contains("subject");
    co_return co_await ClearStaleLease(d, ctx, server_id,
                                       subject && subject->is_string() && !subject->as_string().empty()
                                           ? std::string(subject->as_string())
                                           : "server " + server_id,
                                       std::string(in.at("holder").as_string()),
                                       in.at("epoch").to_number<uint64_t>());
  }
  auto server = co_await CheckRepairable(ctx, server_id);
  if (!server.ok()) co_return server.status();
  std::string approval;
  if (level >= 3) {
    auto approved = co_await ProposeAndAwaitApproval(d, ctx, repair, *server);
    if (!approved.ok()) co_return approved.status();
    approval = *approved;
  }
  auto how = co_await Perform(d, ctx, repair, *server, level, approval);
  if (!how.ok()) co_return how.status();
  ZLH_CO_RETURN_IF_ERROR(co_await Report(d, ctx, repair, *server, level, *how));
  co_return repair + " done on " + server_id + (how->empty() ? "" : " " + *how);
}

}  // namespace zlh::controller

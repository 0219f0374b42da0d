// reconcile and repair (controller.h).
#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <map>
#include <set>

#include "activities/services.h"
#include "base/clock.h"
#include "controller/controller.h"
#include "controller/decision_log.h"
#include "controller/digest.h"
#include "controller/diff.h"
#include "controller/incidents.h"
#include "controller/observe.h"
#include "controller/retention.h"
#include "fleet/tables.h"
#include "flows/container_config.h"
#include "flows/inputs.h"
#include "flows/steps.h"

namespace zlh::controller {
namespace {

namespace json = boost::json;
using workflows::Context;
using workflows::StepInfo;
using workflows::Task;

int64_t TickOf(const std::string& input) {
  boost::system::error_code ec;
  json::value v = json::parse(input, ec);
  if (ec || !v.is_object() || !v.as_object().contains("tick") || !v.as_object().at("tick").is_int64()) {
    return 0;
  }
  return v.as_object().at("tick").as_int64();
}

json::object RepairInput(const Act& a) {
  return json::object{{"serverId", a.decision.server_id}, {"drift", a.decision.drift},
                      {"repair", a.decision.repair},      {"level", a.decision.level},
                      {"firstTick", a.first_tick},        {"attempt", a.attempt},
                      {"rule", a.decision.rule},          {"holder", a.decision.holder},
                      {"epoch", a.decision.epoch},        {"subject", a.decision.subject}};
}

Task<Result<std::string>> Alert(flows::Deps& d, const Act& a, const StepInfo& info) {
  const Decision& dec = a.decision;
  // Decisions recorded before subjects were: the id is all there is.
  const std::string& subject = dec.subject.empty() ? dec.server_id : dec.subject;
  std::string text;
  std::string channel = "alerts-critical";
  bool ping = true;
  if (a.outcome == "notice") {
    channel = "system-health";
    ping = false;
    text = "Backup missed on " + subject + ": " + dec.rule + ".";
  } else if (a.outcome == "applied") {
    channel = "alerts-billing";
    text = "Billing says customer " + dec.customer_id + " is " + dec.value +
           ", which no webhook told us (a webhook was missed): applied.";
  } else if (a.outcome == "exhausted" || a.outcome == "exhausted_propose") {
    text = "Repair " + dec.repair + " of " + subject + " failed " +
           std::to_string(kMaxRepairAttempts) + " times (" + dec.drift + "): it needs a person.";
  } else if (a.outcome == "breaker") {
    text = "Circuit breaker tripped on " + subject + ": " +
           std::to_string(kBreakerRepairsPerHour) + " repairs in the last hour; " + dec.drift +
           " is not repaired until the hour has passed.";
  } else {
    std::string why = dec.level > 0 ? " — a level-" + std::to_string(dec.level) +
                                          " repair, above the allowed level; not repaired"
                                    : "";
    text = "Drift on " + subject + ": " + dec.rule + why + ". Incident since tick " +
           std::to_string(a.first_tick) + ".";
  }
  ZLH_CO_RETURN_IF_ERROR(co_await d.notifier->Post(flows::CallOf(info), channel, text, ping));
  co_return "sent";
}

Task<Result<std::string>> Reconcile(flows::Deps& d, DecisionLog* log, fleet::FencingSource fencing,
                                    Context& ctx) {
  int64_t tick = TickOf(ctx.input());
  Policy policy{static_cast<int>(d.settings->max_repair_level), d.settings->stuck_provisioning.count(),
                d.settings->stuck_workflow.count(), d.settings->backup_period.count(),
                d.settings->backup_grace.count()};
  // Recorded compacted: what explains the decisions, not every healthy server of the fleet.
  auto observed = co_await ctx.Step(
      "observe",
      [&d, tick, policy](const StepInfo&) -> Task<Result<std::string>> {
        co_return ToJson(Compact(co_await Observe(d, tick), policy));
      },
      workflows::RetryPolicy::Once());
  if (!observed.ok()) co_return observed.status();
  // Parsed once, for diff and for the repair limits (a recorded observation replays the same).
  auto observation = ParseObservation(*observed);
  if (!observation.ok()) co_return observation.status();
  auto decided = co_await ctx.Step(
      "diff",
      [&observation, policy](const StepInfo&) -> Task<Result<std::string>> {
        co_return ToJson(Diff(*observation, policy));
      },
      workflows::RetryPolicy::Once());
  if (!decided.ok()) co_return decided.status();
  auto decisions = ParseDecisions(*decided);
  if (!decisions.ok()) co_return decisions.status();

  // Incidents, attempts and breakers, in the same write as this step's event.
  auto recorded = co_await ctx.TxnStep(
      "record_incidents",
      [limits = RepairLimits::Of(*observation, d.settings->repair_concurrency,
                                 d.settings->repair_concurrency_per_host),
       decisions = *decisions, tick, fencing](journal::Txn& t, const StepInfo& info) -> Result<std::string> {
        auto acts = RecordIncidents(t, decisions, tick, NowMs(), {fencing, info.fencing_token}, limits);
        if (!acts.ok()) return acts.status();
        return ToJson(*acts);
      });
  if (!recorded.ok()) co_return recorded.status();
  auto parsed = ParseActs(*recorded, *decisions);
  if (!parsed.ok()) co_return parsed.status();
  std::vector<Act> acts = std::move(*parsed);

  // One repair workflow per attempt (its dedup key), so none is started twice.
  auto started = co_await ctx.Step(
      "start_repairs",
      [&d, &acts](const StepInfo&) -> Task<Result<std::string>> {
        json::array ids;
        for (const auto& a : acts) {
          if (a.outcome == "fail") {
            // Cancelled: it compensates, releasing its VMID; an ended one is left alone.
            Status s = co_await d.engine->Cancel(a.decision.value, "stuck: no progress for " +
                                                 FormatDuration(d.settings->stuck_provisioning));
            if (!s.ok() && s.code() != Code::kFailedPrecondition) co_return s;
            continue;
          }
          if (a.outcome != "repair" && a.outcome != "propose" && a.outcome != "billing" &&
              a.outcome != "exhausted_propose") {
            continue;
          }
          workflows::StartRequest req;
          if (a.outcome == "exhausted_propose") {
            Act restore = a;
            restore.decision.repair = "restore_backup";
            restore.decision.level = 3;
            req.type = kRepair;
            req.input = json::serialize(RepairInput(restore));
            req.dedup_key = RepairDedupKey(a);
          } else if (a.outcome == "billing") {
            bool stop = a.decision.action == "billing_stop";
            req = flows::OperationStart({a.decision.server_id, a.decision.value, stop ? "stop" : "start",
                                         "billing-" + std::to_string(a.first_tick), "", "billing"});
          } else {
            req.type = kRepair;
            req.input = json::serialize(RepairInput(a));
            req.dedup_key = RepairDedupKey(a);
          }
          auto r = co_await d.engine->Start(std::move(req));
          if (!r.ok()) co_return r.status();
          ids.push_back(json::string(r->id));
        }
        co_return json::serialize(ids);
      });
  if (!started.ok()) co_return started.status();
  if (log) {
    json::value ids = json::parse(*started);
    size_t next = 0;
    for (const auto& a : acts) {
      std::string id;
      if ((a.outcome == "repair" || a.outcome == "propose" || a.outcome == "billing" ||
           a.outcome == "exhausted_propose") &&
          next < ids.as_array().size()) {
        id = std::string(ids.as_array()[next++].as_string());
      }
      log->Add({tick, a.decision.server_id, a.decision.drift, a.decision.rule, a.outcome,
                a.breaker, id});
    }
  }

  // #alerts-critical, with a ping, once: drift above the allowed level (once per incident), a
  // repair that failed 3 times (once per incident), a tripped breaker (once per server per hour).
  for (const auto& a : acts) {
    if (!a.alert) continue;
    auto sent = co_await ctx.Step(
        "alert",
        [&d, a](const StepInfo& info) -> Task<Result<std::string>> {
          co_return co_await Alert(d, a, info);
        },
        flows::ActivityPolicy(*d.settings));
    if (!sent.ok() && !ctx.fatal().ok()) co_return ctx.fatal();
  }

  // #alerts-billing: billing enforcement stopped or restarted servers (no ping).
  std::string billing;
  for (const auto& a : acts) {
    if (a.outcome != "billing") continue;
    billing += "\n- " + a.decision.server_id + " (customer " + a.decision.value + "): " +
               (a.decision.action == "billing_stop" ? "stopped" : "started again");
  }
  if (!billing.empty()) {
    auto sent = co_await ctx.Step(
        "billing_notice",
        [&d, billing](const StepInfo& info) -> Task<Result<std::string>> {
          ZLH_CO_RETURN_IF_ERROR(co_await d.notifier->Post(
              flows::CallOf(info), "alerts-billing", "Billing enforcement:" + billing, false));
          co_return "sent";
        },
        flows::ActivityPolicy(*d.settings));
    if (!sent.ok() && !ctx.fatal().ok()) co_return ctx.fatal();
  }

  // Housekeeping: finished reconciles past the retention are deleted (a bounded number per tick).
  auto expired = co_await ctx.TxnStep(
      "delete_expired",
      [retention = d.settings->retention](journal::Txn& t, const StepInfo&) -> Result<std::string> {
        auto n = DeleteExpired(t, {kReconcile, kDigest}, NowMs() - retention.count(), 1000);
        if (!n.ok()) return n.status();
        return std::to_string(*n);
      });
  if (!expired.ok() && !ctx.fatal().ok()) co_return ctx.fatal();

  // #audit-log: one message per tick listing what it did or what changed (nothing when nothing
  // did: a proposal awaiting approval is not repeated every minute), in parts within Discord's
  // limit when long, each part headed by the tick.
  std::vector<std::string> audit;
  for (const auto& a : acts) {
    if (!a.news) continue;
    audit.push_back("- " + (a.decision.subject.empty() ? a.decision.server_id : a.decision.subject) +
                    ": " + a.decision.drift + " → " + a.outcome +
                    (a.outcome == "repair" ? " (" + a.decision.repair + ", attempt " +
                                                 std::to_string(a.attempt) + ")"
                                           : ""));
  }
  if (!audit.empty()) {
    auto sent = co_await ctx.Step(
        "audit",
        [&d, tick, audit](const StepInfo& info) -> Task<Result<std::string>> {
          std::vector<std::string> parts = AuditParts(tick, audit);
          for (size_t i = 0; i < parts.size(); ++i) {
            activities::CallContext call = flows::CallOf(info);
            call.idempotency_key += "#" + std::to_string(i);  // each part its own message
            ZLH_CO_RETURN_IF_ERROR(co_await d.notifier->Post(call, "audit-log", parts[i], false));
          }
          co_return "sent";
        },
        flows::ActivityPolicy(*d.settings));
    if (!sent.ok() && !ctx.fatal().ok()) co_return ctx.fatal();
  }
  if (log) log->TickDone(tick, NowMs());
  co_return *decided;
}

// The repair's action on the outside world.
Task<Status> RunRepair(flows::Deps& d, const std::string& repair, const proto::Server& server,
                       const StepInfo& info) {
  const config::Settings& s = *d.settings;
  const auto& px = s.file.proxy();
  bool dev = server.ctype() == "dev";
  auto call = flows::CallOf(info);
  if (repair == "republish_dns") {
    std::string a = flows::ARecordOf(s, server);
    if (a.empty())
      co_return FailedPrecondition("server " + server.name() + " has no recorded address");
    ZLH_CO_RETURN_IF_ERROR(co_await d.dns->Publish(call, {"", "A", flows::Fqdn(s, server.name()), a}));
    if (!dev) {
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
  if (repair == "restart_agent") co_return co_await d.hypervisor->Reboot(call, server.node(), server.vmid());
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
  if (repair == "rebuild_container") {
    // The container again, as provisioning made it: cloned from its template, started, its agent
    // given time to come up, the workload installed. DNS and proxy still name its address.
    const proto::config::Template* tpl = s.FindTemplate(dev ? "dev" : server.game());
    if (!tpl) co_return InvalidArgument("no template for '" + server.game() + "'");
    // Where the container is: an earlier attempt's may be on another node.
    auto node = co_await d.hypervisor->Clone(call, tpl->template_node(), tpl->template_vmid(),
                                             server.node(), server.vmid(), server.name());
    if (!node.ok()) co_return node.status();
    if (!server.address().empty()) {  // its network and size, as provisioning configured them
      flows::ProvisionInput as_provisioned;
      as_provisioned.server_id = server.server_id();
      as_provisioned.customer_id = server.customer_id();
      as_provisioned.plan = server.plan();
      auto spec = flows::SpecOf(s, as_provisioned, *node, server.address());
      if (!spec.ok()) co_return spec.status();
      auto applied = co_await flows::ApplySpec(*d.hypervisor, call, *node, server.vmid(), *spec);
      if (!applied.ok()) co_return applied.status();
    }
    ZLH_CO_RETURN_IF_ERROR(co_await d.hypervisor->Start(call, *node, server.vmid()));
    boost::asio::steady_timer wait(co_await boost::asio::this_coro::executor);
    for (int probe = 0;; ++probe) {
      auto health = co_await d.agent->Health(flows::AgentOf(server));
      if (health.ok() && health->status == "ready") break;
      if (probe >= 120) co_return Status(Code::kDeadlineExceeded, "the rebuilt container's agent never got ready");
      wait.expires_after(s.readiness_probe_interval);
      co_await wait.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    }
    co_return co_await d.agent->Install(call, flows::AgentOf(server), dev ? "dev" : server.game(),
                                        tpl->loader());
  }
  if (repair == "start_container") co_return co_await d.hypervisor->Start(call, server.node(), server.vmid());
  if (repair == "restart_workload") co_return co_await d.agent->Workload(call, flows::AgentOf(server), true);
  co_return InvalidArgument("unknown repair '" + repair + "'");
}

// Housekeeping: clears a stale lease if the holder observed still holds it at the epoch observed
// (bumping the epoch, recorded on the server's lease stream), and alerts: it breaks §8.4.
Task<Result<std::string>> ClearStaleLease(flows::Deps& d, Context& ctx, const std::string& server_id,
                                          const std::string& subject, const std::string& holder,
                                          uint64_t epoch) {
  auto cleared = co_await ctx.TxnStep(
      "clear_stale_lease",
      [server_id, holder, epoch](journal::Txn& t, const StepInfo&) -> Result<std::string> {
        auto done = fleet::ClearLease(t, server_id, holder, epoch);
        if (!done.ok()) return done.status();
        return *done ? "cleared" : "changed meanwhile: left alone";
      });
  if (!cleared.ok()) co_return cleared.status();
  if (*cleared == "cleared") {
    (void)co_await ctx.Step(
        "notify",
        [&d, subject, holder, epoch](const StepInfo& info) -> Task<Result<std::string>> {
          std::string text = "Cleared the stale lease of " + subject + " held by " + holder +
                             " (epoch " + std::to_string(epoch) + " → " + std::to_string(epoch + 1) +
                             "): its holder had ended or was unknown, which must not happen (§8.4).";
          ZLH_CO_RETURN_IF_ERROR(co_await d.notifier->Post(flows::CallOf(info), "alerts-critical", text, true));
          co_return "sent";
        },
        flows::ActivityPolicy(*d.settings));
  }
  co_return *cleared;
}

// The daily digest (§5.5): gathered, recorded, then posted to #system-health.
Task<Result<std::string>> Digest(flows::Deps& d, Context& ctx) {
  auto text = co_await ctx.Step(
      "gather",
      [&d](const StepInfo&) -> Task<Result<std::string>> { co_return DigestText(*d.journal, NowMs()); },
      workflows::RetryPolicy::Once());
  if (!text.ok()) co_return text.status();
  auto sent = co_await ctx.Step(
      "post",
      [&d, &text](const StepInfo& info) -> Task<Result<std::string>> {
        ZLH_CO_RETURN_IF_ERROR(co_await d.notifier->Post(flows::CallOf(info), "system-health", *text, false));
        co_return "sent";
      },
      flows::ActivityPolicy(*d.settings));
  if (!sent.ok()) co_return sent.status();
  co_return *text;
}

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
  // Nothing repairs a server under an operation's lease or in maintenance (§6.3).
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
  if (level >= 3) {
    // Destructive: only ever proposed (§5.3). The operator approves it through the API or
    // zlh-journal; a week without an answer ends the proposal.
    auto proposed = co_await ctx.Step(
        "propose",
        [&d, repair, server, id = ctx.id()](const StepInfo& info) -> Task<Result<std::string>> {
          std::string why = repair == "rebuild_container"
                                ? "its container is gone from the hypervisor"
                                : "its level-2 repair failed 3 times";
          std::string text = "Proposed " + repair + " for server " + server.name() + " (VMID " +
                             std::to_string(server.vmid()) + "): " + why +
                             ". Nothing is done until an operator approves: POST /api/repairs/" +
                             id + "/approve (zlh-journal approve " + id + ").";
          ZLH_CO_RETURN_IF_ERROR(co_await d.notifier->Post(flows::CallOf(info), "alerts-critical", text, true));
          co_return "sent";
        },
        flows::ActivityPolicy(*d.settings));
    if (!proposed.ok()) co_return proposed.status();
    auto approved = co_await ctx.WaitSignal("approve", Millis(7LL * 24 * 3600 * 1000));
    if (!approved.ok()) co_return approved.status();
  }
  auto done = co_await ctx.Step(
      repair,
      [&d, repair, server](const StepInfo& info) -> Task<Result<std::string>> {
        ZLH_CO_RETURN_IF_ERROR(co_await RunRepair(d, repair, server, info));
        co_return "done";
      },
      // A rebuild is not repeated blindly after a crash (§5.1b).
      level >= 3 ? workflows::RetryPolicy::AtMostOnce() : flows::ActivityPolicy(*d.settings));
  if (!done.ok()) co_return done.status();
  (void)co_await ctx.Step(
      "notify",
      [&d, repair, server, level](const StepInfo& info) -> Task<Result<std::string>> {
        std::string text = "Repaired " + server.name() + " (VMID " + std::to_string(server.vmid()) +
                           "): " + repair + " (level " + std::to_string(level) + ").";
        // A level-2 repair (a reboot, a start) pings when nobody is at work to see it (§6.5).
        bool ping = level == 2 && !d.settings->business_hours.Contains(NowMs());
        ZLH_CO_RETURN_IF_ERROR(co_await d.notifier->Post(flows::CallOf(info), "alerts-repairs", text, ping));
        co_return "sent";
      },
      flows::ActivityPolicy(*d.settings));
  co_return repair + " done on " + server_id;
}

}  // namespace

std::vector<std::string> AuditParts(int64_t tick, const std::vector<std::string>& lines) {
  constexpr size_t kLimit = 1'900;
  std::string head = "Reconcile tick " + std::to_string(tick);
  std::vector<std::string> parts{head + ":"};
  for (const std::string& line : lines) {
    std::string cut = line;
    if (cut.size() > kLimit / 2) {  // one line never fills a message: cut at a character boundary
      size_t n = kLimit / 2;
      while (n > 0 && (static_cast<unsigned char>(cut[n]) & 0xC0) == 0x80) --n;
      cut = cut.substr(0, n) + "…";
    }
    if (parts.back().size() + 1 + cut.size() > kLimit) parts.push_back(head + " (continued):");
    parts.back() += "\n" + cut;
  }
  return parts;
}

workflows::StartRequest ReconcileStart(int64_t tick) {
  workflows::StartRequest req;
  req.type = kReconcile;
  req.input = json::serialize(json::object{{"tick", tick}});
  req.dedup_key = "reconcile\x1f" + std::to_string(tick);
  return req;
}

Status Register(workflows::Registry& registry, flows::Deps& deps, DecisionLog* log,
                fleet::FencingSource fencing) {
  flows::Deps* d = &deps;
  ZLH_RETURN_IF_ERROR(registry.Register(kReconcile, "control", [d, log, fencing](Context& ctx) {
    return Reconcile(*d, log, fencing, ctx);
  }));
  ZLH_RETURN_IF_ERROR(registry.Register(kDigest, "control", [d](Context& ctx) { return Digest(*d, ctx); }));
  return registry.Register(kRepair, "repair", [d](Context& ctx) { return Repair(*d, ctx); });
}

}  // namespace zlh::controller

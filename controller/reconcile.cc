// reconcile and digest, and the registration of all three controller workflows (controller.h);
// repair is in repair.cc.
#include <spdlog/spdlog.h>

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
#include "controller/repair.h"
#include "controller/retention.h"
#include "fleet/tables.h"
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

// The daily digest (§5.5): gathered, recorded, then posted to #system-health.
Task<Result<std::string>> Digest(flows::Deps& d, Context& ctx) {
  auto text = co_await ctx.Step(
      "gather",
      [&d](const StepInfo&) -> Task<Result<std::string>> { co_return DigestText(*d.journal, NowMs()); },
      workflows::RetryPolicy::Once());
  if (!text.ok()) co_return text.status();
  // Email may carry it too (email.digest): it is marked as the digest.
  ZLH_CO_RETURN_IF_ERROR(
      co_await flows::Notify(d, ctx, "post", {"system-health", *text, false, true}));
  co_return *text;
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

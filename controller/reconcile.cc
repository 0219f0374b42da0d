// reconcile and digest, and the registration of the controller's workflows (controller.h); repair
// is in repair.cc, the journal's backup in journal_backup.cc.
#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <map>
#include <set>

#include "activities/services.h"
#include "base/clock.h"
#include "controller/controller.h"
#include "controller/decision_log.h"
#include "controller/diff.h"
#include "controller/digest.h"
#include "controller/incidents.h"
#include "controller/journal_backup.h"
#include "controller/messages.h"
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

// The tick's observation, compacted, and its decisions (steps observe and diff).
struct Judged {
  Observation observation;
  std::string decided;  // diff's recorded result: the reconcile's own
  std::vector<Decision> decisions;
};

Task<Result<Judged>> ObserveAndDiff(flows::Deps& d, Context& ctx, int64_t tick,
                                    const Policy& policy) {
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
  co_return Judged{std::move(*observation), std::move(*decided), std::move(*decisions)};
}

// Records tick `tick`'s messages in the outbox within `t`, by step `info` (record_incidents).
Status EnqueueTickMessages(journal::Txn& t, const StepInfo& info, int64_t tick,
                           const std::vector<Act>& acts) {
  std::vector<flows::Message> messages = TickMessages(tick, acts).All();
  for (size_t k = 0; k < messages.size(); ++k) {
    auto id =
        flows::EnqueueMessage(t, info, messages[k], info.idempotency_key + "#" + std::to_string(k));
    if (!id.ok()) return id.status();
  }
  return Status::Ok();
}

// The tick's acts (step record_incidents): incidents, attempts and breakers in the same write as
// the step's event — and, from the outbox on (`outbox`), what the tick tells, so a decision and
// its notifications are recorded together or not at all (a stale fencing token refuses both).
Task<Result<std::vector<Act>>> RecordIncidentsStep(flows::Deps& d, fleet::FencingSource fencing,
                                                   Context& ctx, int64_t tick, const Judged& judged,
                                                   bool outbox) {
  auto recorded = co_await ctx.TxnStep(
      "record_incidents",
      [limits = RepairLimits::Of(judged.observation, d.settings->repair_concurrency,
                                 d.settings->repair_concurrency_per_host),
       decisions = judged.decisions, tick, fencing,
       outbox](journal::Txn& t, const StepInfo& info) -> Result<std::string> {
        auto acts = RecordIncidents(t, decisions, tick, NowMs(), {fencing, info.fencing_token}, limits);
        if (!acts.ok()) return acts.status();
        if (outbox) ZLH_RETURN_IF_ERROR(EnqueueTickMessages(t, info, tick, *acts));
        return ToJson(*acts);
      });
  if (!recorded.ok()) co_return recorded.status();
  co_return ParseActs(*recorded, judged.decisions);
}

// Whether an act starts a workflow in start_repairs (a stuck provisioning's is cancelled).
bool StartsWorkflow(const Act& a) {
  return a.outcome == "repair" || a.outcome == "propose" || a.outcome == "billing" ||
         a.outcome == "exhausted_propose";
}

// What act `a` starts: a repair (by its dedup key, so none is started twice), the proposal of a
// restore after a level-2 repair failed 3 times, or billing enforcement's operation.
workflows::StartRequest StartOf(const Act& a) {
  workflows::StartRequest req;
  if (a.outcome == "billing") {
    bool stop = a.decision.action == "billing_stop";
    return flows::OperationStart({a.decision.server_id, a.decision.value, stop ? "stop" : "start",
                                  "billing-" + std::to_string(a.first_tick), "", "billing"});
  }
  Act repair = a;
  if (a.outcome == "exhausted_propose") {
    repair.decision.repair = "restore_backup";
    repair.decision.level = 3;
  }
  req.type = kRepair;
  req.input = json::serialize(RepairInput(repair));
  req.dedup_key = RepairDedupKey(a);
  return req;
}

// Step start_repairs: one workflow per act that starts one; a stuck provisioning cancelled (it
// compensates, releasing its VMID; an ended one is left alone). Returns the ids started, in order.
Task<Result<std::string>> StartRepairs(flows::Deps& d, Context& ctx, const std::vector<Act>& acts) {
  co_return co_await ctx.Step(
      "start_repairs", [&d, &acts](const StepInfo&) -> Task<Result<std::string>> {
        json::array ids;
        for (const auto& a : acts) {
          if (a.outcome == "fail") {
            Status s = co_await d.engine->Cancel(
                a.decision.value,
                "stuck: no progress for " + FormatDuration(d.settings->stuck_provisioning));
            if (!s.ok() && s.code() != Code::kFailedPrecondition) co_return s;
            continue;
          }
          if (!StartsWorkflow(a)) continue;
          auto r = co_await d.engine->Start(StartOf(a));
          if (!r.ok()) co_return r.status();
          ids.push_back(json::string(r->id));
        }
        co_return json::serialize(ids);
      });
}

// GET /api/controller's decisions: each act with the workflow it started, if any.
void LogDecisions(DecisionLog& log, int64_t tick, const std::vector<Act>& acts,
                  const std::string& started) {
  json::value ids = json::parse(started);
  size_t next = 0;
  for (const auto& a : acts) {
    std::string id;
    if (StartsWorkflow(a) && next < ids.as_array().size()) {
      id = std::string(ids.as_array()[next++].as_string());
    }
    log.Add(
        {tick, a.decision.server_id, a.decision.drift, a.decision.rule, a.outcome, a.breaker, id});
  }
}

// Histories recorded before the outbox (version 0) tell the tick in steps of their own, as they
// did: `alert` per alert and `billing_notice` here, `audit` after delete_expired.
Task<Status> AlertAsBefore(flows::Deps& d, Context& ctx, const TickNews& news) {
  for (const auto& alert : news.alerts) {
    Status s = co_await flows::Notify(d, ctx, "alert", alert);
    if (!s.ok() && !ctx.fatal().ok()) co_return ctx.fatal();
  }
  if (news.billing) {
    Status s = co_await flows::Notify(d, ctx, "billing_notice", *news.billing);
    if (!s.ok() && !ctx.fatal().ok()) co_return ctx.fatal();
  }
  co_return Status::Ok();
}

Task<Status> AuditAsBefore(flows::Deps& d, Context& ctx, const TickNews& news) {
  if (news.audit.empty()) co_return Status::Ok();
  Status s = co_await flows::NotifyAll(d, ctx, "audit", news.audit);
  if (!s.ok() && !ctx.fatal().ok()) co_return ctx.fatal();
  co_return Status::Ok();
}

// Housekeeping: finished reconciles past the retention are deleted (a bounded number per tick).
Task<Status> DeleteExpiredStep(flows::Deps& d, Context& ctx) {
  auto expired = co_await ctx.TxnStep(
      "delete_expired",
      [retention = d.settings->retention](journal::Txn& t, const StepInfo&) -> Result<std::string> {
        auto n =
            DeleteExpired(t, {kReconcile, kDigest, kBackup}, NowMs() - retention.count(), 1000);
        if (!n.ok()) return n.status();
        return std::to_string(*n);
      });
  if (!expired.ok() && !ctx.fatal().ok()) co_return ctx.fatal();
  co_return Status::Ok();
}

// A tick (SPEC §5.4): observe, diff, record the incidents with what the tick tells, start the
// repairs, delete what is past its retention. Returns the decisions.
Task<Result<std::string>> Reconcile(flows::Deps& d, DecisionLog* log, fleet::FencingSource fencing,
                                    Context& ctx) {
  int64_t tick = TickOf(ctx.input());
  Policy policy{static_cast<int>(d.settings->max_repair_level),
                d.settings->stuck_provisioning.count(),
                d.settings->stuck_workflow.count(),
                d.settings->backup_period.count(),
                d.settings->backup_grace.count(),
                d.settings->backup_minute ? kMissedAfter.count() : 0};
  auto judged = co_await ObserveAndDiff(d, ctx, tick, policy);
  if (!judged.ok()) co_return judged.status();
  // A history that recorded record_incidents before the outbox takes 0 and tells as it did then.
  auto version = co_await ctx.Version("outbox", 0, 1);
  if (!version.ok()) co_return version.status();
  const bool outbox = *version >= 1;
  auto acts = co_await RecordIncidentsStep(d, fencing, ctx, tick, *judged, outbox);
  if (!acts.ok()) co_return acts.status();
  TickNews news = TickMessages(tick, *acts);
  if (outbox && !news.All().empty() && d.notified) d.notified();

  auto started = co_await StartRepairs(d, ctx, *acts);
  if (!started.ok()) co_return started.status();
  if (log) LogDecisions(*log, tick, *acts, *started);
  if (!outbox) ZLH_CO_RETURN_IF_ERROR(co_await AlertAsBefore(d, ctx, news));
  ZLH_CO_RETURN_IF_ERROR(co_await DeleteExpiredStep(d, ctx));
  if (!outbox) ZLH_CO_RETURN_IF_ERROR(co_await AuditAsBefore(d, ctx, news));
  if (log) log->TickDone(tick, NowMs());
  co_return judged->decided;
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

workflows::StartRequest ScheduledStart(const char* type, const char* field, int64_t tick) {
  workflows::StartRequest req;
  req.type = type;
  req.input = json::serialize(json::object{{field, tick}});
  req.dedup_key = std::string(type) + "\x1f" + std::to_string(tick);
  return req;
}

workflows::StartRequest ReconcileStart(int64_t tick) {
  return ScheduledStart(kReconcile, "tick", tick);
}

Status Register(workflows::Registry& registry, flows::Deps& deps, DecisionLog* log,
                fleet::FencingSource fencing, backup::Keeper* backups) {
  flows::Deps* d = &deps;
  ZLH_RETURN_IF_ERROR(registry.Register(kReconcile, "control", [d, log, fencing](Context& ctx) {
    return Reconcile(*d, log, fencing, ctx);
  }));
  ZLH_RETURN_IF_ERROR(registry.Register(kDigest, "control", [d](Context& ctx) { return Digest(*d, ctx); }));
  ZLH_RETURN_IF_ERROR(registry.Register(kBackup, kBackupQueue, [d, backups](Context& ctx) {
    return JournalBackup(*d, backups, ctx);
  }));
  return registry.Register(kRepair, "repair", [d](Context& ctx) { return Repair(*d, ctx); });
}

}  // namespace zlh::controller

// Workflows recorded before the notification outbox, when each notification was a step that posted
// to Discord itself, resume under today's code without a non-determinism error: a notify step
// recorded then returns what it recorded and writes nothing again; one not yet recorded (a post
// that failed and waits for its retry, or not reached) now records its message in the outbox under
// the same name and step number — so with the same idempotency key, hence the same Discord nonce —
// and the dispatcher delivers it. The earlier code is reproduced here as far as each history goes;
// the test then switches the workflow type to today's code and lets the engine resume it.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "activities/notifier_discord.h"
#include "base/clock.h"
#include "controller/controller.h"
#include "controller/diff.h"
#include "controller/incidents.h"
#include "controller/observe.h"
#include "fleet/outbox.h"
#include "fleet/tables.h"
#include "flows/steps.h"
#include "tests/flows_fixture.h"

namespace zlh::flows {
namespace {

namespace json = boost::json;
using workflows::Context;
using workflows::StepInfo;
using workflows::Task;

// A Discord post of the earlier release that failed and waits for a retry an hour away.
Task<Result<std::string>> PostThatFailed(Context& ctx, std::string name) {
  workflows::RetryPolicy later;
  later.max_attempts = 5;
  later.initial_backoff = Millis(3'600'000);
  later.max_backoff = Millis(3'600'000);
  co_return co_await ctx.Step(
      std::move(name),
      [](const StepInfo&) -> Task<Result<std::string>> {
        co_return Unavailable("Discord: HTTP 503");
      },
      later);
}

// The reconcile of the earlier release up to its first alert: observe, diff, record_incidents (no
// outbox), start_repairs, then an `alert` whose post failed.
Task<Result<std::string>> EarlierReconcile(Deps& d, Context& ctx) {
  controller::Policy policy;
  auto observed =
      co_await ctx.Step("observe", [&d, policy](const StepInfo&) -> Task<Result<std::string>> {
        co_return controller::ToJson(
            controller::Compact(co_await controller::Observe(d, 1), policy));
      });
  if (!observed.ok()) co_return observed.status();
  auto observation = controller::ParseObservation(*observed);
  auto decided = co_await ctx.Step(
      "diff", [&observation, policy](const StepInfo&) -> Task<Result<std::string>> {
        co_return controller::ToJson(controller::Diff(*observation, policy));
      });
  if (!decided.ok()) co_return decided.status();
  auto decisions = controller::ParseDecisions(*decided);
  auto recorded = co_await ctx.TxnStep(
      "record_incidents", [&decisions](journal::Txn& t, const StepInfo&) -> Result<std::string> {
        auto acts = controller::RecordIncidents(t, *decisions, 1, NowMs());
        if (!acts.ok()) return acts.status();
        return controller::ToJson(*acts);
      });
  if (!recorded.ok()) co_return recorded.status();
  (void)co_await ctx.Step("start_repairs", [](const StepInfo&) -> Task<Result<std::string>> {
    co_return std::string("[]");
  });
  co_return co_await PostThatFailed(ctx, "alert");
}

// The repair of the earlier release: a stale lease cleared, then its alert, whose post failed; a
// level-3 repair checked, proposed (the post recorded), then waiting for the approval.
Task<Result<std::string>> EarlierRepair(Deps&, Context& ctx) {
  json::object in = json::parse(ctx.input()).as_object();
  std::string server_id(in.at("serverId").as_string());
  if (in.at("repair").as_string() == "clear_stale_lease") {
    auto cleared =
        co_await ctx.TxnStep("clear_stale_lease",
                             [server_id, holder = std::string(in.at("holder").as_string()),
                              epoch = in.at("epoch").to_number<uint64_t>()](
                                 journal::Txn& t, const StepInfo&) -> Result<std::string> {
                               auto done = fleet::ClearLease(t, server_id, holder, epoch);
                               if (!done.ok()) return done.status();
                               return *done ? "cleared" : "changed meanwhile: left alone";
                             });
    if (!cleared.ok()) co_return cleared.status();
    co_return co_await PostThatFailed(ctx, "notify");
  }
  auto checked = co_await ctx.TxnStep(
      "check", [server_id](journal::Txn& t, const StepInfo&) -> Result<std::string> {
        auto server = fleet::GetServer(t, server_id);
        if (!server.ok()) return server.status();
        return (*server)->SerializeAsString();
      });
  if (!checked.ok()) co_return checked.status();
  (void)co_await ctx.Step("propose", [](const StepInfo&) -> Task<Result<std::string>> {
    co_return std::string("sent");
  });
  co_return co_await ctx.WaitSignal("approve", Millis(7LL * 24 * 3'600'000));
}

constexpr char kUnknownHolder[] = "01DEADDEADDEADDEADDEADDEAD";

class OutboxUpgradeTest : public FlowsTest {
 protected:
  void SetUp() override {
    ASSERT_TRUE(controller::Register(today_, deps_).ok());
    for (const char* type : {controller::kReconcile, controller::kRepair}) {
      std::string t = type;
      ASSERT_TRUE(registry_
                      .Register(t, t == controller::kRepair ? "repair" : "control",
                                [this, t](Context& ctx) {
                                  if (upgraded_) return today_.Find(t)->fn(ctx);
                                  return t == controller::kRepair ? EarlierRepair(deps_, ctx)
                                                                  : EarlierReconcile(deps_, ctx);
                                })
                      .ok());
    }
    FlowsTest::SetUp();
  }
  // Runs until workflow `id` waits (for a retry or a signal), then stops the node there and starts
  // it again under today's code, which resumes it.
  void UpgradeWhileItWaits(const std::string& id) {
    ASSERT_TRUE(RunUntil([&] {
      auto s = engine_->Summary(id);
      return s.ok() && s->status() == proto::WAITING;
    }));
    Close(Millis(0));
    upgraded_ = true;
    Open();
    Wire();
    ASSERT_TRUE(Await(engine_->Recover()).ok());
  }
  // The outbox's entries that workflow `id` recorded, oldest first.
  std::vector<proto::Notification> RecordedBy(const std::string& id) {
    auto page = fleet::ListNotifications(*journal_, {});
    EXPECT_TRUE(page.ok());
    std::vector<proto::Notification> out;
    for (auto it = page->items.rbegin(); it != page->items.rend(); ++it) {
      if (it->source() == id) out.push_back(*it);
    }
    return out;
  }
  std::vector<std::string> StepNames(const std::string& id) {
    std::vector<std::string> names;
    for (const auto& e : Events(id)) {
      if (e.has_step_completed()) names.push_back(e.step_completed().name());
    }
    return names;
  }
  bool RunUntilDelivered() {
    return RunUntil([&] {
      auto pending = fleet::ListPending(*journal_);
      return pending.ok() && pending->empty();
    });
  }
  // A lease of srv-x held by a workflow this journal does not know (as after a bad restore).
  void PutStaleLease() {
    ASSERT_TRUE(journal_
                    ->AppendSync({},
                                 [](journal::Txn& t) {
                                   proto::Lease lease;
                                   lease.set_server_id("srv-x");
                                   lease.set_holder(kUnknownHolder);
                                   lease.set_epoch(3);
                                   lease.set_acquired_ms(1);
                                   fleet::PutLease(t, lease);
                                   return Status::Ok();
                                 })
                    .ok());
  }
  // The housekeeping repair that clears it.
  static std::string ClearStaleLeaseInput() {
    return json::serialize(json::object{{"serverId", "srv-x"},
                                        {"repair", "clear_stale_lease"},
                                        {"level", 0},
                                        {"drift", "stale_lease"},
                                        {"holder", kUnknownHolder},
                                        {"epoch", 3},
                                        {"subject", "server srv-x"}});
  }
  int64_t ProvisionedVmid(const std::string& name) {
    EXPECT_EQ(AwaitEnd(Provision(name)).status(), proto::COMPLETED);
    return Server("srv-" + name).vmid();
  }
  // Runs until Proxmox's status cache lists `vmid` (a guest it lists without its name and status
  // is no drift yet: the tick would see nothing).
  bool RunUntilListed(int64_t vmid) {
    return RunUntil([&] {
      auto guests = Await(deps_.hypervisor->Guests());
      if (!guests.ok()) return false;
      for (const auto& g : *guests) {
        if (g.vmid == vmid && !g.name.empty() && g.status != "unknown") return true;
      }
      return false;
    });
  }

  // Tick 1's reconcile, started once server `name` is provisioned and its agent is down: a
  // level-2 repair, above the default level, so an alert.
  std::string TickWithAnOfflineAgent(const std::string& name) {
    int64_t vmid = ProvisionedVmid(name);
    EXPECT_EQ(SimPost("/sim/faults",
                      R"({"drift": "agent_offline", "vmid": )" + std::to_string(vmid) + "}"),
              200);
    EXPECT_TRUE(RunUntilListed(vmid));
    return StartOk(controller::kReconcile, R"({"tick": 1})");
  }

  workflows::Registry today_;
  bool upgraded_ = false;
};

TEST_F(OutboxUpgradeTest, AReconcileRecordedBeforeTheOutboxFinishesOnItsOldPath) {
  std::string id = TickWithAnOfflineAgent("veteran");
  ASSERT_NO_FATAL_FAILURE(UpgradeWhileItWaits(id));
  proto::WorkflowSummary s = AwaitEnd(id);
  ASSERT_EQ(s.status(), proto::COMPLETED) << s.error().message();
  EXPECT_EQ(StepNames(id),
            (std::vector<std::string>{"observe", "diff", "record_incidents", "start_repairs",
                                      "alert", "delete_expired", "audit"}));
  // The alert under its old step (5), the audit under its (7), part 0.
  std::vector<proto::Notification> told = RecordedBy(id);
  ASSERT_EQ(told.size(), 2u);
  EXPECT_EQ(told[0].key(), id + ":5");
  EXPECT_EQ(told[0].channel(), "alerts-critical");
  EXPECT_TRUE(told[0].ping());
  EXPECT_EQ(told[1].key(), id + ":7#0");
  EXPECT_EQ(told[1].channel(), "audit-log");
  ASSERT_TRUE(RunUntilDelivered());
  ASSERT_EQ(Messages("alerts-critical").size(), 1u);
  EXPECT_NE(
      std::string(Messages("alerts-critical")[0].at("content").as_string()).find(told[0].content()),
      std::string::npos);  // after the ping's mention
  EXPECT_EQ(Messages("alerts-critical")[0].at("nonce").as_string(),
            activities::DiscordNonce(id + ":5", 0));
  ASSERT_EQ(Messages("audit-log").size(), 1u);
  EXPECT_EQ(
      std::string(Messages("audit-log")[0].at("content").as_string()).rfind("Reconcile tick 1:", 0),
      0u);
  ExpectVerified();
}

TEST_F(OutboxUpgradeTest, ANewReconcileRecordsItsMessagesWithItsIncidents) {
  upgraded_ = true;
  std::string id = TickWithAnOfflineAgent("fresh");
  ASSERT_EQ(AwaitEnd(id).status(), proto::COMPLETED);
  EXPECT_EQ(StepNames(id),
            (std::vector<std::string>{"observe", "diff", "zlh.version outbox", "record_incidents",
                                      "start_repairs", "delete_expired"}));
  std::vector<proto::Notification> told = RecordedBy(id);
  ASSERT_EQ(told.size(), 2u);
  for (size_t k = 0; k < told.size(); ++k) {
    EXPECT_EQ(told[k].key(), id + ":4#" + std::to_string(k));
    EXPECT_EQ(told[k].source_step(), 4u) << "not in record_incidents' write";
  }
  EXPECT_EQ(told[0].channel(), "alerts-critical");
  EXPECT_EQ(told[1].channel(), "audit-log");
  ASSERT_TRUE(RunUntilDelivered());
  EXPECT_EQ(Messages("alerts-critical").size(), 1u);
  EXPECT_EQ(Messages("audit-log").size(), 1u);
}

TEST_F(OutboxUpgradeTest, ARepairWhosePostWasRecordedReplaysWithoutWritingAgain) {
  ASSERT_GT(ProvisionedVmid("veteran"), 0);
  ASSERT_EQ(AwaitEnd(Operate("srv-veteran", "backup", "b1")).status(), proto::COMPLETED);
  std::string input = json::serialize(json::object{
      {"serverId", "srv-veteran"}, {"repair", "restore_backup"}, {"level", 3}, {"drift", "d"}});
  std::string id = StartOk(controller::kRepair, input);
  ASSERT_NO_FATAL_FAILURE(UpgradeWhileItWaits(id));
  ASSERT_TRUE(RunUntil([&] {
    auto s = engine_->Summary(id);
    return s.ok() && s->waiting_for().kind() == "signal";
  }));
  ASSERT_TRUE(Await(engine_->Signal(id, "approve", "")).ok());
  proto::WorkflowSummary s = AwaitEnd(id);
  ASSERT_EQ(s.status(), proto::COMPLETED) << s.error().message();
  // Only the report is written: the proposal was posted (and recorded) by the earlier code.
  std::vector<proto::Notification> told = RecordedBy(id);
  ASSERT_EQ(told.size(), 1u);
  EXPECT_EQ(told[0].channel(), "alerts-repairs");
  EXPECT_NE(told[0].content().find("restore_backup"), std::string::npos) << told[0].content();
  ASSERT_TRUE(RunUntilDelivered());
  EXPECT_TRUE(Messages("alerts-critical").empty()) << "the proposal was told again";
  EXPECT_EQ(Messages("alerts-repairs").size(), 1u);
}

TEST_F(OutboxUpgradeTest, AStaleLeaseClearedBeforeTheUpgradeIsStillAlerted) {
  ASSERT_NO_FATAL_FAILURE(PutStaleLease());
  std::string id = StartOk(controller::kRepair, ClearStaleLeaseInput());
  ASSERT_NO_FATAL_FAILURE(UpgradeWhileItWaits(id));
  proto::WorkflowSummary s = AwaitEnd(id);
  ASSERT_EQ(s.status(), proto::COMPLETED) << s.error().message();
  EXPECT_EQ(StepNames(id), (std::vector<std::string>{"clear_stale_lease", "notify"}));
  EXPECT_EQ(fleet::ReadLease(*journal_, "srv-x")->epoch(), 4u);
  std::vector<proto::Notification> told = RecordedBy(id);
  ASSERT_EQ(told.size(), 1u);
  EXPECT_EQ(told[0].key(), id + ":2");
  ASSERT_TRUE(RunUntilDelivered());
  ASSERT_EQ(Messages("alerts-critical").size(), 1u);
  EXPECT_TRUE(Messages("alerts-critical")[0].at("ping").as_bool());
  EXPECT_NE(std::string(Messages("alerts-critical")[0].at("content").as_string())
                .find("Cleared the stale lease of server srv-x"),
            std::string::npos);
}

TEST_F(OutboxUpgradeTest, AStaleLeaseClearedNowIsAlertedInTheSameWrite) {
  upgraded_ = true;
  ASSERT_NO_FATAL_FAILURE(PutStaleLease());
  std::string id = StartOk(controller::kRepair, ClearStaleLeaseInput());
  ASSERT_EQ(AwaitEnd(id).status(), proto::COMPLETED);
  EXPECT_EQ(StepNames(id),
            (std::vector<std::string>{"zlh.version lease-alert-in-txn", "clear_stale_lease"}));
  std::vector<proto::Notification> told = RecordedBy(id);
  ASSERT_EQ(told.size(), 1u);
  EXPECT_EQ(told[0].source_step(), 2u) << "not in clear_stale_lease's write";
  ASSERT_TRUE(RunUntilDelivered());
  EXPECT_EQ(Messages("alerts-critical").size(), 1u);
}

}  // namespace
}  // namespace zlh::flows

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
    ASSERT_TRUE(registry_.Register(controller::kRepair, "repair", [this](Context& ctx) {
      if (upgraded_) return today_.Find(controller::kRepair)->fn(ctx);
      return EarlierRepair(deps_, ctx);
    }).ok());
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


  workflows::Registry today_;
  bool upgraded_ = false;
};

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

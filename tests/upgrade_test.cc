// Deploying new workflow code under provisionings in flight (SPEC §11), with today's provisioning
// as the release in production (v1), on a real zlh-sim: a provisioning suspended mid-way under v1
// finishes under a v2 that adds a step behind ctx.Version; the upgrade check (what zlh-journal
// check-upgrade runs) passes v2 and flags a v3 that changes a recorded step without a marker, and
// v3, deployed anyway, fails that provisioning with a non-determinism error, as the check said.
#include <gtest/gtest.h>

#include "flows/provision.h"
#include "tests/flows_fixture.h"
#include "workflows/replay.h"
#include "workflows/upgrade.h"

namespace zlh::flows {
namespace {

using workflows::Context;
using workflows::Registry;
using workflows::StepInfo;
using workflows::Task;
using workflows::WorkflowFn;

// v2: today's provisioning, then a welcome step, added behind a version marker: a provisioning that
// went past the change point under v1 skips it on replay; one that reaches it under v2 runs it.
Task<Result<std::string>> ProvisionV2(Deps& d, Context& ctx, int* welcomes) {
  auto provisioned = co_await Provision(d, ctx);
  if (!provisioned.ok()) co_return provisioned;
  auto version = co_await ctx.Version("welcome-step", 0, 1);
  if (!version.ok()) co_return version.status();
  if (*version >= 1) {
    auto sent = co_await ctx.Step("send_welcome", [welcomes](const StepInfo&) -> Task<Result<std::string>> {
      ++*welcomes;
      co_return std::string("sent");
    });
    if (!sent.ok()) co_return sent.status();
  }
  co_return provisioned;
}

// v3: a quota check put before everything, with no version marker: every recorded history now
// starts with a step the code does not ask for first.
Task<Result<std::string>> ProvisionV3(Deps& d, Context& ctx, int* welcomes) {
  auto checked = co_await ctx.Step("check_quota", [](const StepInfo&) -> Task<Result<std::string>> {
    co_return std::string("ok");
  });
  if (!checked.ok()) co_return checked.status();
  co_return co_await ProvisionV2(d, ctx, welcomes);
}

class UpgradeTest : public FlowsTest {
 protected:
  using Code = Task<Result<std::string>> (*)(Deps&, Context&, int*);
  WorkflowFn Fn(Code code) {
    return [this, code](Context& ctx) { return code(deps_, ctx, &welcomes_); };
  }
  Registry Build(Code code) {
    Registry r;
    EXPECT_TRUE(r.Register(kProvision, "provision", Fn(code), ProvisionCancelledQueued).ok());
    return r;
  }
  // The deploy: the process stops, the new build starts on the same journal and recovers.
  void Deploy(Code code) {
    Close(Millis(0));
    registry_ = Build(code);
    Open();
    Wire();
    ASSERT_TRUE(Await(engine_->Recover()).ok());
  }
  // A provisioning under v1 (today's code), suspended at the agent's readiness gate.
  std::string SuspendedUnderV1(const std::string& name) {
    AgentHealthFails(20);
    std::string id = Provision(name);
    EXPECT_TRUE(RunUntil([&] {
      auto s = engine_->Summary(id);
      return s.ok() && s->waiting_for().kind() == "agent";
    }));
    return id;
  }
  std::vector<std::string> Steps(const std::string& id) {
    std::vector<std::string> names;
    for (const auto& e : Events(id)) {
      if (e.has_step_completed()) names.push_back(e.step_completed().name());
    }
    return names;
  }

  int welcomes_ = 0;
};

TEST_F(UpgradeTest, AProvisioningSuspendedUnderV1FinishesUnderV2WhichAddsAStepBehindAVersion) {
  std::string id = SuspendedUnderV1("inflight");
  auto checked = workflows::CheckUpgrade(Build(ProvisionV2), *journal_);
  ASSERT_TRUE(checked.ok()) << checked.status().ToString();
  EXPECT_EQ(checked->checked, 1u);
  EXPECT_TRUE(checked->blocked.empty()) << checked->blocked[0].reason;

  Deploy(ProvisionV2);
  proto::WorkflowSummary s = AwaitEnd(id);
  ASSERT_EQ(s.status(), proto::COMPLETED) << s.error().message();
  EXPECT_EQ(welcomes_, 1);
  std::vector<std::string> steps = Steps(id);
  ASSERT_GE(steps.size(), 3u);
  EXPECT_EQ(steps[steps.size() - 3], "mark_ready");
  EXPECT_EQ(steps[steps.size() - 2], "zlh.version welcome-step");
  EXPECT_EQ(steps.back(), "send_welcome");
  EXPECT_EQ(Server("srv-inflight").status(), proto::SERVER_RUNNING);
  ExpectVerified();

  // Replayed by v2 from the start, its history (v1's part, then v2's) agrees with the code.
  auto replay = workflows::Replay(registry_, *journal_, id);
  ASSERT_TRUE(replay.ok());
  EXPECT_TRUE(replay->matches) << replay->divergence;
}

TEST_F(UpgradeTest, CheckUpgradeFlagsAV3ThatChangesARecordedStepWithoutAMarker) {
  std::string id = SuspendedUnderV1("changed");
  auto checked = workflows::CheckUpgrade(Build(ProvisionV3), *journal_);
  ASSERT_TRUE(checked.ok()) << checked.status().ToString();
  EXPECT_EQ(checked->checked, 1u);
  ASSERT_EQ(checked->blocked.size(), 1u);
  const workflows::UpgradeBlocker& blocked = checked->blocked[0];
  EXPECT_EQ(blocked.id, id);
  EXPECT_EQ(blocked.type, kProvision);
  EXPECT_NE(blocked.reason.find("'check_quota'"), std::string::npos) << blocked.reason;

  // Deployed anyway, v3 fails it, as the check said.
  Deploy(ProvisionV3);
  proto::WorkflowSummary s = AwaitEnd(id);
  EXPECT_EQ(s.status(), proto::FAILED);
  EXPECT_EQ(s.error().code(), "non_determinism") << s.error().message();
  EXPECT_EQ(welcomes_, 0);
}

}  // namespace
}  // namespace zlh::flows

// Repairs recorded by the release before the repairs got their own steps (the agent's wait and the
// game's start after a container start; a rebuild from a backup) replay under today's code without
// a non-determinism error: the code keeps their recorded path (Context::Version).
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "controller/controller.h"
#include "fleet/tables.h"
#include "flows/steps.h"
#include "tests/flows_fixture.h"
#include "workflows/replay.h"

namespace zlh::flows {
namespace {

namespace json = boost::json;
using workflows::Context;
using workflows::StepInfo;
using workflows::Task;

// The repair workflow as the earlier release ran it: check, (propose and approval,) the repair in
// one step, notify.
Task<Result<std::string>> EarlierRepair(Deps& d, Context& ctx) {
  json::object in = json::parse(ctx.input()).as_object();
  std::string server_id(in.at("serverId").as_string());
  std::string repair(in.at("repair").as_string());
  auto checked = co_await ctx.TxnStep("check", [server_id](journal::Txn& t, const StepInfo&) -> Result<std::string> {
    auto server = fleet::GetServer(t, server_id);
    if (!server.ok()) return server.status();
    return (*server)->SerializeAsString();
  });
  if (!checked.ok()) co_return checked.status();
  proto::Server server;
  server.ParseFromString(*checked);
  if (in.at("level").as_int64() >= 3) {
    auto proposed = co_await ctx.Step("propose", [](const StepInfo&) -> Task<Result<std::string>> {
      co_return std::string("sent");
    });
    if (!proposed.ok()) co_return proposed.status();
    auto approved = co_await ctx.WaitSignal("approve", Millis(60'000));
    if (!approved.ok()) co_return approved.status();
  }
  auto done = co_await ctx.Step(repair, [&d, server](const StepInfo& info) -> Task<Result<std::string>> {
    ZLH_CO_RETURN_IF_ERROR(co_await d.hypervisor->Start(CallOf(info), server.node(), server.vmid()));
    co_return std::string("done");
  });
  if (!done.ok()) co_return done.status();
  (void)co_await ctx.Step("notify", [](const StepInfo&) -> Task<Result<std::string>> {
    co_return std::string("sent");
  });
  co_return repair + " done on " + server_id;
}

class RepairUpgradeTest : public FlowsTest {
 protected:
  void SetUp() override {
    ASSERT_TRUE(registry_.Register(controller::kRepair, "repair", [this](Context& ctx) {
      return EarlierRepair(deps_, ctx);
    }).ok());
    FlowsTest::SetUp();
  }
  // Runs a repair under the earlier code to its end, then replays it with today's.
  workflows::ReplayReport RunThenReplay(const std::string& server_id, const std::string& repair,
                                        int level) {
    std::string input = json::serialize(json::object{
        {"serverId", server_id}, {"repair", repair}, {"level", level}, {"drift", "d"}});
    std::string id = StartOk(controller::kRepair, input);
    if (level >= 3) {
      EXPECT_TRUE(RunUntil([&] {
        auto s = engine_->Summary(id);
        return s.ok() && s->waiting_for().kind() == "signal";
      }));
      EXPECT_TRUE(Await(engine_->Signal(id, "approve", "")).ok());
    }
    EXPECT_EQ(AwaitEnd(id).status(), proto::COMPLETED);
    workflows::Registry today;
    EXPECT_TRUE(flows::Register(today, deps_).ok());
    EXPECT_TRUE(controller::Register(today, deps_).ok());
    auto report = workflows::Replay(today, *journal_, id);
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    return report.ok() ? *report : workflows::ReplayReport{};
  }
};

TEST_F(RepairUpgradeTest, AContainerStartRecordedWithoutTheGamesStartReplaysAsItWas) {
  std::string id = Provision("veteran");
  ASSERT_EQ(AwaitEnd(id).status(), proto::COMPLETED);
  for (const char* repair : {"start_container", "restart_agent"}) {
    workflows::ReplayReport report = RunThenReplay("srv-veteran", repair, 2);
    EXPECT_TRUE(report.matches) << repair << ": " << report.divergence;
    EXPECT_EQ(report.steps_replayed, 3u) << repair;
  }
}

TEST_F(RepairUpgradeTest, ARebuildRecordedInOneStepReplaysAsItWas) {
  std::string id = Provision("veteran");
  ASSERT_EQ(AwaitEnd(id).status(), proto::COMPLETED);
  workflows::ReplayReport report = RunThenReplay("srv-veteran", "rebuild_container", 3);
  EXPECT_TRUE(report.matches) << report.divergence;
}

}  // namespace
}  // namespace zlh::flows

// The repair workflow run directly on the engine over a real zlh-sim: what a repair does when the
// world has moved since it was observed.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "controller/controller.h"
#include "tests/flows_fixture.h"

namespace zlh::flows {
namespace {

namespace json = boost::json;

class RepairFlowTest : public FlowsTest {
 protected:
  void SetUp() override {
    FlowsTest::SetUp();
    ASSERT_TRUE(controller::Register(registry_, deps_).ok());
  }
  std::string StartRepair(const std::string& server_id, const std::string& repair, int level) {
    return StartOk(controller::kRepair,
                   json::serialize(json::object{{"serverId", server_id}, {"repair", repair},
                                                {"level", level}, {"drift", "d"}}));
  }
};

// restart_agent was decided on a container observed running whose container stopped since (or
// whose status and agent were read on either side of its stop). Proxmox refuses to reboot a
// stopped container; the repair starts it, and its game, instead of failing every attempt.
TEST_F(RepairFlowTest, ARestartOfAnAgentWhoseContainerStoppedStartsIt) {
  std::string id = Provision("veteran");
  ASSERT_EQ(AwaitEnd(id).status(), proto::COMPLETED);
  int64_t vmid = Server("srv-veteran").vmid();
  ASSERT_EQ(SimPost("/sim/faults", json::serialize(json::object{{"drift", "container_stopped"},
                                                                {"vmid", vmid}})),
            200);
  proto::WorkflowSummary s = AwaitEnd(StartRepair("srv-veteran", "restart_agent", 2));
  EXPECT_EQ(s.status(), proto::COMPLETED) << s.error().message();
  json::object state = SimState();
  EXPECT_EQ(state["containers"].as_array()[0].at("status").as_string(), "running");
  EXPECT_EQ(state["agents"].as_array()[0].at("workload").as_string(), "running");
}

}  // namespace
}  // namespace zlh::flows

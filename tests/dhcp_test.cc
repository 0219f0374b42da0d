// dhcp mode (SPEC §9.1) end to end on a real zlh-sim: each container gets net0 ip=dhcp on the
// configured bridge and VLAN, its address is read from Proxmox's interfaces after the start (a
// durable poll that outlasts Proxmox not answering) and recorded on the server and in the address
// table in one write; the proxy and the dev A record use it. A lease that the tables hold for
// another server fails the provisioning cleanly instead of giving one address to two servers.
#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "base/ipv4.h"
#include "tests/flows_fixture.h"
#include "workflows/replay.h"

namespace zlh::flows {
namespace {

namespace json = boost::json;

class DhcpTest : public FlowsTest {
 protected:
  std::string Fields() const override {
    return R"("vmids": {"first": 100, "last": 999}, "placement": {"memoryOvercommit": 4},
              "network": {"mode": "dhcp", "bridge": "vmbr1", "vlan": 7})";
  }

  std::vector<std::string> CompletedSteps(const std::string& id) {
    std::vector<std::string> steps;
    for (const auto& e : Events(id)) {
      if (e.has_step_completed()) steps.push_back(e.step_completed().name());
    }
    return steps;
  }
};

TEST_F(DhcpTest, ProvisioningsRecordTheAddressesTheirContainersLeased) {
  // Proxmox answers the first looks at the interfaces with 503: the poll waits and looks again.
  ASSERT_EQ(SimPost("/sim/faults", R"({"call": "proxmox.interfaces", "mode": "error",
                                        "status": 503, "count": 3})"),
            200);
  std::map<std::string, std::string> ids;  // name → workflow
  for (int i = 0; i < 10; ++i) {
    std::string name = "srv" + std::to_string(i);
    ids[name] = Provision(name, i % 5 == 4 ? "dev" : "game", "c-" + std::to_string(i / 5));
  }
  std::set<std::string> addresses;
  std::map<std::string, proto::Server> servers;
  std::set<std::string> nodes;
  for (const auto& [name, id] : ids) {
    proto::WorkflowSummary s = AwaitEnd(id);
    ASSERT_EQ(s.status(), proto::COMPLETED) << name << ": " << s.error().message();
    proto::Server server = Server("srv-" + name);
    auto a = ParseIpv4(server.address());
    ASSERT_TRUE(a.has_value()) << name << " has no address: '" << server.address() << "'";
    EXPECT_TRUE(ParseCidr("127.2.0.0/16")->Contains(*a)) << server.address() << " is no lease";
    EXPECT_TRUE(addresses.insert(server.address()).second) << server.address() << " twice";
    nodes.insert(server.node());
    servers[name] = server;
    // The address is discovered after the start and before the agent is awaited at it.
    std::vector<std::string> steps = CompletedSteps(id);
    auto at = [&](const char* step) { return std::find(steps.begin(), steps.end(), step) - steps.begin(); };
    ASSERT_LT(at("record_address"), static_cast<long>(steps.size())) << name;
    EXPECT_LT(at("start_container"), at("discover_address")) << name;
    EXPECT_EQ(at("discover_address") + 1, at("record_address")) << name;
    EXPECT_LT(at("record_address"), at("wait_agent_ready")) << name;
  }
  EXPECT_EQ(nodes.size(), 2u) << "placement still spreads servers over the nodes";

  json::object state = SimState();
  std::map<int64_t, json::object> containers;
  for (const auto& c : state["containers"].as_array()) {
    containers[c.at("vmid").as_int64()] = c.as_object();
  }
  std::map<std::string, std::string> proxy = ProxyRegistrations(), a_records = ARecords();
  for (const auto& [name, server] : servers) {
    const json::object& c = containers[server.vmid()];
    EXPECT_EQ(c.at("net0"), json::value("name=eth0,bridge=vmbr1,ip=dhcp,tag=7,firewall=1")) << name;
    EXPECT_EQ(c.at("cores").as_int64(), 2) << name;  // the plan still sizes it
    if (server.ctype() == "dev") {
      EXPECT_EQ(a_records[name + ".play.example"], server.address()) << name;
    } else {
      EXPECT_EQ(proxy[name], server.address() + ":25565") << name;
    }
  }
  auto table = fleet::ListAddresses(*journal_);
  ASSERT_TRUE(table.ok());
  EXPECT_EQ(table->size(), 10u);
  auto replay = workflows::Replay(registry_, *journal_, ids.begin()->second);
  ASSERT_TRUE(replay.ok());
  EXPECT_TRUE(replay->matches) << replay->divergence;
  ExpectVerified();
}

// The DHCP server gives a lease the tables hold for another live server (here: that server's
// container vanished behind the engine's back, and its lease with it). Two servers must never
// share an address: the provisioning fails naming the holder, compensates, and leaks nothing.
TEST_F(DhcpTest, ALeaseHeldByAnotherServerFailsTheProvisioningCleanly) {
  ASSERT_EQ(AwaitEnd(Provision("first")).status(), proto::COMPLETED);
  proto::Server first = Server("srv-first");
  ASSERT_EQ(SimPost("/sim/faults", R"({"drift": "container_missing", "vmid": )" +
                                       std::to_string(first.vmid()) + "}"),
            200);

  proto::WorkflowSummary s = AwaitEnd(Provision("second"));
  ASSERT_EQ(s.status(), proto::FAILED);
  EXPECT_EQ(s.error().code(), "failed_precondition");
  EXPECT_NE(s.error().message().find("address " + first.address() + " is recorded for server srv-first"),
            std::string::npos)
      << s.error().message();
  EXPECT_TRUE(s.compensated());
  proto::Server second = Server("srv-second");
  EXPECT_EQ(second.status(), proto::SERVER_FAILED);
  EXPECT_EQ(second.vmid(), 0);
  EXPECT_EQ(second.address(), "");
  auto table = fleet::ListAddresses(*journal_);
  ASSERT_TRUE(table.ok());
  ASSERT_EQ(table->size(), 1u);
  EXPECT_EQ(table->front(), std::make_pair(first.address(), std::string("srv-first")));
  EXPECT_EQ(SimState()["containers"].as_array().size(), 0u) << "the second container was left";
  ExpectVerified();
}

}  // namespace
}  // namespace zlh::flows

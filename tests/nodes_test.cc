// Capacity-aware placement and node drains end to end (SPEC §9.2, §7.1), on a real zlhd and a real
// zlh-sim (its nodes pve1 and pve2 report maxmem 64 GiB each): a drained node gets no new server,
// and the drain survives a restart; with every node drained, or with no node's committed memory
// leaving room for the plan, a provisioning fails with no_capacity, compensated, leaking nothing;
// placement.memoryOvercommit scales the room, and concurrent provisionings never share the last
// of it; bad input to the drain route changes nothing.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <map>
#include <string>

#include "tests/eventually.h"
#include "tests/zlhd_fleet.h"

namespace zlh {
namespace {

namespace json = boost::json;

// Short timings, four provisionings at once, the plans small (4 GiB) and big (24 GiB: two fit in
// a node's 64 GiB, a third does not), and `placement` (a JSON object, or empty).
std::string NodesConfig(const std::string& placement = "") {
  return R"({"timing": {"readinessProbeInterval": "50ms", "leaseHeartbeatInterval": "100ms",
                        "leasePollInterval": "2s"},
             "proxmox": {"taskPollInterval": "10ms"},
             "queues": {"provision": 4},
             "plans": [{"name": "small", "cores": 2, "memoryMb": 4096, "diskGb": 20},
                       {"name": "big", "cores": 8, "memoryMb": 24576, "diskGb": 40}])" +
         (placement.empty() ? "" : R"(, "placement": )" + placement) + "}";
}

class NodesTest : public ::testing::Test {
 protected:
  virtual std::string Config() const { return NodesConfig(); }
  void SetUp() override {
    z_ = std::make_unique<ZlhdOnSim>(tmp_, Config());
    ASSERT_TRUE(z_->Start());
  }

  Fetched Admin(const std::string& method, const std::string& path, const std::string& body = "") {
    return z_->Api(method, path, body, true);
  }
  Fetched Drain(const std::string& node, const std::string& body) {
    return Admin("PUT", "/api/nodes/" + node + "/maintenance", body);
  }
  // Starts a provisioning of `name` (customer c-<name>, so no quota is reached) on `plan`: its
  // workflow id, and the server's id in *server.
  std::string StartProvision(const std::string& name, const std::string& plan,
                             std::string* server = nullptr) {
    json::object body{{"customerId", "c-" + name}, {"ctype", "game"}, {"requestNonce", "n"},
                      {"game", "vanilla"},         {"plan", plan},    {"name", name}};
    Fetched f = z_->Api("POST", "/api/servers/create", json::serialize(body));
    EXPECT_EQ(f.status, 202) << f.body;
    json::object a = ZlhdOnSim::Body(f);
    if (server) *server = std::string(a["serverId"].as_string());
    return std::string(a["workflowId"].as_string());
  }
  // The same, waiting for its end: its status.
  std::string Provision(const std::string& name, const std::string& plan,
                        std::string* server = nullptr) {
    workflow_ = StartProvision(name, plan, server);
    return z_->AwaitWorkflow(workflow_);
  }
  // The node `name`'s server was placed on (provisioned by Provision).
  std::string NodeOf(const std::string& name) {
    Fetched f = z_->Api("GET", "/api/servers?customerId=c-" + name);
    json::array servers = ZlhdOnSim::Body(f)["servers"].as_array();
    EXPECT_EQ(servers.size(), 1u) << f.body;
    return servers.empty() ? "" : std::string(servers[0].at("node").as_string());
  }
  // GET /api/nodes, by node name.
  std::map<std::string, json::object> Nodes() {
    Fetched f = Admin("GET", "/api/nodes");
    EXPECT_EQ(f.status, 200) << f.body;
    std::map<std::string, json::object> out;
    json::object body = ZlhdOnSim::Body(f);  // kept: the loop must not run over a temporary
    for (const auto& n : body["nodes"].as_array()) {
      out[std::string(n.at("node").as_string())] = n.as_object();
    }
    return out;
  }
  // The last provisioning's error {code, message}.
  json::object LastError() {
    return ZlhdOnSim::Body(Admin("GET", "/api/workflows/" + workflow_))["error"].as_object();
  }
  int Verify() {
    std::string cmd =
        std::string(ZLH_JOURNAL) + " --data " + z_->data() + " verify > /dev/null 2>&1";
    int rc = std::system(cmd.c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  }
  size_t Containers() { return z_->SimState()["containers"].as_array().size(); }

  TempDir tmp_;
  std::unique_ptr<ZlhdOnSim> z_;
  std::string workflow_;  // the last provisioning's
};

TEST_F(NodesTest, ADrainedNodeGetsNoNewServerEvenAfterARestart) {
  Fetched on = Drain("pve1", R"({"on": true, "reason": "kernel upgrade"})");
  ASSERT_EQ(on.status, 200) << on.body;
  EXPECT_EQ(ZlhdOnSim::Body(on)["node"].as_string(), "pve1");
  EXPECT_TRUE(ZlhdOnSim::Body(on)["on"].as_bool());
  ASSERT_EQ(z_->Stop(), 0);
  ASSERT_TRUE(z_->Start());

  // Without the drain the fewest-servers order would alternate between the nodes.
  for (const char* name : {"one", "two", "three"}) {
    ASSERT_EQ(Provision(name, "small"), "completed");
    EXPECT_EQ(NodeOf(name), "pve2") << name;
  }
  auto nodes = Nodes();
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_TRUE(nodes["pve1"]["drained"].as_bool());
  EXPECT_EQ(nodes["pve1"]["drainReason"].as_string(), "kernel upgrade");
  EXPECT_TRUE(nodes["pve1"]["drainedSince"].is_string());
  EXPECT_EQ(nodes["pve1"]["servers"].as_int64(), 0);
  EXPECT_EQ(nodes["pve2"]["status"].as_string(), "online");
  EXPECT_FALSE(nodes["pve2"]["drained"].as_bool());
  EXPECT_TRUE(nodes["pve2"]["drainedSince"].is_null());
  EXPECT_EQ(nodes["pve2"]["servers"].as_int64(), 3);
  EXPECT_EQ(nodes["pve2"]["committedMemoryMb"].as_int64(), 3 * 4096);
  EXPECT_EQ(nodes["pve2"]["maxmemMb"].as_int64(), 65536);
  EXPECT_EQ(nodes["pve2"]["memoryLimitMb"].as_int64(), 65536);

  // Both drained: no node fits; the provisioning compensates and leaks nothing.
  ASSERT_EQ(Drain("pve2", R"({"on": true})").status, 200);
  std::string refused;
  EXPECT_EQ(Provision("four", "small", &refused), "failed");
  json::object error = LastError();
  EXPECT_EQ(error["code"].as_string(), "no_capacity");
  std::string message(error["message"].as_string());
  EXPECT_NE(message.find("pve1: drained (kernel upgrade)"), std::string::npos) << message;
  EXPECT_NE(message.find("pve2: drained"), std::string::npos) << message;
  // The workflow's status is answered as its end is written: the server's record follows.
  json::object server;
  EXPECT_TRUE(Eventually([&] {
    server = ZlhdOnSim::Body(z_->Api("GET", "/api/servers/" + refused + "?customerId=c-four"));
    return server["status"] == "failed";
  })) << json::serialize(server);
  EXPECT_EQ(server["vmid"].as_int64(), 0);
  EXPECT_EQ(server["address"].as_string(), "");
  EXPECT_EQ(Containers(), 3u);
  EXPECT_TRUE(Eventually([&] { return !z_->Messages("alerts-provisioning").empty(); }));

  // Ending pve1's drain: it takes the next server.
  ASSERT_EQ(Drain("pve1", R"({"on": false})").status, 200);
  ASSERT_EQ(Provision("five", "small"), "completed");
  EXPECT_EQ(NodeOf("five"), "pve1");
  EXPECT_FALSE(Nodes()["pve1"]["drained"].as_bool());
  EXPECT_EQ(Verify(), 0);
}

TEST_F(NodesTest, BadInputToTheDrainRouteChangesNothing) {
  ASSERT_EQ(Drain("pve1", R"({"on": true, "reason": "disk swap"})").status, 200);
  std::string before = Admin("GET", "/api/nodes").body;
  struct Case {
    Fetched got;
    long status;
    const char* says;
  };
  for (const Case& c : {
           Case{Drain("pve1", R"({"on": "no"})"), 400, "on: must be"},
           Case{Drain("pve1", R"({"reason": "x"})"), 400, "on: required"},
           Case{Drain("pve1", R"({"on": false, "until": "monday"})"), 400, "until"},
           Case{Drain("pve1", R"({"on": false, "reason": 7})"), 400, "reason: must be"},
           Case{Drain("pve1", R"({"on": false)"), 400, "invalid_argument"},
           Case{Drain("pve1", R"([false])"), 400, "invalid_argument"},
           Case{Drain("pve9", R"({"on": true})"), 404,
                "node 'pve9' is not one the hypervisor reports (pve1, pve2)"},
           Case{Drain("pve9", R"({"on": false})"), 404, "pve9"},
           Case{z_->Api("PUT", "/api/nodes/pve1/maintenance", R"({"on": false})"), 403,
                "permission_denied"},
           Case{Fetch("PUT", "http://" + z_->addr() + "/api/nodes/pve1/maintenance",
                      R"({"on": false})", {"Content-Type: application/json"}),
                401, "unauthenticated"},
           Case{z_->Api("GET", "/api/nodes"), 403, "permission_denied"},
           Case{Admin("POST", "/api/nodes/pve1/maintenance", R"({"on": false})"), 405, ""},
       }) {
    EXPECT_EQ(c.got.status, c.status) << c.got.body;
    EXPECT_NE(c.got.body.find(c.says), std::string::npos) << c.got.body;
  }
  Fetched plain =
      Fetch("PUT", "http://" + z_->addr() + "/api/nodes/pve1/maintenance", R"({"on": false})",
            {"Authorization: Bearer " + z_->admin_token(), "Content-Type: text/plain"});
  EXPECT_EQ(plain.status, 415) << plain.body;
  EXPECT_EQ(Admin("GET", "/api/nodes").body, before);
  // One input on pve1's stream, the first PUT's: verify folds the drain table from it.
  EXPECT_EQ(Verify(), 0);
  std::string count = std::string(ZLH_JOURNAL) + " --data " + z_->data() +
                      " export | grep -c '\"drain\"' | grep -qx 1";
  EXPECT_EQ(std::system(count.c_str()), 0);
}

// A node takes a server only while its committed memory plus the plan's stays within its maxmem:
// the third big server does not go to pve1 (fewer servers than pve2, but full), the fifth fits
// nowhere.
TEST_F(NodesTest, ANodeWithoutRoomForThePlanIsPassedOverThenNoCapacity) {
  // pve2 first holds three small servers (12 GiB), placed there by a drain of pve1.
  ASSERT_EQ(Drain("pve1", R"({"on": true})").status, 200);
  for (const char* name : {"s-one", "s-two", "s-three"}) {
    ASSERT_EQ(Provision(name, "small"), "completed");
  }
  ASSERT_EQ(Drain("pve1", R"({"on": false})").status, 200);

  ASSERT_EQ(Provision("b-one", "big"), "completed");
  ASSERT_EQ(Provision("b-two", "big"), "completed");
  EXPECT_EQ(NodeOf("b-one"), "pve1");
  EXPECT_EQ(NodeOf("b-two"), "pve1");  // 48 GiB of 64 committed on pve1 now
  ASSERT_EQ(Provision("b-three", "big"), "completed");
  EXPECT_EQ(NodeOf("b-three"), "pve2");  // pve1 has fewer servers, but no room for 24 GiB
  ASSERT_EQ(Provision("b-four", "big"), "completed");
  EXPECT_EQ(NodeOf("b-four"), "pve2");  // 12 + 24 + 24 = 60 GiB

  EXPECT_EQ(Provision("b-five", "big"), "failed");
  json::object error = LastError();
  EXPECT_EQ(error["code"].as_string(), "no_capacity");
  std::string message(error["message"].as_string());
  EXPECT_NE(message.find("pve1: 49152 of 65536 MB committed, the plan needs 24576"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("pve2: 61440 of 65536 MB committed"), std::string::npos) << message;
  EXPECT_EQ(Containers(), 7u);
  auto nodes = Nodes();
  EXPECT_EQ(nodes["pve1"]["committedMemoryMb"].as_int64(), 49152);
  EXPECT_EQ(nodes["pve2"]["committedMemoryMb"].as_int64(), 61440);
  EXPECT_EQ(nodes["pve2"]["servers"].as_int64(), 5);

  // A small one still fits (pve1: 48 + 4 GiB); a deletion makes room for a big one again.
  ASSERT_EQ(Provision("s-four", "small"), "completed");
  EXPECT_EQ(NodeOf("s-four"), "pve1");
  json::object listed = ZlhdOnSim::Body(z_->Api("GET", "/api/servers?customerId=c-b-one"));
  ASSERT_EQ(listed["servers"].as_array().size(), 1u);
  std::string gone(listed["servers"].as_array()[0].at("serverId").as_string());
  Fetched del = z_->Api("DELETE", "/api/servers/" + gone + "?customerId=c-b-one");
  ASSERT_EQ(del.status, 202) << del.body;
  ASSERT_EQ(z_->AwaitWorkflow(std::string(ZlhdOnSim::Body(del)["workflowId"].as_string())),
            "completed");
  ASSERT_EQ(Provision("b-six", "big"), "completed");
  EXPECT_EQ(NodeOf("b-six"), "pve1");
  EXPECT_EQ(Verify(), 0);
}

class HalfOvercommitTest : public NodesTest {
 protected:
  std::string Config() const override { return NodesConfig(R"({"memoryOvercommit": 0.5})"); }
};

// memoryOvercommit 0.5: a node may commit 32 GiB, one big server (with 1.0 it would take two).
// Three provisionings at once: the room is taken in the same write as the VMID, so exactly two
// get it, one on each node, and the third fails with no_capacity.
TEST_F(HalfOvercommitTest, TheOvercommitRatioScalesEachNodesRoomAndConcurrentOnesNeverShareIt) {
  std::map<std::string, std::string> workflows;  // name → workflow
  for (const char* name : {"b-one", "b-two", "b-three"})
    workflows[name] = StartProvision(name, "big");
  std::map<std::string, std::string> nodes;  // node → the name placed there
  int failed = 0;
  for (const auto& [name, id] : workflows) {
    if (z_->AwaitWorkflow(id) == "completed") {
      EXPECT_TRUE(nodes.emplace(NodeOf(name), name).second)
          << "two big servers on " << NodeOf(name);
      continue;
    }
    ++failed;
    workflow_ = id;
    EXPECT_EQ(LastError()["code"].as_string(), "no_capacity");
  }
  EXPECT_EQ(failed, 1);
  EXPECT_EQ(nodes.size(), 2u);
  Fetched f = Admin("GET", "/api/nodes");
  EXPECT_EQ(ZlhdOnSim::Body(f)["memoryOvercommit"].as_double(), 0.5);
  EXPECT_EQ(Nodes()["pve1"]["memoryLimitMb"].as_int64(), 32768);
  EXPECT_EQ(Containers(), 2u);
  EXPECT_EQ(Verify(), 0);
}

}  // namespace
}  // namespace zlh

// The controller end to end (SPEC §6.1, §6.2, §6.5): zlhd reconciling a zlh-sim every 300 ms over
// real HTTP. Each drift injected through /sim/faults gets, within a few ticks, the right repair or
// notification — and nothing else happens.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>

#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "api/admin_api.h"
#include "base/clock.h"
#include "tests/eventually.h"
#include "tests/zlhd_fleet.h"

namespace zlh {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

// The repair workflow waiting for an operator's approval, once there is one ("" if none came).
std::string AwaitProposal(ZlhdOnSim& z) {
  std::string found;
  EXPECT_TRUE(Eventually([&] {
    json::object page = z.Body(z.Api("GET", "/api/workflows?type=repair", "", true));
    for (const auto& w : page["workflows"].as_array()) {
      const json::value& waiting = w.at("waitingFor");
      if (waiting.is_object() && waiting.at("kind").as_string() == "signal" &&
          waiting.at("detail").as_string() == "approve") {
        found = std::string(w.at("workflowId").as_string());
      }
    }
    return !found.empty();
  }));
  return found;
}

// Customer c-1's server alpha, provisioned: its VMID (0 when it failed).
int64_t ProvisionAlpha(ZlhdOnSim& z) {
  json::object a = z.Body(z.Create("c-1", "n1", "alpha"));
  EXPECT_EQ(z.AwaitWorkflow(std::string(a["workflowId"].as_string())), "completed");
  return z.Body(z.Api("GET", "/api/servers/" + std::string(a["serverId"].as_string()) +
                              "?customerId=c-1"))["vmid"].as_int64();
}

class ControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(z_.Start());
    json::object a = z_.Body(z_.Create("c-1", "n1", "alpha"));
    ASSERT_EQ(z_.AwaitWorkflow(std::string(a["workflowId"].as_string())), "completed");
    server_ = std::string(a["serverId"].as_string());
    vmid_ = z_.Body(z_.Api("GET", "/api/servers/" + server_ + "?customerId=c-1"))["vmid"].as_int64();
    baseline_ = Mutations().size();
  }

  json::array Mutations() { return z_.SimState()["mutations"].as_array(); }
  // The mutating calls made on the fleet since the drift was injected (notifications apart: the
  // tests check those by channel).
  std::vector<std::string> CallsSinceBaseline() {
    std::vector<std::string> calls;
    json::array m = Mutations();
    for (size_t i = baseline_; i < m.size(); ++i) {
      std::string call(m[i].at("call").as_string());
      if (call != "discord.post") calls.push_back(call);
    }
    return calls;
  }
  std::vector<json::object> Messages(const std::string& channel) { return z_.Messages(channel); }
  long Drift(const std::string& drift, bool clear = false) {
    json::object body{{"drift", drift}, {"vmid", vmid_}};
    if (clear) body["clear"] = true;
    return z_.SimPost("/sim/faults", json::serialize(body));
  }
  size_t DnsRecordsNamed(const std::string& name) {
    size_t n = 0;
    json::object state = z_.SimState();
    for (const auto& r : state["dnsRecords"].as_array()) {
      n += r.at("name").as_string() == name;
    }
    return n;
  }
  // Waits for `ticks` more reconcile workflows to complete.
  void WaitTicks(int ticks) {
    auto count = [&] {
      json::object page = z_.Body(z_.Api("GET", "/api/workflows?type=reconcile&status=completed&limit=1000", "", true));
      return page["workflows"].as_array().size();
    };
    size_t start = count();
    ASSERT_TRUE(Eventually([&] { return count() >= start + static_cast<size_t>(ticks); }));
  }

  TempDir tmp_;
  ZlhdOnSim z_{tmp_, ControllerConfig()};
  std::string server_;
  int64_t vmid_ = 0;
  size_t baseline_ = 0;
};

TEST_F(ControllerTest, AMissingDnsRecordIsRepublished) {
  ASSERT_EQ(Drift("dns_missing"), 200);
  ASSERT_EQ(DnsRecordsNamed("alpha.play.example"), 0u);
  ASSERT_TRUE(Eventually([&] { return DnsRecordsNamed("alpha.play.example") == 1; }));
  EXPECT_TRUE(Eventually([&] { return Messages("alerts-repairs").size() == 1; }));
  WaitTicks(2);  // and it stays repaired, with nothing else done
  ASSERT_TRUE(z_.AwaitDelivered());
  for (const auto& call : CallsSinceBaseline()) EXPECT_EQ(call, "dns.publish");
  EXPECT_EQ(Messages("alerts-repairs").size(), 1u);
  EXPECT_FALSE(Messages("alerts-repairs")[0].at("ping").as_bool());
  EXPECT_FALSE(Messages("audit-log").empty());
  // GET /api/controller explains it: which drift, which rule, which action, which workflow.
  json::object c = z_.Body(z_.Api("GET", "/api/controller", "", true));
  EXPECT_FALSE(c["lastTickAt"].is_null());
  bool explained = false;
  for (const auto& d : c["lastDecisions"].as_array()) {
    explained |= d.at("serverId").as_string() == server_ && d.at("drift").as_string() == "dns_missing" &&
                 d.at("action").as_string() == "repair" && d.at("workflowId").is_string() &&
                 !d.at("rule").as_string().empty();
  }
  EXPECT_TRUE(explained) << json::serialize(c);
}

TEST_F(ControllerTest, AMissingProxyRegistrationIsRestored) {
  ASSERT_EQ(Drift("proxy_missing"), 200);
  ASSERT_TRUE(Eventually([&] { return z_.SimState()["proxyRegistrations"].as_array().size() == 1; }));
  WaitTicks(2);
  ASSERT_TRUE(z_.AwaitDelivered());
  for (const auto& call : CallsSinceBaseline()) EXPECT_EQ(call, "proxy.register");
  EXPECT_EQ(Messages("alerts-repairs").size(), 1u);
}

// restart_agent is level 2, above the default maximum: one ping to #alerts-critical per incident,
// and no reboot.
TEST_F(ControllerTest, AnOfflineAgentAboveTheAllowedLevelIsAlertedOnceNotRepaired) {
  ASSERT_EQ(Drift("agent_offline"), 200);
  ASSERT_TRUE(Eventually([&] { return Messages("alerts-critical").size() == 1; }));
  WaitTicks(3);
  ASSERT_TRUE(z_.AwaitDelivered());
  std::vector<json::object> critical = Messages("alerts-critical");
  std::string seen;
  for (const auto& m : critical) seen += "\n" + json::serialize(m);
  EXPECT_EQ(critical.size(), 1u) << "alerted more than once per incident:" << seen;
  EXPECT_TRUE(critical[0].at("ping").as_bool());
  EXPECT_TRUE(CallsSinceBaseline().empty()) << "it acted above its level";
}

// A game that stopped while its server should run is level 2 (restart_workload): at the default
// level 1 it is alerted once, and the game is not touched.
TEST_F(ControllerTest, AStoppedGameAboveTheAllowedLevelIsAlertedOnceNotRestarted) {
  ASSERT_EQ(Drift("workload_stopped"), 200);
  ASSERT_TRUE(Eventually([&] { return Messages("alerts-critical").size() == 1; }));
  WaitTicks(3);
  ASSERT_TRUE(z_.AwaitDelivered());
  EXPECT_EQ(Messages("alerts-critical").size(), 1u) << "alerted more than once per incident";
  EXPECT_NE(std::string(Messages("alerts-critical")[0].at("content").as_string()).find("restart_workload"),
            std::string::npos);
  EXPECT_TRUE(CallsSinceBaseline().empty()) << "it acted above its level";
  EXPECT_EQ(z_.SimState()["agents"].as_array()[0].at("workload").as_string(), "stopped");
}

// A drift held back by maintenance is only noted; repaired once maintenance ends.
TEST_F(ControllerTest, MaintenanceHoldsARepairBackUntilItEnds) {
  ASSERT_EQ(z_.Api("PUT", "/api/servers/" + server_ + "/maintenance", R"({"on":true,"reason":"t"})", true).status, 200);
  ASSERT_EQ(Drift("dns_missing"), 200);
  WaitTicks(3);
  EXPECT_EQ(DnsRecordsNamed("alpha.play.example"), 0u) << "repaired during maintenance";
  EXPECT_TRUE(CallsSinceBaseline().empty());
  ASSERT_TRUE(z_.AwaitDelivered());
  bool noted = false;
  for (const auto& m : Messages("audit-log")) {
    noted |= std::string(m.at("content").as_string()).find("dns_missing → held") != std::string::npos;
  }
  EXPECT_TRUE(noted);
  ASSERT_EQ(z_.Api("PUT", "/api/servers/" + server_ + "/maintenance", R"({"on":false})", true).status, 200);
  EXPECT_TRUE(Eventually([&] { return DnsRecordsNamed("alpha.play.example") == 1; }));
}

// A missing container is level 3: proposed to #alerts-critical with a ping, and rebuilt only once
// an operator approves the proposal (zlh-journal approve → POST /api/repairs/{id}/approve): from
// its newest backup, which the proposal names.
TEST_F(ControllerTest, AMissingContainerIsProposedAndRebuiltOnlyOnApproval) {
  Fetched backup = z_.Api("POST", "/api/servers/" + server_ + "/operations",
                          R"({"customerId":"c-1","op":"backup","requestNonce":"b1"})");
  ASSERT_EQ(z_.AwaitWorkflow(std::string(z_.Body(backup)["workflowId"].as_string())), "completed");
  baseline_ = Mutations().size();
  ASSERT_EQ(Drift("container_missing"), 200);
  std::string repair = AwaitProposal(z_);
  ASSERT_FALSE(repair.empty());
  ASSERT_TRUE(z_.AwaitDelivered());  // the proposal, recorded as the repair began its wait
  ASSERT_EQ(Messages("alerts-critical").size(), 1u);
  EXPECT_TRUE(Messages("alerts-critical")[0].at("ping").as_bool());
  EXPECT_NE(std::string(Messages("alerts-critical")[0].at("content").as_string()).find(repair),
            std::string::npos) << "the proposal does not say how to approve it";
  EXPECT_NE(std::string(Messages("alerts-critical")[0].at("content").as_string())
                .find("local:backup/vzdump-lxc-" + std::to_string(vmid_)),
            std::string::npos) << "the proposal does not name the backup it would restore";
  WaitTicks(2);  // one open candidate: no second proposal, and nothing done
  EXPECT_EQ(z_.Body(z_.Api("GET", "/api/workflows?type=repair", "", true))["workflows"].as_array().size(), 1u);
  EXPECT_TRUE(z_.SimState()["containers"].as_array().empty());
  EXPECT_EQ(z_.Api("POST", "/api/repairs/" + repair + "/approve", "", false).status, 403);  // portal
  // The operator approves with zlh-journal, which takes it to the daemon's API.
  int approved = std::system((std::string(ZLH_JOURNAL) + " --server http://" + z_.addr() +
                              " --token-file " + z_.data() + "/tokens approve " + repair +
                              " > /dev/null").c_str());
  ASSERT_EQ(approved, 0);
  EXPECT_EQ(z_.AwaitWorkflow(repair), "completed");
  json::object state = z_.SimState();
  json::array containers = state["containers"].as_array();
  ASSERT_EQ(containers.size(), 1u);
  EXPECT_EQ(containers[0].at("hostname").as_string(), "alpha");
  EXPECT_EQ(containers[0].at("vmid").as_int64(), vmid_);
  EXPECT_EQ(containers[0].at("status").as_string(), "running");
  EXPECT_EQ(containers[0].at("restoredFrom").as_string(), "local:backup/vzdump-lxc-" + std::to_string(vmid_));
  json::object server = z_.Body(z_.Api("GET", "/api/servers/" + server_ + "?customerId=c-1"));
  EXPECT_NE(std::string(containers[0].at("net0").as_string()).find("ip=" + std::string(server["address"].as_string()) + "/"),
            std::string::npos) << "the restored container lost its network";
  // Its world came back with it: no install, the game started.
  EXPECT_EQ(state["agents"].as_array()[0].at("workload").as_string(), "running");
  for (const auto& call : CallsSinceBaseline()) {
    EXPECT_TRUE(call != "proxmox.create" && call != "agent.install") << call << ": not from its backup";
  }
  EXPECT_EQ(z_.Api("POST", "/api/repairs/" + repair + "/approve", "", true).status, 409);
}

// With no backup, an approval alone cannot rebuild (it would be an empty world): the repair says
// so and waits for another approval; approved with --from-template, it clones the template,
// installs the game and starts it.
TEST_F(ControllerTest, AMissingContainerWithNoBackupIsRebuiltFromItsTemplateOnlyWhenSaidSo) {
  ASSERT_EQ(Drift("container_missing"), 200);
  std::string repair = AwaitProposal(z_);
  ASSERT_FALSE(repair.empty());
  ASSERT_TRUE(z_.AwaitDelivered());
  ASSERT_FALSE(Messages("alerts-critical").empty());
  EXPECT_NE(std::string(Messages("alerts-critical")[0].at("content").as_string()).find("no backup"),
            std::string::npos) << "the proposal does not say there is nothing to restore";
  ASSERT_EQ(z_.Api("POST", "/api/repairs/" + repair + "/approve", "", true).status, 200);
  // Told why not, and waiting for approval again; nothing done.
  ASSERT_TRUE(Eventually([&] { return Messages("alerts-critical").size() == 2; }));
  EXPECT_NE(std::string(Messages("alerts-critical")[1].at("content").as_string()).find("--from-template"),
            std::string::npos);
  ASSERT_TRUE(Eventually([&] {
    json::object w = z_.Body(z_.Api("GET", "/api/workflows/" + repair, "", true));
    return w["waitingFor"].is_object() && w["waitingFor"].at("detail").as_string() == "approve";
  }));
  EXPECT_TRUE(z_.SimState()["containers"].as_array().empty());
  int approved = std::system((std::string(ZLH_JOURNAL) + " --server http://" + z_.addr() +
                              " --token-file " + z_.data() + "/tokens approve " + repair +
                              " --from-template > /dev/null").c_str());
  ASSERT_EQ(approved, 0);
  EXPECT_EQ(z_.AwaitWorkflow(repair), "completed");
  json::object state = z_.SimState();
  ASSERT_EQ(state["containers"].as_array().size(), 1u);
  EXPECT_TRUE(state["containers"].as_array()[0].at("restoredFrom").is_null());
  EXPECT_EQ(state["agents"].as_array()[0].at("workload").as_string(), "running");
  std::vector<std::string> calls = CallsSinceBaseline();
  EXPECT_NE(std::find(calls.begin(), calls.end(), "proxmox.create"), calls.end());
  EXPECT_NE(std::find(calls.begin(), calls.end(), "agent.install"), calls.end());
}

// Billing enforcement (housekeeping): a suspended customer's running server is stopped by an
// operation with reason billing, started again on reactivation; billing that says otherwise than
// the webhooks is applied and alerted. #alerts-billing hears of it all.
TEST_F(ControllerTest, BillingIsEnforcedAndAMissedWebhookIsNoticed) {
  auto webhook = [&](const std::string& id, const std::string& type) {
    std::string body = R"({"id":")" + id + R"(","type":")" + type +
                       R"(","customerId":"c-1","createdAt":"2026-11-27T10:00:00Z"})";
    return Fetch("POST", "http://" + z_.addr() + "/api/billing/webhook", body,
                 {"Content-Type: application/json",
                  "X-ZLH-Signature: " + api::SignWebhook(body, z_.webhook_secret(), NowMs() / 1000)})
        .status;
  };
  auto status = [&] {
    return std::string(z_.Body(z_.Api("GET", "/api/servers/" + server_ + "?customerId=c-1"))["status"].as_string());
  };
  // Billing itself must agree, or the controller would apply billing's word.
  ASSERT_EQ(z_.SimPost("/sim/billing", R"({"customerId": "c-1", "status": "suspended"})"), 200);
  ASSERT_EQ(webhook("evt_1", "customer.suspended"), 200);
  ASSERT_TRUE(Eventually([&] { return status() == "stopped"; }));
  EXPECT_EQ(z_.SimState()["containers"].as_array()[0].at("status").as_string(), "stopped");
  // The enforcement's own message (a tick between the two calls above may first see billing and
  // the webhooks disagree, and ping about that: the order of the two messages is not the point).
  auto enforcement = [&]() -> std::optional<json::object> {
    for (const auto& m : Messages("alerts-billing")) {
      if (std::string(m.at("content").as_string()).rfind("Billing enforcement:", 0) == 0) return m;
    }
    return std::nullopt;
  };
  ASSERT_TRUE(Eventually([&] { return enforcement().has_value(); }));
  EXPECT_FALSE(enforcement()->at("ping").as_bool());

  ASSERT_EQ(z_.SimPost("/sim/billing", R"({"customerId": "c-1", "status": "active"})"), 200);
  ASSERT_EQ(webhook("evt_2", "customer.reactivated"), 200);
  ASSERT_TRUE(Eventually([&] { return status() == "running"; }));

  // Suspended behind the webhooks' back: applied, alerted with a ping, enforced.
  ASSERT_EQ(z_.SimPost("/sim/billing", R"({"customerId": "c-1", "status": "suspended"})"), 200);
  ASSERT_TRUE(Eventually([&] { return status() == "stopped"; }));
  ASSERT_TRUE(z_.AwaitDelivered());  // the alert was recorded before the stop began
  bool missed = false;
  for (const auto& m : Messages("alerts-billing")) {
    missed |= m.at("ping").as_bool() &&
              std::string(m.at("content").as_string()).find("webhook was missed") != std::string::npos;
  }
  EXPECT_TRUE(missed);
  EXPECT_EQ(z_.Create("c-1", "n2", "bravo").status, 402);  // the journal now knows it too
}

// A provisioning silent past its limit is failed cleanly (it compensates: no container, VMID
// released); another workflow silent past its limit is alerted once.
TEST(ControllerStuckTest, AStuckProvisioningIsFailedAndAStuckOperationAlerted) {
  TempDir tmp;
  ZlhdOnSim z(tmp, R"({
    "timing": {"readinessProbeInterval": "50ms"},
    "proxmox": {"taskPollInterval": "10ms", "requestTimeout": "3s"},
    "agent": {"requestTimeout": "3s"},
    "controller": {"reconcileInterval": "300ms", "stuckProvisioning": "1s", "stuckWorkflow": "1s"}
  })");
  ASSERT_TRUE(z.Start());
  // The install hangs past the agent's timeout: no event for 3 s.
  ASSERT_EQ(z.SimPost("/sim/faults", R"({"call": "agent.install", "mode": "timeout", "count": 1, "latencyMs": 10000})"), 200);
  json::object a = z.Body(z.Create("c-1", "n1", "alpha"));
  std::string id(a["workflowId"].as_string());
  EXPECT_EQ(z.AwaitWorkflow(id), "cancelled");
  json::object server = z.Body(z.Api("GET", "/api/servers/" + std::string(a["serverId"].as_string()) + "?customerId=c-1"));
  EXPECT_EQ(server["status"].as_string(), "failed");
  EXPECT_EQ(server["vmid"].as_int64(), 0);
  EXPECT_TRUE(Eventually([&] { return z.SimState()["containers"].as_array().empty(); }));

  // An operation whose call hangs: alerted once, left to finish.
  json::object b = z.Body(z.Create("c-1", "n2", "bravo"));
  ASSERT_EQ(z.AwaitWorkflow(std::string(b["workflowId"].as_string())), "completed");
  ASSERT_EQ(z.SimPost("/sim/faults", R"({"call": "backup.run", "mode": "latency", "count": 1, "latencyMs": 2500})"), 200);
  Fetched op = z.Api("POST", "/api/servers/" + std::string(b["serverId"].as_string()) + "/operations",
                     R"({"customerId":"c-1","op":"backup","requestNonce":"b1"})");
  ASSERT_EQ(op.status, 202);
  std::string op_id(z.Body(op)["workflowId"].as_string());
  EXPECT_EQ(z.AwaitWorkflow(op_id), "completed");
  ASSERT_TRUE(z.AwaitDelivered());
  size_t alerts = 0;
  json::object state = z.SimState();
  for (const auto& m : state["discordMessages"].as_array()) {
    if (m.at("channel").as_string() == "alerts-critical" &&
        std::string(m.at("content").as_string()).find(op_id) != std::string::npos) {
      ++alerts;
    }
  }
  EXPECT_EQ(alerts, 1u);
}

// At level 2 a crashed game is started again through its agent, and only that is done.
TEST(ControllerLevelTwoTest, ACrashedGameIsRestartedThroughItsAgent) {
  TempDir tmp;
  ZlhdOnSim z(tmp, ControllerConfig(R"("maxRepairLevel": 2)"));
  ASSERT_TRUE(z.Start());
  int64_t vmid = ProvisionAlpha(z);
  ASSERT_GT(vmid, 0);
  size_t baseline = z.SimState()["mutations"].as_array().size();
  ASSERT_EQ(z.SimPost("/sim/faults", json::serialize(json::object{{"drift", "workload_crashed"},
                                                                   {"vmid", vmid}})),
            200);
  auto workload = [&] { return std::string(z.SimState()["agents"].as_array()[0].at("workload").as_string()); };
  ASSERT_EQ(workload(), "crashed");
  ASSERT_TRUE(Eventually([&] { return workload() == "running"; }));
  ASSERT_TRUE(Eventually([&] { return !z.Messages("alerts-repairs").empty(); }));
  EXPECT_NE(std::string(z.Messages("alerts-repairs")[0].at("content").as_string()).find("restart_workload"),
            std::string::npos);
  json::array m = z.SimState()["mutations"].as_array();
  for (size_t i = baseline; i < m.size(); ++i) {
    std::string call(m[i].at("call").as_string());
    if (call != "discord.post") EXPECT_EQ(call, "agent.workload") << "it did more than start the game";
  }
}

// Level 2 allowed: an offline agent's restart_agent (a reboot) that fails 3 times is alerted once
// and restore_backup is proposed; approved, the newest backup is restored and the server runs its
// game again.
TEST(ControllerLevelTwoTest, ARepairFailingThreeTimesProposesARestore) {
  TempDir tmp;
  ZlhdOnSim z(tmp, ControllerConfig(R"("maxRepairLevel": 2)"));
  ASSERT_TRUE(z.Start());
  json::object a = z.Body(z.Create("c-1", "n1", "alpha"));
  ASSERT_EQ(z.AwaitWorkflow(std::string(a["workflowId"].as_string())), "completed");
  std::string server(a["serverId"].as_string());
  Fetched backup = z.Api("POST", "/api/servers/" + server + "/operations",
                         R"({"customerId":"c-1","op":"backup","requestNonce":"b1"})");
  ASSERT_EQ(z.AwaitWorkflow(std::string(z.Body(backup)["workflowId"].as_string())), "completed");
  int64_t vmid = z.Body(z.Api("GET", "/api/servers/" + server + "?customerId=c-1"))["vmid"].as_int64();
  ASSERT_EQ(z.SimPost("/sim/faults", R"({"call": "proxmox.reboot", "mode": "error", "count": 1000, "status": 400})"), 200);
  ASSERT_EQ(z.SimPost("/sim/faults", json::serialize(json::object{{"drift", "agent_offline"}, {"vmid", vmid}})), 200);
  std::string proposal = AwaitProposal(z);
  ASSERT_FALSE(proposal.empty());
  ASSERT_TRUE(z.AwaitDelivered());  // the alert and the proposal, recorded before the wait
  json::object state = z.SimState();
  size_t failed_alerts = 0, proposals = 0;
  for (const auto& m : state["discordMessages"].as_array()) {
    std::string content(m.at("content").as_string());
    if (m.at("channel").as_string() != "alerts-critical") continue;
    failed_alerts += content.find("failed 3 times") != std::string::npos && content.find("Proposed") == std::string::npos;
    proposals += content.find("Proposed restore_backup") != std::string::npos;
  }
  EXPECT_EQ(failed_alerts, 1u);
  EXPECT_EQ(proposals, 1u);
  // Only a rebuild may come from a template: this approval is refused and changes nothing.
  Fetched wrong = z.Api("POST", "/api/repairs/" + proposal + "/approve", R"({"fromTemplate":true})", true);
  EXPECT_EQ(wrong.status, 400);
  EXPECT_NE(wrong.body.find("restore_backup"), std::string::npos) << wrong.body;
  EXPECT_EQ(z.Api("POST", "/api/repairs/" + proposal + "/approve", R"({"fromTemplate":"yes"})", true).status, 400);
  EXPECT_EQ(z.Api("POST", "/api/repairs/" + proposal + "/approve", R"({"later":true})", true).status, 400);
  json::object waiting = z.Body(z.Api("GET", "/api/workflows/" + proposal, "", true));
  EXPECT_EQ(waiting["waitingFor"].at("detail").as_string(), "approve") << "a refused approval acted";
  ASSERT_EQ(z.Api("POST", "/api/repairs/" + proposal + "/approve", "", true).status, 200);
  EXPECT_EQ(z.AwaitWorkflow(proposal), "completed");
  bool restored = false;
  json::object after = z.SimState();
  for (const auto& m : after["mutations"].as_array()) {
    restored |= m.at("call").as_string() == "backup.restore" && !m.at("rejected").as_bool();
  }
  EXPECT_TRUE(restored);
  json::object container = after["containers"].as_array()[0].as_object();
  EXPECT_EQ(container.at("status").as_string(), "running");
  EXPECT_EQ(container.at("restoredFrom").as_string(), "local:backup/vzdump-lxc-" + std::to_string(vmid));
  // The restore started the container; the repair waited for its agent and started the game.
  EXPECT_EQ(after["agents"].as_array()[0].at("workload").as_string(), "running");
}

// A drained node (SPEC §9.2) gets no container started by a repair: the stopped container waits,
// noted as held, until the drain ends.
TEST(ControllerLevelTwoTest, ADrainedNodeHoldsAContainerStartUntilTheDrainEnds) {
  TempDir tmp;
  ZlhdOnSim z(tmp, ControllerConfig(R"("maxRepairLevel": 2)"));
  ASSERT_TRUE(z.Start());
  int64_t vmid = ProvisionAlpha(z);
  ASSERT_GT(vmid, 0);
  std::string node(z.SimState()["containers"].as_array()[0].at("node").as_string());
  ASSERT_EQ(z.Api("PUT", "/api/nodes/" + node + "/maintenance", R"({"on":true,"reason":"kernel"})", true).status, 200);
  ASSERT_EQ(z.SimPost("/sim/faults", json::serialize(json::object{{"drift", "container_stopped"},
                                                                   {"vmid", vmid}})),
            200);
  auto held = [&] {
    for (const auto& m : z.Messages("audit-log")) {
      if (std::string(m.at("content").as_string()).find("container_stopped → held") != std::string::npos) return true;
    }
    return false;
  };
  ASSERT_TRUE(Eventually(held));
  size_t ticks = z.Body(z.Api("GET", "/api/workflows?type=reconcile&status=completed&limit=1000", "", true))["workflows"].as_array().size();
  ASSERT_TRUE(Eventually([&] {
    return z.Body(z.Api("GET", "/api/workflows?type=reconcile&status=completed&limit=1000", "", true))["workflows"].as_array().size() >= ticks + 2;
  }));
  EXPECT_EQ(z.SimState()["containers"].as_array()[0].at("status").as_string(), "stopped") << "started on a drained node";
  EXPECT_TRUE(z.Body(z.Api("GET", "/api/workflows?type=repair", "", true))["workflows"].as_array().empty());
  ASSERT_EQ(z.Api("PUT", "/api/nodes/" + node + "/maintenance", R"({"on":false})", true).status, 200);
  EXPECT_TRUE(Eventually([&] {
    return z.SimState()["containers"].as_array()[0].at("status").as_string() == "running";
  }));
}

// Level 2: a stopped container is started, and the repair brings its game back too, so no
// restart_workload follows on the next ticks.
TEST(ControllerLevelTwoTest, AStartedContainerRunsItsGameWithNoSecondRepair) {
  TempDir tmp;
  ZlhdOnSim z(tmp, ControllerConfig(R"("maxRepairLevel": 2)"));
  ASSERT_TRUE(z.Start());
  int64_t vmid = ProvisionAlpha(z);
  ASSERT_GT(vmid, 0);
  ASSERT_EQ(z.SimPost("/sim/faults", json::serialize(json::object{{"drift", "container_stopped"},
                                                                   {"vmid", vmid}})),
            200);
  auto workload = [&] { return std::string(z.SimState()["agents"].as_array()[0].at("workload").as_string()); };
  ASSERT_EQ(workload(), "stopped");
  ASSERT_TRUE(Eventually([&] { return workload() == "running"; }));
  auto repairs = [&] {
    std::vector<std::string> out;
    json::object page = z.Body(z.Api("GET", "/api/workflows?type=repair&limit=100", "", true));
    for (const auto& w : page["workflows"].as_array()) out.emplace_back(w.at("workflowId").as_string());
    return out;
  };
  ASSERT_TRUE(Eventually([&] { return repairs().size() == 1 && z.AwaitWorkflow(repairs()[0]) == "completed"; }));
  json::object history = z.Body(z.Api("GET", "/api/workflows/" + repairs()[0] + "/history", "", true));
  std::vector<std::string> steps;
  for (const auto& e : history["events"].as_array()) {
    if (const json::value* done = e.as_object().if_contains("stepCompleted")) {
      steps.emplace_back(done->at("name").as_string());
    }
  }
  EXPECT_EQ(steps, (std::vector<std::string>{"check", "start_container", "zlh.version repair-starts-game",
                                             "zlh.now", "wait_agent_ready", "start_workload", "notify"}));
  size_t before = z.Body(z.Api("GET", "/api/workflows?type=reconcile&status=completed&limit=1000", "", true))["workflows"].as_array().size();
  ASSERT_TRUE(Eventually([&] {
    return z.Body(z.Api("GET", "/api/workflows?type=reconcile&status=completed&limit=1000", "", true))["workflows"].as_array().size() >= before + 3;
  }));
  EXPECT_EQ(repairs().size(), 1u) << "the game was left stopped and repaired again";
}

// Finished reconciles past the retention are deleted (events, summary, index entries), and the
// journal stays consistent.
TEST(ControllerRetentionTest, FinishedReconcilesPastTheRetentionAreDeleted) {
  TempDir tmp;
  ZlhdOnSim z(tmp, R"({"controller": {"reconcileInterval": "200ms", "retention": "1s"}})");
  ASSERT_TRUE(z.Start());
  std::string first;
  ASSERT_TRUE(Eventually([&] {
    json::object page = z.Body(z.Api("GET", "/api/workflows?type=reconcile&status=completed&limit=1000", "", true));
    const json::array& list = page["workflows"].as_array();
    if (!list.empty()) first = std::string(list.back().at("workflowId").as_string());  // the oldest
    return !first.empty();
  }));
  ASSERT_TRUE(Eventually([&] { return z.Api("GET", "/api/workflows/" + first, "", true).status == 404; }));
  json::object page = z.Body(z.Api("GET", "/api/workflows?type=reconcile&limit=1000", "", true));
  EXPECT_LE(page["workflows"].as_array().size(), 15u) << "reconciles pile up past their retention";
  EXPECT_EQ(z.Stop(), 0);
  int verify = std::system((std::string(ZLH_JOURNAL) + " --data " + z.data() + " verify > /dev/null 2>&1").c_str());
  EXPECT_EQ(verify, 0);
}

// A repair that keeps failing is tried 3 times for its incident, then #alerts-critical is pinged
// once; no fourth attempt.
TEST_F(ControllerTest, ARepairFailingThreeTimesIsAlertedOnce) {
  ASSERT_EQ(z_.SimPost("/sim/faults", R"({"call": "dns.publish", "mode": "error", "count": 1000, "status": 400})"), 200);
  ASSERT_EQ(Drift("dns_missing"), 200);
  ASSERT_TRUE(Eventually([&] { return Messages("alerts-critical").size() == 1; }));
  WaitTicks(3);
  ASSERT_TRUE(z_.AwaitDelivered());
  EXPECT_EQ(Messages("alerts-critical").size(), 1u);
  EXPECT_NE(std::string(Messages("alerts-critical")[0].at("content").as_string()).find("failed 3 times"),
            std::string::npos);
  json::object repairs = z_.Body(z_.Api("GET", "/api/workflows?type=repair", "", true));
  EXPECT_EQ(repairs["workflows"].as_array().size(), 3u);
  for (const auto& w : repairs["workflows"].as_array()) EXPECT_EQ(w.at("status").as_string(), "failed");
}

// The breaker: 3 repairs of one server in the rolling hour, whatever the drift; the fourth drift
// is held back and alerted once, also after a restart (the breaker is persisted).
TEST_F(ControllerTest, TheBreakerTripsAtThreeRepairsAnHourAndHoldsAcrossARestart) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(Drift(i % 2 ? "proxy_missing" : "dns_missing"), 200);
    ASSERT_TRUE(Eventually([&] {
      return DnsRecordsNamed("alpha.play.example") == 1 &&
             z_.SimState()["proxyRegistrations"].as_array().size() == 1;
    })) << "repair " << i;
    WaitTicks(1);  // the incident closes
  }
  ASSERT_EQ(Drift("dns_missing"), 200);
  ASSERT_TRUE(Eventually([&] { return Messages("alerts-critical").size() == 1; }));
  EXPECT_NE(std::string(Messages("alerts-critical")[0].at("content").as_string()).find("breaker"),
            std::string::npos);
  WaitTicks(2);
  EXPECT_EQ(DnsRecordsNamed("alpha.play.example"), 0u) << "repaired past the breaker";
  json::object c = z_.Body(z_.Api("GET", "/api/controller", "", true));
  ASSERT_EQ(c["breakers"].as_array().size(), 1u) << json::serialize(c);
  EXPECT_EQ(c["breakers"].as_array()[0].at("count").as_int64(), 3);
  EXPECT_FALSE(c["breakers"].as_array()[0].at("openUntil").is_null());
  EXPECT_EQ(z_.Stop(), 0);
  ASSERT_TRUE(z_.Start());
  WaitTicks(3);
  ASSERT_TRUE(z_.AwaitDelivered());
  EXPECT_EQ(DnsRecordsNamed("alpha.play.example"), 0u) << "a restart reset the breaker";
  EXPECT_EQ(Messages("alerts-critical").size(), 1u) << "alerted more than once in the hour";
}

}  // namespace
}  // namespace zlh

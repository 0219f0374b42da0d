// zlhd end to end: a real zlhd on a real zlh-sim, driven through the HTTP API of SPEC §7.1:
// concurrent provisionings reach running with one of everything, repeated requests get their first
// answer, operations and deletion, compensation, and bad input refused with the right code and a
// message naming the problem while nothing changes.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <thread>

#include "tests/zlhd_fleet.h"

namespace zlh {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

class ZlhdApiTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(z_.Start()); }

  json::object Server(const std::string& id, const std::string& customer) {
    return z_.Body(z_.Api("GET", "/api/servers/" + id + "?customerId=" + customer));
  }
  size_t ServerCount(const std::string& customer) {
    return z_.Body(z_.Api("GET", "/api/servers?customerId=" + customer))["servers"].as_array().size();
  }
  // Expects `f` to be an error with `status`, `code` and a message containing `names`.
  void ExpectError(const Fetched& f, long status, const std::string& code, const std::string& names) {
    EXPECT_EQ(f.status, status) << f.body;
    json::object b = z_.Body(f);
    ASSERT_TRUE(b.contains("error")) << f.body;
    EXPECT_EQ(b["error"].at("code").as_string(), code) << f.body;
    EXPECT_NE(std::string(b["error"].at("message").as_string()).find(names), std::string::npos)
        << f.body;
  }

  TempDir tmp_;
  ZlhdOnSim z_{tmp_, kFastConfig};
};

TEST_F(ZlhdApiTest, ConcurrentProvisioningsReachRunningWithOneOfEverything) {
  ASSERT_EQ(z_.SimPost("/sim/containers", R"({"vmid": 100, "node": "pve1", "hostname": "foreign"})"), 201);
  ASSERT_EQ(z_.SimPost("/sim/containers", R"({"vmid": 102, "node": "pve2", "hostname": "foreign2"})"), 201);
  const size_t kServers = 12;
  std::vector<Fetched> answers(kServers);
  std::vector<std::thread> clients;
  for (size_t i = 0; i < kServers; ++i) {
    clients.emplace_back([&, i] {
      answers[i] = z_.Create("c-" + std::to_string(i % 3), "n" + std::to_string(i),
                             "srv" + std::to_string(i));
    });
  }
  for (auto& t : clients) t.join();
  std::set<int64_t> vmids;
  std::set<std::string> addresses;
  for (size_t i = 0; i < kServers; ++i) {
    ASSERT_EQ(answers[i].status, 202) << answers[i].body;
    json::object a = z_.Body(answers[i]);
    EXPECT_EQ(a["status"].as_string(), "queued");
    std::string wf(a["workflowId"].as_string());
    EXPECT_EQ(a["statusUrl"].as_string(), "/api/workflows/" + wf);
    EXPECT_EQ(z_.AwaitWorkflow(wf), "completed");
    json::object s = Server(std::string(a["serverId"].as_string()), "c-" + std::to_string(i % 3));
    EXPECT_EQ(s["status"].as_string(), "running");
    int64_t vmid = s["vmid"].as_int64();
    EXPECT_NE(vmid, 100);
    EXPECT_NE(vmid, 102);
    EXPECT_TRUE(vmids.insert(vmid).second) << "VMID " << vmid << " twice";
    // The simulated fleet's default pool: loopback, from 127.1.0.10 up.
    std::string address(s["address"].as_string());
    EXPECT_EQ(address.rfind("127.1.0.", 0), 0u) << address;
    EXPECT_TRUE(addresses.insert(address).second) << "address " << address << " twice";
  }
  json::object state = z_.SimState();
  size_t ours = 0;
  for (const auto& c : state["containers"].as_array()) {
    if (c.at("preexisting").as_bool()) continue;
    ++ours;
    EXPECT_EQ(c.at("createCalls").as_int64(), 1) << json::serialize(c);
  }
  EXPECT_EQ(ours, kServers);
  std::map<std::string, int> records;
  for (const auto& r : state["dnsRecords"].as_array()) {
    ++records[std::string(r.at("type").as_string()) + " " + std::string(r.at("name").as_string())];
  }
  EXPECT_EQ(records.size(), 2 * kServers);
  for (const auto& [name, count] : records) EXPECT_EQ(count, 1) << name;
  EXPECT_EQ(state["proxyRegistrations"].as_array().size(), kServers);
  EXPECT_EQ(z_.Stop(), 0);
  // The code of this build agrees with the histories it wrote.
  std::string wf(z_.Body(answers[0])["workflowId"].as_string());
  EXPECT_EQ(std::system((std::string(ZLH_JOURNAL) + " --data " + z_.data() + " replay " + wf +
                         " > /dev/null").c_str()),
            0);
  // zlh-journal show names the provisioning's server with its address and what was configured.
  std::string shown;
  FILE* out = popen(
      (std::string(ZLH_JOURNAL) + " --data " + z_.data() + " show --json " + wf).c_str(), "r");
  ASSERT_NE(out, nullptr);
  for (char buf[4096]; size_t n = fread(buf, 1, sizeof buf, out);) shown.append(buf, n);
  EXPECT_EQ(pclose(out), 0);
  json::object server = json::parse(shown).at("server").as_object();
  EXPECT_TRUE(addresses.count(std::string(server.at("address").as_string()))) << shown;
  EXPECT_NE(std::string(server.at("configured").as_string()).find("cores 2, memory 4096 MB"),
            std::string::npos)
      << shown;
}

TEST_F(ZlhdApiTest, ARepeatedCreateGetsItsFirstAnswerAndAChangedOneIsAConflict) {
  Fetched first = z_.Create("c-1", "nonce-1", "alpha");
  ASSERT_EQ(first.status, 202) << first.body;
  Fetched again = z_.Create("c-1", "nonce-1", "alpha");
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(z_.Body(again), z_.Body(first));
  // The same key with another name: 409 naming the field.
  ExpectError(z_.Create("c-1", "nonce-1", "beta"), 409, "conflict", "name");
  EXPECT_EQ(ServerCount("c-1"), 1u);
}

// 50 identical creates at once: one workflow; one 202 and 49 × 200, all with the same ids.
TEST_F(ZlhdApiTest, ConcurrentDuplicateCreatesMakeOneWorkflow) {
  const size_t kClients = 50;
  std::vector<Fetched> answers(kClients);
  std::vector<std::thread> clients;
  for (size_t i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] { answers[i] = z_.Create("c-1", "same-nonce", "twin"); });
  }
  for (auto& t : clients) t.join();
  std::map<long, int> codes;
  std::set<std::string> bodies;
  for (const auto& a : answers) {
    ++codes[a.status];
    bodies.insert(json::serialize(z_.Body(a)));
  }
  EXPECT_EQ(codes[202], 1);
  EXPECT_EQ(codes[200], 49);
  EXPECT_EQ(bodies.size(), 1u) << "the answers differ";
  EXPECT_EQ(ServerCount("c-1"), 1u);
  // /metrics counts what happened.
  Fetched m = Fetch("GET", "http://" + z_.addr() + "/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("zlh_workflows_started_total{type=\"provision\"} 1\n"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("zlh_http_requests_total{route=\"POST /api/servers/create\",code=\"200\"} 49\n"),
            std::string::npos);
  EXPECT_NE(m.body.find("zlh_http_requests_total{route=\"POST /api/servers/create\",code=\"202\"} 1\n"),
            std::string::npos);
  EXPECT_NE(m.body.find("# TYPE zlh_journal_commit_seconds histogram"), std::string::npos);
  EXPECT_NE(m.body.find("zlh_queue_depth{queue=\"provision\"}"), std::string::npos);
}

TEST_F(ZlhdApiTest, BadRequestsAreRefusedPreciselyAndChangeNothing) {
  const std::string create = "/api/servers/create";
  std::string addr = ReadFile(z_.data() + "/zlhd.addr");
  addr = addr.substr(0, addr.find('\n'));
  auto raw = [&](const std::string& body, std::vector<std::string> headers) {
    return Fetch("POST", "http://" + addr + create, body, headers);
  };
  std::string auth = "Authorization: Bearer " + z_.portal_token();
  std::string json_type = "Content-Type: application/json";
  std::string good = R"({"customerId":"c-1","ctype":"game","requestNonce":"n","game":"vanilla","plan":"small","name":"alpha"})";
  ExpectError(raw(good, {json_type}), 401, "unauthenticated", "Bearer");
  ExpectError(raw(good, {"Authorization: Bearer wrong-token-0123456789", json_type}), 401,
              "unauthenticated", "Bearer");
  ExpectError(z_.Api("POST", create, good, /*admin=*/true), 403, "permission_denied", "role");
  ExpectError(raw(good, {auth, "Content-Type: text/plain"}), 415, "unsupported_media_type",
              "application/json");
  ExpectError(raw(std::string(70'000, ' ') + good, {auth, json_type}), 413, "payload_too_large", "");
  // Who asks comes before how much: no credentials and an oversize body is 401 (SPEC §7.1).
  ExpectError(raw(std::string(70'000, ' ') + good, {json_type}), 401, "unauthenticated", "Bearer");
  ExpectError(Fetch("POST", "http://" + addr + "/api/billing/webhook", std::string(70'000, ' '),
                    {json_type, "X-ZLH-Signature: t=-9223372036854775808,v1=00"}),
              401, "unauthenticated", "X-ZLH-Signature");
  ExpectError(z_.Api("POST", create, R"({"customerId": )"), 400, "invalid_argument", "malformed JSON");
  ExpectError(z_.Api("POST", create, "[1,2]"), 400, "invalid_argument", "object");
  ExpectError(z_.Api("POST", create, R"({"customerId":"c-1","colour":"red"})"), 400,
              "invalid_argument", "colour: unknown field");
  ExpectError(z_.Api("POST", create, R"({"customerId":"c-1","ctype":"game","game":"vanilla","plan":"small","name":"alpha"})"),
              400, "invalid_argument", "requestNonce: required");
  ExpectError(z_.Api("POST", create, R"({"customerId":7,"ctype":"game","requestNonce":"n","game":"vanilla","plan":"small","name":"alpha"})"),
              400, "invalid_argument", "customerId: must be a string");
  ExpectError(z_.Api("POST", create, R"({"customerId":"c 1","ctype":"game","requestNonce":"n","game":"vanilla","plan":"small","name":"alpha"})"),
              400, "invalid_argument", "customerId");
  ExpectError(z_.Api("POST", create, R"({"customerId":"c-1","ctype":"vm","requestNonce":"n","game":"vanilla","plan":"small","name":"alpha"})"),
              400, "invalid_argument", "ctype");
  ExpectError(z_.Api("POST", create, R"({"customerId":"c-1","ctype":"game","requestNonce":"n","game":"doom","plan":"small","name":"alpha"})"),
              400, "invalid_argument", "game");
  ExpectError(z_.Api("POST", create, R"({"customerId":"c-1","ctype":"dev","requestNonce":"n","game":"vanilla","plan":"small","name":"alpha"})"),
              400, "invalid_argument", "game: must be absent");
  ExpectError(
      z_.Api(
          "POST", create,
          R"({"customerId":"c-1","ctype":"game","requestNonce":"n","game":"vanilla","plan":"huge","name":"alpha"})"),
      400, "invalid_argument", "plan: 'huge' is not a configured plan");
  ExpectError(z_.Api("POST", create, R"({"customerId":"c-1","ctype":"game","requestNonce":"n","game":"vanilla","plan":"small","name":"Al"})"),
              400, "invalid_argument", "name");
  Fetched wrong_method = z_.Api("GET", create);
  ExpectError(wrong_method, 405, "invalid_argument", "POST");
  ExpectError(z_.Api("GET", "/api/nothing"), 404, "not_found", "/api/nothing");
  EXPECT_EQ(ServerCount("c-1"), 0u) << "a refused request changed state";

  // Quota (5 live servers) and a taken name, checked atomically with the write.
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(z_.Create("c-1", "q" + std::to_string(i), "quota" + std::to_string(i)).status, 202);
  }
  ExpectError(z_.Create("c-1", "q5", "quota5"), 429, "quota_exceeded", "quota");
  ExpectError(z_.Create("c-2", "x", "quota0"), 409, "conflict", "name");
  // The repeat of an earlier request still gets its answer at quota (dedup comes first).
  EXPECT_EQ(z_.Create("c-1", "q0", "quota0").status, 200);
  EXPECT_EQ(ServerCount("c-1"), 5u);
  EXPECT_EQ(ServerCount("c-2"), 0u);
}

TEST_F(ZlhdApiTest, OperationsAndDeletionThroughTheApi) {
  json::object created = z_.Body(z_.Create("c-1", "n1", "alpha"));
  std::string server(created["serverId"].as_string());
  ASSERT_EQ(z_.AwaitWorkflow(std::string(created["workflowId"].as_string())), "completed");
  // Another customer's server does not exist for this one.
  ExpectError(z_.Api("POST", "/api/servers/" + server + "/operations",
                     R"({"customerId":"c-2","op":"stop","requestNonce":"o1"})"),
              404, "not_found", server);
  ExpectError(z_.Api("POST", "/api/servers/" + server + "/operations",
                     R"({"customerId":"c-1","op":"explode","requestNonce":"o1"})"),
              400, "invalid_argument", "op");
  Fetched stop = z_.Api("POST", "/api/servers/" + server + "/operations",
                        R"({"customerId":"c-1","op":"stop","requestNonce":"o1"})");
  ASSERT_EQ(stop.status, 202) << stop.body;
  EXPECT_EQ(z_.AwaitWorkflow(std::string(z_.Body(stop)["workflowId"].as_string())), "completed");
  EXPECT_EQ(Server(server, "c-1")["status"].as_string(), "stopped");
  EXPECT_EQ(z_.Api("POST", "/api/servers/" + server + "/operations",
                   R"({"customerId":"c-1","op":"stop","requestNonce":"o1"})").status, 200);
  ExpectError(z_.Api("GET", "/api/workflows/" + std::string(z_.Body(stop)["workflowId"].as_string()) +
                                "?customerId=c-2"),
              404, "not_found", "workflow");

  ExpectError(z_.Api("DELETE", "/api/servers/" + server), 400, "invalid_argument", "customerId");
  ExpectError(z_.Api("DELETE", "/api/servers/" + server + "?customerId=c-2"), 404, "not_found", server);
  Fetched del = z_.Api("DELETE", "/api/servers/" + server + "?customerId=c-1");
  ASSERT_EQ(del.status, 202) << del.body;
  EXPECT_EQ(z_.AwaitWorkflow(std::string(z_.Body(del)["workflowId"].as_string())), "completed");
  EXPECT_EQ(Server(server, "c-1")["status"].as_string(), "deleted");
  json::object state = z_.SimState();
  EXPECT_TRUE(state["containers"].as_array().empty());
  EXPECT_TRUE(state["dnsRecords"].as_array().empty());
  EXPECT_TRUE(state["proxyRegistrations"].as_array().empty());
}

TEST_F(ZlhdApiTest, AnUnfixableFailureCompensatesAndTheWorkflowViewExplainsIt) {
  ASSERT_EQ(z_.SimPost("/sim/faults", R"({"call": "agent.install", "mode": "error", "count": 1, "status": 400})"), 200);
  json::object created = z_.Body(z_.Create("c-1", "n1", "alpha"));
  std::string wf(created["workflowId"].as_string());
  EXPECT_EQ(z_.AwaitWorkflow(wf), "failed");
  json::object view = z_.Body(z_.Api("GET", "/api/workflows/" + wf + "?customerId=c-1"));
  EXPECT_EQ(view["type"].as_string(), "provision");
  EXPECT_EQ(view["error"].at("code").as_string(), "invalid_argument");
  std::vector<std::string> names;
  for (const auto& s : view["steps"].as_array()) names.emplace_back(s.at("name").as_string());
  std::vector<std::string> expected = {
      "allocate_vmid",     "create_container", "configure_container",
      "start_container",   "wait_agent_ready", "install_workload",
      "destroy_container", "notify",           "release_vmid"};
  EXPECT_EQ(names, expected);
  json::object failed = Server(std::string(created["serverId"].as_string()), "c-1");
  EXPECT_EQ(failed["status"].as_string(), "failed");
  EXPECT_EQ(failed["address"].as_string(), "");  // released with the VMID
  json::object state = z_.SimState();
  EXPECT_TRUE(state["containers"].as_array().empty());
  // zlh-journal reads it while zlhd runs, and replays the compensation without a divergence.
  EXPECT_EQ(std::system((std::string(ZLH_JOURNAL) + " --data " + z_.data() + " replay " + wf +
                         " > /dev/null").c_str()),
            0);
}

}  // namespace
}  // namespace zlh

#include "sim/sim_world.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "base/temp_dir.h"

namespace zlh::sim {
namespace {

namespace json = boost::json;

const std::map<std::string, std::string> kAuth = {
    {"authorization", "PVEAPIToken=zlh@pve!zlh=00000000-0000-0000-0000-00000000517e"}};

HttpCall Call(std::string method, std::string path, std::string body = "",
              std::map<std::string, std::string> headers = kAuth) {
  return {std::move(method), std::move(path), {}, std::move(headers), std::move(body)};
}

json::value State(World& w) { return json::parse(w.StateJson()); }

class SimWorldTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto w = World::Open(tmp_.Sub("state.json"), {"pve1", "pve2"});
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    world_ = std::move(w).value();
  }
  TempDir tmp_;
  std::unique_ptr<World> world_;
};

TEST_F(SimWorldTest, CloneCreatesAContainerOnceAndCountsEveryCreateCall) {
  auto r = world_->Handle(Call("POST", "/api2/json/nodes/pve1/lxc/9000/clone",
                               "newid=101&hostname=survival&full=1&target=pve2"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "application/json;charset=UTF-8");  // as Proxmox names it
  EXPECT_EQ(json::parse(r.body).at("data").as_string().find("UPID:pve1:"), 0u);
  auto again = world_->Handle(Call("POST", "/api2/json/nodes/pve1/lxc/9000/clone",
                                   "newid=101&hostname=survival"));
  EXPECT_EQ(again.status, 500);
  EXPECT_EQ(again.content_type, "application/json;charset=UTF-8");
  EXPECT_NE(again.body.find("CT 101 already exists"), std::string::npos);
  json::value c = State(*world_).at("containers").at(0);
  EXPECT_EQ(c.at("vmid").as_int64(), 101);
  EXPECT_EQ(c.at("node").as_string(), "pve2");
  EXPECT_EQ(c.at("hostname").as_string(), "survival");
  EXPECT_EQ(c.at("status").as_string(), "stopped");
  EXPECT_EQ(c.at("createCalls").as_int64(), 2);
}

// GET/PUT .../config and PUT .../resize as Proxmox answers them: form-encoded, bad values 400
// with {"data": null, "errors": {param: message}} and nothing changed, shrinking refused; what
// was set is reported in /sim/state and survives a reload of the state file.
TEST_F(SimWorldTest, ContainerConfigAndResizeLikeProxmox) {
  ASSERT_EQ(world_
                ->Handle(Call("POST", "/api2/json/nodes/pve1/lxc/9000/clone",
                              "newid=101&hostname=a&target=pve2"))
                .status,
            200);
  json::value fresh = State(*world_).at("containers").at(0);
  EXPECT_TRUE(fresh.at("net0").is_null());
  EXPECT_EQ(fresh.at("diskGb").as_int64(), 8);  // the templates' rootfs
  const std::string path = "/api2/json/nodes/pve2/lxc/101/config";
  auto bad = world_->Handle(Call("PUT", path, "cores=two&memory=4096&net0=bridge%3Dvmbr1"));
  EXPECT_EQ(bad.status, 400);
  json::value errors = json::parse(bad.body);
  EXPECT_TRUE(errors.at("data").is_null());
  EXPECT_TRUE(errors.at("errors").as_object().contains("cores"));
  EXPECT_TRUE(errors.at("errors").as_object().contains("net0"));  // name is required
  EXPECT_FALSE(errors.at("errors").as_object().contains("memory"));
  EXPECT_EQ(State(*world_).at("containers").at(0).at("memoryMb").as_int64(), 512)
      << "a bad PUT changed it";
  EXPECT_EQ(world_->Handle(Call("PUT", path, "colour=red")).status, 400);
  const std::string net0 = "name=eth0,bridge=vmbr1,ip=10.20.1.10/22,gw=10.20.0.1,tag=12,firewall=1";
  auto ok =
      world_->Handle(Call("PUT", path,
                          "cores=2&memory=4096&swap=512&onboot=1&tags=zlh%3Bcustomer-c-1&net0=" +
                              std::string("name%3Deth0%2Cbridge%3Dvmbr1%2Cip%3D10.20.1.10%2F22%"
                                          "2Cgw%3D10.20.0.1%2Ctag%3D12%2Cfirewall%3D1")));
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_TRUE(json::parse(ok.body).at("data").is_null());
  EXPECT_EQ(world_->Handle(Call("PUT", "/api2/json/nodes/pve1/lxc/101/config", "cores=2")).status,
            500)
      << "the container is on pve2";
  json::value config = json::parse(world_->Handle(Call("GET", path)).body).at("data");
  EXPECT_EQ(config.at("net0").as_string(), net0);
  EXPECT_EQ(config.at("cores").as_int64(), 2);
  EXPECT_EQ(config.at("rootfs").as_string(), "local:101/vm-101-disk-0.raw,size=8G");

  const std::string resize = "/api2/json/nodes/pve2/lxc/101/resize";
  EXPECT_EQ(world_->Handle(Call("PUT", resize, "disk=rootfs&size=20G")).status, 200);
  EXPECT_EQ(world_->Handle(Call("PUT", resize, "disk=rootfs&size=%2B4G")).status, 200);
  auto shrink = world_->Handle(Call("PUT", resize, "disk=rootfs&size=10G"));
  EXPECT_EQ(shrink.status, 500);
  EXPECT_NE(shrink.body.find("unable to shrink disk size"), std::string::npos);
  EXPECT_EQ(world_->Handle(Call("PUT", resize, "disk=sda&size=30G")).status, 400);
  EXPECT_EQ(world_->Handle(Call("PUT", resize, "disk=rootfs&size=lots")).status, 400);

  world_.reset();
  auto reloaded = World::Open(tmp_.Sub("state.json"), {"pve1", "pve2"});
  ASSERT_TRUE(reloaded.ok());
  json::value c = State(**reloaded).at("containers").at(0);
  EXPECT_EQ(c.at("net0").as_string(), net0);
  EXPECT_EQ(c.at("cores").as_int64(), 2);
  EXPECT_EQ(c.at("memoryMb").as_int64(), 4096);
  EXPECT_EQ(c.at("swapMb").as_int64(), 512);
  EXPECT_EQ(c.at("diskGb").as_int64(), 24);
}

TEST_F(SimWorldTest, LifecycleAndTaskStatus) {
  ASSERT_EQ(world_->Handle(Call("POST", "/api2/json/nodes/pve1/lxc/9000/clone",
                                "newid=101&hostname=a")).status, 200);
  auto start = world_->Handle(Call("POST", "/api2/json/nodes/pve1/lxc/101/status/start"));
  ASSERT_EQ(start.status, 200);
  std::string upid(json::parse(start.body).at("data").as_string());
  auto task = world_->Handle(Call("GET", "/api2/json/nodes/pve1/tasks/" + upid + "/status"));
  EXPECT_EQ(json::parse(task.body).at("data").at("exitstatus").as_string(), "OK");
  auto current = world_->Handle(Call("GET", "/api2/json/nodes/pve1/lxc/101/status/current"));
  EXPECT_EQ(json::parse(current.body).at("data").at("status").as_string(), "running");
  ASSERT_EQ(world_->Handle(Call("POST", "/api2/json/nodes/pve1/lxc/101/status/stop")).status, 200);
  ASSERT_EQ(world_->Handle(Call("DELETE", "/api2/json/nodes/pve1/lxc/101")).status, 200);
  EXPECT_TRUE(State(*world_).at("containers").as_array().empty());
  EXPECT_EQ(world_->Handle(Call("DELETE", "/api2/json/nodes/pve1/lxc/101")).status, 500);
}

TEST_F(SimWorldTest, ProxmoxWantsItsOneApiToken) {
  EXPECT_EQ(world_->Handle(Call("GET", "/api2/json/nodes", "", {})).status, 401);
  auto wrong = world_->Handle(
      Call("GET", "/api2/json/version", "", {{"authorization", "PVEAPIToken=root@pam!zlh=secret"}}));
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(world_->Handle(Call("GET", "/api2/json/version")).status, 200);
}

// The reads zlhd --check-config makes: the version, the token's privileges, the templates.
TEST_F(SimWorldTest, ProxmoxAnswersItsVersionPermissionsAndTemplates) {
  json::value version = json::parse(world_->Handle(Call("GET", "/api2/json/version")).body);
  EXPECT_EQ(version.at("data").at("release").as_string(), "8.2");
  HttpCall permissions = Call("GET", "/api2/json/access/permissions");
  permissions.query = {{"path", "/"}};
  json::value granted = json::parse(world_->Handle(permissions).body);
  EXPECT_EQ(granted.at("data").at("/").at("VM.Clone").as_int64(), 1);
  json::value guests = json::parse(world_->Handle(Call("GET", "/api2/json/cluster/resources")).body);
  ASSERT_EQ(guests.at("data").as_array().size(), 4u);
  EXPECT_EQ(guests.at("data").at(0).at("vmid").as_int64(), 9000);
  EXPECT_EQ(guests.at("data").at(0).at("node").as_string(), "pve1");
  EXPECT_EQ(guests.at("data").at(0).at("template").as_int64(), 1);
  EXPECT_TRUE(State(*world_).at("containers").as_array().empty());  // templates are not containers
}

TEST_F(SimWorldTest, StaleFencingTokensAreRejectedAndRecorded) {
  auto with_token = [](const char* token) {
    auto h = kAuth;
    h["x-zlh-fencing-token"] = token;
    return h;
  };
  ASSERT_EQ(world_->Handle(Call("POST", "/api2/json/nodes/pve1/lxc/9000/clone",
                                "newid=101&hostname=a", with_token("7"))).status, 200);
  auto stale = world_->Handle(Call("POST", "/api2/json/nodes/pve1/lxc/101/status/start", "",
                                   with_token("6")));
  EXPECT_EQ(stale.status, 409);
  json::value state = State(*world_);
  EXPECT_EQ(state.at("containers").at(0).at("status").as_string(), "stopped");  // not acted on
  const auto& m = state.at("mutations").as_array();
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].at("fencingToken").as_int64(), 7);
  EXPECT_TRUE(m[1].at("rejected").as_bool());
  EXPECT_EQ(m[1].at("call").as_string(), "proxmox.start");
  // Wall-clock tokens (13 digits and more) are compared as numbers; garbage is refused.
  EXPECT_EQ(world_->Handle(Call("POST", "/api2/json/nodes/pve1/lxc/101/status/start", "",
                                with_token("1795000000000"))).status, 200);
  EXPECT_EQ(world_->Handle(Call("POST", "/api2/json/nodes/pve1/lxc/101/status/stop", "",
                                with_token("1794999999999"))).status, 409);
  EXPECT_EQ(world_->Handle(Call("POST", "/api2/json/nodes/pve1/lxc/101/status/stop", "",
                                with_token("12abc"))).status, 400);
}

// The idempotency key a mutating call carries names the workflow step that made it (the fleet
// crash test attributes calls to operations with it); it outlives a restart of zlh-sim.
TEST_F(SimWorldTest, MutationsRecordTheCallersIdempotencyKey) {
  auto keyed = kAuth;
  keyed["x-zlh-idempotency-key"] = "wf-1:3";
  ASSERT_EQ(world_->Handle(Call("POST", "/api2/json/nodes/pve1/lxc/9000/clone",
                                "newid=101&hostname=a", keyed)).status, 200);
  ASSERT_EQ(world_->Handle(Call("POST", "/api2/json/nodes/pve1/lxc/101/status/start")).status, 200);
  world_.reset();
  auto reopened = World::Open(tmp_.Sub("state.json"), {"pve1", "pve2"});
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  json::value state = State(**reopened);
  const auto& m = state.at("mutations").as_array();
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].at("idempotencyKey").as_string(), "wf-1:3");
  EXPECT_FALSE(m[1].as_object().contains("idempotencyKey"));
}

TEST_F(SimWorldTest, InjectedErrorsHitTheNamedCallCountTimes) {
  auto fault = world_->Handle(Call("POST", "/sim/faults",
                                   R"({"call":"proxmox.create","mode":"error","count":2,"status":503})"));
  ASSERT_EQ(fault.status, 200) << fault.body;
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(world_->Handle(Call("POST", "/api2/json/nodes/pve1/lxc/9000/clone",
                                  "newid=101&hostname=a")).status, 503);
  }
  EXPECT_EQ(world_->Handle(Call("POST", "/api2/json/nodes/pve1/lxc/9000/clone",
                                "newid=101&hostname=a")).status, 200);
  auto latency = world_->Handle(Call("POST", "/sim/faults",
                                     R"({"call":"proxmox.status","mode":"timeout","latencyMs":1500})"));
  ASSERT_EQ(latency.status, 200);
  auto held = world_->Handle(Call("GET", "/api2/json/nodes/pve1/lxc/101/status/current"));
  EXPECT_EQ(held.delay_ms, 1500);
}

TEST_F(SimWorldTest, BadFaultsAndContainersAreRefusedNamingTheField) {
  struct Case {
    const char* path;
    const char* body;
    const char* message;
  };
  for (const Case& c : std::vector<Case>{
           {"/sim/faults", R"({"call":"proxmox.explode","mode":"error"})", "call: required"},
           {"/sim/faults", R"({"call":"proxmox.create","mode":"fire"})", "mode: required"},
           {"/sim/faults", R"({"call":"proxmox.create","mode":"error","count":0})", "count:"},
           {"/sim/faults", R"({"call":"proxmox.create","mode":"error","extra":1})", "extra: unknown field"},
           {"/sim/faults", "not json", "not JSON"},
           {"/sim/containers", R"({"vmid":-1,"node":"pve1","hostname":"x"})", "vmid:"},
           {"/sim/containers", R"({"vmid":105,"node":"pve9","hostname":"x"})", "node:"},
       }) {
    SCOPED_TRACE(c.body);
    auto r = world_->Handle(Call("POST", c.path, c.body));
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.find(c.message), std::string::npos) << r.body;
  }
  EXPECT_EQ(State(*world_).at("containers").as_array().size(), 0u);  // nothing changed
}

TEST_F(SimWorldTest, PreexistingContainersShowAsUsedVmids) {
  ASSERT_EQ(world_->Handle(Call("POST", "/sim/containers",
                                R"({"vmid":105,"node":"pve1","hostname":"foreign"})")).status, 201);
  auto r = world_->Handle(Call("GET", "/api2/json/cluster/resources"));
  json::value guest = json::parse(r.body).at("data").at(0);
  EXPECT_EQ(guest.at("vmid").as_int64(), 105);
  EXPECT_EQ(guest.at("name").as_string(), "foreign");
  EXPECT_TRUE(State(*world_).at("containers").at(0).at("preexisting").as_bool());
}

TEST_F(SimWorldTest, StateOutlivesTheWorld) {
  ASSERT_EQ(world_->Handle(Call("POST", "/api2/json/nodes/pve1/lxc/9000/clone",
                                "newid=101&hostname=kept")).status, 200);
  ASSERT_EQ(world_->Handle(Call("POST", "/sim/faults",
                                R"({"call":"proxmox.start","mode":"error"})")).status, 200);
  world_.reset();
  auto reopened = World::Open(tmp_.Sub("state.json"), {"ignored"});
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  EXPECT_EQ(State(**reopened).at("containers").at(0).at("hostname").as_string(), "kept");
  // The pending fault came back too.
  EXPECT_EQ((*reopened)->Handle(Call("POST", "/api2/json/nodes/pve1/lxc/101/status/start")).status,
            500);
}

TEST_F(SimWorldTest, CorruptStateFileIsRefusedClearly) {
  std::string path = tmp_.Sub("bad.json");
  FILE* f = fopen(path.c_str(), "w");
  fputs("{\"containers\": 5}", f);
  fclose(f);
  auto w = World::Open(path, {"pve1"});
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), Code::kCorruption);
  EXPECT_NE(w.status().message().find(path), std::string::npos);
}


HttpCall Bearer(std::string method, std::string path, std::string body = "") {
  return {std::move(method), std::move(path), {}, {{"authorization", "Bearer sim"}}, std::move(body)};
}

class SimServicesTest : public SimWorldTest {
 protected:
  void SetUp() override {
    SimWorldTest::SetUp();
    ASSERT_EQ(world_->Handle(Call("POST", "/api2/json/nodes/pve1/lxc/9000/clone",
                                  "newid=101&hostname=survival")).status, 200);
  }
  void StartContainer() {
    ASSERT_EQ(world_->Handle(Call("POST", "/api2/json/nodes/pve1/lxc/101/status/start")).status, 200);
  }
  int Health() { return world_->Handle(Bearer("GET", "/agents/101/health")).status; }
};

TEST_F(SimServicesTest, AgentAnswersOnlyWhileItsContainerRuns) {
  EXPECT_EQ(Health(), 503);  // stopped container: unreachable
  StartContainer();
  auto health = world_->Handle(Bearer("GET", "/agents/101/health"));
  ASSERT_EQ(health.status, 200);
  EXPECT_EQ(json::parse(health.body).at("status").as_string(), "ready");
  EXPECT_EQ(world_->Handle(Bearer("POST", "/agents/101/install", R"({"game":"vanilla","loader":"fabric"})")).status, 200);
  EXPECT_EQ(world_->Handle(Bearer("POST", "/agents/101/workload/start")).status, 200);
  json::value agent = State(*world_).at("agents").at(0);
  EXPECT_EQ(agent.at("state").as_string(), "ready");
  EXPECT_EQ(agent.at("workload").as_string(), "running");
  EXPECT_EQ(world_->Handle(Call("GET", "/agents/101/health", "", {})).status, 401);
}

TEST_F(SimServicesTest, OfflineAgentComesBackWithAReboot) {
  StartContainer();
  ASSERT_EQ(world_->Handle(Call("POST", "/sim/faults", R"({"drift":"agent_offline","vmid":101})")).status, 200);
  EXPECT_EQ(Health(), 503);
  EXPECT_EQ(State(*world_).at("agents").at(0).at("state").as_string(), "offline");
  ASSERT_EQ(world_->Handle(Call("POST", "/api2/json/nodes/pve1/lxc/101/status/reboot")).status, 200);
  EXPECT_EQ(Health(), 200);
}

TEST_F(SimServicesTest, ProxyRegistrationIsIdempotentAndNamesConflicts) {
  std::string body = R"({"name":"survival","address":"127.1.0.101:25565"})";
  EXPECT_EQ(world_->Handle(Bearer("POST", "/proxy/servers", body)).status, 200);
  EXPECT_EQ(world_->Handle(Bearer("POST", "/proxy/servers", body)).status, 200);
  EXPECT_EQ(world_->Handle(Bearer("POST", "/proxy/servers",
                                  R"({"name":"survival","address":"127.9.9.9:1"})")).status, 409);
  json::value regs = State(*world_).at("proxyRegistrations");
  ASSERT_EQ(regs.as_array().size(), 1u);
  EXPECT_EQ(regs.at(0).at("address").as_string(), "127.1.0.101:25565");
  EXPECT_EQ(world_->Handle(Bearer("DELETE", "/proxy/servers/survival")).status, 200);
  EXPECT_EQ(world_->Handle(Bearer("DELETE", "/proxy/servers/survival")).status, 404);
}

TEST_F(SimServicesTest, DnsRecordsPublishOnceListAndDelete) {
  std::string a = R"({"type":"A","name":"survival.play.example","content":"203.0.113.7","ttl":1,"proxied":false})";
  auto first = world_->Handle(Bearer("POST", "/client/v4/zones/z1/dns_records", a));
  ASSERT_EQ(first.status, 200) << first.body;
  std::string id(json::parse(first.body).at("result").at("id").as_string());
  auto dup = world_->Handle(Bearer("POST", "/client/v4/zones/z1/dns_records", a));
  EXPECT_EQ(dup.status, 400);
  json::value refused = json::parse(dup.body);  // Cloudflare's envelope, failure and all
  EXPECT_FALSE(refused.at("success").as_bool());
  EXPECT_EQ(refused.at("errors").at(0).at("code").as_int64(), 81058);
  EXPECT_EQ(refused.at("errors").at(0).at("message").as_string(), "An identical record already exists.");
  EXPECT_TRUE(refused.at("messages").as_array().empty());
  EXPECT_TRUE(refused.at("result").is_null());
  std::string srv = R"({"type":"SRV","name":"_minecraft._tcp.survival.play.example","data":{"priority":0,"weight":5,"port":25565,"target":"proxy.play.example"}})";
  ASSERT_EQ(world_->Handle(Bearer("POST", "/client/v4/zones/z1/dns_records", srv)).status, 200);
  HttpCall list = Bearer("GET", "/client/v4/zones/z1/dns_records");
  list.query = {{"type", "SRV"}, {"name", "_minecraft._tcp.survival.play.example"}};
  json::value found = json::parse(world_->Handle(list).body);
  ASSERT_EQ(found.at("result").as_array().size(), 1u);
  // As Cloudflare answers an SRV record: the parts in `data`, the priority left out of `content`.
  EXPECT_EQ(found.at("result").at(0).at("content").as_string(), "5 25565 proxy.play.example");
  EXPECT_EQ(found.at("result").at(0).at("data").at("port").as_int64(), 25565);
  EXPECT_EQ(found.at("result").at(0).at("data").at("target").as_string(), "proxy.play.example");
  EXPECT_EQ(world_->Handle(Bearer("DELETE", "/client/v4/zones/z1/dns_records/" + id)).status, 200);
  EXPECT_EQ(State(*world_).at("dnsRecords").as_array().size(), 1u);
  auto unauthenticated = world_->Handle(Call("GET", "/client/v4/zones/z1/dns_records", "", {}));
  EXPECT_EQ(unauthenticated.status, 401);
  EXPECT_EQ(json::parse(unauthenticated.body).at("errors").at(0).at("code").as_int64(), 10000);
}

TEST_F(SimServicesTest, DnsInjectedFaultsAnswerInCloudflaresEnvelope) {
  std::string a = R"({"type":"A","name":"x.play.example","content":"203.0.113.7"})";
  ASSERT_EQ(world_->Handle(Call("POST", "/sim/faults", R"({"call":"dns.publish","mode":"error","status":429})")).status, 200);
  ASSERT_EQ(world_->Handle(Call("POST", "/sim/faults", R"({"call":"dns.publish","mode":"error","status":502})")).status, 200);
  auto limited = world_->Handle(Bearer("POST", "/client/v4/zones/z1/dns_records", a));
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(json::parse(limited.body).at("errors").at(0).at("code").as_int64(), 971);
  auto broken = world_->Handle(Bearer("POST", "/client/v4/zones/z1/dns_records", a));
  EXPECT_EQ(broken.status, 502);
  EXPECT_FALSE(json::parse(broken.body).at("success").as_bool());
  EXPECT_TRUE(json::parse(broken.body).at("result").is_null());
}

TEST_F(SimServicesTest, DnsListsArePagedWithResultInfo) {
  for (const char* name : {"a", "b", "c"}) {
    std::string body = R"({"type":"A","name":")" + std::string(name) + R"(.play.example","content":"1.2.3.4"})";
    ASSERT_EQ(world_->Handle(Bearer("POST", "/client/v4/zones/z1/dns_records", body)).status, 200);
  }
  HttpCall list = Bearer("GET", "/client/v4/zones/z1/dns_records");
  list.query = {{"page", "2"}, {"per_page", "2"}};
  json::value page = json::parse(world_->Handle(list).body);
  ASSERT_EQ(page.at("result").as_array().size(), 1u);
  EXPECT_EQ(page.at("result").at(0).at("name").as_string(), "c.play.example");
  EXPECT_EQ(json::serialize(page.at("result_info")),
            R"({"page":2,"per_page":2,"count":1,"total_count":3,"total_pages":2})");
}

TEST_F(SimServicesTest, DiscordRecordsMessagesAndWhetherTheyPing) {
  auto post = [&](const std::string& body) {
    return world_->Handle(Call("POST", "/api/webhooks/alerts-critical/sim", body, {})).status;
  };
  EXPECT_EQ(post(R"({"content":"quiet","allowed_mentions":{"parse":[]}})"), 204);
  EXPECT_EQ(post(R"({"content":"<@&42> wake up","allowed_mentions":{"roles":["42"]}})"), 204);
  EXPECT_EQ(post(R"({"content":"default parses all"})"), 204);
  EXPECT_EQ(post(R"({"content":""})"), 400);
  EXPECT_EQ(post("{\"content\":\"" + std::string(2001, 'x') + "\"}"), 400);
  json::value state = State(*world_);
  const auto& msgs = state.at("discordMessages").as_array();
  ASSERT_EQ(msgs.size(), 3u);
  EXPECT_EQ(msgs[0].at("channel").as_string(), "alerts-critical");
  EXPECT_FALSE(msgs[0].at("ping").as_bool());
  EXPECT_TRUE(msgs[1].at("ping").as_bool());
  EXPECT_TRUE(msgs[2].at("ping").as_bool());
}

TEST_F(SimServicesTest, BillingIsActiveUntilChangedBehindTheWebhooksBack) {
  auto status = [&] {
    return std::string(json::parse(world_->Handle(Bearer("GET", "/billing/customers/c-1")).body)
                           .at("status").as_string());
  };
  EXPECT_EQ(status(), "active");
  ASSERT_EQ(world_->Handle(Call("POST", "/sim/billing", R"({"customerId":"c-1","status":"suspended"})")).status, 200);
  EXPECT_EQ(status(), "suspended");
  EXPECT_EQ(world_->Handle(Call("POST", "/sim/billing", R"({"customerId":"c-1","status":"gone"})")).status, 400);
}

TEST_F(SimServicesTest, EveryDriftAndWhichCanBeCleared) {
  StartContainer();
  ASSERT_EQ(world_->Handle(Bearer("POST", "/proxy/servers", R"({"name":"survival","address":"x:1"})")).status, 200);
  ASSERT_EQ(world_->Handle(Bearer("POST", "/client/v4/zones/z1/dns_records",
                                  R"({"type":"A","name":"survival.play.example","content":"1.2.3.4"})")).status, 200);
  auto drift = [&](const std::string& kind, bool clear = false) {
    return world_->Handle(Call("POST", "/sim/faults",
                               R"({"drift":")" + kind + R"(","vmid":101)" +
                                   (clear ? R"(,"clear":true})" : "}")));
  };
  EXPECT_EQ(drift("dns_missing").status, 200);
  EXPECT_TRUE(State(*world_).at("dnsRecords").as_array().empty());
  EXPECT_EQ(drift("proxy_missing").status, 200);
  EXPECT_TRUE(State(*world_).at("proxyRegistrations").as_array().empty());
  EXPECT_EQ(drift("proxy_missing", true).status, 400);  // a repair undoes it, not a clear
  EXPECT_EQ(drift("backup_missed").status, 200);
  EXPECT_FALSE(State(*world_).at("backups").as_array().empty());
  EXPECT_EQ(drift("container_stopped").status, 200);
  EXPECT_EQ(State(*world_).at("containers").at(0).at("status").as_string(), "stopped");
  EXPECT_EQ(drift("container_stopped", true).status, 200);
  EXPECT_EQ(Health(), 200);
  EXPECT_EQ(drift("container_missing").status, 200);
  EXPECT_TRUE(State(*world_).at("containers").as_array().empty());
  EXPECT_EQ(drift("agent_offline").status, 404);  // no such container any more
  EXPECT_EQ(world_->Handle(Call("POST", "/sim/faults", R"({"drift":"meteor","vmid":101})")).status, 400);
}

TEST_F(SimServicesTest, CloudflareVerifiesTheTokenAndKnowsItsZones) {
  json::value verified = json::parse(world_->Handle(Bearer("GET", "/client/v4/user/tokens/verify")).body);
  EXPECT_EQ(verified.at("result").at("status").as_string(), "active");
  auto wrong = world_->Handle(Call("GET", "/client/v4/user/tokens/verify", "",
                                   {{"authorization", "Bearer nope"}}));
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(json::parse(wrong.body).at("errors").at(0).at("code").as_int64(), 1000);
  json::value zlh = json::parse(world_->Handle(Bearer("GET", "/client/v4/zones/zlh")).body);
  EXPECT_EQ(zlh.at("result").at("name").as_string(), "play.example");
  auto stranger = world_->Handle(Call("GET", "/client/v4/zones/zlh", "", {{"authorization", "Bearer nope"}}));
  EXPECT_EQ(stranger.status, 403);
  EXPECT_EQ(json::parse(stranger.body).at("errors").at(0).at("code").as_int64(), 9109);
  EXPECT_EQ(world_->Handle(Bearer("GET", "/client/v4/zones/z9")).status, 400);
  ASSERT_EQ(world_->Handle(Call("POST", "/sim/zones", R"({"id":"z9","name":"games.example"})")).status, 200);
  json::value z9 = json::parse(world_->Handle(Bearer("GET", "/client/v4/zones/z9")).body);
  EXPECT_EQ(z9.at("result").at("name").as_string(), "games.example");
  EXPECT_EQ(world_->Handle(Call("POST", "/sim/zones", R"({"id":"z8"})")).status, 400);
  auto reopened = World::Open(tmp_.Sub("state.json"), {"pve1"});  // declared zones are kept
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->Handle(Bearer("GET", "/client/v4/zones/z9")).status, 200);
}

TEST_F(SimServicesTest, DiscordWebhooksAnswerAGetAndRefuseAWrongToken) {
  auto hook = world_->Handle(Call("GET", "/api/webhooks/alerts-critical/sim", "", {}));
  ASSERT_EQ(hook.status, 200);
  EXPECT_EQ(json::parse(hook.body).at("type").as_int64(), 1);
  auto wrong = world_->Handle(Call("GET", "/api/webhooks/alerts-critical/nope", "", {}));
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(json::parse(wrong.body).at("code").as_int64(), 50027);
  EXPECT_EQ(world_->Handle(Call("POST", "/api/webhooks/alerts-critical/nope", R"({"content":"x"})", {})).status, 401);
  EXPECT_TRUE(State(*world_).at("discordMessages").as_array().empty());
}

TEST_F(SimServicesTest, DiscordAnswersWithTheMessageWhenAskedToWait) {
  HttpCall post = Call("POST", "/api/webhooks/alerts-critical/sim", R"({"content":"hi"})", {});
  auto quiet = world_->Handle(post);
  EXPECT_EQ(quiet.status, 204);
  EXPECT_TRUE(quiet.body.empty());
  post.query = {{"wait", "true"}};
  auto waited = world_->Handle(post);
  ASSERT_EQ(waited.status, 200);
  json::value m = json::parse(waited.body);
  EXPECT_EQ(m.at("content").as_string(), "hi");
  EXPECT_EQ(m.at("webhook_id").as_string(), "alerts-critical");
  EXPECT_TRUE(m.at("author").at("bot").as_bool());
  EXPECT_NE(m.at("id").as_string(), "");
}

TEST_F(SimServicesTest, DiscordRateLimitSaysHowLongInBodyAndHeaders) {
  ASSERT_EQ(world_->Handle(Call("POST", "/sim/faults", R"({"call":"discord.post","mode":"error","status":429})")).status, 200);
  auto r = world_->Handle(Call("POST", "/api/webhooks/alerts-critical/sim", R"({"content":"x"})", {}));
  ASSERT_EQ(r.status, 429);
  EXPECT_DOUBLE_EQ(json::parse(r.body).at("retry_after").as_double(), 0.35);
  std::map<std::string, std::string> headers(r.headers.begin(), r.headers.end());
  for (const char* h : {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset",
                        "X-RateLimit-Reset-After", "X-RateLimit-Bucket", "Retry-After"}) {
    EXPECT_EQ(headers.count(h), 1u) << h;
  }
  EXPECT_EQ(headers["X-RateLimit-Reset-After"], "0.350");
  EXPECT_EQ(headers["Retry-After"], "1");
  EXPECT_TRUE(State(*world_).at("discordMessages").as_array().empty());
}

TEST_F(SimServicesTest, DiscordDeletedWebhookIsUnknown) {
  auto control = [&](const std::string& body) { return world_->Handle(Call("POST", "/sim/faults", body)).status; };
  ASSERT_EQ(control(R"({"discordWebhookDeleted":"alerts-billing"})"), 200);
  auto r = world_->Handle(Call("POST", "/api/webhooks/alerts-billing/sim", R"({"content":"x"})", {}));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(json::parse(r.body).at("code").as_int64(), 10015);
  EXPECT_EQ(json::parse(r.body).at("message").as_string(), "Unknown Webhook");
  EXPECT_EQ(world_->Handle(Call("POST", "/api/webhooks/alerts-critical/sim", R"({"content":"x"})", {})).status, 204);
  EXPECT_EQ(control(R"({"discordWebhookDeleted":""})"), 400);
  EXPECT_EQ(control(R"({"discordWebhookDeleted":"alerts-billing","clear":true})"), 200);
  EXPECT_EQ(world_->Handle(Call("POST", "/api/webhooks/alerts-billing/sim", R"({"content":"x"})", {})).status, 204);
}

TEST_F(SimServicesTest, DiscordShowsRepeatedNoncesUnlessDedupIsOn) {
  auto post = [&] {
    return world_->Handle(Call("POST", "/api/webhooks/alerts-critical/sim",
                               R"({"content":"x","nonce":"n1","enforce_nonce":true})", {})).status;
  };
  auto shown = [&] { return State(*world_).at("discordMessages").as_array().size(); };
  EXPECT_EQ(post(), 204);
  EXPECT_EQ(post(), 204);
  EXPECT_EQ(shown(), 2u) << "Discord documents no nonce de-duplication for webhooks";
  auto control = [&](const std::string& body) { return world_->Handle(Call("POST", "/sim/faults", body)).status; };
  EXPECT_EQ(control(R"({"discordNonceDedup":"yes"})"), 400);
  ASSERT_EQ(control(R"({"discordNonceDedup":true})"), 200);
  EXPECT_EQ(post(), 204);
  EXPECT_EQ(shown(), 2u);
  EXPECT_EQ(State(*world_).at("discordRepeats").as_int64(), 1);
  auto reopened = World::Open(tmp_.Sub("state.json"), {"pve1"});  // the setting is kept
  ASSERT_TRUE(reopened.ok());
  (*reopened)->Handle(Call("POST", "/api/webhooks/alerts-critical/sim",
                           R"({"content":"x","nonce":"n1","enforce_nonce":true})", {}));
  EXPECT_EQ(json::parse((*reopened)->StateJson()).at("discordRepeats").as_int64(), 2);
  ASSERT_EQ(control(R"({"discordNonceDedup":false})"), 200);
  EXPECT_EQ(post(), 204);
  EXPECT_EQ(shown(), 3u);
}

TEST_F(SimServicesTest, BackupsRunAndList) {
  StartContainer();
  ASSERT_EQ(world_->Handle(Call("POST", "/api2/json/nodes/pve1/vzdump", "vmid=101&storage=local&mode=snapshot")).status, 200);
  HttpCall list = Call("GET", "/api2/json/nodes/pve1/storage/local/content");
  list.query = {{"content", "backup"}, {"vmid", "101"}};
  json::value content = json::parse(world_->Handle(list).body);
  ASSERT_EQ(content.at("data").as_array().size(), 1u);
  EXPECT_EQ(content.at("data").at(0).at("vmid").as_int64(), 101);
  EXPECT_EQ(State(*world_).at("backups").at(0).at("vmid").as_int64(), 101);
}

// A backup keeps what the container was; restoring it where the container is gone makes it anew,
// as Proxmox does: same VMID, hostname, config and disk, what was installed, stopped; the state
// records the source. A reboot stops the game with the container.
TEST_F(SimServicesTest, ARestoreRemakesAMissingContainerAsItWasBackedUp) {
  ASSERT_EQ(world_->Handle(Call("PUT", "/api2/json/nodes/pve1/lxc/101/config", "cores=3")).status, 200);
  StartContainer();
  ASSERT_EQ(world_->Handle(Bearer("POST", "/agents/101/install", R"({"game":"vanilla","loader":"fabric"})")).status, 200);
  ASSERT_EQ(world_->Handle(Bearer("POST", "/agents/101/workload/start")).status, 200);
  ASSERT_EQ(world_->Handle(Call("POST", "/api2/json/nodes/pve1/lxc/101/status/reboot")).status, 200);
  EXPECT_EQ(State(*world_).at("agents").at(0).at("workload").as_string(), "stopped");
  ASSERT_EQ(world_->Handle(Call("POST", "/api2/json/nodes/pve1/vzdump", "vmid=101&storage=local")).status, 200);
  ASSERT_EQ(world_->Handle(Call("POST", "/sim/faults", R"({"drift":"container_missing","vmid":101})")).status, 200);
  ASSERT_TRUE(State(*world_).at("containers").as_array().empty());
  const std::string volid = "local:backup/vzdump-lxc-101";
  auto unknown = world_->Handle(Call("POST", "/api2/json/nodes/pve1/lxc",
                                     "vmid=101&ostemplate=local%3Abackup%2Fvzdump-lxc-102&restore=1"));
  EXPECT_EQ(unknown.status, 500);
  EXPECT_TRUE(State(*world_).at("containers").as_array().empty()) << "a failed restore made something";
  ASSERT_EQ(world_->Handle(Call("POST", "/api2/json/nodes/pve1/lxc",
                                "vmid=101&ostemplate=local%3Abackup%2Fvzdump-lxc-101&restore=1")).status,
            200);
  json::value c = State(*world_).at("containers").at(0);
  EXPECT_EQ(c.at("vmid").as_int64(), 101);
  EXPECT_EQ(c.at("hostname").as_string(), "survival");
  EXPECT_EQ(c.at("status").as_string(), "stopped");
  EXPECT_EQ(c.at("cores").as_int64(), 3);
  EXPECT_EQ(c.at("restoredFrom").as_string(), volid);
  EXPECT_EQ(Health(), 503);  // stopped: its agent is not up
  StartContainer();
  EXPECT_EQ(Health(), 200);
  EXPECT_EQ(world_->Handle(Bearer("POST", "/agents/101/workload/start")).status, 200)
      << "the restored container lost its installed game";
  // Over an existing container only with force, and only a stopped one.
  auto running = world_->Handle(Call("POST", "/api2/json/nodes/pve1/lxc",
                                     "vmid=101&ostemplate=local%3Abackup%2Fvzdump-lxc-101&restore=1&force=1"));
  EXPECT_EQ(running.status, 500);
  EXPECT_NE(running.body.find("can't overwrite running container"), std::string::npos);
  auto unforced = world_->Handle(Call("POST", "/api2/json/nodes/pve1/lxc",
                                      "vmid=101&ostemplate=local%3Abackup%2Fvzdump-lxc-101&restore=1"));
  EXPECT_EQ(unforced.status, 500);
  EXPECT_NE(unforced.body.find("already exists"), std::string::npos);
}

// {"outage": service, "seconds": S}: every request to that service answers 503 until the outage
// ends (or a 0-second one ends it), its webhook GET included; other services are unaffected; it
// is kept across a restart of the simulator.
TEST_F(SimWorldTest, AnOutageFailsEveryCallOfItsServiceUntilItEnds) {
  auto control = [&](const std::string& body) {
    return world_->Handle(Call("POST", "/sim/faults", body, {})).status;
  };
  EXPECT_EQ(control(R"({"outage": "discord"})"), 400);  // seconds required
  EXPECT_EQ(control(R"({"outage": "mail", "seconds": 5})"), 400);
  EXPECT_EQ(control(R"({"outage": "discord", "seconds": -1})"), 400);
  EXPECT_EQ(control(R"({"outage": "discord", "seconds": 5, "count": 2})"), 400);
  ASSERT_EQ(control(R"({"outage": "discord", "seconds": 600})"), 200);
  HttpCall post = Call("POST", "/api/webhooks/alerts-critical/sim", R"({"content":"hi"})", {});
  HttpReply down = world_->Handle(post);
  EXPECT_EQ(down.status, 503);
  EXPECT_NE(down.body.find("discord is down"), std::string::npos) << down.body;
  EXPECT_EQ(world_->Handle(Call("GET", "/api/webhooks/alerts-critical/sim", "", {})).status, 503);
  EXPECT_EQ(world_->Handle(Call("GET", "/api2/json/version")).status, 200);  // Proxmox is up
  EXPECT_TRUE(State(*world_).at("discordMessages").as_array().empty());
  EXPECT_TRUE(State(*world_).at("outages").as_object().contains("discord"));

  world_.reset();  // a restart of the simulator keeps the outage
  auto reopened = World::Open(tmp_.Sub("state.json"), {"pve1", "pve2"});
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  world_ = std::move(reopened).value();
  EXPECT_EQ(world_->Handle(post).status, 503);

  ASSERT_EQ(control(R"({"outage": "discord", "seconds": 0})"), 200);
  EXPECT_EQ(world_->Handle(post).status, 204);
  EXPECT_EQ(State(*world_).at("discordMessages").as_array().size(), 1u);
  EXPECT_TRUE(State(*world_).at("outages").as_object().empty());
}

}  // namespace
}  // namespace zlh::sim

// The service activities (agent, proxy, DNS, billing, backups, Discord) against zlh-sim over real
// HTTP: idempotent mutations, fencing tokens on the wire, and the classification of failures for
// the retry policy.
#include <gtest/gtest.h>

#include <set>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <chrono>

#include "activities/agent_http.h"
#include "activities/backups_proxmox.h"
#include "activities/billing_http.h"
#include "activities/dns_http.h"
#include "activities/notifier_discord.h"
#include "activities/proxmox.h"
#include "activities/proxy_http.h"
#include "base/temp_dir.h"
#include "tests/sim_process.h"

namespace zlh::activities {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

// 60 lines of 50 bytes ("line 100....", ...): more than one Discord message holds.
std::string TwoMessagesOfLines() {
  std::string content;
  for (int i = 0; i < 60; ++i) {
    content += "line " + std::to_string(100 + i) + std::string(41, '.') + "\n";
  }
  content.pop_back();
  return content;
}

class ServicesActivityTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(sim_.url().empty()); }

  template <typename T>
  T Run(Task<T> task) {
    auto f = asio::co_spawn(io_, std::move(task), asio::use_future);
    io_.restart();
    while (f.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      io_.run_one_for(std::chrono::milliseconds(10));
    }
    return f.get();
  }

  // A raw call to the simulator; the HTTP status (0: no answer).
  long Raw(const std::string& method, const std::string& path, const std::string& body,
           std::vector<std::pair<std::string, std::string>> headers = {}) {
    HttpRequest r;
    r.method = method;
    r.url = sim_.url() + path;
    r.body = body;
    r.headers = std::move(headers);
    auto res = Run(http_.Send(r));
    return res.ok() ? res->status : 0;
  }
  long SimPost(const std::string& path, const std::string& body) { return Raw("POST", path, body); }
  json::value SimState() {
    HttpRequest r;
    r.url = sim_.url() + "/sim/state";
    return json::parse(Run(http_.Send(r))->body);
  }
  json::array State(const char* key) { return SimState().at(key).as_array(); }
  // The recorded mutations named `call`.
  std::vector<json::value> Mutations(const std::string& call) {
    std::vector<json::value> out;
    for (const json::value& m : State("mutations")) {
      if (m.at("call").as_string() == call) out.push_back(m);
    }
    return out;
  }

  ProxmoxOptions Pve() {
    ProxmoxOptions o;
    o.base_url = sim_.url();
    o.token = "zlh@pve!zlh=00000000-0000-0000-0000-00000000517e";
    o.task_poll_interval = Millis(10);
    o.request_timeout = Millis(2'000);
    return o;
  }
  // Container `vmid` named `hostname` on pve1, running (its agent ready).
  void RunningContainer(int64_t vmid, const std::string& hostname) {
    ProxmoxHypervisor pve(http_, Pve());
    ASSERT_TRUE(Run(pve.Clone(ctx_, "pve1", 9000, "pve1", vmid, hostname)).ok());
    ASSERT_TRUE(Run(pve.Start(ctx_, "pve1", vmid)).ok());
  }

  HttpAgent MakeAgent(std::string token = "sim") {
    return HttpAgent(http_, AgentOptions{sim_.url() + "/agents/{vmid}", std::move(token), true, "",
                                         Millis(2'000)});
  }
  HttpProxy MakeProxy(std::string base) {
    return HttpProxy(http_, ProxyOptions{std::move(base), "sim", true, "", Millis(2'000)});
  }
  CloudflareDns MakeDns(int per_page = 100, std::string token = "sim", int zone_per_page = 5000) {
    CloudflareOptions o;
    o.base_url = sim_.url() + "/client/v4";
    o.zone_id = "zone1";
    o.token = std::move(token);
    o.per_page = per_page;
    o.zone_per_page = zone_per_page;
    return CloudflareDns(http_, o);
  }
  DiscordNotifier MakeDiscord(DiscordOptions o = {}, Millis timeout = Millis(2'000)) {
    if (o.webhooks.empty()) o.default_webhook_template = sim_.url() + "/api/webhooks/{channel}/sim";
    o.roles = {{"alerts-repairs", "555"}};
    o.request_timeout = timeout;
    return DiscordNotifier(http_, o);
  }

  TempDir tmp_;
  Sim sim_{tmp_.Sub("sim.json")};
  asio::io_context io_;
  HttpClient http_{2};
  CallContext ctx_{"wf:1", 0};
};

// --- agent ---

TEST_F(ServicesActivityTest, AgentHealthInstallWorkloadAndRestart) {
  RunningContainer(101, "survival");
  HttpAgent agent = MakeAgent();
  AgentHealth health = *Run(agent.Health({101, ""}));
  EXPECT_EQ(health.status, "ready");
  EXPECT_EQ(health.workload, "stopped");
  EXPECT_EQ(health.players, 0);
  CallContext fenced{"wf:1:install", 7};
  ASSERT_TRUE(Run(agent.Install(fenced, {101, ""}, "vanilla", "fabric")).ok());
  EXPECT_EQ(Mutations("agent.install").at(0).at("fencingToken").as_int64(), 7);
  ASSERT_TRUE(Run(agent.Workload(ctx_, {101, ""}, true)).ok());
  EXPECT_EQ(State("agents").at(0).at("workload").as_string(), "running");
  EXPECT_EQ(Run(agent.Health({101, ""}))->workload, "running");
  ASSERT_TRUE(Run(agent.Workload(ctx_, {101, ""}, false)).ok());
  EXPECT_EQ(State("agents").at(0).at("workload").as_string(), "stopped");
  ASSERT_TRUE(Run(agent.RestartService(ctx_, {101, ""})).ok());
  EXPECT_EQ(State("agents").at(0).at("restarts").as_int64(), 1);
}

TEST_F(ServicesActivityTest, AgentThatDoesNotAnswerIsUnavailable) {
  RunningContainer(101, "survival");
  ASSERT_EQ(SimPost("/sim/faults", R"({"drift":"agent_offline","vmid":101})"), 200);
  EXPECT_EQ(Run(MakeAgent().Health({101, ""})).status().code(), Code::kUnavailable);
  EXPECT_EQ(Run(MakeAgent().Health({999, ""})).status().code(), Code::kUnavailable);
  ASSERT_EQ(SimPost("/sim/faults", R"({"call":"agent.health","mode":"timeout","latencyMs":3000})"),
            200);
  HttpAgent impatient(http_,
                      AgentOptions{sim_.url() + "/agents/{vmid}", "sim", true, "", Millis(300)});
  EXPECT_EQ(Run(impatient.Health({101, ""})).status().code(), Code::kDeadlineExceeded);
}

TEST_F(ServicesActivityTest, AgentUrlTemplateAndToken) {
  // {ip} is the container's recorded address; without one the URL cannot be made.
  HttpAgent agent(http_, AgentOptions{"http://{ip}:7070/", "t", true, "", Millis(100)});
  EXPECT_EQ(*agent.BaseUrl({257, "10.20.1.10"}), "http://10.20.1.10:7070");
  EXPECT_EQ(agent.BaseUrl({257, ""}).status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(Run(agent.Health({257, ""})).status().code(), Code::kFailedPrecondition);
  RunningContainer(101, "survival");
  // No token, no Authorization header: the agent refuses, and a retry cannot help.
  EXPECT_EQ(Run(MakeAgent("").Health({101, ""})).status().code(), Code::kInvalidArgument);
}

// --- proxy ---

TEST_F(ServicesActivityTest, ProxyRegisterTwiceIsOneRegistration) {
  HttpProxy proxy = MakeProxy(sim_.url() + "/proxy/");
  ASSERT_TRUE(Run(proxy.Register(ctx_, "survival", "127.1.0.101:25565")).ok());
  ASSERT_TRUE(Run(proxy.Register(ctx_, "survival", "127.1.0.101:25565")).ok());  // a retry
  ASSERT_EQ(State("proxyRegistrations").size(), 1u);
  EXPECT_EQ(Mutations("proxy.register").size(), 1u);  // the retry found it and changed nothing
  auto listed = Run(proxy.List());
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->at(0).address, "127.1.0.101:25565");
  Status taken = Run(proxy.Register(ctx_, "survival", "127.1.0.102:25565"));
  EXPECT_EQ(taken.code(), Code::kFailedPrecondition);
  EXPECT_NE(taken.message().find("registered at 127.1.0.101:25565"), std::string::npos);
}

TEST_F(ServicesActivityTest, ProxyUnregisterTwiceIsOk) {
  HttpProxy proxy = MakeProxy(sim_.url() + "/proxy");
  ASSERT_TRUE(Run(proxy.Register(ctx_, "survival", "127.1.0.101:25565")).ok());
  ASSERT_TRUE(Run(proxy.Unregister(ctx_, "survival")).ok());
  ASSERT_TRUE(Run(proxy.Unregister(ctx_, "survival")).ok());  // already gone
  EXPECT_TRUE(State("proxyRegistrations").empty());
  // A 404 from a wrong base URL is not mistaken for "already gone".
  EXPECT_FALSE(Run(MakeProxy(sim_.url() + "/nowhere").Unregister(ctx_, "survival")).ok());
}

TEST_F(ServicesActivityTest, ProxyStaleFencingTokenIsRefused) {
  HttpProxy proxy = MakeProxy(sim_.url() + "/proxy");
  ASSERT_TRUE(Run(proxy.Register(CallContext{"wf:1", 9}, "a", "127.1.0.101:25565")).ok());
  EXPECT_EQ(Run(proxy.Register(CallContext{"wf:2", 8}, "b", "127.1.0.102:25565")).code(),
            Code::kFailedPrecondition);
  auto m = Mutations("proxy.register");
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].at("fencingToken").as_int64(), 9);
  EXPECT_TRUE(m[1].at("rejected").as_bool());
  EXPECT_EQ(State("proxyRegistrations").size(), 1u);
}

// --- DNS ---

TEST_F(ServicesActivityTest, DnsPublishTwiceIsOneRecordEach) {
  CloudflareDns dns = MakeDns();
  DnsRecord a{"", "A", "survival.play.example", "127.1.0.101"};
  DnsRecord srv{"", "SRV", "_minecraft._tcp.survival.play.example",
                "0 5 25565 survival.play.example"};
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(Run(dns.Publish(CallContext{"wf:1", 3}, a)).ok());
    ASSERT_TRUE(Run(dns.Publish(CallContext{"wf:1", 3}, srv)).ok());
  }
  json::array records = State("dnsRecords");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].at("content").as_string(), "127.1.0.101");
  EXPECT_EQ(records[1].at("type").as_string(), "SRV");
  EXPECT_EQ(records[1].at("content").as_string(), "0 5 25565 survival.play.example");
  EXPECT_EQ(Mutations("dns.publish").size(), 2u);  // the repeats listed and changed nothing
  EXPECT_EQ(Mutations("dns.publish").at(0).at("fencingToken").as_int64(), 3);
  auto listed = Run(dns.List("survival.play.example"));
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->at(0).type, "A");
  EXPECT_FALSE(listed->at(0).id.empty());
}

TEST_F(ServicesActivityTest, DnsPublishWithOtherContentReplaces) {
  CloudflareDns dns = MakeDns();
  ASSERT_TRUE(Run(dns.Publish(ctx_, {"", "A", "survival.play.example", "127.1.0.101"})).ok());
  ASSERT_TRUE(Run(dns.Publish(ctx_, {"", "A", "survival.play.example", "127.1.0.102"})).ok());
  json::array records = State("dnsRecords");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].at("content").as_string(), "127.1.0.102");
  EXPECT_EQ(Mutations("dns.delete").size(), 1u);
}

TEST_F(ServicesActivityTest, DnsListsEveryPageAndPublishReplacesEveryOldRecord) {
  std::vector<std::pair<std::string, std::string>> auth = {{"Authorization", "Bearer sim"}};
  for (const char* ip : {"10.0.0.1", "10.0.0.2", "10.0.0.3"}) {
    std::string body =
        R"({"type":"A","name":"survival.play.example","content":")" + std::string(ip) + R"("})";
    ASSERT_EQ(Raw("POST", "/client/v4/zones/zone1/dns_records", body, auth), 200);
  }
  CloudflareDns dns = MakeDns(/*per_page=*/2);
  auto listed = Run(dns.List("survival.play.example"));
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  EXPECT_EQ(listed->size(), 3u);  // two pages
  ASSERT_TRUE(Run(dns.Publish(ctx_, {"", "A", "survival.play.example", "10.0.0.3"})).ok());
  json::array records = State("dnsRecords");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].at("content").as_string(), "10.0.0.3");
}

TEST_F(ServicesActivityTest, DnsZoneListingPagesThroughEveryRecord) {
  CloudflareDns dns = MakeDns(100, "sim", /*zone_per_page=*/2);
  for (const char* name : {"a", "b", "c"}) {
    ASSERT_TRUE(Run(dns.Publish(ctx_, {"", "A", std::string(name) + ".play.example", "127.1.0.101"})).ok());
  }
  ASSERT_TRUE(Run(dns.Publish(ctx_, {"", "SRV", "_minecraft._tcp.a.play.example", "0 5 25565 a.play.example"})).ok());
  auto zone = Run(dns.ListZone());
  ASSERT_TRUE(zone.ok()) << zone.status().ToString();
  std::set<std::string> names;
  for (const auto& r : *zone) names.insert(r.type + " " + r.name);
  EXPECT_EQ(names, (std::set<std::string>{"A a.play.example", "A b.play.example", "A c.play.example",
                                          "SRV _minecraft._tcp.a.play.example"}));
  EXPECT_EQ(zone->size(), 4u) << "two pages, nothing twice";
}

TEST_F(ServicesActivityTest, DnsUnpublishTwiceIsOk) {
  CloudflareDns dns = MakeDns();
  ASSERT_TRUE(Run(dns.Publish(ctx_, {"", "A", "survival.play.example", "127.1.0.101"})).ok());
  ASSERT_TRUE(Run(dns.Publish(ctx_, {"", "SRV", "_minecraft._tcp.survival.play.example",
                                     "0 5 25565 survival.play.example"}))
                  .ok());
  ASSERT_TRUE(Run(dns.Unpublish(ctx_, "A", "survival.play.example")).ok());
  ASSERT_TRUE(Run(dns.Unpublish(ctx_, "A", "survival.play.example")).ok());
  json::array records = State("dnsRecords");
  ASSERT_EQ(records.size(), 1u);  // the SRV record is another type and name
  EXPECT_EQ(records[0].at("type").as_string(), "SRV");
}

TEST_F(ServicesActivityTest, DnsFailuresCarryCloudflaresErrors) {
  Status refused = Run(MakeDns(100, "").Publish(ctx_, {"", "A", "x.play.example", "127.1.0.1"}));
  EXPECT_EQ(refused.code(), Code::kInvalidArgument);
  EXPECT_NE(refused.message().find("Authentication error"), std::string::npos);
  EXPECT_EQ(Run(MakeDns().Publish(ctx_, {"", "SRV", "_mc._tcp.x", "1 2 nope"})).code(),
            Code::kInvalidArgument);
  ASSERT_EQ(SimPost("/sim/faults", R"({"call":"dns.publish","mode":"error","status":502})"), 200);
  EXPECT_EQ(Run(MakeDns().Publish(ctx_, {"", "A", "x.play.example", "127.1.0.1"})).code(),
            Code::kUnavailable);
  EXPECT_TRUE(State("dnsRecords").empty());
}

// --- billing ---

TEST_F(ServicesActivityTest, BillingStatusFollowsTheBillingSystem) {
  HttpBilling billing(http_, BillingOptions{sim_.url() + "/billing", "sim", true, "", Millis(2'000)});
  EXPECT_EQ(*Run(billing.CustomerStatus("c-1")), "active");
  ASSERT_EQ(SimPost("/sim/billing", R"({"customerId":"c-1","status":"suspended"})"), 200);
  EXPECT_EQ(*Run(billing.CustomerStatus("c-1")), "suspended");
  ASSERT_EQ(SimPost("/sim/faults", R"({"call":"billing.status","mode":"error","status":503})"),
            200);
  EXPECT_EQ(Run(billing.CustomerStatus("c-1")).status().code(), Code::kUnavailable);
  EXPECT_EQ(Run(billing.CustomerStatus("c-1")).value(), "suspended");  // the fault is used up
}

// --- backups ---

TEST_F(ServicesActivityTest, BackupRunIsListedAndRestoreReplacesTheContainer) {
  RunningContainer(101, "survival");
  ProxmoxBackups backups(http_, Pve());
  ASSERT_TRUE(Run(backups.Run(CallContext{"wf:1", 4}, "pve1", 101)).ok());
  auto listed = Run(backups.List("pve1", 101));
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->at(0).id, "local:backup/vzdump-lxc-101");
  EXPECT_GT(listed->at(0).created_ms, 0);
  EXPECT_EQ(Mutations("backup.run").at(0).at("fencingToken").as_int64(), 4);

  ASSERT_TRUE(Run(backups.Restore(CallContext{"wf:2", 5}, "pve1", 101, listed->at(0).id)).ok());
  auto restored = Mutations("backup.restore");
  ASSERT_EQ(restored.size(), 1u);
  EXPECT_EQ(restored[0].at("vmid").as_int64(), 101);
  EXPECT_EQ(restored[0].at("fencingToken").as_int64(), 5);
  EXPECT_FALSE(restored[0].at("rejected").as_bool());
  EXPECT_EQ(Mutations("proxmox.stop").size(), 1u);  // Proxmox will not overwrite a running one
  json::value c = State("containers").at(0);
  EXPECT_EQ(c.at("hostname").as_string(), "survival");
  EXPECT_EQ(c.at("status").as_string(), "stopped");
  EXPECT_EQ(c.at("createCalls").as_int64(), 1);
}

TEST_F(ServicesActivityTest, RestoreOfAnUnknownBackupIsNotFound) {
  RunningContainer(101, "survival");
  ProxmoxBackups backups(http_, Pve());
  Status s = Run(backups.Restore(ctx_, "pve1", 101, "local:backup/vzdump-lxc-101"));
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_TRUE(Mutations("backup.restore").empty());
  EXPECT_EQ(State("containers").at(0).at("status").as_string(), "running");  // untouched
  EXPECT_EQ(Run(backups.Restore(ctx_, "pve1", 101, "no-volume-id")).code(), Code::kInvalidArgument);
}

TEST_F(ServicesActivityTest, RestoreFaultsAreInjectableByName) {
  RunningContainer(101, "survival");
  ProxmoxBackups backups(http_, Pve());
  ASSERT_TRUE(Run(backups.Run(ctx_, "pve1", 101)).ok());
  ASSERT_EQ(SimPost("/sim/faults", R"({"call":"backup.restore","mode":"error","status":503})"),
            200);
  EXPECT_EQ(Run(backups.Restore(ctx_, "pve1", 101, "local:backup/vzdump-lxc-101")).code(),
            Code::kUnavailable);
  EXPECT_TRUE(Run(backups.Restore(ctx_, "pve1", 101, "local:backup/vzdump-lxc-101")).ok());
}

// rebuild_container's restore (SPEC §9.6): the container is gone; its backup makes it again.
TEST_F(ServicesActivityTest, RestoreRemakesAMissingContainer) {
  RunningContainer(101, "survival");
  ProxmoxBackups backups(http_, Pve());
  ASSERT_TRUE(Run(backups.Run(ctx_, "pve1", 101)).ok());
  ASSERT_EQ(SimPost("/sim/faults", R"({"drift":"container_missing","vmid":101})"), 200);
  ASSERT_TRUE(State("containers").empty());
  Status s = Run(backups.Restore(ctx_, "pve1", 101, "local:backup/vzdump-lxc-101"));
  ASSERT_TRUE(s.ok()) << s.ToString();
  json::value c = State("containers").at(0);
  EXPECT_EQ(c.at("hostname").as_string(), "survival");
  EXPECT_EQ(c.at("status").as_string(), "stopped");
  EXPECT_EQ(c.at("restoredFrom").as_string(), "local:backup/vzdump-lxc-101");
}

TEST_F(ServicesActivityTest, SimRestoresLikeProxmox) {
  RunningContainer(101, "survival");
  ASSERT_TRUE(Run(ProxmoxBackups(http_, Pve()).Run(ctx_, "pve1", 101)).ok());
  std::vector<std::pair<std::string, std::string>> auth = {
      {"Authorization", "PVEAPIToken=zlh@pve!zlh=00000000-0000-0000-0000-00000000517e"}};
  const std::string path = "/api2/json/nodes/pve1/lxc";
  const std::string form = "vmid=101&ostemplate=local%3Abackup%2Fvzdump-lxc-101&restore=1";
  EXPECT_EQ(Raw("POST", path, form + "&force=1", auth), 500);  // running: refused
  ASSERT_TRUE(Run(ProxmoxHypervisor(http_, Pve()).Stop(ctx_, "pve1", 101)).ok());
  EXPECT_EQ(Raw("POST", path, form, auth), 500);  // exists, and no force
  EXPECT_EQ(Raw("POST", path, form + "&force=1", auth), 200);
  EXPECT_EQ(Mutations("backup.restore").size(), 3u);  // every attempt is recorded
}

// --- Discord ---

TEST_F(ServicesActivityTest, DiscordPartLandsWithTheRightMentions) {
  DiscordNotifier discord = MakeDiscord();
  auto post = [&](const char* key, const char* channel, const char* content, bool ping) {
    PostResult r = Run(discord.PostPart(key, channel, content, ping, 0));
    EXPECT_TRUE(r.delivered()) << r.http_status << " " << r.transport.ToString();
  };
  post("wf:1", "alerts-repairs", "repaired survival", false);
  post("wf:2", "alerts-repairs", "cannot repair survival", true);
  post("wf:3", "digest", "all well", true);
  json::array m = State("discordMessages");
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0].at("channel").as_string(), "alerts-repairs");
  EXPECT_EQ(m[0].at("content").as_string(), "repaired survival");
  EXPECT_FALSE(m[0].at("ping").as_bool());  // allowed_mentions lets nothing through
  EXPECT_EQ(m[1].at("content").as_string(), "<@&555> cannot repair survival");
  EXPECT_TRUE(m[1].at("ping").as_bool());
  EXPECT_EQ(m[2].at("channel").as_string(), "digest");
  EXPECT_EQ(m[2].at("content").as_string(), "@here all well");  // no role: @here
  EXPECT_TRUE(m[2].at("ping").as_bool());
}

TEST_F(ServicesActivityTest, DiscordSplitsLongContentIntoPartsAtLines) {
  // Two messages, split at a line break, the ping on the first only.
  std::string content = TwoMessagesOfLines();
  DiscordNotifier discord = MakeDiscord();
  ASSERT_EQ(discord.PartCount(content), 2u);
  EXPECT_EQ(discord.PartCount("short"), 1u);
  for (size_t part = 0; part < 2; ++part) {
    EXPECT_TRUE(Run(discord.PostPart("wf:1", "audit-log", content, true, part)).delivered());
  }
  json::array m = State("discordMessages");
  ASSERT_EQ(m.size(), 2u);
  std::string first(m[0].at("content").as_string()), second(m[1].at("content").as_string());
  EXPECT_LE(first.size(), 2000u);
  EXPECT_TRUE(m[0].at("ping").as_bool());
  EXPECT_FALSE(m[1].at("ping").as_bool());
  EXPECT_EQ(second.substr(0, 5), "line ");  // a whole line starts the second part
  EXPECT_EQ(first.substr(first.find(' ') + 1) + "\n" + second, content);  // nothing lost
}

TEST_F(ServicesActivityTest, DiscordChannelWithoutAWebhookIsNotPosted) {
  DiscordOptions only;
  only.webhooks = {{"alerts", sim_.url() + "/api/webhooks/alerts/sim"}};
  DiscordNotifier configured = MakeDiscord(only);
  EXPECT_TRUE(Run(configured.PostPart("wf:1", "alerts", "hi", false, 0)).delivered());
  EXPECT_EQ(State("discordMessages").at(0).at("channel").as_string(), "alerts");
  PostResult nowhere = Run(configured.PostPart("wf:1", "digest", "hi", false, 0));
  EXPECT_EQ(nowhere.transport.code(), Code::kInvalidArgument) << nowhere.transport.ToString();
  EXPECT_EQ(nowhere.http_status, 0);
  EXPECT_EQ(State("discordMessages").size(), 1u);
}

TEST_F(ServicesActivityTest, DiscordRepeatedPartCarriesItsNonce) {
  // A delivery tried again (after a crash, a timeout or a 5xx) posts under the same key, so with
  // the same nonce; another key is another nonce, even with the same text. Discord shows both
  // repeats (it documents no nonce de-duplication for webhooks); a receiver that honours the nonce
  // shows one.
  DiscordNotifier discord = MakeDiscord();
  auto post = [&](const char* key) {
    return Run(discord.PostPart(key, "alerts-critical", "agent down", true, 0)).delivered();
  };
  ASSERT_TRUE(post("wf:9:4"));
  ASSERT_TRUE(post("wf:9:4"));
  json::array m = State("discordMessages");
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].at("nonce").as_string(), m[1].at("nonce").as_string());
  ASSERT_EQ(SimPost("/sim/faults", R"({"discordNonceDedup": true})"), 200);
  ASSERT_TRUE(post("wf:9:4"));
  ASSERT_TRUE(post("wf:9:5"));
  m = State("discordMessages");
  ASSERT_EQ(m.size(), 3u);
  EXPECT_NE(m[1].at("nonce").as_string(), m[2].at("nonce").as_string());
  EXPECT_EQ(SimState().at("discordRepeats").as_int64(), 1);
}

// A refusal is an answer told as it came; no answer is a transport error a later attempt may fix.
// Either way the webhook's URL (its token is a secret) is not in what is told.
TEST_F(ServicesActivityTest, DiscordFailuresAreToldAndKeepTheWebhookSecret) {
  ASSERT_EQ(SimPost("/sim/faults", R"({"call":"discord.post","mode":"error","status":403})"), 200);
  PostResult forbidden = Run(MakeDiscord().PostPart("wf:1", "digest", "x", false, 0));
  EXPECT_TRUE(forbidden.transport.ok()) << forbidden.transport.ToString();
  EXPECT_EQ(forbidden.http_status, 403);
  EXPECT_FALSE(forbidden.delivered());
  EXPECT_TRUE(State("discordMessages").empty());

  DiscordOptions nowhere;
  nowhere.webhooks = {{"alerts", "http://127.0.0.1:1/api/webhooks/1/SECRET-TOKEN"}};
  PostResult refused = Run(MakeDiscord(nowhere).PostPart("wf:1", "alerts", "x", false, 0));
  EXPECT_EQ(refused.transport.code(), Code::kUnavailable) << refused.transport.ToString();
  EXPECT_EQ(refused.http_status, 0);
  EXPECT_EQ(refused.transport.message().find("SECRET-TOKEN"), std::string::npos)
      << refused.transport.message();
  EXPECT_NE(refused.transport.message().find("#alerts"), std::string::npos)
      << refused.transport.message();

  ASSERT_EQ(SimPost("/sim/faults", R"({"call":"discord.post","mode":"timeout","latencyMs":3000})"),
            200);
  DiscordOptions hung;
  hung.webhooks = {{"alerts", sim_.url() + "/api/webhooks/alerts/sim"}};
  PostResult late = Run(MakeDiscord(hung, Millis(300)).PostPart("wf:1", "alerts", "x", false, 0));
  EXPECT_EQ(late.transport.code(), Code::kDeadlineExceeded) << late.transport.ToString();
  EXPECT_EQ(late.transport.message().find("/api/webhooks"), std::string::npos)
      << late.transport.message();
  EXPECT_NE(late.transport.message().find("#alerts"), std::string::npos)
      << late.transport.message();
}

// The outbox's attempt: one part, in any order, its own nonce, the ping on part 0 only, and no
// fencing token (a delivery carries a decision recorded under one; it makes none).
TEST_F(ServicesActivityTest, DiscordPostPartPostsOnePartUnfenced) {
  DiscordNotifier discord = MakeDiscord();
  std::string content = TwoMessagesOfLines();
  PostResult second = Run(discord.PostPart("wf:2:notify", "alerts-repairs", content, true, 1));
  EXPECT_TRUE(second.delivered()) << second.http_status << " " << second.message;
  PostResult first = Run(discord.PostPart("wf:2:notify", "alerts-repairs", content, true, 0));
  EXPECT_EQ(first.http_status, 204);
  json::array m = State("discordMessages");
  ASSERT_EQ(m.size(), 2u);
  EXPECT_FALSE(m[0].at("ping").as_bool());
  EXPECT_EQ(m[0].at("nonce").as_string(), DiscordNonce("wf:2:notify", 1));
  EXPECT_TRUE(m[1].at("ping").as_bool());
  EXPECT_EQ(m[1].at("nonce").as_string(), DiscordNonce("wf:2:notify", 0));
  EXPECT_EQ(std::string(m[1].at("content").as_string()).substr(0, 16), "<@&555> line 100");
  std::vector<json::value> posts = Mutations("discord.post");
  ASSERT_EQ(posts.size(), 2u);
  for (const json::value& post : posts) {
    EXPECT_TRUE(post.at("fencingToken").is_null()) << post;
  }

  PostResult beyond = Run(discord.PostPart("wf:2:notify", "alerts-repairs", content, true, 2));
  EXPECT_EQ(beyond.transport.code(), Code::kInvalidArgument);
  EXPECT_EQ(beyond.http_status, 0);
  EXPECT_EQ(State("discordMessages").size(), 2u);
}

TEST_F(ServicesActivityTest, DiscordPostPartTellsA503A429AndADeletedWebhookWithoutRetrying) {
  DiscordNotifier discord = MakeDiscord();
  ASSERT_EQ(
      SimPost("/sim/faults", R"({"call":"discord.post","mode":"error","count":1,"status":503})"),
      200);
  PostResult down = Run(discord.PostPart("wf:3", "digest", "x", false, 0));
  EXPECT_TRUE(down.transport.ok());
  EXPECT_EQ(down.http_status, 503);
  EXPECT_FALSE(down.retry_after.has_value());
  EXPECT_EQ(down.discord_code, 0);
  EXPECT_NE(down.message, "");

  ASSERT_EQ(
      SimPost("/sim/faults", R"({"call":"discord.post","mode":"error","count":1,"status":429})"),
      200);
  PostResult limited = Run(discord.PostPart("wf:3", "digest", "x", false, 0));
  EXPECT_EQ(limited.http_status, 429);
  EXPECT_EQ(limited.retry_after, Millis(350));
  EXPECT_EQ(limited.message, "You are being rate limited.");
  EXPECT_TRUE(State("discordMessages").empty()) << "neither was tried again";

  ASSERT_EQ(SimPost("/sim/faults", R"({"discordWebhookDeleted": "alerts-billing"})"), 200);
  PostResult gone = Run(discord.PostPart("wf:3", "alerts-billing", "x", false, 0));
  EXPECT_EQ(gone.http_status, 404);
  EXPECT_EQ(gone.discord_code, 10015);
  EXPECT_EQ(gone.message, "Unknown Webhook");
  EXPECT_TRUE(State("discordMessages").empty());
}

TEST(LogNotifierTest, AMessageIsOnePartTakenWhole) {
  asio::io_context io;
  LogNotifier log;
  EXPECT_EQ(log.PartCount(std::string(5'000, 'x')), 1u);
  auto attempt = [&](size_t part) {
    auto f =
        asio::co_spawn(io, log.PostPart("k", "audit-log", "hello", false, part), asio::use_future);
    io.restart();
    io.run();
    return f.get();
  };
  PostResult taken = attempt(0);
  EXPECT_TRUE(taken.delivered());
  EXPECT_EQ(taken.http_status, 204);
  EXPECT_EQ(attempt(1).transport.code(), Code::kInvalidArgument);
}

TEST(DiscordMessageTest, BodyAndRetryAfter) {
  json::value quiet = json::parse(DiscordMessageBody("@everyone hi", false, "9"));
  EXPECT_TRUE(quiet.at("allowed_mentions").at("parse").as_array().empty());
  json::value role = json::parse(DiscordMessageBody("hi", true, "9"));
  EXPECT_EQ(role.at("allowed_mentions").at("roles").at(0).as_string(), "9");
  json::value here = json::parse(DiscordMessageBody("hi", true, ""));
  EXPECT_EQ(here.at("allowed_mentions").at("parse").at(0).as_string(), "everyone");
  // A cut never splits a character: 1,999 two-byte characters end at a character boundary.
  std::string wide;
  for (int i = 0; i < 1999; ++i) wide += "\xC3\xA9";
  std::string cut(json::parse(DiscordMessageBody(wide, false, "")).at("content").as_string());
  EXPECT_LE(cut.size(), 2000u);
  EXPECT_EQ(cut.size() % 2, 1u);  // whole "é"s plus the 3-byte "…"
  // Neither does a split; a nonce fits Discord's 25 characters and differs by part.
  for (const std::string& part : SplitDiscordContent(wide, 1001)) {
    EXPECT_LE(part.size(), 1001u);
    EXPECT_EQ(part.size() % 2, 0u);
  }
  EXPECT_EQ(SplitDiscordContent("", 10), std::vector<std::string>{""});
  EXPECT_EQ(SplitDiscordContent("ab\ncd\nef", 5), (std::vector<std::string>{"ab\ncd", "ef"}));
  EXPECT_LE(DiscordNonce(std::string(200, 'k'), 123).size(), 25u);
  EXPECT_NE(DiscordNonce("wf:1", 0), DiscordNonce("wf:1", 1));
  json::value with = json::parse(DiscordMessageBody("hi", false, "", "n1"));
  EXPECT_EQ(with.at("nonce").as_string(), "n1");
  EXPECT_TRUE(with.at("enforce_nonce").as_bool());

  HttpResponse body{429, R"({"message":"slow down","retry_after":0.25,"global":false})", {}, ""};
  EXPECT_EQ(DiscordRetryAfter(body), Millis(250));
  HttpResponse header{429, "", {{"retry-after", "2"}}, ""};
  EXPECT_EQ(DiscordRetryAfter(header), Millis(2'000));
  EXPECT_FALSE(DiscordRetryAfter(HttpResponse{429, "", {}, ""}).has_value());
}

}  // namespace
}  // namespace zlh::activities

// The controller under kill -9 (SPEC §8.5, §8.6, §10): zlhd reconciles a zlh-sim every 300 ms
// with level-2 repairs on; drift is injected on several servers and zlhd is SIGKILLed at random
// moments while it observes, repairs and notifies, then restarted. Discord shows a message, then
// answers slowly, so kills land between a post and its answer. Discord's webhooks do not
// de-duplicate by nonce (zlh-sim's de-duplication stays off). At the end:
// - every drift is repaired (none lost), every repair workflow completed;
// - once the outbox has delivered everything, #alerts-repairs holds one message per completed
//   repair, of the same repairs, and #audit-log one per tick that recorded one in the outbox (none
//   lost, no tick twice) — counting each message once, however often it was shown;
// - a message shown more than once is one whose post a kill cut, no more often than it was cut;
// - the fencing tokens on the fleet's mutations never go back and none was refused;
// - zlh-journal verify passes.
//
// Randomness: the test prints its seed; ZLH_CRASH_SEED=S reruns its choices (kill timings are real
// time, so not the exact interleaving).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "tests/eventually.h"
#include "tests/outbox_ledger.h"
#include "tests/zlhd_fleet.h"

namespace zlh {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
constexpr int kServers = 10;
constexpr int kRounds = 10;  // one drift per server: its repairs stay under the breaker's 3 an hour

struct Server {
  std::string id, name;
  int64_t vmid = 0;
};

// Whether zlh-sim shows `s` whole: its container running, its agent ready and its game running,
// its DNS records and its proxy registration there.
bool Healthy(const json::object& state, const Server& s) {
  bool running = false, ready = false, proxied = false;
  int dns = 0;
  for (const auto& c : state.at("containers").as_array()) {
    running |= c.at("vmid").as_int64() == s.vmid && c.at("status").as_string() == "running";
  }
  for (const auto& a : state.at("agents").as_array()) {
    ready |= a.at("vmid").as_int64() == s.vmid && a.at("state").as_string() == "ready" &&
             a.at("workload").as_string() == "running";
  }
  for (const auto& r : state.at("dnsRecords").as_array()) {
    std::string name(r.at("name").as_string());
    dns += name == s.name + ".play.example" || name == "_minecraft._tcp." + s.name + ".play.example";
  }
  for (const auto& p : state.at("proxyRegistrations").as_array()) proxied |= p.at("name").as_string() == s.name;
  return running && ready && proxied && dns == 2;
}

// The workflows whose writes recorded a notification on `channel` in zlhd's outbox.
std::set<std::string> OutboxSources(const ZlhdOnSim& z, const std::string& channel) {
  std::set<std::string> sources;
  for (const auto& n : z.Notifications(channel)) sources.emplace(n.at("source").as_string());
  return sources;
}

TEST(ControllerCrashTest, NoRepairOrNotificationIsLostOrDoubledByKills) {
  uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("ZLH_CRASH_SEED")) seed = std::stoull(s);
  std::cout << "seed " << seed << " (rerun with ZLH_CRASH_SEED=" << seed << ")" << std::endl;
  std::mt19937_64 rng(seed);

  TempDir tmp;
  ZlhdOnSim z(tmp, ControllerConfig(R"("maxRepairLevel": 2)"));
  ASSERT_TRUE(z.Start());
  std::vector<Server> servers;
  for (int i = 0; i < kServers; ++i) {
    std::string name = "srv" + std::to_string(i);
    json::object a = z.Body(z.Create("c-" + std::to_string(i), "n" + std::to_string(i), name));
    ASSERT_EQ(z.AwaitWorkflow(std::string(a["workflowId"].as_string())), "completed");
    Server s{std::string(a["serverId"].as_string()), name, 0};
    s.vmid = z.Body(z.Api("GET", "/api/servers/" + s.id + "?customerId=c-" + std::to_string(i)))["vmid"].as_int64();
    servers.push_back(s);
  }
  // Discord shows a message, then takes 300 ms to answer: a kill then cuts a post that showed.
  ASSERT_EQ(z.SimPost("/sim/faults", R"({"call": "discord.post", "mode": "latency", "count": 100000, "latencyMs": 300})"), 200);

  // Each round: a drift on the next server, then a kill at a random moment of the repairs that
  // follow.
  static const char* kDrifts[] = {"dns_missing", "proxy_missing", "container_stopped", "agent_offline"};
  int kills = 0;
  for (int round = 0; round < kRounds; ++round) {
    const Server& s = servers[static_cast<size_t>(round % kServers)];
    std::string drift = kDrifts[rng() % 4];
    json::object body{{"drift", drift}, {"vmid", s.vmid}};
    ASSERT_EQ(z.SimPost("/sim/faults", json::serialize(body)), 200) << drift << " on " << s.name;
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 1400));
    z.Kill();
    ++kills;
    ASSERT_TRUE(z.Start()) << "restart after kill " << kills;
  }

  // Nothing lost: the fleet heals, every repair ends completed.
  ASSERT_TRUE(Eventually(
      [&] {
        json::object state = z.SimState();
        for (const auto& s : servers) {
          if (!Healthy(state, s)) return false;
        }
        return true;
      },
      90s))
      << json::serialize(z.SimState());
  std::vector<std::string> repairs;
  std::string unfinished;  // what was not completed, for the failure's message
  ASSERT_TRUE(Eventually([&] {
    repairs.clear();
    unfinished.clear();
    json::object page = z.Body(z.Api("GET", "/api/workflows?type=repair&limit=1000", "", true));
    for (const auto& w : page["workflows"].as_array()) {
      if (w.at("status").as_string() != "completed") {
        unfinished += json::serialize(z.Body(z.Api("GET", "/api/workflows/" + std::string(w.at("workflowId").as_string()), "", true))) + "\n";
      }
      repairs.emplace_back(w.at("workflowId").as_string());
    }
    return unfinished.empty();
  }, 60s)) << unfinished;
  ASSERT_FALSE(repairs.empty());
  // Delivery follows the workflows that recorded the messages (each post takes 300 ms).
  ASSERT_TRUE(z.AwaitDelivered(120s));

  // #alerts-repairs: one message per completed repair, naming the same repairs.
  std::multiset<std::string> done, told;
  for (const auto& id : repairs) {
    json::object v = z.Body(z.Api("GET", "/api/workflows/" + id, "", true));
    json::object in = v["input"].as_object();
    std::string repair(in["repair"].as_string());
    if (repair == "clear_stale_lease") continue;  // housekeeping: reported elsewhere
    done.insert(repair);
  }
  static const char* kRepairs[] = {"republish_dns", "reregister_proxy", "start_container", "restart_agent",
                                   "restart_workload"};
  for (const auto& m : DistinctMessages(z, "alerts-repairs")) {
    std::string content(m.at("content").as_string());
    for (const char* r : kRepairs) {
      if (content.find(std::string("): ") + r) != std::string::npos) told.insert(r);
    }
  }
  EXPECT_EQ(told, done) << "#alerts-repairs lost or doubled a repair's message";

  // #audit-log: no tick told twice.
  std::map<int64_t, int> audited;
  for (const auto& m : DistinctMessages(z, "audit-log")) {
    std::string content(m.at("content").as_string());
    const std::string prefix = "Reconcile tick ";
    ASSERT_EQ(content.rfind(prefix, 0), 0u) << content;
    if (content.find(" (continued):") != std::string::npos) continue;  // a long tick's later part
    ++audited[std::stoll(content.substr(prefix.size()))];
  }
  for (const auto& [tick, n] : audited) EXPECT_EQ(n, 1) << "tick " << tick << " audited " << n << " times";
  // A reconcile that recorded its tick's #audit-log message in the outbox told its tick; no other
  // tick was told.
  std::set<std::string> audit_sources = OutboxSources(z, "audit-log");
  size_t acting = 0;
  json::object page = z.Body(z.Api("GET", "/api/workflows?type=reconcile&status=completed&limit=1000", "", true));
  for (const auto& w : page["workflows"].as_array()) {
    std::string id(w.at("workflowId").as_string());
    json::object v = z.Body(z.Api("GET", "/api/workflows/" + id, "", true));
    bool recorded = audit_sources.count(id) > 0;
    int64_t tick = v["input"].as_object()["tick"].as_int64();
    acting += recorded;
    EXPECT_EQ(audited.count(tick), recorded ? 1u : 0u)
        << "tick " << tick
        << (recorded ? ": its #audit-log message is lost" : ": told without an outbox entry");
  }
  EXPECT_GT(acting, 0u) << "no tick recorded its #audit-log message";

  // Repeats: only the posts a kill cut, each shown at most once more per cut.
  DiscordLedger ledger = CompareDiscord(z);
  for (const auto& p : ledger.problems) ADD_FAILURE() << p;

  // Fencing: tokens never go back (each restart's is newer) and the fleet refused none.
  uint64_t newest = 0;
  size_t refused = 0;
  json::object state = z.SimState();
  for (const auto& m : state["mutations"].as_array()) {
    if (m.at("fencingToken").is_null()) continue;
    uint64_t token = m.at("fencingToken").to_number<uint64_t>();
    EXPECT_GE(token, newest) << json::serialize(m);
    newest = std::max(newest, token);
    refused += m.at("rejected").as_bool();
  }
  EXPECT_EQ(refused, 0u);
  std::cout << kills << " kills, " << repairs.size() << " repairs, " << acting << " acting ticks, "
            << ledger.entries << " notifications in " << ledger.shown << " Discord messages, "
            << ledger.repeated << " repeated, " << ledger.interrupted << " posts cut by kills"
            << std::endl;

  EXPECT_EQ(z.Stop(), 0);
  int verify = std::system((std::string(ZLH_JOURNAL) + " --data " + z.data() + " verify > /dev/null 2>&1").c_str());
  EXPECT_TRUE(WIFEXITED(verify) && WEXITSTATUS(verify) == 0) << "zlh-journal verify failed";
}

}  // namespace
}  // namespace zlh

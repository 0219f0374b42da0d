// Two zlhd nodes on one Redis and one zlh-sim (SPEC §6.4, §8.5): the second starts from a backup
// of the first. At every sampled moment at most one leads; the standby answers 503 to starts; when
// the leader is killed the other takes over within the lock's ttl plus a tick; a leader paused
// past its ttl and resumed does not act with its stale token (zlh-sim's record of every mutation
// and its fencing token proves it); a Redis restart is survived.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>

#include "base/temp_dir.h"
#include "tests/daemon_process.h"
#include "tests/http_fetch.h"
#include "tests/eventually.h"
#include "tests/redis_process.h"
#include "tests/sim_process.h"
#include "tests/zlhd_fleet.h"

namespace zlh {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

const std::string kConfig = ControllerConfig(R"("lockTtl": "1500ms")");

json::object Parse(const std::string& body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  return ec || !v.is_object() ? json::object() : v.as_object();
}

// One zlhd node: its data directory, its process, its address and tokens.
class Node {
 public:
  Node(TempDir& tmp, std::string name, const std::string& sim, const std::string& redis)
      : tmp_(tmp), name_(std::move(name)), sim_(sim), redis_(redis) {}

  void Start() {
    std::remove((data() + "/zlhd.addr").c_str());
    std::string log = tmp_.Sub(name_ + "-" + std::to_string(++starts_) + ".log");
    daemon_ = std::make_unique<Daemon>(
        std::vector<std::string>{"--config", tmp_.Sub("zlh.json"), "--data", data(), "--listen",
                                 "127.0.0.1:0", "--fleet", sim_, "--redis", redis_},
        log);
    ASSERT_TRUE(WaitForLog(log, "zlhd ready", 60s)) << ReadFile(log);
    addr_ = ReadFile(data() + "/zlhd.addr");
    addr_.pop_back();
    std::ifstream tokens(data() + "/tokens");
    for (std::string role, secret; tokens >> role >> secret;) {
      if (role == "admin") admin_ = secret;
      if (role == "portal") portal_ = secret;
    }
  }
  void Kill() { daemon_.reset(); }
  void Signal(int sig) { daemon_->Signal(sig); }
  std::string data() const { return tmp_.Sub(name_); }

  // Whether it leads, per GET /api/controller (false when it does not answer).
  bool Leads(uint64_t* token = nullptr) const {
    Fetched f = Fetch("GET", "http://" + addr_ + "/api/controller", "",
                      {"Authorization: Bearer " + admin_}, 2'000);
    if (f.status != 200) return false;
    json::object c = Parse(f.body);
    if (token && c.contains("fencingToken")) *token = c["fencingToken"].to_number<uint64_t>();
    return c.contains("leader") && c["leader"].as_bool();
  }
  Fetched Create(const std::string& nonce, const std::string& name) const {
    return Fetch("POST", "http://" + addr_ + "/api/servers/create",
                 R"({"customerId":"c-1","ctype":"game","requestNonce":")" + nonce +
                     R"(","game":"vanilla","plan":"small","name":")" + name + "\"}",
                 {"Authorization: Bearer " + portal_, "Content-Type: application/json"});
  }
  Fetched Backup(const std::string& dir) const {
    return Fetch("POST", "http://" + addr_ + "/api/admin/backup",
                 json::serialize(json::object{{"dir", dir}}),
                 {"Authorization: Bearer " + admin_, "Content-Type: application/json"});
  }

 private:
  TempDir& tmp_;
  std::string name_, sim_, redis_;
  std::unique_ptr<Daemon> daemon_;
  int starts_ = 0;
  std::string addr_, admin_, portal_;
};

class SplitBrainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(sim_.url().empty());
    std::ofstream(tmp_.Sub("zlh.json")) << kConfig;
  }
  json::array Mutations() {
    json::value state = json::parse(Fetch("GET", sim_.url() + "/sim/state").body);
    return state.at("mutations").as_array();
  }

  TempDir tmp_;
  RedisServer redis_;
  Sim sim_{tmp_.Sub("sim.json")};
};

TEST_F(SplitBrainTest, OneLeaderAtATimeFailoverFencingAndRedisRestarts) {
  Node a(tmp_, "a", sim_.url(), redis_.url());
  a.Start();
  ASSERT_TRUE(Eventually([&] { return a.Leads(); })) << "the only node never led";
  // Some work on the leader, then the standby from a backup of its journal.
  Fetched created = a.Create("n1", "alpha");
  ASSERT_EQ(created.status, 202) << created.body;
  std::filesystem::create_directories(tmp_.Sub("b"));
  ASSERT_EQ(a.Backup("standby").status, 200);  // under a's backup root, DATA/backups
  std::filesystem::rename(a.data() + "/backups/standby", tmp_.Sub("b/journal"));
  Node b(tmp_, "b", sim_.url(), redis_.url());
  b.Start();

  // At every sampled moment at most one leads, and the standby refuses starts.
  for (int i = 0; i < 40; ++i) {
    bool la = a.Leads(), lb = b.Leads();
    ASSERT_FALSE(la && lb) << "two leaders";
    std::this_thread::sleep_for(25ms);
  }
  EXPECT_TRUE(a.Leads());
  EXPECT_FALSE(b.Leads());
  EXPECT_EQ(b.Create("n2", "bravo").status, 503);

  // Kill the leader: the standby takes over within ttl (1.5 s) plus a tick, with a higher token.
  uint64_t token_a = 0, token_b = 0;
  ASSERT_TRUE(a.Leads(&token_a));
  a.Kill();
  auto killed = std::chrono::steady_clock::now();
  ASSERT_TRUE(Eventually([&] { return b.Leads(&token_b); }));
  EXPECT_LT(std::chrono::steady_clock::now() - killed, 5s);
  EXPECT_GT(token_b, token_a);
  EXPECT_EQ(b.Create("n3", "charlie").status, 202);

  // Pause the leader past its ttl; the other node (restarted) takes over. Resumed, the paused
  // one must not act with its stale token.
  a.Start();
  b.Signal(SIGSTOP);
  ASSERT_TRUE(Eventually([&] { return a.Leads(&token_a); }));
  EXPECT_GT(token_a, token_b);
  size_t seen = Mutations().size();
  b.Signal(SIGCONT);
  ASSERT_TRUE(Eventually([&] { return !b.Leads(); }));
  EXPECT_TRUE(a.Leads());
  std::this_thread::sleep_for(1s);  // time for anything the resumed node still had in flight
  json::array m = Mutations();
  for (size_t i = seen; i < m.size(); ++i) {
    const json::object& call = m[i].as_object();
    if (call.at("fencingToken").is_null()) continue;
    uint64_t used = call.at("fencingToken").to_number<uint64_t>();
    if (used < token_a) {
      EXPECT_TRUE(call.at("rejected").as_bool()) << "acted with a stale token: " << json::serialize(call);
    }
  }

  // Redis restarts (and forgets everything): a node leads again, with a token still higher.
  redis_.Restart();
  uint64_t after = 0;
  ASSERT_TRUE(Eventually([&] {
    uint64_t t1 = 0, t2 = 0;
    bool la = a.Leads(&t1), lb = b.Leads(&t2);
    after = la ? t1 : t2;
    return la != lb && after > token_a;
  }));
}

// With Redis down nobody can hold the lock: no controller acts, and after two ticks that is itself
// an alert, once per outage.
TEST_F(SplitBrainTest, NoControllerActingForTwoTicksIsAlertedOncePerOutage) {
  Node a(tmp_, "a", sim_.url(), redis_.url());
  a.Start();
  ASSERT_TRUE(Eventually([&] { return a.Leads(); }));
  auto outage_alerts = [&] {
    json::value state = json::parse(Fetch("GET", sim_.url() + "/sim/state").body);
    size_t n = 0;
    for (const auto& m : state.at("discordMessages").as_array()) {
      n += m.at("channel").as_string() == "alerts-critical" && m.at("ping").as_bool() &&
           std::string(m.at("content").as_string()).find("No controller has acted") != std::string::npos;
    }
    return n;
  };
  EXPECT_EQ(outage_alerts(), 0u);
  redis_.Stop();
  ASSERT_TRUE(Eventually([&] { return outage_alerts() == 1; }));
  ASSERT_TRUE(Eventually([&] { return !a.Leads(); }));
  std::this_thread::sleep_for(1500ms);  // more ticks of silence: still one alert
  EXPECT_EQ(outage_alerts(), 1u);
  redis_.Start();
  ASSERT_TRUE(Eventually([&] { return a.Leads(); }));
  std::this_thread::sleep_for(1s);  // a tick or two: the outage is over
  redis_.Stop();
  EXPECT_TRUE(Eventually([&] { return outage_alerts() == 2; })) << "a second outage was not alerted";
}

}  // namespace
}  // namespace zlh

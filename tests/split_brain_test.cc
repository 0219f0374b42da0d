// Two zlhd nodes on one Redis and one zlh-sim (SPEC §6.4, §8.5): the second starts from a backup
// of the first. At every sampled moment at most one leads; the standby answers 503 to starts; when
// the leader is killed the other takes over within the lock's ttl plus a tick; a leader paused
// past its ttl and resumed does not act with its stale token (zlh-sim's record of every mutation
// and the node's own journal and log prove it) and sends no alert; Redis killed and restarted
// empty, again and again, never leaves two nodes leading or reconciling at once (sampled every
// 100 ms, and the reconciles' recorded step times of both journals).
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>

#include "base/clock.h"
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

// An RFC 3339 field of `o` in wall-clock ms; 0 when absent or null.
int64_t TimeField(const json::object& o, const char* field) {
  const json::value* v = o.if_contains(field);
  if (!v || !v->is_string()) return 0;
  return ParseRfc3339(std::string(v->as_string())).value_or(0);
}

// A workflow step, from its first attempt's start to its outcome (wall-clock ms).
struct StepWindow {
  int64_t from = 0, to = 0;
  std::string what;  // workflow id and step, for the failure message
};

// One zlhd node: its data directory, its process, its address and tokens.
class Node {
 public:
  Node(TempDir& tmp, std::string name, const std::string& sim, const std::string& redis)
      : tmp_(tmp), name_(std::move(name)), sim_(sim), redis_(redis) {}

  void Start() {
    std::remove((data() + "/zlhd.addr").c_str());
    log_ = tmp_.Sub(name_ + "-" + std::to_string(++starts_) + ".log");
    daemon_ = std::make_unique<Daemon>(
        std::vector<std::string>{"--config", tmp_.Sub("zlh.json"), "--data", data(), "--listen",
                                 "127.0.0.1:0", "--fleet", sim_, "--redis", redis_},
        log_);
    ASSERT_TRUE(WaitForLog(log_, "zlhd ready", 60s)) << ReadFile(log_);
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
  // What this start of the node has logged so far.
  std::string Log() const { return ReadFile(log_); }

  // GET /api/controller (empty when it does not answer).
  json::object Controller() const {
    Fetched f = Admin("/api/controller", 2'000);
    return f.status == 200 ? Parse(f.body) : json::object();
  }
  // Its last tick per GET /api/controller (0 when none, or when it does not answer).
  int64_t LastTickMs() const { return TimeField(Controller(), "lastTickAt"); }
  // Whether it leads, per GET /api/controller (false when it does not answer).
  bool Leads(uint64_t* token = nullptr) const {
    json::object c = Controller();
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
  // Every step of every workflow in this node's journal that started at or after `since_ms`.
  std::vector<StepWindow> Steps(int64_t since_ms) const {
    std::vector<StepWindow> out;
    std::string after;
    do {
      json::object page = Parse(
          Admin("/api/workflows?limit=1000" + (after.empty() ? "" : "&after=" + after)).body);
      EXPECT_TRUE(page.contains("workflows")) << name_ << ": the workflows cannot be listed";
      if (!page.contains("workflows")) break;
      for (const auto& w : page["workflows"].as_array()) {
        std::string id(w.at("workflowId").as_string());
        json::object full = Parse(Admin("/api/workflows/" + id).body);
        EXPECT_TRUE(full.contains("steps")) << name_ << ": workflow " << id << " cannot be read";
        if (!full.contains("steps")) continue;
        for (const auto& st : full["steps"].as_array()) {
          const json::object& step = st.as_object();
          int64_t from = TimeField(step, "startedAt");
          if (from < since_ms) continue;
          out.push_back({from, std::max(from, TimeField(step, "completedAt")),
                         name_ + ": " + std::string(w.at("type").as_string()) + " " + id + " step " +
                             std::string(step.at("name").as_string())});
        }
      }
      after = page.contains("next") ? std::string(page["next"].as_string()) : "";
    } while (!after.empty());
    return out;
  }

 private:
  Fetched Admin(const std::string& path, long timeout_ms = 20'000) const {
    return Fetch("GET", "http://" + addr_ + path, "", {"Authorization: Bearer " + admin_}, timeout_ms);
  }

  TempDir& tmp_;
  std::string name_, sim_, redis_;
  std::unique_ptr<Daemon> daemon_;
  int starts_ = 0;
  std::string log_, addr_, admin_, portal_;
};

// Both nodes' GET /api/controller at one moment.
struct Sample {
  int64_t at_ms = 0;
  bool a_leads = false, b_leads = false, waiting = false;
};

// Samples both nodes every 100 ms on its own thread until destroyed.
class Sampler {
 public:
  Sampler(const Node& a, const Node& b) : thread_([this, &a, &b] {
    while (!stop_) {
      Sample s;
      s.at_ms = NowMs();
      json::object ca = a.Controller(), cb = b.Controller();
      s.a_leads = ca.contains("leader") && ca["leader"].as_bool();
      s.b_leads = cb.contains("leader") && cb["leader"].as_bool();
      for (json::object* c : {&ca, &cb}) {
        const json::value* w = c->if_contains("waitingUntil");
        bool leads = c->contains("leader") && (*c)["leader"].as_bool();
        s.waiting |= w && w->is_string() && !leads;
      }
      samples_.push_back(s);
      std::this_thread::sleep_for(100ms);
    }
  }) {}
  ~Sampler() { Stop(); }
  const std::vector<Sample>& Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return samples_;
  }

 private:
  std::atomic<bool> stop_{false};
  std::vector<Sample> samples_;
  std::thread thread_;
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

  // `paused` led with work due (its reconcile ticks every 300 ms) when it was stopped past its
  // ttl, and `other` (token `token_now`) leads since. Resumed, `paused` must not act with its stale
  // `token_paused`: it either tried and zlh-sim refused it, or its own record shows it stopped
  // before acting (it logged that its lock lapsed, and its journal holds no step it started after
  // it resumed). And it sends no alert about the silence it slept through.
  void ResumedNodeDoesNotAct(Node& paused, Node& other, uint64_t token_paused, uint64_t token_now) {
    size_t seen = Mutations().size();
    size_t logged = paused.Log().size();
    int64_t resumed_ms = NowMs();
    paused.Signal(SIGCONT);
    // It answers again, and has finished stopping (a standby's last word after its suspension).
    ASSERT_TRUE(Eventually([&] {
      return paused.Log().find("runs no workflow (standby)", logged) != std::string::npos;
    })) << paused.Log().substr(logged);
    EXPECT_FALSE(paused.Leads());
    EXPECT_TRUE(other.Leads());
    std::string record = paused.Log().substr(logged);
    EXPECT_EQ(record.find("no controller has acted"), std::string::npos)
        << "the resumed node, not the leader, alerted:\n" << record;
    bool refused = false;
    json::array m = Mutations();
    for (size_t i = seen; i < m.size(); ++i) {
      const json::object& call = m[i].as_object();
      if (call.at("fencingToken").is_null()) continue;
      uint64_t used = call.at("fencingToken").to_number<uint64_t>();
      if (used >= token_now) continue;
      EXPECT_TRUE(call.at("rejected").as_bool()) << "acted with a stale token: " << json::serialize(call);
      refused |= used == token_paused && call.at("rejected").as_bool();
    }
    std::vector<StepWindow> acted = paused.Steps(resumed_ms);
    bool stopped_first = record.find("stops acting") != std::string::npos && acted.empty();
    EXPECT_TRUE(refused || stopped_first)
        << "the resumed node neither was refused nor shows that it stopped before acting; it "
        << (acted.empty() ? "started no step" : "started " + acted.front().what)
        << " after resuming and logged:\n" << record;
  }

  // Redis killed and restarted empty, three times (at once, or after both nodes noticed), under
  // two nodes sampled every 100 ms: never
  // two leaders in a sample, a node seen waiting out the lost Redis, and no step of one node's
  // journal at a moment when the other's was acting. A node leads again each time, its token
  // above `token_before`.
  void RedisRestartsNeverLeaveTwoActing(Node& a, Node& b, uint64_t token_before) {
    int64_t from = NowMs();
    Sampler sampler(a, b);
    for (int round = 0; round < 3; ++round) {
      redis_.Stop();
      // Back at once (the leader may not have noticed), or once both nodes saw it gone.
      if (round == 1) {
        ASSERT_TRUE(Eventually([&] { return !a.Leads() && !b.Leads(); })) << "round " << round;
      }
      redis_.Start();
      int64_t restarted = NowMs();
      // One leads again (after one ttl) and reconciles: its last tick is after the restart.
      ASSERT_TRUE(Eventually([&] {
        return (a.Leads() && a.LastTickMs() > restarted) || (b.Leads() && b.LastTickMs() > restarted);
      })) << "round " << round;
    }
    const std::vector<Sample>& samples = sampler.Stop();
    bool waited = false;
    for (const Sample& s : samples) {
      EXPECT_FALSE(s.a_leads && s.b_leads) << "two leaders at " << FormatRfc3339(s.at_ms);
      waited |= s.waiting;
    }
    EXPECT_GT(samples.size(), 20u);
    EXPECT_TRUE(waited) << "no node was seen waiting out a Redis that lost its state";
    std::vector<StepWindow> on_a = a.Steps(from), on_b = b.Steps(from);
    EXPECT_FALSE(on_a.empty() && on_b.empty()) << "nothing ran: nothing was checked";
    for (const StepWindow& x : on_a) {
      for (const StepWindow& y : on_b) {
        EXPECT_FALSE(x.from <= y.to && y.from <= x.to)
            << "both nodes acted at once: " << x.what << " [" << FormatRfc3339(x.from) << ", "
            << FormatRfc3339(x.to) << "] and " << y.what << " [" << FormatRfc3339(y.from) << ", "
            << FormatRfc3339(y.to) << "]";
      }
    }
    // Exactly one leads in the end. Read until it holds: a lease can lapse under load between the
    // last round and this read (two at once is what the samples above rule out).
    uint64_t t1 = 0, t2 = 0;
    bool la = false, lb = false;
    EXPECT_TRUE(Eventually([&] {
      la = a.Leads(&t1);
      lb = b.Leads(&t2);
      return la != lb;
    })) << "no single leader after the last restart";
    EXPECT_GT(la ? t1 : t2, token_before) << "a token went backwards after Redis lost its counter";
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
  // The backup's journal only: the standby keeps tokens of its own.
  std::filesystem::rename(a.data() + "/backups/standby/journal", tmp_.Sub("b/journal"));
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

  // Pause the leader past its ttl; the other node (restarted) takes over.
  a.Start();
  ASSERT_TRUE(b.Leads());
  b.Signal(SIGSTOP);
  ASSERT_TRUE(Eventually([&] { return a.Leads(&token_a); }));
  EXPECT_GT(token_a, token_b);
  ASSERT_NO_FATAL_FAILURE(ResumedNodeDoesNotAct(b, a, token_b, token_a));

  ASSERT_NO_FATAL_FAILURE(RedisRestartsNeverLeaveTwoActing(a, b, token_a));
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

// zlhd as a systemd Type=notify service (SPEC §11), against a NOTIFY_SOCKET the test binds: READY=1
// only once it has recovered and serves, STATUS= that follows its leadership, WATCHDOG=1 at half of
// WATCHDOG_USEC from the event loop itself (a stalled loop stops them until it runs again),
// RELOADING=1 (with MONOTONIC_USEC) then READY=1 around a SIGHUP reload; STOPPING=1 on SIGTERM
// before it exits; a path or an abstract name. And --log-format journald:
// a provisioning's lines carry its workflow and server, or stderr when journald is absent.
// The zlhd is this build's, or ZLHD_BINARY's: systemd_notify_packaged_test runs these tests against
// the zlhd of the Debian package (tests/package_test.sh extracts it).
#include <gtest/gtest.h>
#include <signal.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "base/temp_dir.h"
#include "systemd/test_socket.h"
#include "tests/daemon_process.h"
#include "tests/eventually.h"
#include "tests/http_fetch.h"
#include "tests/redis_process.h"

namespace zlh {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Short timings: a provisioning on the in-process simulated fleet ends in about a second.
constexpr char kFastConfig[] = R"({
  "timing": {"readinessProbeInterval": "50ms", "leaseHeartbeatInterval": "100ms"},
  "proxmox": {"taskPollInterval": "10ms"}
})";

// Every datagram that arrives on a socket the test binds, with its time of arrival, collected by a
// thread of its own.
class Collector {
 public:
  struct Datagram {
    Clock::time_point at;
    std::string data;
  };
  explicit Collector(const std::string& address) : socket_(address), thread_([this] { Loop(); }) {}
  ~Collector() {
    stop_ = true;
    thread_.join();
  }
  bool bound() const { return socket_.bound(); }
  std::vector<Datagram> All() const {
    std::lock_guard lock(mu_);
    return received_;
  }
  // The datagrams, from the `from`th on, that have `line` as one of their lines (or, with
  // `prefix`, a line that starts with it).
  std::vector<Datagram> With(const std::string& line, bool prefix = false, size_t from = 0) const {
    std::vector<Datagram> out;
    std::vector<Datagram> all = All();
    for (size_t i = from; i < all.size(); ++i) {
      if (HasLine(all[i].data, line, prefix)) out.push_back(all[i]);
    }
    return out;
  }
  // The first datagram from the `from`th on with that line, waiting for it until the deadline.
  std::optional<Datagram> Await(const std::string& line, std::chrono::seconds deadline,
                                bool prefix = false, size_t from = 0) const {
    std::optional<Datagram> found;
    Eventually(
        [&] {
          auto with = With(line, prefix, from);
          if (!with.empty()) found = with.front();
          return found.has_value();
        },
        deadline);
    return found;
  }
  size_t size() const { return All().size(); }

  static bool HasLine(const std::string& data, const std::string& line, bool prefix = false) {
    size_t start = 0;
    while (start <= data.size()) {
      size_t end = std::min(data.find('\n', start), data.size());
      std::string_view l(data.data() + start, end - start);
      if (prefix ? l.substr(0, line.size()) == line : l == line) return true;
      start = end + 1;
    }
    return false;
  }

 private:
  void Loop() {
    while (!stop_) {
      auto r = socket_.Receive(50ms);
      if (!r) continue;
      std::lock_guard lock(mu_);
      received_.push_back({Clock::now(), r->data});
    }
  }

  systemd::TestSocket socket_;
  mutable std::mutex mu_;
  std::vector<Datagram> received_;
  std::atomic<bool> stop_{false};
  std::thread thread_;  // last: starts once the rest is built
};

// Environment variables the zlhd children inherit, for the test's lifetime.
class Environment {
 public:
  void Set(const std::string& name, const std::string& value) {
    setenv(name.c_str(), value.c_str(), 1);
    names_.push_back(name);
  }
  ~Environment() {
    for (const auto& n : names_) unsetenv(n.c_str());
  }

 private:
  std::vector<std::string> names_;
};

std::vector<std::string> ZlhdArgs(const TempDir& tmp) {
  return {"--data", tmp.Sub("data"), "--listen", "127.0.0.1:0"};
}

std::string Address(const TempDir& tmp) {
  std::string addr = ReadFile(tmp.Sub("data/zlhd.addr"));
  while (!addr.empty() && addr.back() == '\n') addr.pop_back();
  return addr;
}

std::vector<std::chrono::milliseconds> Gaps(const std::vector<Collector::Datagram>& pings) {
  std::vector<std::chrono::milliseconds> gaps;
  for (size_t i = 1; i < pings.size(); ++i) {
    gaps.push_back(
        std::chrono::duration_cast<std::chrono::milliseconds>(pings[i].at - pings[i - 1].at));
  }
  return gaps;
}

// zlhd started with NOTIFY_SOCKET at a socket the test binds (`address_`: a path in the test's
// directory unless a test sets another) and the environment a test adds in `env_`.
class SystemdNotifyTest : public ::testing::Test {
 protected:
  // Starts zlhd with `extra_args` and waits for its READY=1.
  ::testing::AssertionResult Start(const std::vector<std::string>& extra_args = {}) {
    if (address_.empty()) address_ = tmp_.Sub("notify");
    notify_ = std::make_unique<Collector>(address_);
    if (!notify_->bound()) return ::testing::AssertionFailure() << "cannot bind " << address_;
    env_.Set("NOTIFY_SOCKET", address_);
    std::vector<std::string> args = ZlhdArgs(tmp_);
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    zlhd_ = std::make_unique<Daemon>(args, tmp_.Sub("log"));
    if (!notify_->Await("READY=1", 60s)) {
      return ::testing::AssertionFailure() << "no READY=1:\n" << Log();
    }
    return ::testing::AssertionSuccess();
  }
  // SIGTERM, then the exit code.
  int Stop() {
    zlhd_->Signal(SIGTERM);
    return zlhd_->Wait(30'000ms);
  }
  std::string Log() const { return ReadFile(tmp_.Sub("log")); }
  std::vector<Collector::Datagram> Pings() const { return notify_->With("WATCHDOG=1"); }

  TempDir tmp_;
  std::string address_;
  Environment env_;
  std::unique_ptr<Collector> notify_;
  std::unique_ptr<Daemon> zlhd_;
};

// zlhd's journald records go to the notify socket too: one thread sends both, so the socket holds
// them in the order they were sent. READY=1 comes after recovery and after "zlhd ready" (the API
// serves); then zlhd answers.
TEST_F(SystemdNotifyTest, ReadyArrivesOnlyOnceItHasRecoveredAndServes) {
  env_.Set("ZLHD_TEST_JOURNAL_SOCKET", tmp_.Sub("notify"));
  ASSERT_TRUE(Start({"--log-format", "journald"}));
  auto all = notify_->All();
  auto index_of = [&](const std::string& line) {
    auto it = std::find_if(all.begin(), all.end(), [&](const Collector::Datagram& d) {
      return Collector::HasLine(d.data, line, /*prefix=*/true);
    });
    return static_cast<size_t>(it - all.begin());
  };
  auto ready = index_of("READY=1");
  EXPECT_LT(index_of("MESSAGE=recovery: resumed"), ready);
  EXPECT_LT(index_of("MESSAGE=zlhd ready"), ready);
  EXPECT_TRUE(Collector::HasLine(all[ready].data, "STATUS=leader: 0 workflows in flight"))
      << all[ready].data;
  EXPECT_EQ(notify_->With("READY=1").size(), 1u);
  Fetched health = Fetch("GET", "http://" + Address(tmp_) + "/healthz");
  EXPECT_EQ(health.status, 200) << health.body;
  EXPECT_TRUE(Pings().empty());  // no WATCHDOG_USEC: no pings
  EXPECT_EQ(Stop(), 0);
}

TEST_F(SystemdNotifyTest, AnAbstractNotifySocketWorksToo) {
  address_ = "@zlhd-notify-test-" + std::to_string(getpid()) + "-" +
             std::to_string(std::random_device()());
  ASSERT_TRUE(Start());
  EXPECT_EQ(Stop(), 0);
}

TEST_F(SystemdNotifyTest, WatchdogPingsComeAtHalfTheTimeout) {
  env_.Set("WATCHDOG_USEC", "1000000");
  ASSERT_TRUE(Start());
  ASSERT_TRUE(Eventually([&] { return Pings().size() >= 9; }, 30s));
  auto pings = Pings();
  pings.resize(9);
  auto gaps = Gaps(pings);
  std::sort(gaps.begin(), gaps.end());
  auto median = gaps[gaps.size() / 2];
  EXPECT_GE(median, 400ms);  // every 500 ms: half of the 1 s timeout
  EXPECT_LE(median, 700ms);
  EXPECT_GE(gaps.front(), 300ms);
  EXPECT_EQ(Stop(), 0);
}

// The test hook blocks zlhd's event loop for 3 s: no ping comes while it is blocked (well past the
// 1 s timeout: systemd would restart it), and they come again after.
TEST_F(SystemdNotifyTest, AStalledLoopStopsThePingsUntilItRunsAgain) {
  env_.Set("WATCHDOG_USEC", "1000000");
  env_.Set("ZLHD_TEST_STALL_ON_SIGUSR2", "3");
  ASSERT_TRUE(Start());
  ASSERT_TRUE(Eventually([&] { return Pings().size() >= 3; }, 30s));
  zlhd_->Signal(SIGUSR2);
  ASSERT_TRUE(WaitForLog(tmp_.Sub("log"), "the event loop runs again", 30s)) << Log();
  size_t after_stall = Pings().size();
  ASSERT_TRUE(Eventually([&] { return Pings().size() >= after_stall + 3; }, 30s));

  auto gaps = Gaps(Pings());
  auto longest = std::max_element(gaps.begin(), gaps.end());
  EXPECT_GE(*longest, 2500ms);
  ASSERT_GE(gaps.end() - longest, 3);  // pings after the stall...
  EXPECT_LT(*(longest + 1), 1500ms);   // ...at their cadence again
  EXPECT_LT(*(longest + 2), 1500ms);
  EXPECT_EQ(Stop(), 0);
}

uint64_t MonotonicUsec() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1'000'000 + static_cast<uint64_t>(now.tv_nsec) / 1'000;
}

// SIGHUP: RELOADING=1 with MONOTONIC_USEC — CLOCK_MONOTONIC when it was sent, which systemd's
// Type=notify-reload compares with its own clock — then READY=1 once the reload is done.
TEST_F(SystemdNotifyTest, SighupSendsReloadingWithTheMonotonicTimeThenReady) {
  ASSERT_TRUE(Start());
  size_t from = notify_->size();
  uint64_t before = MonotonicUsec();
  zlhd_->Signal(SIGHUP);
  auto reloading = notify_->Await("RELOADING=1", 30s, false, from);
  ASSERT_TRUE(reloading) << Log();
  uint64_t after = MonotonicUsec();
  size_t at = reloading->data.find("\nMONOTONIC_USEC=");
  ASSERT_NE(at, std::string::npos) << reloading->data;
  uint64_t sent = std::stoull(reloading->data.substr(at + 16));
  EXPECT_GE(sent, before);
  EXPECT_LE(sent, after);
  auto ready = notify_->Await("READY=1", 30s, false, from);
  ASSERT_TRUE(ready);
  auto all = notify_->All();
  auto first_with = [&](const std::string& line) {
    size_t i = from;
    while (i < all.size() && !Collector::HasLine(all[i].data, line)) ++i;
    return i;
  };
  EXPECT_LT(first_with("RELOADING=1"), first_with("READY=1"));
  // The status again (its count is whatever runs then: the first tick, digest or backup).
  EXPECT_TRUE(Collector::HasLine(ready->data, "STATUS=leader: ", /*prefix=*/true)) << ready->data;
  EXPECT_TRUE(WaitForLog(tmp_.Sub("log"), "reload applied", 5s)) << Log();
  EXPECT_EQ(Stop(), 0);
}

TEST_F(SystemdNotifyTest, SigtermSendsStoppingBeforeItExits) {
  ASSERT_TRUE(Start());
  EXPECT_EQ(Stop(), 0) << Log();
  auto stopping = notify_->Await("STOPPING=1", 5s);  // sent before the exit: already in the socket
  ASSERT_TRUE(stopping);
  EXPECT_TRUE(Collector::HasLine(stopping->data, "STATUS=draining", /*prefix=*/true))
      << stopping->data;
  auto all = notify_->All();
  EXPECT_EQ(all.back().data, stopping->data);  // the last word
  EXPECT_GT(all.back().at, notify_->With("READY=1").front().at);
}

// With Redis the node leads only while it holds the lock: STATUS= says leader, standby once Redis
// is gone past the lock's ttl, and leader again once it is back.
TEST_F(SystemdNotifyTest, StatusFollowsLeadership) {
  RedisServer redis;
  std::ofstream(tmp_.Sub("zlh.json"))
      << R"({"controller": {"lockTtl": "1500ms", "digestAt": "off"}})";
  ASSERT_TRUE(Start({"--config", tmp_.Sub("zlh.json"), "--fleet", "sim", "--redis", redis.url()}));
  ASSERT_TRUE(notify_->Await("STATUS=leader:", 30s, true)) << Log();

  size_t before_outage = notify_->size();
  redis.Stop();
  EXPECT_TRUE(notify_->Await("STATUS=standby:", 30s, true, before_outage)) << Log();
  size_t before_return = notify_->size();
  redis.Start();
  EXPECT_TRUE(notify_->Await("STATUS=leader:", 60s, true, before_return)) << Log();
  EXPECT_EQ(Stop(), 0);
}

// --log-format journald with the journal's socket where the test binds it: a provisioning's lines
// carry its workflow id, its type and its server; zlhd's own lines carry none.
TEST(SystemdJournalTest, AProvisioningsLinesCarryItsWorkflowAndServer) {
  TempDir tmp;
  std::ofstream(tmp.Sub("zlh.json")) << kFastConfig;
  Collector journal(tmp.Sub("journal.socket"));
  ASSERT_TRUE(journal.bound());
  Environment env;
  env.Set("ZLHD_TEST_JOURNAL_SOCKET", tmp.Sub("journal.socket"));
  std::vector<std::string> args = ZlhdArgs(tmp);
  args.insert(args.end(),
              {"--config", tmp.Sub("zlh.json"), "--fleet", "sim", "--log-format", "journald"});
  Daemon d(args, tmp.Sub("log"));
  auto entry_with = [&](const std::function<bool(std::map<std::string, std::string>&)>& match) {
    std::optional<std::map<std::string, std::string>> found;
    Eventually(
        [&] {
          for (const auto& dgram : journal.All()) {
            auto e = systemd::DecodeJournalEntry(dgram.data);
            if (e && match(*e)) found = *e;
          }
          return found.has_value();
        },
        60s);
    return found;
  };
  auto ready = entry_with([](auto& e) { return e["MESSAGE"].rfind("zlhd ready", 0) == 0; });
  ASSERT_TRUE(ready) << ReadFile(tmp.Sub("log"));
  EXPECT_EQ((*ready)["PRIORITY"], "6");
  EXPECT_EQ((*ready)["SYSLOG_IDENTIFIER"], "zlhd");
  EXPECT_EQ(ready->count("WORKFLOW_ID"), 0u);
  EXPECT_EQ(ReadFile(tmp.Sub("log")).find("zlhd ready"), std::string::npos);  // not on stderr

  std::string portal;
  std::ifstream tokens(tmp.Sub("data/tokens"));
  for (std::string role, secret; tokens >> role >> secret;) {
    if (role == "portal") portal = secret;
  }
  Fetched created = Fetch("POST", "http://" + Address(tmp) + "/api/servers/create",
                          R"({"customerId":"c-1","ctype":"game","requestNonce":"r1",)"
                          R"("game":"vanilla","plan":"small","name":"survival"})",
                          {"Authorization: Bearer " + portal, "Content-Type: application/json"});
  ASSERT_EQ(created.status, 202) << created.body;
  auto answer = boost::json::parse(created.body).as_object();
  std::string workflow(answer["workflowId"].as_string()), server(answer["serverId"].as_string());
  auto done = entry_with(
      [&](auto& e) { return e["MESSAGE"] == "workflow " + workflow + " (provision) completed"; });
  ASSERT_TRUE(done);
  EXPECT_EQ((*done)["WORKFLOW_ID"], workflow);
  EXPECT_EQ((*done)["WORKFLOW_TYPE"], "provision");
  EXPECT_EQ((*done)["SERVER_ID"], server);
  d.Signal(SIGTERM);
  EXPECT_EQ(d.Wait(30'000ms), 0);
}

TEST(SystemdJournalTest, WithoutJournaldTheLinesGoToStderr) {
  TempDir tmp;
  Environment env;
  env.Set("ZLHD_TEST_JOURNAL_SOCKET", tmp.Sub("absent.socket"));
  std::vector<std::string> args = ZlhdArgs(tmp);
  args.insert(args.end(), {"--log-format", "journald"});
  Daemon d(args, tmp.Sub("log"));
  ASSERT_TRUE(WaitForLog(tmp.Sub("log"), "zlhd ready", 60s)) << ReadFile(tmp.Sub("log"));
  EXPECT_NE(ReadFile(tmp.Sub("log"))
                .find("--log-format journald: nothing listens on " + tmp.Sub("absent.socket")),
            std::string::npos)
      << ReadFile(tmp.Sub("log"));
  d.Signal(SIGTERM);
  EXPECT_EQ(d.Wait(30'000ms), 0);
}

}  // namespace
}  // namespace zlh

// zlhd on a Redis that wants credentials (SPEC §11, §6.4), with real redis-server and zlh-sim
// processes: with requirepass and the password in the --redis URL it leads; as an ACL user whose
// password is in redis.passwordFile it leads; with a wrong password it never leads, logs one
// "authentication failed" and shows `redis: auth_refused` — the password in neither the log nor
// the API; two passwords, or a user without one, refuse the start.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "base/temp_dir.h"
#include "tests/eventually.h"
#include "tests/http_fetch.h"
#include "tests/redis_process.h"
#include "tests/zlhd_fleet.h"

namespace zlh {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

const std::string kPassword = "Redis-S3cret-4f9a";
const std::string kConfig = ControllerConfig(R"("lockTtl": "1500ms")");

json::object Controller(const ZlhdOnSim& zlhd) {
  return ZlhdOnSim::Body(zlhd.Api("GET", "/api/controller", "", true));
}

bool Leads(const ZlhdOnSim& zlhd) {
  json::object c = Controller(zlhd);
  return c.contains("leader") && c["leader"].as_bool();
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

std::string Loopback(const RedisServer& redis) {
  return "127.0.0.1:" + std::to_string(redis.port());
}

TEST(RedisAuthTest, RequirepassWithThePasswordInTheUrlLeads) {
  RedisServer redis({"--requirepass", kPassword});
  TempDir tmp;
  ZlhdOnSim zlhd(tmp, kConfig);
  ASSERT_TRUE(zlhd.Start({"--redis", "redis://:" + kPassword + "@" + Loopback(redis)}));
  ASSERT_TRUE(Eventually([&] { return Leads(zlhd); })) << ReadFile(zlhd.log());
  EXPECT_EQ(Controller(zlhd)["redis"].as_string(), "ok");
  EXPECT_EQ(zlhd.Create("c-1", "n-1", "authed").status, 202);  // a standby would answer 503
  EXPECT_EQ(ReadFile(zlhd.log()).find(kPassword), std::string::npos) << ReadFile(zlhd.log());
}

TEST(RedisAuthTest, AnAclUserWithAPasswordFileLeads) {
  // The rights docs/config.md names, no more.
  RedisServer redis({"--user", "default", "off", "--user", "zlh", "on", ">" + kPassword, "~zlh:*",
                     "+eval", "+set", "+get", "+pexpire", "+del"});
  TempDir tmp;
  std::ofstream(tmp.Sub("redis-password"), std::ios::trunc) << kPassword << "\n";
  ZlhdOnSim zlhd(
      tmp, ControllerConfig(R"("lockTtl": "1500ms")",
                            R"("redis": {"passwordFile": ")" + tmp.Sub("redis-password") + "\"}"));
  ASSERT_TRUE(zlhd.Start({"--redis", "redis://zlh@" + Loopback(redis)}));
  ASSERT_TRUE(Eventually([&] { return Leads(zlhd); })) << ReadFile(zlhd.log());
  EXPECT_EQ(Controller(zlhd)["redis"].as_string(), "ok");
  EXPECT_EQ(ReadFile(zlhd.log()).find(kPassword), std::string::npos) << ReadFile(zlhd.log());
}

// Refused credentials are like an unreachable Redis — standby — but said as what they are, once,
// however often zlhd tries again.
TEST(RedisAuthTest, AWrongPasswordNeverLeadsAndSaysAuthenticationFailed) {
  RedisServer redis({"--requirepass", kPassword});
  TempDir tmp;
  ZlhdOnSim zlhd(tmp, kConfig);
  const std::string wrong = "Wr0ng-Pa55word-77c1";
  ASSERT_TRUE(zlhd.Start({"--redis", "redis://:" + wrong + "@" + Loopback(redis)}));
  ASSERT_TRUE(Eventually([&] { return Controller(zlhd)["redis"] == "auth_refused"; }))
      << ReadFile(zlhd.log());
  // Past two lock ttls (1.5 s), retrying every renewal (500 ms): still standby.
  auto until = std::chrono::steady_clock::now() + 3s;
  while (std::chrono::steady_clock::now() < until) {
    ASSERT_FALSE(Leads(zlhd)) << "led with a wrong password";
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(zlhd.Create("c-1", "n-1", "standby").status, 503);
  std::string log = ReadFile(zlhd.log());
  EXPECT_EQ(Count(log, "authentication failed"), 1u) << log;
  EXPECT_NE(log.find("WRONGPASS"), std::string::npos) << log;
  EXPECT_EQ(log.find("unreachable"), std::string::npos) << log;
  Fetched controller = zlhd.Api("GET", "/api/controller", "", true);
  Fetched metrics = zlhd.Api("GET", "/metrics");
  EXPECT_NE(metrics.body.find("zlh_redis_up 0\n"), std::string::npos) << metrics.body;
  for (const std::string& seen : {log, controller.body, metrics.body}) {
    EXPECT_EQ(seen.find(wrong), std::string::npos) << seen;
    EXPECT_EQ(seen.find(kPassword), std::string::npos) << seen;
  }
}

// Two passwords (the URL's and redis.passwordFile's), or a user with none, refuse the start (exit
// 2) with a message that names the flag and holds no password.
TEST(RedisAuthTest, TwoPasswordsOrAUserWithoutOneRefuseTheStart) {
  TempDir tmp;
  std::ofstream(tmp.Sub("redis-password"), std::ios::trunc) << kPassword << "\n";
  std::ofstream(tmp.Sub("with-file.json"))
      << R"({"redis": {"passwordFile": ")" + tmp.Sub("redis-password") + "\"}}";
  std::ofstream(tmp.Sub("without.json")) << "{}";
  struct Case {
    std::string config, url, says;
  };
  for (const Case& c :
       {Case{"with-file.json", "redis://zlh:" + kPassword + "@127.0.0.1:6379",
             "--redis: the URL holds a password and redis.passwordFile another"},
        Case{"without.json", "redis://zlh@127.0.0.1:6379",
             "--redis: the user 'zlh' needs a password (in the URL or redis.passwordFile)"}}) {
    std::string log = tmp.Sub(c.config + ".log");
    Daemon zlhd({"--config", tmp.Sub(c.config), "--fleet", "sim", "--data", tmp.Sub("data"),
                 "--listen", "127.0.0.1:0", "--redis", c.url},
                log);
    EXPECT_EQ(zlhd.Wait(30s), 2) << ReadFile(log);
    EXPECT_NE(ReadFile(log).find(c.says), std::string::npos) << ReadFile(log);
    EXPECT_EQ(ReadFile(log).find(kPassword), std::string::npos) << ReadFile(log);
  }
}

}  // namespace
}  // namespace zlh

// A real config is complete, or refused (SPEC §9.3): zlhd --check-config against a real zlh-sim
// process (every line ok; a wrong token, an absent template or an unreachable service FAILs,
// named), a file that is not JSON, and starts refused for a config that is not complete.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "base/temp_dir.h"
#include "tests/daemon_process.h"
#include "tests/http_fetch.h"
#include "tests/loopback_port.h"
#include "tests/sim_process.h"
#include "tests/smtp_process.h"

namespace zlh {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

constexpr char kZoneId[] = "023e105f4ecef8ad9ca31a8372d0c353";

struct Outcome {
  int code = -1;
  std::vector<std::string> lines;  // stdout
  std::string log;                 // stderr
  // The line that starts with `prefix`, or "" (with a test failure naming the output).
  std::string Line(const std::string& prefix) const {
    for (const auto& l : lines) {
      if (l.rfind(prefix, 0) == 0) return l;
    }
    ADD_FAILURE() << "no line starting '" << prefix << "' in:\n" << Joined();
    return "";
  }
  std::string Joined() const {
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    return out + log;
  }
};

class CheckConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(sim_.url().empty());
    ASSERT_EQ(Fetch("POST", sim_.url() + "/sim/zones",
                    R"({"id":")" + std::string(kZoneId) + R"(","name":"games.example"})")
                  .status,
              200);
    const std::string& u = sim_.url();
    config_ = json::object{
        {"proxmox",
         {{"url", u}, {"token", "zlh@pve!zlh=00000000-0000-0000-0000-00000000517e"}}},
        {"dns", {{"url", u + "/client/v4"}, {"token", "sim"}, {"zoneId", kZoneId},
                 {"zone", "games.example"}}},
        {"proxy", {{"url", u + "/proxy"}, {"token", "sim"}, {"publicAddress", "203.0.113.10"}}},
        {"agent", {{"urlTemplate", u + "/agents/{vmid}"}, {"token", "sim"}}},
        {"billing", {{"url", u + "/billing"}, {"token", "sim"}}},
        {"network", {{"pools", json::array{json::object{
                         {"name", "lan"}, {"nodes", json::array{"pve1", "pve2"}},
                         {"bridge", "vmbr1"}, {"cidr", "10.20.0.0/22"}, {"gateway", "10.20.0.1"},
                         {"first", "10.20.1.10"}, {"last", "10.20.3.250"}}}}}},
        {"discord", {{"webhooks", {{"alerts-critical", u + "/api/webhooks/alerts-critical/sim"},
                                   {"audit-log", u + "/api/webhooks/audit-log/sim"}}}}}};
  }

  // zlhd `args` with the config written to a file; its exit code and output.
  Outcome Zlhd(std::vector<std::string> args, const std::string& config_text) {
    std::string file = tmp_.Sub("zlh-" + std::to_string(++runs_) + ".json");
    std::ofstream(file) << config_text;
    args.insert(args.end(), {"--config", file, "--data", tmp_.Sub("data")});
    std::string out = tmp_.Sub("out" + std::to_string(runs_)), log = tmp_.Sub("log" + std::to_string(runs_));
    Outcome r;
    {
      Daemon d(args, log, out);
      r.code = d.Wait(60'000ms);
    }
    std::istringstream lines(ReadFile(out));
    for (std::string line; std::getline(lines, line);) r.lines.push_back(line);
    r.log = ReadFile(log);
    return r;
  }
  Outcome Check() { return Zlhd({"--check-config"}, json::serialize(config_)); }
  json::object& Service(const char* name) { return config_[name].as_object(); }
  size_t Mutations() const {
    json::value state = json::parse(Fetch("GET", sim_.url() + "/sim/state").body);
    return state.at("mutations").as_array().size();
  }

  TempDir tmp_;
  Sim sim_{tmp_.Sub("sim.json")};
  json::object config_;
  int runs_ = 0;
};

TEST_F(CheckConfigTest, EveryCheckPassesAgainstZlhSimAndNothingChanges) {
  Outcome r = Check();
  EXPECT_EQ(r.code, 0) << r.Joined();
  for (const auto& line : r.lines) EXPECT_EQ(line.rfind("ok   ", 0), 0u) << line;
  EXPECT_EQ(r.Line("ok   proxmox: Proxmox VE"), "ok   proxmox: Proxmox VE 8.2.4");
  r.Line("ok   proxmox: the token holds on / the 14 privileges");
  r.Line("ok   proxmox: template vanilla: VMID 9000 on pve1");
  r.Line("ok   proxmox: template dev: VMID 9003 on pve1");
  r.Line("ok   dns: the token is active");
  r.Line("ok   dns: zone games.example (" + std::string(kZoneId) + ") is active");
  r.Line("ok   proxy: GET /servers answers");
  r.Line("ok   agent: ");
  r.Line("ok   billing: ");
  r.Line("ok   discord: alerts-critical: webhook 'alerts-critical'");
  r.Line("ok   discord: audit-log: ");
  EXPECT_EQ(Mutations(), 0u);
  EXPECT_FALSE(std::filesystem::exists(tmp_.Sub("data"))) << "--check-config wrote a data dir";
}

TEST_F(CheckConfigTest, AWrongTokenFailsNamingIt) {
  Service("proxmox")["token"] = "zlh@pve!zlh=00000000-0000-0000-0000-000000000bad";
  Service("dns")["token"] = "not-the-token";
  Service("billing")["token"] = "not-the-token";
  Outcome r = Check();
  EXPECT_EQ(r.code, 1) << r.Joined();
  EXPECT_EQ(r.Line("FAIL proxmox: GET /version"),
            "FAIL proxmox: GET /version: HTTP 401: proxmox.token was refused");
  r.Line("FAIL proxmox: GET /access/permissions: HTTP 401: proxmox.token was refused");
  EXPECT_EQ(r.Line("FAIL dns: GET /user/tokens/verify"),
            "FAIL dns: GET /user/tokens/verify: HTTP 401: dns.token was refused");
  r.Line("FAIL billing: GET /customers/zlh-check-config: HTTP 401: billing.token was refused");
  r.Line("ok   proxy: ");  // the others still pass
  EXPECT_EQ(r.Joined().find("not-the-token"), std::string::npos) << "a secret was printed";
}

TEST_F(CheckConfigTest, AnAbsentTemplateOrZoneFails) {
  config_["templates"] = json::array{
      json::object{{"name", "vanilla"}, {"templateVmid", 9000}, {"templateNode", "pve1"}},
      json::object{{"name", "paper"}, {"templateVmid", 9100}, {"templateNode", "pve1"}},
      json::object{{"name", "dev"}, {"templateVmid", 9003}, {"templateNode", "pve2"}}};
  Service("dns")["zone"] = "other.example";
  Outcome r = Check();
  EXPECT_EQ(r.code, 1) << r.Joined();
  r.Line("ok   proxmox: template vanilla: VMID 9000 on pve1");
  EXPECT_EQ(r.Line("FAIL proxmox: template paper"),
            "FAIL proxmox: template paper: no template at VMID 9100 on pve1 (templates[1])");
  r.Line("FAIL proxmox: template dev: no template at VMID 9003 on pve2 (templates[2])");
  r.Line("FAIL dns: zone " + std::string(kZoneId) +
         " (dns.zoneId) is 'games.example', not dns.zone 'other.example'");
}

TEST_F(CheckConfigTest, AnUnreachableServiceOrAWrongWebhookFails) {
  // A port nothing listens on: bound, then closed.
  Service("proxy")["url"] = "http://127.0.0.1:" + std::to_string(FreeLoopbackPort());
  const std::string secret_hook = sim_.url() + "/api/webhooks/audit-log/wrong-secret";
  config_["discord"].as_object()["webhooks"].as_object()["audit-log"] = secret_hook;
  Outcome r = Check();
  EXPECT_EQ(r.code, 1) << r.Joined();
  r.Line("FAIL proxy: GET http://127.0.0.1:");
  EXPECT_EQ(r.Line("FAIL discord: audit-log"),
            "FAIL discord: audit-log: GET on the webhook URL: HTTP 401: the token in "
            "discord.webhooks.audit-log was refused");
  r.Line("ok   discord: alerts-critical: ");
  EXPECT_EQ(r.Joined().find("wrong-secret"), std::string::npos) << "a webhook URL was printed";
  EXPECT_EQ(Mutations(), 0u);
}

// The mail server (SPEC §10) is checked as a delivery would use it — EHLO, STARTTLS as configured,
// NOOP — and sent nothing; a password where STARTTLS is not offered fails, naming why.
TEST_F(CheckConfigTest, TheMailServerIsCheckedAndSentNothing) {
  EXPECT_EQ(Check().Line("ok   email: "), "ok   email: not configured: messages that ping go to Discord only");
  SmtpServer smtp;
  ASSERT_TRUE(smtp.ready());
  config_["email"] = json::object{{"smtpUrl", smtp.url()}, {"from", "zlh@example.org"},
                                  {"to", json::array{"ops@example.org"}}};
  Outcome r = Check();
  EXPECT_EQ(r.code, 0) << r.Joined();
  EXPECT_EQ(r.Line("ok   email: "),
            "ok   email: " + smtp.url() + ": answers (STARTTLS when offered), to 1 recipient(s)");
  std::string password = tmp_.Sub("smtp-password");
  std::ofstream(password) << "secret\n";
  config_["email"].as_object()["username"] = "zlh";
  config_["email"].as_object()["passwordFile"] = password;
  Outcome clear = Check();
  EXPECT_EQ(clear.code, 1) << clear.Joined();
  EXPECT_NE(clear.Line("FAIL email: ").find("offers no STARTTLS"), std::string::npos) << clear.Joined();
  EXPECT_EQ(clear.Joined().find("secret"), std::string::npos) << "the password was printed";
  EXPECT_TRUE(smtp.Messages().empty()) << "the check sent mail";
}

TEST_F(CheckConfigTest, AFileThatIsNotJsonIsBad) {
  Outcome check = Zlhd({"--check-config"}, "{\"proxmox\": ");
  EXPECT_EQ(check.code, 2) << check.Joined();
  ASSERT_EQ(check.lines.size(), 1u) << check.Joined();
  EXPECT_EQ(check.lines[0].rfind("FAIL config: config " + tmp_.Sub("zlh-1.json") + ": ", 0), 0u)
      << check.lines[0];
  Outcome start = Zlhd({"--listen", "127.0.0.1:0"}, "not json");
  EXPECT_EQ(start.code, 2) << start.Joined();
  EXPECT_FALSE(std::filesystem::exists(tmp_.Sub("data")));
}

TEST_F(CheckConfigTest, AConfigNamingProxmoxButNoDnsIsRefusedAtStart) {
  config_.erase("dns");
  Outcome start = Zlhd({"--listen", "127.0.0.1:0"}, json::serialize(config_));
  EXPECT_EQ(start.code, 2) << start.Joined();
  EXPECT_NE(start.log.find("dns.url: required when proxmox.url is set"), std::string::npos)
      << start.log;
  EXPECT_NE(start.log.find("dns.zone: required when proxmox.url is set"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(tmp_.Sub("data"))) << "a refused start wrote a data dir";
  Outcome check = Zlhd({"--check-config"}, json::serialize(config_));
  EXPECT_EQ(check.code, 2) << check.Joined();
  check.Line("FAIL config: ");
}

// A file that names no service runs only on a simulated fleet the command line asks for.
TEST_F(CheckConfigTest, AFileWithoutServicesNeedsFleetSim) {
  const std::string timings = R"({"timing": {"readinessTimeout": "2m"}})";
  Outcome refused = Zlhd({"--listen", "127.0.0.1:0"}, timings);
  EXPECT_EQ(refused.code, 2) << refused.Joined();
  EXPECT_NE(refused.log.find("names no service"), std::string::npos) << refused.log;
  EXPECT_NE(refused.log.find("--fleet sim"), std::string::npos) << refused.log;
  EXPECT_FALSE(std::filesystem::exists(tmp_.Sub("data")));

  std::ofstream(tmp_.Sub("sim-only.json")) << timings;
  Daemon sim_run({"--config", tmp_.Sub("sim-only.json"), "--fleet", "sim", "--data",
                  tmp_.Sub("data"), "--listen", "127.0.0.1:0"},
                 tmp_.Sub("sim-run.log"));
  ASSERT_TRUE(WaitForLog(tmp_.Sub("sim-run.log"), "zlhd ready", 30s)) << ReadFile(tmp_.Sub("sim-run.log"));
  EXPECT_NE(ReadFile(tmp_.Sub("sim-run.log")).find("simulated fleet in-process"), std::string::npos);
  sim_run.Signal(SIGTERM);
  EXPECT_EQ(sim_run.Wait(30'000ms), 0);
}

}  // namespace
}  // namespace zlh

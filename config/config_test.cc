#include "config/config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <utility>
#include <vector>

#include "base/temp_dir.h"
#include "config/fleet.h"
#include "tests/test_ca.h"

namespace zlh::config {
namespace {

TEST(ConfigTest, DefaultsAreComplete) {
  Settings s = Defaults();
  EXPECT_EQ(s.file.vmids().first(), 100);
  EXPECT_EQ(s.file.vmids().last(), 999);
  EXPECT_EQ(s.QueueLimit("provision"), 1u);
  ASSERT_NE(s.FindTemplate("vanilla"), nullptr);
  EXPECT_EQ(s.FindTemplate("vanilla")->loader(), "fabric");
  EXPECT_NE(s.FindTemplate("dev"), nullptr);
  EXPECT_TRUE(s.HasPlan("medium"));
  EXPECT_EQ(s.file.servers_per_customer(), 5u);
  EXPECT_EQ(s.readiness_timeout, Millis(600'000));
  EXPECT_EQ(s.repair_concurrency, 4u);
  EXPECT_EQ(s.repair_concurrency_per_host, 2u);
  EXPECT_EQ(s.digest_minute, 8 * 60);
  EXPECT_EQ(s.backup_minute, 3 * 60 + 30);
  EXPECT_EQ(s.backup_keep, 14u);
  EXPECT_EQ(s.memory_overcommit, 1.0);
  ASSERT_NE(s.business_hours.zone, nullptr);
  EXPECT_TRUE(s.business_hours.days[1] && s.business_hours.days[5] && !s.business_hours.days[0]);
}

TEST(ConfigTest, ParsesFieldsAndDurations) {
  auto s = Parse(R"({"vmids": {"first": 200, "last": 210},
                     "queues": {"provision": 3},
                     "timing": {"readinessProbeInterval": "250ms", "readinessTimeout": "2m"},
                     "dns": {"zone": "games.example"}})");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->file.vmids().first(), 200);
  EXPECT_EQ(s->QueueLimit("provision"), 3u);
  EXPECT_EQ(s->readiness_probe_interval, Millis(250));
  EXPECT_EQ(s->readiness_timeout, Millis(120'000));
  EXPECT_EQ(s->file.proxy().public_host(), "proxy.games.example");
  EXPECT_EQ(s->memory_overcommit, 1.0);  // absent: 1.0
  auto overcommitted = Parse(R"({"placement": {"memoryOvercommit": 1.5}})");
  ASSERT_TRUE(overcommitted.ok()) << overcommitted.status().ToString();
  EXPECT_EQ(overcommitted->memory_overcommit, 1.5);
  auto backups = Parse(R"({"backup": {"dir": "/srv/zlh-backups", "at": "01:15", "keep": 3}})");
  ASSERT_TRUE(backups.ok()) << backups.status().ToString();
  EXPECT_EQ(backups->backup_minute, 75);
  EXPECT_EQ(backups->backup_keep, 3u);
  auto no_backups = Parse(R"({"backup": {"at": "off"}})");
  ASSERT_TRUE(no_backups.ok()) << no_backups.status().ToString();
  EXPECT_FALSE(no_backups->backup_minute.has_value());
}

// Each bad file is refused with a message naming the field.
TEST(ConfigTest, RefusesBadFieldsNamingThem) {
  struct Case {
    const char* json;
    const char* names;
  };
  for (const Case& c : {
           Case{R"({"vmidz": {}})", "vmidz: unknown field"},
           Case{R"({"vmids": {"first": "abc"}})", "first"},
           Case{R"({"timing": {"readinessTimeout": "10 minutes"}})", "timing.readinessTimeout"},
           Case{R"({"timing": {"leasePollInterval": "0s"}})", "timing.leasePollInterval"},
           Case{R"({"vmids": {"first": 500, "last": 400}})", "vmids.last"},
           Case{R"({"vmids": {"first": 5, "last": 400}})", "vmids.first"},
           Case{R"({"proxmox": {"url": "pve1:8006"}})", "proxmox.url"},
           Case{R"({"queues": {"provisoin": 2}})", "queues.provisoin"},
           Case{R"({"queues": {"provision": 0}})", "queues.provision"},
           Case{R"({"agent": {"urlTemplate": "http://agent:7070"}})", "agent.urlTemplate"},
           Case{R"({"templates": [{"name": "vanilla", "templateVmid": 0, "templateNode": "p"}]})",
                "templates[0].templateVmid"},
           Case{R"({"discord": {"webhooks": {"audit-log": ""}}})", "discord.webhooks.audit-log"},
           Case{R"({"businessHours": {"timeZone": "Europe/Atlantis"}})", "businessHours.timeZone"},
           Case{R"({"businessHours": {"hours": "18:00-09:00"}})", "businessHours.hours"},
           Case{R"({"businessHours": {"days": ["mon", "someday"]}})", "businessHours.days[1]"},
           Case{R"({"controller": {"digestAt": "8am"}})", "controller.digestAt"},
           Case{R"({"controller": {"backupPeriod": "0s"}})", "controller.backupPeriod"},
           Case{R"({"backup": {"at": "3:30am"}})", "backup.at"},
           Case{R"({"backup": {"keep": 0}})", "backup.keep"},
           Case{R"({"backup": {"keep": -1}})", "keep"},
           Case{R"({"backup": {"dir": "backups"}})", "backup.dir"},
           Case{R"({"placement": {"memoryOvercommit": 0}})", "placement.memoryOvercommit"},
           Case{R"({"placement": {"memoryOvercommit": -1.5}})", "placement.memoryOvercommit"},
           Case{R"({"placement": {"memoryOvercommit": 10.5}})", "placement.memoryOvercommit"},
           Case{R"({"placement": {"memoryOvercommit": "NaN"}})", "placement.memoryOvercommit"},
           Case{R"({"placement": {"memoryOvercommit": "Infinity"}})", "placement.memoryOvercommit"},
           Case{R"({"placement": {"memoryOvercommit": "lots"}})", "placement.memory_overcommit"},
           Case{R"({"placement": {"overcommit": 2}})", "overcommit: unknown field"},
           Case{R"({"vmids": )", ""},
       }) {
    auto s = Parse(c.json);
    ASSERT_FALSE(s.ok()) << c.json;
    EXPECT_EQ(s.status().code(), Code::kInvalidArgument) << c.json;
    EXPECT_NE(s.status().message().find(c.names), std::string::npos)
        << c.json << " → " << s.status().message();
  }
}

// A valid pool, with `field` replaced by `value` (a JSON fragment), for the pool cases below.
std::string PoolConfig(const std::string& field, const std::string& value) {
  std::map<std::string, std::string> pool = {
      {"name", R"("lan")"},          {"nodes", R"(["pve1"])"},      {"bridge", R"("vmbr1")"},
      {"cidr", R"("10.20.0.0/22")"}, {"gateway", R"("10.20.0.1")"}, {"first", R"("10.20.1.10")"},
      {"last", R"("10.20.3.250")"}};
  if (value.empty()) {
    pool.erase(field);
  } else {
    pool[field] = value;
  }
  std::string body;
  for (const auto& [k, v] : pool) body += (body.empty() ? "" : ",") + ("\"" + k + "\":" + v);
  return R"({"network": {"pools": [{)" + body + "}]}}";
}

TEST(ConfigTest, RefusesBadPoolsNamingTheField) {
  struct Case {
    const char* field;
    const char* value;  // "" leaves the field out
    const char* names;
  };
  for (const Case& c : {
           Case{"name", "", "network.pools[0].name: required"},
           Case{"nodes", "", "network.pools[0].nodes: required"},
           Case{"bridge", "", "network.pools[0].bridge: required"},
           Case{"cidr", "", "network.pools[0].cidr: required"},
           Case{"cidr", R"("10.20.0.1/22")", "network.pools[0].cidr"},
           Case{"gateway", "", "network.pools[0].gateway: required"},
           Case{"gateway", R"("10.30.0.1")",
                "network.pools[0].gateway: 10.30.0.1 is not inside cidr"},
           Case{"gateway", R"("10.20.1.20")",
                "network.pools[0].gateway: 10.20.1.20 is inside first..last"},
           Case{"first", "", "network.pools[0].first: required"},
           Case{"first", R"("10.20.4.1")", "network.pools[0].first: 10.20.4.1 is not inside cidr"},
           Case{"first", R"("10.20.1.300")",
                "network.pools[0].first: '10.20.1.300' is not an IPv4"},
           Case{"last", "", "network.pools[0].last: required"},
           Case{"last", R"("10.20.4.0")", "network.pools[0].last: 10.20.4.0 is not inside cidr"},
           Case{"last", R"("10.20.1.9")", "network.pools[0].last: 10.20.1.9 is below first"},
           Case{"vlan", "4095", "network.pools[0].vlan"},
           Case{"nameservers", R"(["1.1.1"])", "network.pools[0].nameservers[0]"},
       }) {
    std::string json = PoolConfig(c.field, c.value);
    auto s = Parse(json);
    ASSERT_FALSE(s.ok()) << json;
    EXPECT_EQ(s.status().code(), Code::kInvalidArgument) << json;
    EXPECT_NE(s.status().message().find(c.names), std::string::npos)
        << json << " → " << s.status().message();
  }
  auto twice = Parse(R"({"network": {"pools": [
      {"name": "a", "nodes": ["pve1"], "bridge": "vmbr1", "cidr": "10.20.0.0/24",
       "gateway": "10.20.0.1", "first": "10.20.0.10", "last": "10.20.0.20"},
      {"name": "b", "nodes": ["pve1"], "bridge": "vmbr1", "cidr": "10.21.0.0/24",
       "gateway": "10.21.0.1", "first": "10.21.0.10", "last": "10.21.0.20"}]}})");
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.status().message().find("network.pools[1].nodes: node 'pve1' is served by two"),
            std::string::npos)
      << twice.status().message();
}

TEST(ConfigTest, PoolDefaultsAndTheLoopbackDefault) {
  auto s = Parse(PoolConfig("vlan", "12"));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  const auto* pool = s->PoolOf("pve1");
  ASSERT_NE(pool, nullptr);
  EXPECT_EQ(pool->vlan(), 12u);
  ASSERT_EQ(pool->nameservers_size(), 1);
  EXPECT_EQ(pool->nameservers(0), "10.20.0.1");  // default [gateway]
  EXPECT_EQ(s->PoolOf("pve2"), nullptr);         // a configured pool serves only its nodes

  Settings d = Defaults();  // the simulated fleet: one loopback pool for every node
  ASSERT_NE(d.PoolOf("pve2"), nullptr);
  EXPECT_EQ(d.PoolOf("pve2")->cidr(), "127.1.0.0/16");
  EXPECT_EQ(d.PoolOf("pve2")->first(), "127.1.0.10");
  // A file naming no pool gets it too, and it stays valid.
  auto none = Parse(R"({"vmids": {"first": 200, "last": 210}})");
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  ASSERT_NE(none->PoolOf("pve1"), nullptr);
  EXPECT_EQ(none->PoolOf("pve1")->name(), "loopback");
}

// network.mode "dhcp": a bridge instead of pools, and nothing of the other mode silently ignored.
TEST(ConfigTest, DhcpModeNeedsABridgeAndNoPools) {
  auto dhcp = Parse(R"({"network": {"mode": "dhcp", "bridge": "vmbr1", "vlan": 20}})");
  ASSERT_TRUE(dhcp.ok()) << dhcp.status().ToString();
  EXPECT_TRUE(dhcp->Dhcp());
  EXPECT_EQ(dhcp->PoolOf("pve1"), nullptr) << "dhcp mode got the loopback pool";
  EXPECT_FALSE(Defaults().Dhcp());
  struct Case {
    const char* network;
    const char* names;
  };
  for (const Case& c : {
           Case{R"({"mode": "dhcp"})", "network.bridge: required when network.mode is \"dhcp\""},
           Case{R"({"mode": "DHCP", "bridge": "vmbr1"})", "network.mode: 'DHCP' is neither"},
           Case{R"({"mode": "dhcp", "bridge": "vmbr1", "vlan": 4095})", "network.vlan: 0 (untagged)"},
           Case{R"({"mode": "dhcp", "bridge": "vmbr1", "pools": [{"name": "lan"}]})",
                "network.pools: not used when network.mode is \"dhcp\""},
           Case{R"({"bridge": "vmbr1"})", "network.bridge: only with network.mode \"dhcp\""},
           Case{R"({"mode": "static", "vlan": 3})", "network.vlan: only with network.mode"},
       }) {
    auto s = Parse(std::string(R"({"network": )") + c.network + "}");
    ASSERT_FALSE(s.ok()) << c.network;
    EXPECT_EQ(s.status().code(), Code::kInvalidArgument) << c.network;
    EXPECT_NE(s.status().message().find(c.names), std::string::npos)
        << c.network << " → " << s.status().message();
  }
}

TEST(ConfigTest, PlansAreSizes) {
  Settings d = Defaults();
  ASSERT_NE(d.FindPlan("small"), nullptr);
  EXPECT_EQ(d.FindPlan("small")->cores(), 2u);
  EXPECT_EQ(d.FindPlan("small")->memory_mb(), 4096u);
  EXPECT_EQ(d.FindPlan("large")->disk_gb(), 80u);
  auto s = Parse(R"({"plans": [{"name": "tiny", "cores": 1, "memoryMb": 1024, "diskGb": 8}]})");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->FindPlan("tiny")->swap_mb(), 0u);
  EXPECT_EQ(s->FindPlan("small"), nullptr);  // the list replaced the defaults
  for (auto [json, names] : {
           std::pair{R"({"plans": ["small"]})", "plans"},
           std::pair{R"({"plans": [{"cores": 1, "memoryMb": 1024, "diskGb": 8}]})",
                     "plans[0].name"},
           std::pair{R"({"plans": [{"name": "t", "memoryMb": 1024, "diskGb": 8}]})",
                     "plans[0].cores"},
           std::pair{R"({"plans": [{"name": "t", "cores": 1, "diskGb": 8}]})", "plans[0].memoryMb"},
           std::pair{R"({"plans": [{"name": "t", "cores": 1, "memoryMb": 1024}]})",
                     "plans[0].diskGb"},
       }) {
    auto bad = Parse(json);
    ASSERT_FALSE(bad.ok()) << json;
    EXPECT_NE(bad.status().message().find(names), std::string::npos)
        << json << " → " << bad.status().message();
  }
}

TEST(ConfigTest, LoadNamesTheFile) {
  auto s = Load("/nonexistent/zlh.json");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("/nonexistent/zlh.json"), std::string::npos);
}

TEST(ConfigTest, PointAtFleetSetsEveryEndpoint) {
  Settings s = Defaults();
  PointAtFleet(s, "http://127.0.0.1:9999");
  EXPECT_EQ(s.file.proxmox().url(), "http://127.0.0.1:9999");
  EXPECT_EQ(s.file.dns().url(), "http://127.0.0.1:9999/client/v4");
  EXPECT_EQ(s.file.agent().url_template(), "http://127.0.0.1:9999/agents/{vmid}");
  EXPECT_EQ(s.file.discord().webhooks().at("alerts-provisioning"),
            "http://127.0.0.1:9999/api/webhooks/alerts-provisioning/sim");
}

TEST(ConfigTest, RefusesBadEmailNamingTheField) {
  TempDir tmp;
  std::string empty = tmp.Sub("empty"), good = tmp.Sub("good");
  std::ofstream(empty) << "";
  std::ofstream(good) << "s3cret\r\nignored";
  const std::string base = R"("smtpUrl": "smtp://mail.example.org:587", "from": "zlh@example.org", "to": ["ops@example.org"])";
  struct Case {
    std::string fields;
    const char* names;
  };
  for (const Case& c : {
           Case{R"("from": "zlh@example.org", "to": ["ops@example.org"])", "email.smtpUrl: required"},
           Case{R"("smtpUrl": "https://mail.example.org", "from": "a@b", "to": ["c@d"])", "email.smtpUrl: 'https://"},
           Case{R"("smtpUrl": "smtp://m", "to": ["c@d"])", "email.from: required"},
           Case{R"("smtpUrl": "smtp://m", "from": "zlh", "to": ["c@d"])", "email.from: 'zlh' is not an address"},
           Case{R"("smtpUrl": "smtp://m", "from": "a@b")", "email.to: required"},
           Case{R"("smtpUrl": "smtp://m", "from": "a@b", "to": ["c@d", "Ops <e@f>"])", "email.to[1]"},
           Case{base + R"(, "username": "zlh")", "email.passwordFile: required with the other"},
           Case{base + R"(, "username": "zlh", "passwordFile": ")" + tmp.Sub("absent") + "\"", "email.passwordFile: '"},
           Case{base + R"(, "username": "zlh", "passwordFile": ")" + empty + "\"", "is empty"},
           Case{base + R"(, "fallbackAfter": "soon")", "email.fallbackAfter"},
           Case{base + R"(, "timeout": "0s")", "email.timeout: must be longer than 0"},
       }) {
    std::string json = R"({"email": {)" + c.fields + "}}";
    auto s = Parse(json);
    ASSERT_FALSE(s.ok()) << json;
    EXPECT_NE(s.status().message().find(c.names), std::string::npos) << json << " → " << s.status().message();
  }
  auto ok = Parse(R"({"email": {)" + base + R"(, "username": "zlh", "passwordFile": ")" + good +
                  R"(", "fallbackAfter": "2m"}})");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_TRUE(ok->HasEmail());
  EXPECT_EQ(ok->email_password, "s3cret");
  EXPECT_EQ(ok->email_fallback_after, Millis(120'000));
  EXPECT_EQ(ok->email_timeout, Millis(30'000));
  EXPECT_FALSE(Defaults().HasEmail());
}

// api.tls (SPEC §11): both files or neither; each refusal names the field and the file.
TEST(ConfigTest, ApiTlsIsAMatchingCertificateAndKeyOrRefusedNamingTheField) {
  TestCa ca;
  ASSERT_TRUE(ca.made()) << "openssl could not make the test CA";
  TempDir tmp;
  std::string not_pem = tmp.Sub("not.pem");
  std::ofstream(not_pem) << "not a certificate\n";
  auto config = [](const std::string& cert, const std::string& key) {
    std::string tls;
    if (!cert.empty()) tls += R"("certFile": ")" + cert + "\"";
    if (!key.empty()) tls += std::string(tls.empty() ? "" : ", ") + R"("keyFile": ")" + key + "\"";
    return R"({"api": {"tls": {)" + tls + "}}}";
  };
  struct Case {
    std::string cert, key, names;
  };
  for (const Case& c : {
           Case{ca.cert(), "", "api.tls.keyFile: required with api.tls.certFile"},
           Case{"", ca.key(), "api.tls.certFile: required with api.tls.keyFile"},
           Case{tmp.Sub("absent.pem"), ca.key(),
                "api.tls.certFile: '" + tmp.Sub("absent.pem") + "' cannot be read"},
           Case{ca.cert(), tmp.Sub("absent.key"),
                "api.tls.keyFile: '" + tmp.Sub("absent.key") + "' cannot be read"},
           Case{not_pem, ca.key(), "api.tls.certFile: '" + not_pem + "' holds no PEM certificate"},
           Case{ca.cert(), not_pem, "api.tls.keyFile: '" + not_pem + "' holds no unencrypted PEM"},
           Case{ca.key(), ca.key(), "api.tls.certFile"},  // a key where the certificate belongs
           Case{ca.cert(), ca.stray_key(),
                "api.tls.keyFile: '" + ca.stray_key() + "' does not match the certificate"},
       }) {
    auto s = Parse(config(c.cert, c.key));
    ASSERT_FALSE(s.ok()) << config(c.cert, c.key);
    EXPECT_NE(s.status().message().find(c.names), std::string::npos) << s.status().message();
  }
  EXPECT_FALSE(Defaults().HasApiTls());
  auto ok = Parse(config(ca.cert(), ca.key()));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_TRUE(ok->HasApiTls());
}

// redis.passwordFile: its first line is AUTH's password; a file that cannot be read is refused.
TEST(ConfigTest, RedisPasswordFileIsReadOrRefused) {
  TempDir tmp;
  std::ofstream(tmp.Sub("redis-password")) << "r3dis-pw\r\nignored\n";
  auto ok = Parse(R"({"redis": {"passwordFile": ")" + tmp.Sub("redis-password") + "\"}}");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->redis_password, "r3dis-pw");
  EXPECT_EQ(Defaults().redis_password, "");
  auto absent = Parse(R"({"redis": {"passwordFile": ")" + tmp.Sub("absent") + "\"}}");
  ASSERT_FALSE(absent.ok());
  EXPECT_NE(absent.status().message().find("redis.passwordFile: '" + tmp.Sub("absent") +
                                           "' cannot be read"),
            std::string::npos)
      << absent.status().message();
}

// The outbox's delivery (SPEC §10): defaults, durations, and refusals naming the field.
TEST(ConfigTest, NotifyDefaultsDurationsAndRefusals) {
  Settings d = Defaults();
  EXPECT_EQ(d.notify_max_backoff, Millis(60'000));
  EXPECT_EQ(d.notify_initial_backoff, Millis(1'000));
  EXPECT_EQ(d.notify_attempt_timeout, Millis(10'000));
  EXPECT_EQ(d.notify_concurrency, 4u);
  EXPECT_EQ(d.notify_keep_delivered, Millis(168LL * 3'600'000));
  EXPECT_EQ(d.notify_keep_failed, Millis(720LL * 3'600'000));
  auto s = Parse(R"({"notify": {"maxBackoff": "2s", "initialBackoff": "200ms",
                     "attemptTimeout": "3s", "concurrency": 1, "keepDelivered": "1h",
                     "keepFailed": "2h"}})");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->notify_max_backoff, Millis(2'000));
  EXPECT_EQ(s->notify_initial_backoff, Millis(200));
  EXPECT_EQ(s->notify_attempt_timeout, Millis(3'000));
  EXPECT_EQ(s->notify_concurrency, 1u);
  EXPECT_EQ(s->notify_keep_delivered, Millis(3'600'000));
  EXPECT_EQ(s->notify_keep_failed, Millis(7'200'000));
  for (const auto& [json, names] : std::vector<std::pair<std::string, std::string>>{
           {R"({"maxBackoff": "soon"})", "notify.maxBackoff"},
           {R"({"initialBackoff": "0s"})", "notify.initialBackoff: must be longer than 0"},
           {R"({"initialBackoff": "2m"})", "notify.initialBackoff: must not be longer than notify.maxBackoff"},
           {R"({"attemptTimeout": "0ms"})", "notify.attemptTimeout"},
           {R"({"keepDelivered": "1 week"})", "notify.keepDelivered"},
           {R"({"keepFailed": "0h"})", "notify.keepFailed"},
           {R"({"concurrency": 65})", "notify.concurrency: at most 64"},
           {R"({"retries": 3})", "retries: unknown field"},
       }) {
    auto bad = Parse(R"({"notify": )" + json + "}");
    ASSERT_FALSE(bad.ok()) << json;
    EXPECT_NE(bad.status().message().find(names), std::string::npos)
        << json << " → " << bad.status().message();
  }
}

// docs/config.md's complete example is a valid config.
TEST(ConfigTest, TheDocumentedExampleParses) {
  std::ifstream doc(ZLH_CONFIG_DOC);
  std::stringstream text;
  text << doc.rdbuf();
  std::string md = text.str();
  size_t start = md.find("```json\n");
  ASSERT_NE(start, std::string::npos);
  start += 8;
  size_t end = md.find("```", start);
  auto s = Parse(md.substr(start, end - start));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->file.proxy().public_address(), "203.0.113.10");
  EXPECT_EQ(s->FindTemplate("fabric"), nullptr);  // the list replaced the defaults
  auto fleet = ChooseFleet("", true, *s);  // and complete enough to run the real fleet
  ASSERT_TRUE(fleet.ok()) << fleet.status().ToString();
  EXPECT_EQ(fleet->kind, FleetKind::kConfigured);
}

}  // namespace
}  // namespace zlh::config

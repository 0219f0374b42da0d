#include "config/config.h"
#include "config/fleet.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

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
           Case{R"({"vmids": )", ""},
       }) {
    auto s = Parse(c.json);
    ASSERT_FALSE(s.ok()) << c.json;
    EXPECT_EQ(s.status().code(), Code::kInvalidArgument) << c.json;
    EXPECT_NE(s.status().message().find(c.names), std::string::npos)
        << c.json << " → " << s.status().message();
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

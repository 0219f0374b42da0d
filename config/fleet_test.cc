// The fleet a start runs on, and the refusal of a real config that is not complete (SPEC §9.3).
#include "config/fleet.h"

#include <gtest/gtest.h>

namespace zlh::config {
namespace {

// A real config with every service named, and (when `pooled`) an address pool of its own.
std::string RealConfig(bool pooled = true) {
  return std::string(R"({
  "proxmox": {"url": "https://pve1:8006", "token": "zlh@pve!flow=secret"},
  "dns": {"url": "https://api.cloudflare.com/client/v4", "token": "cf", "zoneId": "023e105f",
          "zone": "games.example"},
  "proxy": {"url": "http://velocity:8081", "token": "v", "publicAddress": "203.0.113.10"},
  "agent": {"token": "a"},
  "billing": {"url": "https://billing/api", "token": "b"})") +
         (pooled ? R"(,
  "network": {"pools": [{"name": "lan", "nodes": ["pve1"], "bridge": "vmbr1",
                         "cidr": "10.20.0.0/22", "gateway": "10.20.0.1", "first": "10.20.1.10",
                         "last": "10.20.3.250"}]})"
                 : "") +
         "}";
}
Settings Parsed(const std::string& json) {
  auto s = Parse(json);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? *s : Defaults();
}

TEST(FleetTest, TheSimulatorRunsOnlyWhenAskedFor) {
  EXPECT_EQ(ChooseFleet("", false, Defaults())->kind, FleetKind::kSimulated);
  EXPECT_EQ(ChooseFleet("sim", true, Parsed(RealConfig()))->kind, FleetKind::kSimulated);
  auto one = ChooseFleet("http://127.0.0.1:9090", true, Parsed("{}"));
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->kind, FleetKind::kOneUrl);
  EXPECT_EQ(one->url, "http://127.0.0.1:9090");
  EXPECT_EQ(ChooseFleet("", true, Parsed(RealConfig()))->kind, FleetKind::kConfigured);
}

TEST(FleetTest, AFileThatNamesNoServiceIsRefusedSayingWhatToDo) {
  auto fleet = ChooseFleet("", true, Parsed(R"({"timing": {"readinessTimeout": "2m"}})"));
  ASSERT_FALSE(fleet.ok());
  EXPECT_EQ(fleet.status().code(), Code::kInvalidArgument);
  EXPECT_NE(fleet.status().message().find("names no service"), std::string::npos);
  EXPECT_NE(fleet.status().message().find("--fleet sim"), std::string::npos);
}

TEST(FleetTest, ProxmoxWithoutTheOtherServicesNamesEveryMissingField) {
  auto fleet = ChooseFleet("", true, Parsed(R"({"proxmox": {"url": "https://pve1:8006"}})"));
  ASSERT_FALSE(fleet.ok());
  std::string m = fleet.status().message();
  for (const char* field : {"proxmox.token", "dns.url", "dns.token", "dns.zoneId", "dns.zone",
                            "proxy.url", "proxy.token", "proxy.publicAddress", "agent.token",
                            "billing.url", "billing.token", "network.pools"}) {
    EXPECT_NE(m.find(std::string(field) + ": required when proxmox.url is set"), std::string::npos)
        << field << " in " << m;
  }
  EXPECT_EQ(m.find("proxmox.url:"), std::string::npos) << m;
}

TEST(FleetTest, SimulatorDefaultsAreRefusedInARealConfig) {
  auto s = Parsed(RealConfig());
  s.file.mutable_dns()->set_zone("play.example");
  s.file.mutable_proxy()->set_public_address("127.0.0.1");
  auto missing = MissingForRealFleet(s, "proxmox.url");
  ASSERT_EQ(missing.size(), 2u);
  EXPECT_EQ(missing[0].rfind("dns.zone: ", 0), 0u) << missing[0];
  EXPECT_EQ(missing[1].rfind("proxy.publicAddress: ", 0), 0u) << missing[1];
  // Without a pool of its own, it would hand out the simulator's loopback addresses.
  auto unpooled = ChooseFleet("", true, Parsed(RealConfig(/*pooled=*/false)));
  ASSERT_FALSE(unpooled.ok());
  EXPECT_EQ(unpooled.status().message().rfind("network.pools: required when proxmox.url is set", 0),
            0u)
      << unpooled.status().message();
  // dhcp mode needs no pool: the DHCP server of the bridge gives the addresses.
  auto dhcp = Parsed(RealConfig(/*pooled=*/false));
  dhcp.file.mutable_network()->set_mode("dhcp");
  dhcp.file.mutable_network()->set_bridge("vmbr1");
  EXPECT_TRUE(MissingForRealFleet(dhcp, "proxmox.url").empty());
  auto billing_only = ChooseFleet("", true, Parsed(R"({"billing": {"url": "https://b"}})"));
  ASSERT_FALSE(billing_only.ok());
  EXPECT_NE(billing_only.status().message().find("proxmox.url: required when billing.url is set"),
            std::string::npos);
}

}  // namespace
}  // namespace zlh::config

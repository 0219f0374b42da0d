// What a reload takes and what it leaves to a restart (config/reload.h): the fields that need a
// restart are named, never their values; the reloadable ones are adopted and counted.
#include "config/reload.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace zlh::config {
namespace {

using Names = std::vector<std::string>;

Settings Parsed(const std::string& json) {
  auto s = Parse(json);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? *s : Defaults();
}

constexpr char kRoutes[] = R"(
  "discord": {"webhooks": {"alerts-critical": "https://discord.example/api/webhooks/1/a",
                           "audit-log": "https://discord.example/api/webhooks/2/b"}},
  "businessHours": {"timeZone": "Europe/Berlin", "hours": "08:00-17:00"})";

TEST(ConfigReloadTest, RoutesAndBusinessHoursNeedNoRestart) {
  Settings running = Parsed("{" + std::string(kRoutes) + "}");
  Settings next = Parsed(R"({
    "discord": {"webhooks": {"alerts-critical": "https://discord.example/api/webhooks/1/new",
                             "audit-log": "https://discord.example/api/webhooks/2/b",
                             "system-health": "https://discord.example/api/webhooks/3/c"},
                "roles": {"alerts-critical": "123"}},
    "email": {"smtpUrl": "smtp://mail.example.org", "from": "zlh@example.org",
              "to": ["ops@example.org"]},
    "businessHours": {"timeZone": "Europe/Berlin", "days": ["mon"], "hours": "08:00-12:00"}})");
  EXPECT_EQ(NeedsRestart(running, next), Names{});
  RouteChanges changes = CompareRoutes(running, next);
  EXPECT_EQ(changes.discord_channels, 3);
  EXPECT_EQ(changes.discord_changed, 2);  // alerts-critical's webhook and role, system-health
  EXPECT_TRUE(changes.email_changed);
  EXPECT_TRUE(changes.business_hours_changed);

  AdoptReloadable(running, next);
  EXPECT_EQ(running.file.discord().webhooks().at("alerts-critical"),
            "https://discord.example/api/webhooks/1/new");
  EXPECT_TRUE(running.HasEmail());
  EXPECT_EQ(running.business_hours.end_minute, 12 * 60);
  EXPECT_FALSE(running.business_hours.days[2]);  // Tuesday
  RouteChanges none = CompareRoutes(running, next);
  EXPECT_EQ(none.discord_changed, 0);
  EXPECT_FALSE(none.email_changed);
  EXPECT_FALSE(none.business_hours_changed);
}

TEST(ConfigReloadTest, OtherChangesAreNamedByFieldAndNeverByValue) {
  Settings running = Parsed(R"({"proxmox": {"token": "zlh@pve!zlh=old-secret"},
                                "controller": {"reconcileInterval": "30s"}})");
  Settings next = Parsed(R"({"proxmox": {"token": "zlh@pve!zlh=new-secret"},
                             "controller": {"reconcileInterval": "10s"},
                             "queues": {"operation": 8},
                             "plans": [{"name": "huge", "cores": 8, "memoryMb": 16384,
                                        "diskGb": 100}]})");
  Names names = NeedsRestart(running, next);
  EXPECT_EQ(names, (Names{"proxmox.token", "queues", "controller.reconcileInterval", "plans"}));
  for (const std::string& name : names) {
    EXPECT_EQ(name.find("secret"), std::string::npos) << name;
  }
  AdoptReloadable(running, next);
  EXPECT_EQ(running.file.proxmox().token(), "zlh@pve!zlh=old-secret") << "kept until a restart";
  EXPECT_EQ(running.reconcile_interval, Millis(30'000));
  EXPECT_FALSE(running.HasPlan("huge"));
}

// The digest and the backup are scheduled in the business hours' zone when zlhd starts: a new
// zone applies to the business hours at once, to those schedules at the next start.
TEST(ConfigReloadTest, ANewTimeZoneMovesTheDailySchedulesOnlyAfterARestart) {
  Settings running = Parsed("{" + std::string(kRoutes) + "}");
  Settings next = Parsed(R"({"businessHours": {"timeZone": "America/New_York"}})");
  EXPECT_EQ(NeedsRestart(running, next),
            Names{"businessHours.timeZone (for controller.digestAt and backup.at)"});
  Settings quiet = Parsed(R"({"controller": {"digestAt": "off"}, "backup": {"at": "off"},
                              "businessHours": {"timeZone": "Europe/Berlin"}})");
  Settings quiet_next = Parsed(R"({"controller": {"digestAt": "off"}, "backup": {"at": "off"},
                                   "businessHours": {"timeZone": "America/New_York"}})");
  EXPECT_EQ(NeedsRestart(quiet, quiet_next), Names{});
}

}  // namespace
}  // namespace zlh::config

// The controller's notifications end to end (SPEC §6.1, §6.5): zlhd on a zlh-sim over real HTTP.
// A missed backup goes to #system-health, two missed periods to #alerts-critical with a ping; a
// level-2 repair pings #alerts-repairs only outside business hours; the daily digest reaches
// #system-health once per day, also across a restart.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <string>

#include "base/clock.h"
#include "tests/eventually.h"
#include "tests/zlhd_fleet.h"

namespace zlh {
namespace {

namespace json = boost::json;

constexpr const char* kDays[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

// Today's weekday in UTC, 0 = Sunday (1970-01-01 was a Thursday).
int TodayUtc() { return static_cast<int>((NowMs() / 86'400'000 + 4) % 7); }

// One server, provisioned; its VMID.
int64_t Provision(ZlhdOnSim& z) {
  json::object a = z.Body(z.Create("c-1", "n1", "alpha"));
  EXPECT_EQ(z.AwaitWorkflow(std::string(a["workflowId"].as_string())), "completed");
  std::string server(a["serverId"].as_string());
  return z.Body(z.Api("GET", "/api/servers/" + server + "?customerId=c-1"))["vmid"].as_int64();
}

// Waits for `ticks` more reconciles to complete.
void WaitTicks(ZlhdOnSim& z, int ticks) {
  auto count = [&] {
    json::object page = z.Body(z.Api("GET", "/api/workflows?type=reconcile&status=completed&limit=1000", "", true));
    return page["workflows"].as_array().size();
  };
  size_t start = count();
  ASSERT_TRUE(Eventually([&] { return count() >= start + static_cast<size_t>(ticks); }));
}

size_t Containing(const std::vector<json::object>& messages, const std::string& text) {
  size_t n = 0;
  for (const auto& m : messages) n += std::string(m.at("content").as_string()).find(text) != std::string::npos;
  return n;
}

// zlh-sim's backup_missed drift makes the last backup three days old: with a 40-hour period that
// is one missed backup, with the default 24 hours two in a row.
TEST(ControllerNotifyTest, ABackupMissedOnceGoesToSystemHealth) {
  TempDir tmp;
  ZlhdOnSim z(tmp, ControllerConfig(R"("backupPeriod": "40h")"));
  ASSERT_TRUE(z.Start());
  int64_t vmid = Provision(z);
  ASSERT_EQ(z.SimPost("/sim/faults", R"({"drift": "backup_missed", "vmid": )" + std::to_string(vmid) + "}"), 200);
  ASSERT_TRUE(Eventually([&] { return Containing(z.Messages("system-health"), "Backup missed") == 1; }));
  WaitTicks(z, 3);
  ASSERT_TRUE(z.AwaitDelivered());
  auto notes = z.Messages("system-health");
  EXPECT_EQ(Containing(notes, "Backup missed"), 1u) << "noted more than once per incident";
  EXPECT_FALSE(notes[0].at("ping").as_bool());
  EXPECT_NE(std::string(notes[0].at("content").as_string()).find("alpha (VMID " + std::to_string(vmid) + ")"),
            std::string::npos) << "an alert names the server";
  EXPECT_TRUE(z.Messages("alerts-critical").empty());
  EXPECT_EQ(z.Stop(), 0);
}

TEST(ControllerNotifyTest, ABackupMissedTwiceInARowIsCritical) {
  TempDir tmp;
  ZlhdOnSim z(tmp, ControllerConfig(""));
  ASSERT_TRUE(z.Start());
  int64_t vmid = Provision(z);
  ASSERT_EQ(z.SimPost("/sim/faults", R"({"drift": "backup_missed", "vmid": )" + std::to_string(vmid) + "}"), 200);
  ASSERT_TRUE(Eventually([&] { return Containing(z.Messages("alerts-critical"), "backup missed two") == 1; }))
      << json::serialize(z.Body(z.Api("GET", "/api/controller", "", true)));
  WaitTicks(z, 3);
  ASSERT_TRUE(z.AwaitDelivered());
  auto alerts = z.Messages("alerts-critical");
  EXPECT_EQ(alerts.size(), 1u);
  EXPECT_TRUE(alerts[0].at("ping").as_bool());
  // An operator's backup ends the incident: nothing more is said.
  ASSERT_EQ(z.SimPost("/sim/faults", R"({"drift": "backup_missed", "clear": true, "vmid": )" + std::to_string(vmid) + "}"), 200);
  WaitTicks(z, 3);
  ASSERT_TRUE(z.AwaitDelivered());
  EXPECT_EQ(z.Messages("alerts-critical").size(), 1u);
  EXPECT_EQ(Containing(z.Messages("system-health"), "Backup missed"), 0u);
  EXPECT_EQ(z.Stop(), 0);
}

// A level-2 repair (start_container) reported to #alerts-repairs: inside business hours quietly,
// outside them with a ping.
class BusinessHoursTest : public ::testing::TestWithParam<bool> {};

TEST_P(BusinessHoursTest, ALevelTwoRepairPingsOnlyOutsideBusinessHours) {
  bool inside = GetParam();
  // Inside: every day, all day. Outside: only the day after tomorrow (so a test running over
  // midnight stays outside).
  std::string hours = inside ? R"("businessHours": {"timeZone": "Europe/Berlin", "days": ["sun","mon","tue","wed","thu","fri","sat"], "hours": "00:00-24:00"})"
                             : R"("businessHours": {"timeZone": "UTC", "days": [")" +
                                   std::string(kDays[(TodayUtc() + 2) % 7]) + R"("], "hours": "00:00-24:00"})";
  TempDir tmp;
  ZlhdOnSim z(tmp, ControllerConfig(R"("maxRepairLevel": 2)", hours));
  ASSERT_TRUE(z.Start());
  int64_t vmid = Provision(z);
  ASSERT_EQ(z.SimPost("/sim/faults", R"({"drift": "container_stopped", "vmid": )" + std::to_string(vmid) + "}"), 200);
  ASSERT_TRUE(Eventually([&] { return Containing(z.Messages("alerts-repairs"), "start_container") == 1; }))
      << json::serialize(z.Body(z.Api("GET", "/api/controller", "", true))) << ReadFile(z.log());
  ASSERT_TRUE(z.AwaitDelivered());
  auto repaired = z.Messages("alerts-repairs");
  ASSERT_EQ(repaired.size(), 1u);
  EXPECT_EQ(repaired[0].at("ping").as_bool(), !inside);
  EXPECT_TRUE(z.Messages("alerts-critical").empty());
  EXPECT_EQ(z.Stop(), 0);
}

INSTANTIATE_TEST_SUITE_P(InsideAndOutside, BusinessHoursTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Inside" : "Outside"; });

// The digest at a local time an hour ago: today's is due, so it goes out at start — once, also
// when zlhd restarts the same day.
TEST(ControllerNotifyTest, TheDailyDigestGoesToSystemHealthOncePerDay) {
  int64_t minute = (NowMs() / 60'000 - 60) % (24 * 60);
  char at[6];
  std::snprintf(at, sizeof at, "%02d:%02d", static_cast<int>(minute / 60), static_cast<int>(minute % 60));
  TempDir tmp;
  ZlhdOnSim z(tmp, ControllerConfig(std::string(R"("digestAt": ")") + at + "\""));
  ASSERT_TRUE(z.Start());
  ASSERT_TRUE(Eventually([&] { return Containing(z.Messages("system-health"), "Daily digest") == 1; }));
  EXPECT_EQ(z.Stop(), 0);
  ASSERT_TRUE(z.Start());
  // The restarted node's cron did fire the day's digest: its dedup key answered with the first.
  ASSERT_TRUE(Eventually([&] { return ReadFile(z.log()).find("cron: digest tick") != std::string::npos; }))
      << ReadFile(z.log());
  EXPECT_NE(ReadFile(z.log()).find("was started before"), std::string::npos);
  WaitTicks(z, 3);
  ASSERT_TRUE(z.AwaitDelivered());
  auto digests = z.Messages("system-health");
  ASSERT_EQ(Containing(digests, "Daily digest"), 1u) << "a restart sent the day's digest again";
  std::string text(digests[0].at("content").as_string());
  for (const char* part : {"Servers:", "Repairs in the last 24 h:", "Failed workflows", "Queued:", "Backups:"}) {
    EXPECT_NE(text.find(part), std::string::npos) << part << " missing from:\n" << text;
  }
  EXPECT_FALSE(digests[0].at("ping").as_bool());
  EXPECT_EQ(z.Stop(), 0);
}

}  // namespace
}  // namespace zlh

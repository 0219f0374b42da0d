// diff: each drift of this slice found, at its level, held back by a lease or maintenance, turned
// into a notification above the allowed level, and nothing found on a healthy fleet.
#include "controller/diff.h"

#include <gtest/gtest.h>

namespace zlh::controller {
namespace {

ServerObservation Healthy(std::string id, std::string ctype = "game") {
  ServerObservation s;
  s.server_id = std::move(id);
  s.name = "n";
  s.ctype = std::move(ctype);
  s.vmid = 101;
  s.status = "running";
  s.container_known = s.container_exists = true;
  s.container_status = "running";
  s.agent_known = true;
  s.agent = "ready";
  s.dns_known = s.dns_a_ok = s.dns_srv_ok = true;
  s.proxy_known = s.proxy_ok = true;
  return s;
}

std::string Summary(const std::vector<Decision>& ds) {
  std::string out;
  for (const auto& d : ds) out += d.server_id + ":" + d.drift + ":" + d.action + ":" + std::to_string(d.level) + " ";
  return out;
}

TEST(DiffTest, HealthyFleetHasNoDrift) {
  Observation o;
  o.servers = {Healthy("a"), Healthy("b", "dev")};
  o.servers[1].proxy_known = false;  // dev: not registered with Velocity
  o.servers[1].dns_srv_ok = false;   // dev: A record only
  EXPECT_EQ(Summary(Diff(o, {})), "");
}

TEST(DiffTest, EachDriftAtItsLevel) {
  Observation o;
  o.servers = {Healthy("dns"), Healthy("proxy"), Healthy("agent"), Healthy("stopped")};
  o.servers[0].dns_srv_ok = false;
  o.servers[1].proxy_ok = false;
  o.servers[2].agent = "unreachable";
  o.servers[3].container_status = "stopped";
  EXPECT_EQ(Summary(Diff(o, {1})),
            "dns:dns_missing:repair:1 proxy:proxy_missing:repair:1 agent:agent_offline:notify:2 "
            "stopped:container_stopped:notify:2 ");
  EXPECT_EQ(Summary(Diff(o, {2})),
            "dns:dns_missing:repair:1 proxy:proxy_missing:repair:1 agent:agent_offline:repair:2 "
            "stopped:container_stopped:repair:2 ");
  EXPECT_EQ(Summary(Diff(o, {0})),
            "dns:dns_missing:notify:1 proxy:proxy_missing:notify:1 agent:agent_offline:notify:2 "
            "stopped:container_stopped:notify:2 ");
}

TEST(DiffTest, LeasesAndMaintenanceHoldRepairsBack) {
  Observation o;
  o.servers = {Healthy("leased"), Healthy("maint")};
  o.servers[0].lease_held = true;
  o.servers[0].dns_a_ok = false;
  o.servers[1].maintenance = true;
  o.servers[1].proxy_ok = false;
  EXPECT_EQ(Summary(Diff(o, {2})), "leased:dns_missing:held:1 maint:proxy_missing:held:1 ");
}

// A drained node (SPEC §9.2) gets no container started by a repair; what starts none goes on.
TEST(DiffTest, ADrainedNodeHoldsBackTheRepairsThatStartAContainer) {
  Observation o;
  o.servers = {Healthy("stopped"), Healthy("agent"), Healthy("dns"), Healthy("game")};
  for (auto& s : o.servers) {
    s.node = "pve1";
    s.node_drained = true;
  }
  o.servers[0].container_status = "stopped";
  o.servers[1].agent = "unreachable";
  o.servers[2].dns_a_ok = false;
  o.servers[3].workload = "crashed";
  std::vector<Decision> ds = Diff(o, {2});
  EXPECT_EQ(Summary(ds),
            "stopped:container_stopped:held:2 agent:agent_offline:held:2 dns:dns_missing:repair:1 "
            "game:workload_stopped:repair:2 ");
  EXPECT_NE(ds[0].rule.find("node pve1 is drained"), std::string::npos) << ds[0].rule;
}

TEST(DiffTest, WhatWasNotObservedIsNoDriftAndAStoppedServerIsNotExpectedToRun) {
  Observation o;
  o.servers = {Healthy("unknown"), Healthy("stopped-by-op")};
  o.servers[0].dns_known = o.servers[0].proxy_known = o.servers[0].agent_known = false;
  o.servers[0].dns_a_ok = o.servers[0].proxy_ok = false;
  o.servers[1].status = "stopped";
  o.servers[1].container_status = "stopped";
  o.servers[1].agent_known = false;
  EXPECT_EQ(Summary(Diff(o, {2})), "");
}

TEST(DiffTest, AMissingContainerIsOnlyProposed) {
  Observation o;
  o.servers = {Healthy("gone")};
  o.servers[0].container_exists = false;
  o.servers[0].agent_known = false;
  EXPECT_EQ(Summary(Diff(o, {2})), "gone:container_missing:propose:3 ");
}

TEST(DiffTest, ObservationAndDecisionsRoundTripThroughJson) {
  Observation o;
  o.tick = 42;
  o.servers = {Healthy("a")};
  o.servers[0].agent = "unreachable";
  o.errors = {"proxy: unavailable"};
  auto back = ParseObservation(ToJson(o));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(ToJson(*back), ToJson(o));
  auto ds = Diff(o, {1});
  auto again = ParseDecisions(ToJson(ds));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(ToJson(*again), ToJson(ds));
}

}  // namespace
}  // namespace zlh::controller

namespace zlh::controller {
namespace {

TEST(DiffTest, AMissedBackupIsNotedOnceThenTwiceIsCritical) {
  constexpr int64_t kHour = 3'600'000;
  Observation o;
  o.observed_ms = 1000 * kHour;
  o.servers = {Healthy("fresh"), Healthy("late"), Healthy("later"), Healthy("never"), Healthy("unknown")};
  for (auto& s : o.servers) s.backups_known = true;
  o.servers[0].last_backup_ms = o.observed_ms - 25 * kHour;  // within period + grace
  o.servers[1].last_backup_ms = o.observed_ms - 27 * kHour;  // one period missed
  o.servers[2].last_backup_ms = o.observed_ms - 51 * kHour;  // two in a row
  o.servers[3].created_ms = o.observed_ms - 30 * kHour;      // none since its creation
  o.servers[4].backups_known = false;                        // the storage did not answer
  o.servers[4].created_ms = 0;
  Policy p;  // 24h + 2h grace
  auto ds = Diff(o, p);
  EXPECT_EQ(Summary(ds), "late:backup_missed:notice:0 later:backup_missed_twice:notify:0 "
                         "never:backup_missed:notice:0 ");
  EXPECT_EQ(ds[0].subject, "n (VMID 101)");
  EXPECT_NE(ds[2].rule.find("no backup yet"), std::string::npos) << ds[2].rule;
}

// The journal's own backups (SPEC §11): missing once none was taken and verified for longer than
// the policy allows; never before a first one, nor when backups are not scheduled.
TEST(DiffTest, AJournalBackupOlderThanTheLimitIsMissing) {
  constexpr int64_t kHour = 3'600'000;
  Policy policy;
  policy.journal_backup_missed_ms = 26 * kHour;
  Observation o;
  o.observed_ms = 1'800'000'000'000;
  o.journal_backup_ms = o.observed_ms - 25 * kHour;
  EXPECT_EQ(Summary(Diff(o, policy)), "");
  o.journal_backup_ms = o.observed_ms - 27 * kHour;
  EXPECT_EQ(Summary(Diff(o, policy)), "journal:backup:journal_backup_missed:notify:0 ");
  EXPECT_EQ(Diff(o, policy)[0].subject, "the journal's backups");
  Observation never = o;
  never.journal_backup_ms = 0;
  EXPECT_EQ(Summary(Diff(never, policy)), "");
  policy.journal_backup_missed_ms = 0;  // backup.at "off"
  EXPECT_EQ(Summary(Diff(o, policy)), "");
}

}  // namespace
}  // namespace zlh::controller

// RecordIncidents: incidents open and close with the drift, and decisions made with a fencing
// token older than one already recorded are refused (SPEC §6.4, §8.5).
#include "controller/incidents.h"

#include <gtest/gtest.h>

#include "base/temp_dir.h"
#include "fleet/tables.h"
#include "journal/format.h"

namespace zlh::controller {
namespace {

class IncidentsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto j = journal::Journal::Open(dir_.path());
    ASSERT_TRUE(j.ok());
    journal_ = std::move(*j);
  }
  // Records `decisions` at `tick` with `token`; the outcomes, or the error.
  Result<std::vector<Act>> Record(const std::vector<Decision>& decisions, int64_t tick, uint64_t token,
                                  fleet::FencingSource source = fleet::FencingSource::kRedis) {
    Result<std::vector<Act>> out = Internal("not run");
    Status s = journal_->AppendSync({}, [&](journal::Txn& t) {
      out = RecordIncidents(t, decisions, tick, 1'000'000 + tick, {source, token});
      return out.ok() ? Status::Ok() : out.status();
    });
    if (!s.ok()) return s;
    return out;
  }
  TempDir dir_;
  std::unique_ptr<journal::Journal> journal_;
};

Decision Dns(std::string server) {
  return {std::move(server), "dns_missing", "rule", 1, "repair", "republish_dns", "", 0, "", ""};
}

TEST_F(IncidentsTest, AnIncidentLastsWhileItsDriftIsSeen) {
  auto first = Record({Dns("a")}, 10, 0);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ((*first)[0].first_tick, 10);
  EXPECT_EQ((*first)[0].outcome, "repair");
  EXPECT_EQ((*first)[0].attempt, 1u);
  auto again = Record({Dns("a")}, 11, 0);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)[0].first_tick, 10) << "the same incident";
  EXPECT_EQ((*again)[0].outcome, "in_progress");  // its repair has not been started or ended
  ASSERT_TRUE(Record({}, 12, 0).ok());            // not seen: closed
  auto fresh = Record({Dns("a")}, 13, 0);
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ((*fresh)[0].first_tick, 13) << "a new incident";
}

TEST_F(IncidentsTest, DecisionsWithAnOlderFencingTokenAreRefused) {
  ASSERT_TRUE(Record({Dns("a")}, 10, 1'700'000'000'500ULL).ok());
  auto stale = Record({Dns("b")}, 11, 1'700'000'000'400ULL);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(stale.status().message().find("older"), std::string::npos);
  // Nothing of the refused tick was written.
  Result<std::vector<Act>> peek = Record({Dns("b")}, 12, 1'700'000'000'600ULL);
  ASSERT_TRUE(peek.ok());
  EXPECT_EQ((*peek)[0].first_tick, 12);
  // The journal's own tokens (open counts) are another source: not compared with Redis's, whatever
  // their size.
  EXPECT_TRUE(Record({Dns("b")}, 13, 3, fleet::FencingSource::kJournal).ok());
  EXPECT_FALSE(Record({Dns("b")}, 14, 2, fleet::FencingSource::kJournal).ok());
  EXPECT_TRUE(Record({Dns("b")}, 15, 1'700'000'000'700ULL, fleet::FencingSource::kJournal).ok());
  EXPECT_TRUE(Record({Dns("b")}, 16, 1'700'000'000'650ULL).ok())
      << "Redis's own newest is 600: a large journal token is not Redis's";
}

// The repair workflow of attempt `attempt` has ended with `status` (and the error `code`).
void Ended(journal::Journal& j, const Act& act, uint32_t attempt, int status, Code code,
           int64_t ended_ms = 0) {
  Act a = act;
  a.attempt = attempt;
  std::string id = "wf-" + std::to_string(attempt);
  proto::WorkflowSummary s;
  s.set_id(id);
  s.set_type("repair");
  s.set_status(static_cast<proto::WorkflowStatus>(status));
  s.mutable_error()->set_code(std::string(CodeName(code)));
  s.mutable_error()->set_message("ended as the test says");
  s.set_updated_ms(ended_ms);
  s.set_created_ms(ended_ms);
  journal::Batch b;
  b.Put(journal::Cf::kIndex, journal::DedupIndexKey(RepairDedupKey(a)), id);
  b.PutSummary(s);
  ASSERT_TRUE(j.AppendSync(std::move(b)).ok());
}

TEST_F(IncidentsTest, ThreeFailedAttemptsExhaustAnIncidentButARefusedOneDoesNotCount) {
  auto first = Record({Dns("a")}, 10, 0);
  ASSERT_TRUE(first.ok());
  Act act = (*first)[0];
  // Attempt 1 refused by its own check (an operation took the lease meanwhile).
  Ended(*journal_, act, 1, proto::FAILED, Code::kHeld);
  auto second = Record({Dns("a")}, 11, 0);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ((*second)[0].outcome, "repair");
  EXPECT_EQ((*second)[0].attempt, 2u);
  // Attempts 2 and 3 fail for real; 4 is still allowed (the refused one did not count).
  Ended(*journal_, act, 2, proto::FAILED, Code::kUnavailable);
  auto third = Record({Dns("a")}, 12, 0);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ((*third)[0].attempt, 3u);
  Ended(*journal_, act, 3, proto::FAILED, Code::kUnavailable);
  auto fourth = Record({Dns("a")}, 13, 0);
  ASSERT_TRUE(fourth.ok());
  EXPECT_EQ((*fourth)[0].outcome, "repair") << "the refused attempt counted";
  EXPECT_EQ((*fourth)[0].attempt, 4u);
  Ended(*journal_, act, 4, proto::FAILED, Code::kUnavailable);
  auto fifth = Record({Dns("a")}, 14, 0);
  ASSERT_TRUE(fifth.ok());
  EXPECT_EQ((*fifth)[0].outcome, "exhausted");
  EXPECT_TRUE((*fifth)[0].alert);
}

}  // namespace
}  // namespace zlh::controller

namespace zlh::controller {
namespace {

Decision Propose(std::string server, std::string drift) {
  return {std::move(server), std::move(drift), "rule", 3, "propose", "rebuild_container", "", 0, "", ""};
}

class RepairLimitsTest : public IncidentsTest {
 protected:
  Result<std::vector<Act>> Record(const std::vector<Decision>& decisions, RepairLimits limits,
                                  int64_t now_ms = 1'000'000) {
    Result<std::vector<Act>> out = Internal("not run");
    Status s = journal_->AppendSync({}, [&](journal::Txn& t) {
      out = RecordIncidents(t, decisions, 10, now_ms, {}, limits);
      return out.ok() ? Status::Ok() : out.status();
    });
    if (!s.ok()) return s;
    return out;
  }
  static std::string Outcomes(const std::vector<Act>& acts) {
    std::string out;
    for (const auto& a : acts) out += a.outcome + (a.breaker.empty() ? "" : "(" + a.breaker + ")") + " ";
    return out;
  }
};

TEST_F(RepairLimitsTest, GlobalAndPerHostLimitsHoldRepairsBackWithoutCountingThem) {
  RepairLimits limits;
  limits.global = 4;
  limits.per_host = 2;
  for (const char* s : {"a", "b", "c", "d"}) limits.node_of[s] = "pve1";
  limits.node_of["e"] = "pve2";
  limits.node_of["f"] = "pve2";
  limits.in_flight = 1;  // one repair already runs on pve2
  limits.in_flight_by_node["pve2"] = 1;
  auto acts = Record({Dns("a"), Dns("b"), Dns("c"), Dns("e"), Dns("f")}, limits);
  ASSERT_TRUE(acts.ok()) << acts.status().ToString();
  // pve1 takes two (its limit), pve2 one more makes the global four; the rest wait.
  EXPECT_EQ(Outcomes(*acts), "repair repair limited(host_concurrency) repair limited(repair_concurrency) ");
  // What waited was not counted: no attempt, and no repair in the breaker's hour.
  auto breakers = fleet::ListBreakers(*journal_);
  ASSERT_TRUE(breakers.ok());
  for (const auto& b : *breakers) EXPECT_NE(b.server_id(), "c");
  auto next = Record({Dns("c")}, RepairLimits{});
  ASSERT_TRUE(next.ok());
  EXPECT_EQ((*next)[0].outcome, "repair");
  EXPECT_EQ((*next)[0].attempt, 1u) << "the held-back tick was no attempt";
}

// One repair of a server at a time: a second drift seen in the same tick, or while the server's
// repair is in flight, waits uncounted; once nothing is in flight it is repaired.
TEST_F(RepairLimitsTest, OneRepairOfAServerAtATime) {
  Decision proxy{"a", "proxy_missing", "rule", 1, "repair", "reregister_proxy", "", 0, "", ""};
  auto both = Record({Dns("a"), proxy, Dns("b")}, RepairLimits{});
  ASSERT_TRUE(both.ok()) << both.status().ToString();
  EXPECT_EQ(Outcomes(*both), "repair limited(server_busy) repair ");
  Decision game{"c", "workload_stopped", "rule", 2, "repair", "restart_workload", "", 0, "", ""};
  RepairLimits busy;
  busy.busy.insert("c");  // c's start_container is still starting its game
  auto held = Record({game}, busy);
  ASSERT_TRUE(held.ok());
  EXPECT_EQ(Outcomes(*held), "limited(server_busy) ");
  auto free = Record({game}, RepairLimits{});
  ASSERT_TRUE(free.ok());
  EXPECT_EQ(Outcomes(*free), "repair ");
  EXPECT_EQ((*free)[0].attempt, 1u) << "the held-back tick was no attempt";
}

TEST_F(RepairLimitsTest, OneOpenDestructiveProposalPerServer) {
  RepairLimits limits;
  auto acts = Record({Propose("a", "container_missing"), Propose("a", "other_drift")}, limits);
  ASSERT_TRUE(acts.ok());
  EXPECT_EQ(Outcomes(*acts), "propose limited(open_proposal) ");
  limits.open_proposals.insert("b");  // b's proposal awaits the operator
  auto b = Record({Propose("b", "container_missing")}, limits);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(Outcomes(*b), "limited(open_proposal) ");
  auto reviewed = Record({Propose("b", "container_missing")}, RepairLimits{});
  ASSERT_TRUE(reviewed.ok());
  EXPECT_EQ(Outcomes(*reviewed), "propose ");
}

}  // namespace
}  // namespace zlh::controller

namespace zlh::controller {
namespace {

// A tick that observed before the incident's repair ended cannot tell whether the repair worked:
// it starts no second repair; the next tick, observing after the end, judges it.
TEST_F(RepairLimitsTest, ARepairThatEndedAfterTheTickObservedIsJudgedByTheNextTick) {
  auto first = Record({Dns("a")}, RepairLimits{});
  ASSERT_TRUE(first.ok());
  Ended(*journal_, (*first)[0], 1, proto::COMPLETED, Code::kOk, 5'000);
  RepairLimits stale;
  stale.observed_ms = 4'000;  // observed while the repair still ran
  auto second = Record({Dns("a")}, stale);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ((*second)[0].outcome, "in_progress");
  RepairLimits fresh;
  fresh.observed_ms = 6'000;  // the drift is still there after the repair: try again
  auto third = Record({Dns("a")}, fresh);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ((*third)[0].outcome, "repair");
  EXPECT_EQ((*third)[0].attempt, 2u);
}

// A refused attempt is taken off the breaker once, also when a limit keeps the next attempt
// waiting for several ticks.
TEST_F(RepairLimitsTest, ARefusedAttemptIsDiscountedOnceWhileALimitHoldsTheNext) {
  auto first = Record({Dns("a")}, RepairLimits{});
  ASSERT_TRUE(first.ok());
  Ended(*journal_, (*first)[0], 1, proto::FAILED, Code::kHeld);
  RepairLimits full;
  full.global = 0;  // nothing may start
  for (int tick = 0; tick < 3; ++tick) {
    auto held = Record({Dns("a")}, full);
    ASSERT_TRUE(held.ok());
    EXPECT_EQ((*held)[0].outcome, "limited");
  }
  auto incidents = fleet::ListIncidents(*journal_);
  ASSERT_TRUE(incidents.ok());
  ASSERT_EQ(incidents->size(), 1u);
  EXPECT_EQ((*incidents)[0].refused(), 1u);
}

}  // namespace
}  // namespace zlh::controller

namespace zlh::controller {
namespace {

Decision AgentDown(std::string server) {
  return {std::move(server), "agent_offline", "rule", 2, "repair", "restart_agent", "", 0, "", ""};
}

// A level-2 repair exhausted while another destructive proposal is open: alerted at once, and
// restore_backup proposed once that proposal is answered — not forgotten.
TEST_F(RepairLimitsTest, ARestoreHeldByAnOpenProposalIsProposedOnceItIsAnswered) {
  auto first = Record({AgentDown("a")}, RepairLimits{});
  ASSERT_TRUE(first.ok());
  Act act = (*first)[0];
  for (uint32_t attempt = 1; attempt <= 3; ++attempt) {
    Ended(*journal_, act, attempt, proto::FAILED, Code::kUnavailable);
    if (attempt < 3) ASSERT_EQ((*Record({AgentDown("a")}, RepairLimits{}))[0].attempt, attempt + 1);
  }
  RepairLimits open;
  open.open_proposals.insert("a");
  auto held = Record({AgentDown("a")}, open);
  ASSERT_TRUE(held.ok());
  EXPECT_EQ((*held)[0].outcome, "exhausted");
  EXPECT_EQ((*held)[0].breaker, "open_proposal");
  EXPECT_TRUE((*held)[0].alert) << "the 3 failures are alerted at once";
  auto still = Record({AgentDown("a")}, open);
  EXPECT_EQ((*still)[0].outcome, "exhausted");
  EXPECT_FALSE((*still)[0].alert);
  auto answered = Record({AgentDown("a")}, RepairLimits{});
  EXPECT_EQ((*answered)[0].outcome, "exhausted_propose");
  EXPECT_FALSE((*answered)[0].alert) << "alerted once only";
  auto after = Record({AgentDown("a")}, RepairLimits{});
  EXPECT_EQ((*after)[0].outcome, "exhausted") << "proposed once only";
}

// A refused attempt takes its own entry off the breaker, not a newer one of another drift.
TEST_F(RepairLimitsTest, ARefusedAttemptTakesItsOwnEntryOffTheBreaker) {
  auto dns = Record({Dns("a")}, RepairLimits{}, 1'000);  // breaker entry at 1,000
  ASSERT_TRUE(dns.ok());
  Ended(*journal_, (*dns)[0], 1, proto::FAILED, Code::kHeld, 1'005);
  Decision proxy{"a", "proxy_missing", "rule", 1, "repair", "reregister_proxy", "", 0, "", ""};
  // The proxy repair starts (entry at 2,000) while the DNS one waits for a limit.
  RepairLimits full;
  full.global = 1;
  auto both = Record({proxy, Dns("a")}, full, 2'000);
  ASSERT_TRUE(both.ok());
  EXPECT_EQ((*both)[0].outcome, "repair");
  EXPECT_EQ((*both)[1].outcome, "limited");
  auto breakers = fleet::ListBreakers(*journal_);
  ASSERT_TRUE(breakers.ok());
  ASSERT_EQ(breakers->size(), 1u);
  ASSERT_EQ((*breakers)[0].repairs_ms_size(), 1);
  EXPECT_EQ((*breakers)[0].repairs_ms(0), 2'000) << "the proxy repair's entry went instead";
}

}  // namespace
}  // namespace zlh::controller

namespace zlh::controller {
namespace {

// #audit-log tells what changed: a wait repeated tick after tick is news only the first time.
TEST_F(RepairLimitsTest, AnUnchangedWaitIsNewsOnce) {
  RepairLimits open;
  open.open_proposals.insert("a");
  Decision propose{"a", "container_missing", "rule", 3, "propose", "rebuild_container", "", 0, "", ""};
  auto first = Record({propose}, open);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ((*first)[0].outcome, "limited");
  EXPECT_TRUE((*first)[0].news);
  auto second = Record({propose}, open);
  EXPECT_FALSE((*second)[0].news) << "the same wait again";
  auto proposed = Record({propose}, RepairLimits{});
  EXPECT_EQ((*proposed)[0].outcome, "propose");
  EXPECT_TRUE((*proposed)[0].news);
  auto waiting = Record({propose}, RepairLimits{});
  EXPECT_EQ((*waiting)[0].outcome, "proposed");
  EXPECT_TRUE((*waiting)[0].news) << "a change of outcome";
  EXPECT_FALSE((*Record({propose}, RepairLimits{}))[0].news) << "awaiting approval, every tick";
  // The flag survives the record's round trip.
  auto parsed = ParseActs(ToJson(*waiting), {propose});
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE((*parsed)[0].news);
}

}  // namespace
}  // namespace zlh::controller

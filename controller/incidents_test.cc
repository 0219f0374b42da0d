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
  Result<std::vector<Act>> Record(const std::vector<Decision>& decisions, int64_t tick, uint64_t token) {
    Result<std::vector<Act>> out = Internal("not run");
    Status s = journal_->AppendSync({}, [&](journal::Txn& t) {
      out = RecordIncidents(t, decisions, tick, 1'000'000 + tick, token);
      return out.ok() ? Status::Ok() : out.status();
    });
    if (!s.ok()) return s;
    return out;
  }
  TempDir dir_;
  std::unique_ptr<journal::Journal> journal_;
};

Decision Dns(std::string server) {
  return {std::move(server), "dns_missing", "rule", 1, "repair", "republish_dns", "", 0, ""};
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
  // The journal's own tokens (open counts) are another kind: not compared with Redis's.
  EXPECT_TRUE(Record({Dns("b")}, 13, 3).ok());
  EXPECT_FALSE(Record({Dns("b")}, 14, 2).ok());
}

// The repair workflow of attempt `attempt` has ended with `status` (and `message`).
void Ended(journal::Journal& j, const Act& act, uint32_t attempt, int status, const std::string& message) {
  Act a = act;
  a.attempt = attempt;
  std::string id = "wf-" + std::to_string(attempt);
  proto::WorkflowSummary s;
  s.set_id(id);
  s.set_type("repair");
  s.set_status(static_cast<proto::WorkflowStatus>(status));
  s.mutable_error()->set_message(message);
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
  Ended(*journal_, act, 1, proto::FAILED, "held: operation 01X holds the lease");
  auto second = Record({Dns("a")}, 11, 0);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ((*second)[0].outcome, "repair");
  EXPECT_EQ((*second)[0].attempt, 2u);
  // Attempts 2 and 3 fail for real; 4 is still allowed (the refused one did not count).
  Ended(*journal_, act, 2, proto::FAILED, "unavailable: dns down");
  auto third = Record({Dns("a")}, 12, 0);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ((*third)[0].attempt, 3u);
  Ended(*journal_, act, 3, proto::FAILED, "unavailable: dns down");
  auto fourth = Record({Dns("a")}, 13, 0);
  ASSERT_TRUE(fourth.ok());
  EXPECT_EQ((*fourth)[0].outcome, "repair") << "the refused attempt counted";
  EXPECT_EQ((*fourth)[0].attempt, 4u);
  Ended(*journal_, act, 4, proto::FAILED, "unavailable: dns down");
  auto fifth = Record({Dns("a")}, 14, 0);
  ASSERT_TRUE(fifth.ok());
  EXPECT_EQ((*fifth)[0].outcome, "exhausted");
  EXPECT_TRUE((*fifth)[0].alert);
}

}  // namespace
}  // namespace zlh::controller

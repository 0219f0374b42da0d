// Context::Poll: a step that probes until done records its wait once and its outcome once, however
// many probes it takes; the summary counts the probes; a deadline, a probe's error and a cancel
// each end it with one recorded failure.
#include <gtest/gtest.h>

#include <atomic>

#include "workflows/engine.h"
#include "workflows/engine_fixture.h"
#include "workflows/verify.h"

namespace zlh::workflows {
namespace {

class EnginePollTest : public EngineFixture {
 protected:
  // Registers "poller": one Poll step whose probe answers per `answer(probe number)`.
  void RegisterPoller(std::function<Result<ProbeAnswer>(int)> answer, Millis deadline = Millis(0)) {
    ASSERT_TRUE(registry_
                    .Register("poller", "default",
                              [this, answer, deadline](Context& ctx) -> Task<Result<std::string>> {
                                auto since = co_await ctx.Now();
                                if (!since.ok()) co_return since.status();
                                PollSpec spec{"agent", "VMID 101", Millis(2)};
                                if (deadline.count() > 0) spec.deadline_ms = *since + deadline.count();
                                spec.gave_up = "not ready in time";
                                co_return co_await ctx.Poll(
                                    "wait_ready",
                                    [this, answer](const StepInfo&) -> Task<Result<ProbeAnswer>> {
                                      co_return answer(++probes_);
                                    },
                                    spec);
                              })
                    .ok());
  }
  // Counts the step's events: waits recorded, outcomes recorded.
  std::pair<int, int> WaitsAndOutcomes(const std::string& id) {
    int waits = 0, outcomes = 0;
    for (const auto& e : Events(id)) {
      waits += e.has_step_waiting();
      outcomes += (e.has_step_completed() && e.step_completed().name() == "wait_ready") ||
                  e.has_step_failed();
    }
    return {waits, outcomes};
  }

  std::atomic<int> probes_{0};
};

TEST_F(EnginePollTest, ManyProbesRecordOneWaitPerRunAndOneOutcome) {
  std::atomic<bool> ready{false};
  RegisterPoller([&](int) { return ready ? ProbeAnswer::Done("ready") : ProbeAnswer::NotYet("unreachable"); });
  std::string id = StartOk("poller");
  uint32_t polls_seen = 0;
  bool seen_running_while_waiting = false;
  auto probed = [&](int n) {
    return RunUntil([&] {
      auto s = engine_->Summary(id);
      if (s.ok() && s->has_waiting_for()) {
        EXPECT_EQ(s->waiting_for().kind(), "agent");
        polls_seen = std::max(polls_seen, s->waiting_for().polls());
      }
      if (probes_ > 2 && s.ok() && s->status() == proto::RUNNING) seen_running_while_waiting = true;
      return probes_ >= n;
    });
  };
  ASSERT_TRUE(probed(30));
  EXPECT_GE(polls_seen, 20u);  // the live summary counts the probes
  Restart();                   // mid-wait: the polling resumes
  ASSERT_TRUE(probed(probes_ + 30));
  ready = true;
  proto::WorkflowSummary s = AwaitEnd(id);
  EXPECT_EQ(s.status(), proto::COMPLETED);
  EXPECT_EQ(s.result(), "ready");
  EXPECT_FALSE(seen_running_while_waiting);  // stuck detection looks only at running workflows
  EXPECT_EQ(WaitsAndOutcomes(id), std::make_pair(2, 1));  // one wait per run, 60+ probes
  EXPECT_TRUE(Verify(*journal_)->empty());
  // Replayed after a restart, the recorded outcome is returned without probing.
  int before = probes_;
  Restart();
  EXPECT_EQ(AwaitEnd(id).result(), "ready");
  EXPECT_EQ(probes_, before);
}

TEST_F(EnginePollTest, AProbeDoneAtOnceRecordsNoWait) {
  RegisterPoller([](int) { return ProbeAnswer::Done("ready"); });
  std::string id = StartOk("poller");
  EXPECT_EQ(AwaitEnd(id).status(), proto::COMPLETED);
  EXPECT_EQ(WaitsAndOutcomes(id), std::make_pair(0, 1));
  EXPECT_EQ(probes_, 1);
}

TEST_F(EnginePollTest, TheDeadlineFailsItOnceNamingWhatTheLastProbeSaw) {
  RegisterPoller([](int) { return ProbeAnswer::NotYet("installing"); }, Millis(100));
  std::string id = StartOk("poller");
  proto::WorkflowSummary s = AwaitEnd(id);
  EXPECT_EQ(s.status(), proto::FAILED);
  EXPECT_EQ(s.error().code(), "deadline_exceeded");
  EXPECT_NE(s.error().message().find("not ready in time"), std::string::npos) << s.error().message();
  EXPECT_NE(s.error().message().find("the last saw installing"), std::string::npos);
  EXPECT_GT(probes_, 3);
  EXPECT_EQ(WaitsAndOutcomes(id), std::make_pair(1, 1));
}

TEST_F(EnginePollTest, AProbesErrorIsTheStepsRecordedFailure) {
  RegisterPoller([](int n) -> Result<ProbeAnswer> {
    if (n < 5) return ProbeAnswer::NotYet("starting");
    return FailedPrecondition("the agent reports an error");
  });
  std::string id = StartOk("poller");
  proto::WorkflowSummary s = AwaitEnd(id);
  EXPECT_EQ(s.status(), proto::FAILED);
  EXPECT_EQ(s.error().code(), "failed_precondition");
  EXPECT_EQ(probes_, 5);
  EXPECT_EQ(WaitsAndOutcomes(id), std::make_pair(1, 1));
}

TEST_F(EnginePollTest, ACancelEndsThePollingWait) {
  RegisterPoller([](int) { return ProbeAnswer::NotYet("unreachable"); });
  std::string id = StartOk("poller");
  ASSERT_TRUE(RunUntil([&] { return probes_ >= 5; }));
  ASSERT_TRUE(Await(engine_->Cancel(id, "operator")).ok());
  proto::WorkflowSummary s = AwaitEnd(id);
  EXPECT_EQ(s.status(), proto::CANCELLED);
  int probes_at_end = probes_;
  EXPECT_FALSE(RunUntil([&] { return probes_ > probes_at_end; }, std::chrono::seconds(1)));
  EXPECT_EQ(WaitsAndOutcomes(id), std::make_pair(1, 1));
  EXPECT_TRUE(Verify(*journal_)->empty());
}

}  // namespace
}  // namespace zlh::workflows

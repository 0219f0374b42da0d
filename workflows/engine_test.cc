#include "workflows/engine.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <atomic>
#include <set>
#include <thread>

#include "journal/format.h"
#include "workflows/engine_fixture.h"
#include "workflows/verify.h"

namespace zlh::workflows {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using EngineTest = EngineFixture;

// A step body that counts its calls and returns `result`.
StepFn Counting(int* calls, std::string result) {
  return [calls, result](const StepInfo&) -> Task<Result<std::string>> {
    ++*calls;
    co_return result;
  };
}

StepFn Failing(int* calls, Status error) {
  return [calls, error](const StepInfo&) -> Task<Result<std::string>> {
    ++*calls;
    co_return error;
  };
}

// The history is byte for byte what it was.
void ExpectSameEvents(const std::vector<proto::Event>& after, const std::vector<proto::Event>& before) {
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].SerializeAsString(), before[i].SerializeAsString()) << "event " << i;
  }
}

RetryPolicy Fast(uint32_t attempts) {
  RetryPolicy p;
  p.max_attempts = attempts;
  p.initial_backoff = Millis(10);
  return p;
}

TEST_F(EngineTest, StepsRunInOrderAndTheResultIsRecorded) {
  int a = 0, b = 0;
  ASSERT_TRUE(registry_
                  .Register("two", "default",
                            [&](Context& ctx) -> Task<Result<std::string>> {
                              auto x = co_await ctx.Step("a", Counting(&a, "A"));
                              auto y = co_await ctx.Step("b", Counting(&b, *x + "B"));
                              co_return *y + ctx.input();
                            })
                  .ok());
  std::string id = StartOk("two", "!");
  proto::WorkflowSummary s = AwaitEnd(id);
  EXPECT_EQ(s.status(), proto::COMPLETED);
  EXPECT_EQ(s.result(), "AB!");
  EXPECT_EQ(a, 1);
  EXPECT_EQ(b, 1);
  auto events = Events(id);
  ASSERT_EQ(events.size(), 4u);  // started, a, b, completed
  EXPECT_EQ(events[1].step_completed().name(), "a");
  EXPECT_EQ(events[2].step_completed().result(), "AB");
  EXPECT_TRUE(events[3].has_workflow_completed());
  EXPECT_EQ(s.last_seq(), 4u);
}

TEST_F(EngineTest, UnknownTypeIsRefused) {
  auto r = Await(engine_->Start({"nope", "", ""}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
}

TEST_F(EngineTest, IdempotencyKeyIsWorkflowIdAndStepNumber) {
  std::vector<std::string> keys;
  ASSERT_TRUE(registry_
                  .Register("keys", "default",
                            [&](Context& ctx) -> Task<Result<std::string>> {
                              for (const char* name : {"x", "y"}) {
                                (void)co_await ctx.Step(name, [&](const StepInfo& info)
                                                            -> Task<Result<std::string>> {
                                  keys.push_back(info.idempotency_key);
                                  co_return "";
                                });
                              }
                              co_return "";
                            })
                  .ok());
  std::string id = StartOk("keys");
  AwaitEnd(id);
  EXPECT_EQ(keys, (std::vector<std::string>{id + ":1", id + ":2"}));
}

TEST_F(EngineTest, ReplayReturnsRecordedResultsWithoutRunningStepsAgain) {
  int before = 0, after = 0;
  ASSERT_TRUE(registry_
                  .Register("sleepy", "default",
                            [&](Context& ctx) -> Task<Result<std::string>> {
                              auto x = co_await ctx.Step("before", Counting(&before, "B"));
                              ZLH_CO_RETURN_IF_ERROR(co_await ctx.Sleep(Millis(300)));
                              auto y = co_await ctx.Step("after", Counting(&after, "A"));
                              co_return *x + *y;
                            })
                  .ok());
  std::string id = StartOk("sleepy");
  ASSERT_TRUE(RunUntil([&] { return before == 1; }));
  Restart();
  EXPECT_EQ(AwaitEnd(id).result(), "BA");
  EXPECT_EQ(before, 1);  // recorded: not run again after the restart
  EXPECT_EQ(after, 1);
}

TEST_F(EngineTest, DurableSleepWakesAtTheOriginalTimeAfterARestart) {
  ASSERT_TRUE(registry_
                  .Register("nap", "default",
                            [&](Context& ctx) -> Task<Result<std::string>> {
                              ZLH_CO_RETURN_IF_ERROR(co_await ctx.Sleep(Millis(800)));
                              co_return "";
                            })
                  .ok());
  std::string id = StartOk("nap");
  ASSERT_TRUE(RunUntil([&] { return Events(id).size() >= 2; }));  // TimerScheduled is durable
  int64_t fire_at = Events(id)[1].timer_scheduled().fire_at_ms();
  EXPECT_TRUE(journal_->Get(journal::Cf::kIndex, journal::TimerIndexKey(fire_at, id, 1))
                  ->has_value());
  Restart();
  EXPECT_EQ(AwaitEnd(id).status(), proto::COMPLETED);
  auto events = Events(id);
  ASSERT_TRUE(events[2].has_timer_fired());
  EXPECT_GE(events[2].time_ms(), fire_at);
  EXPECT_LT(events[2].time_ms(), fire_at + 500);  // not restarted from scratch
  EXPECT_FALSE(journal_->Get(journal::Cf::kIndex, journal::TimerIndexKey(fire_at, id, 1))
                   ->has_value());
}

TEST_F(EngineTest, OverdueTimerFiresAtOnceAfterDowntime) {
  ASSERT_TRUE(registry_
                  .Register("nap", "default",
                            [&](Context& ctx) -> Task<Result<std::string>> {
                              ZLH_CO_RETURN_IF_ERROR(co_await ctx.Sleep(Millis(200)));
                              co_return "woke";
                            })
                  .ok());
  std::string id = StartOk("nap");
  ASSERT_TRUE(RunUntil([&] { return Events(id).size() >= 2; }));
  Close(Millis(0));
  std::this_thread::sleep_for(400ms);  // the process is down while the timer comes due
  Open();
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(Await(engine_->Recover()).ok());
  EXPECT_EQ(AwaitEnd(id).result(), "woke");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 150ms);
}

TEST_F(EngineTest, RetriesWithBackoffThenSucceeds) {
  int calls = 0;
  ASSERT_TRUE(registry_
                  .Register("flaky", "default",
                            [&](Context& ctx) -> Task<Result<std::string>> {
                              co_return co_await ctx.Step(
                                  "flaky",
                                  [&](const StepInfo& info) -> Task<Result<std::string>> {
                                    ++calls;
                                    if (info.attempt < 3) co_return Unavailable("try later");
                                    co_return "ok on " + std::to_string(info.attempt);
                                  },
                                  Fast(5));
                            })
                  .ok());
  std::string id = StartOk("flaky");
  proto::WorkflowSummary s = AwaitEnd(id);
  EXPECT_EQ(s.result(), "ok on 3");
  EXPECT_EQ(calls, 3);
  auto events = Events(id);
  ASSERT_EQ(events.size(), 5u);
  ASSERT_TRUE(events[1].has_step_failed());
  EXPECT_GT(events[1].step_failed().retry_at_ms(), 0);
  EXPECT_GE(events[2].time_ms() + 5, events[1].step_failed().retry_at_ms());  // waited
}

TEST_F(EngineTest, BackoffSurvivesARestartAndOnlyTheRemainderIsWaited) {
  int calls = 0;
  RetryPolicy slow = Fast(3);
  slow.initial_backoff = Millis(1000);
  ASSERT_TRUE(registry_
                  .Register("flaky", "default",
                            [&](Context& ctx) -> Task<Result<std::string>> {
                              co_return co_await ctx.Step(
                                  "flaky",
                                  [&](const StepInfo& info) -> Task<Result<std::string>> {
                                    ++calls;
                                    if (info.attempt < 2) co_return Unavailable("try later");
                                    co_return "attempt " + std::to_string(info.attempt);
                                  },
                                  slow);
                            })
                  .ok());
  std::string id = StartOk("flaky");
  ASSERT_TRUE(RunUntil([&] { return Events(id).size() >= 2; }));
  int64_t retry_at = Events(id)[1].step_failed().retry_at_ms();
  Restart();
  proto::WorkflowSummary s = AwaitEnd(id);
  EXPECT_EQ(s.result(), "attempt 2");  // numbering continues across the restart
  EXPECT_EQ(calls, 2);
  auto events = Events(id);
  EXPECT_GE(events[2].step_completed().started_ms(), retry_at);
  EXPECT_LT(events[2].step_completed().started_ms(), retry_at + 500);
}

TEST_F(EngineTest, NonRetryableErrorFailsAtOnce) {
  int calls = 0;
  ASSERT_TRUE(registry_
                  .Register("bad", "default",
                            [&](Context& ctx) -> Task<Result<std::string>> {
                              co_return co_await ctx.Step(
                                  "bad", Failing(&calls, InvalidArgument("no such plan")), Fast(5));
                            })
                  .ok());
  proto::WorkflowSummary s = AwaitEnd(StartOk("bad"));
  EXPECT_EQ(s.status(), proto::FAILED);
  EXPECT_EQ(s.error().code(), "invalid_argument");
  EXPECT_EQ(s.error().message(), "no such plan");
  EXPECT_EQ(calls, 1);
}

TEST_F(EngineTest, AttemptTimeoutFailsTheAttempt) {
  int calls = 0;
  RetryPolicy p = Fast(2);
  p.attempt_timeout = Millis(50);
  ASSERT_TRUE(registry_
                  .Register("slow", "default",
                            [&](Context& ctx) -> Task<Result<std::string>> {
                              co_return co_await ctx.Step(
                                  "slow",
                                  [&](const StepInfo&) -> Task<Result<std::string>> {
                                    ++calls;
                                    asio::steady_timer t(co_await asio::this_coro::executor, 10s);
                                    co_await t.async_wait(asio::use_awaitable);
                                    co_return "late";
                                  },
                                  p);
                            })
                  .ok());
  auto t0 = std::chrono::steady_clock::now();
  proto::WorkflowSummary s = AwaitEnd(StartOk("slow"));
  EXPECT_EQ(s.status(), proto::FAILED);
  EXPECT_EQ(s.error().code(), "deadline_exceeded");
  EXPECT_EQ(calls, 2);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

TEST_F(EngineTest, AttemptTimeoutDoesNotDelayAFastStep) {
  int calls = 0;
  RetryPolicy p = Fast(2);
  p.attempt_timeout = Millis(20'000);
  ASSERT_TRUE(registry_
                  .Register("fast", "default",
                            [&](Context& ctx) -> Task<Result<std::string>> {
                              co_return co_await ctx.Step("fast", Counting(&calls, "quick"), p);
                            })
                  .ok());
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(AwaitEnd(StartOk("fast")).result(), "quick");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

// An activity that records when each attempt enters and leaves (by any way: a cancellation too).
// The first attempt waits `first_wait`, shielded from cancellation when `shielded`.
class EngineAttemptTest : public EngineFixture {
 protected:
  std::string RunTimingOut(std::chrono::milliseconds first_wait, bool shielded) {
    RetryPolicy p = Fast(2);
    p.attempt_timeout = Millis(50);
    auto body = [this, first_wait, shielded](const StepInfo& info) -> Task<Result<std::string>> {
      struct Visit {
        EngineAttemptTest* t;
        uint32_t attempt;
        ~Visit() { t->trace_.push_back("exit " + std::to_string(attempt)); }
      };
      trace_.push_back("enter " + std::to_string(info.attempt));
      Visit visit{this, info.attempt};
      if (info.attempt == 1) {
        if (shielded) {
          co_await asio::this_coro::reset_cancellation_state(asio::disable_cancellation());
        }
        asio::steady_timer t(co_await asio::this_coro::executor, first_wait);
        co_await t.async_wait(asio::use_awaitable);
      }
      co_return "attempt " + std::to_string(info.attempt);
    };
    EXPECT_TRUE(registry_
                    .Register("timing_out", "default",
                              [body, p](Context& ctx) -> Task<Result<std::string>> {
                                co_return co_await ctx.Step("slow", body, p);
                              })
                    .ok());
    return AwaitEnd(StartOk("timing_out")).result();
  }
  std::vector<std::string> trace_;
};

TEST_F(EngineAttemptTest, ATimedOutAttemptIsCancelledBeforeTheNextBegins) {
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(RunTimingOut(1h, false), "attempt 2");
  EXPECT_EQ(trace_, (std::vector<std::string>{"enter 1", "exit 1", "enter 2", "exit 2"}));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);  // cancelled, not waited out
}

TEST_F(EngineAttemptTest, AnAttemptThatOutlivesItsTimeoutIsAwaitedBeforeTheNextBegins) {
  EXPECT_EQ(RunTimingOut(300ms, true), "attempt 2");
  EXPECT_EQ(trace_, (std::vector<std::string>{"enter 1", "exit 1", "enter 2", "exit 2"}));
}

TEST_F(EngineTest, NonDeterminismNamesBothStepsAndLeavesHistoryIntact) {
  bool v2 = false;
  ASSERT_TRUE(registry_
                  .Register("evolving", "default",
                            [&](Context& ctx) -> Task<Result<std::string>> {
                              int n = 0;
                              (void)co_await ctx.Step(v2 ? "charge_card" : "reserve_vmid",
                                                Counting(&n, "1"));
                              ZLH_CO_RETURN_IF_ERROR(co_await ctx.Sleep(Millis(200)));
                              co_return "done";
                            })
                  .ok());
  std::string id = StartOk("evolving");
  ASSERT_TRUE(RunUntil([&] { return Events(id).size() >= 3; }));
  auto before = Events(id);
  v2 = true;
  Restart();
  proto::WorkflowSummary s = AwaitEnd(id);
  EXPECT_EQ(s.status(), proto::FAILED);
  EXPECT_EQ(s.error().code(), "non_determinism");
  EXPECT_EQ(s.error().message(),
            "step 1: the history holds 'reserve_vmid', the code asked for 'charge_card'");
  ExpectSameEvents(Events(id), before);
}

// A workflow "changing": the step "reserve", then what `second` asks of the context, as v1 or v2.
class EngineChangedCodeTest : public EngineFixture {
 protected:
  using Second = std::function<Task<Status>(Context&, bool v2)>;
  // Runs v1 until the history durably holds `events` (in `durable_status`), then restarts with v2:
  // returns the workflow's end, and checks that the history is what v1 left.
  proto::WorkflowSummary ChangeMidway(Second second, size_t events, int durable_status) {
    EXPECT_TRUE(registry_
                    .Register("changing", "default",
                              [this, second](Context& ctx) -> Task<Result<std::string>> {
                                int n = 0;
                                (void)co_await ctx.Step("reserve", Counting(&n, "1"));
                                ZLH_CO_RETURN_IF_ERROR(co_await second(ctx, v2_));
                                co_return "done";
                              })
                    .ok());
    std::string id = StartOk("changing");
    EXPECT_TRUE(RunUntilDurably(id, durable_status));
    EXPECT_TRUE(RunUntil([&] { return Events(id).size() >= events; }));
    auto before = Events(id);
    v2_ = true;
    Restart();
    proto::WorkflowSummary s = AwaitEnd(id);
    ExpectSameEvents(Events(id), before);
    return s;
  }
  bool v2_ = false;
};

TEST_F(EngineChangedCodeTest, CodeThatReturnsBeforeItsHistoryEndsIsNonDeterministic) {
  proto::WorkflowSummary s = ChangeMidway(
      [](Context& ctx, bool v2) -> Task<Status> {
        if (v2) co_return Status::Ok();  // v2 no longer sleeps
        co_return co_await ctx.Sleep(Millis(45'000));
      },
      3, proto::WAITING);
  EXPECT_EQ(s.status(), proto::FAILED);
  EXPECT_EQ(s.error().code(), "non_determinism");
  EXPECT_EQ(s.error().message(),
            "step 2: the history holds 'sleep 45s', the code returned without asking for it");
}

TEST_F(EngineChangedCodeTest, ASleepOfAnotherDurationIsNonDeterministic) {
  proto::WorkflowSummary s = ChangeMidway(
      [](Context& ctx, bool v2) -> Task<Status> {
        co_return co_await ctx.Sleep(Millis(v2 ? 300'000 : 45'000));
      },
      3, proto::WAITING);
  EXPECT_EQ(s.error().code(), "non_determinism");
  EXPECT_EQ(s.error().message(), "step 2: the history holds 'sleep 45s', the code asked for 'sleep 5m'");
}

TEST_F(EngineChangedCodeTest, AWaitForAnotherSignalIsNonDeterministic) {
  proto::WorkflowSummary s = ChangeMidway(
      [](Context& ctx, bool v2) -> Task<Status> {
        co_return (co_await ctx.WaitSignal(v2 ? "other" : "approve", Millis(60'000))).status();
      },
      3, proto::WAITING);
  EXPECT_EQ(s.error().code(), "non_determinism");
  EXPECT_EQ(s.error().message(),
            "step 2: the history holds 'signal:approve', the code asked for 'signal:other'");
}

// Sleeps recorded before they were named by their duration replay under any duration.
TEST_F(EngineTest, ASleepRecordedWithoutItsDurationStillReplays) {
  ASSERT_TRUE(registry_
                  .Register("nap", "default",
                            [&](Context& ctx) -> Task<Result<std::string>> {
                              ZLH_CO_RETURN_IF_ERROR(co_await ctx.Sleep(Millis(300)));
                              co_return "rested";
                            })
                  .ok());
  std::string id = StartOk("nap");
  ASSERT_TRUE(RunUntilDurably(id, proto::WAITING));
  Close(Millis(0));
  Open();
  proto::Event scheduled = Events(id)[1];
  ASSERT_EQ(scheduled.timer_scheduled().name(), "sleep 300ms");
  scheduled.mutable_timer_scheduled()->set_name("sleep");  // as an older build wrote it
  journal::Batch legacy;
  legacy.PutEvent(id, scheduled);
  ASSERT_TRUE(journal_->AppendSync(std::move(legacy)).ok());
  ASSERT_TRUE(Await(engine_->Recover()).ok());
  proto::WorkflowSummary s = AwaitEnd(id);
  EXPECT_EQ(s.status(), proto::COMPLETED) << s.error().message();
  EXPECT_EQ(s.result(), "rested");
}

TEST_F(EngineTest, SignalSentBeforeTheWaitIsKept) {
  ASSERT_TRUE(registry_
                  .Register("approval", "default",
                            [&](Context& ctx) -> Task<Result<std::string>> {
                              ZLH_CO_RETURN_IF_ERROR(co_await ctx.Sleep(Millis(100)));
                              co_return co_await ctx.WaitSignal("approve", Millis(10000));
                            })
                  .ok());
  std::string id = StartOk("approval");
  ASSERT_TRUE(Await(engine_->Signal(id, "approve", "by alice")).ok());
  EXPECT_EQ(AwaitEnd(id).result(), "by alice");
}

TEST_F(EngineTest, SignalWakesAWaitingWorkflowAcrossARestart) {
  ASSERT_TRUE(registry_
                  .Register("approval", "default",
                            [&](Context& ctx) -> Task<Result<std::string>> {
                              co_return co_await ctx.WaitSignal("approve", Millis(60000));
                            })
                  .ok());
  std::string id = StartOk("approval");
  ASSERT_TRUE(RunUntil([&] { return engine_->Summary(id)->status() == proto::WAITING; }));
  EXPECT_EQ(engine_->Summary(id)->waiting_for().kind(), "signal");
  Restart();
  ASSERT_TRUE(Await(engine_->Signal(id, "approve", "yes")).ok());
  EXPECT_EQ(AwaitEnd(id).result(), "yes");
}

// Appends `event` to workflow `id`'s history while no engine runs, as a write that landed just
// before a crash would have.
void AppendWhileDown(const std::string& dir, const std::string& id, proto::Event event) {
  auto j = journal::Journal::Open(dir);
  ASSERT_TRUE(j.ok());
  auto events = (*j)->ReadEvents(id);
  ASSERT_TRUE(events.ok() && !events->empty());
  event.set_seq(events->back().seq() + 1);
  event.set_time_ms(NowMs());
  journal::Batch b;
  b.PutEvent(id, event);
  ASSERT_TRUE((*j)->AppendSync(std::move(b)).ok());
}

TEST_F(EngineTest, SignalArrivedBeforeARestartClearsTheWaitsTimer) {
  ASSERT_TRUE(registry_
                  .Register("approval", "default",
                            [&](Context& ctx) -> Task<Result<std::string>> {
                              co_return co_await ctx.WaitSignal("approve", Millis(60000));
                            })
                  .ok());
  std::string id = StartOk("approval");
  ASSERT_TRUE(RunUntilDurably(id, proto::WAITING));
  // The signal was recorded, and the process died before the workflow consumed it.
  Close(Millis(0));
  proto::Event signal;
  signal.mutable_signal_received()->set_name("approve");
  signal.mutable_signal_received()->set_payload("yes");
  AppendWhileDown(dir_.path(), id, signal);
  Open();
  ASSERT_TRUE(Await(engine_->Recover()).ok());
  EXPECT_EQ(AwaitEnd(id).result(), "yes");
  auto violations = Verify(*journal_);
  ASSERT_TRUE(violations.ok());
  for (const auto& v : *violations) ADD_FAILURE() << v.subject << ": " << v.what;
}

TEST_F(EngineTest, CancelAfterARestartClearsTheSleepsTimer) {
  ASSERT_TRUE(registry_
                  .Register("nap", "default",
                            [&](Context& ctx) -> Task<Result<std::string>> {
                              ZLH_CO_RETURN_IF_ERROR(co_await ctx.Sleep(Millis(60000)));
                              co_return "";
                            })
                  .ok());
  std::string id = StartOk("nap");
  ASSERT_TRUE(RunUntilDurably(id, proto::WAITING));
  // The cancel request was recorded, and the process died before the workflow saw it.
  Close(Millis(0));
  proto::Event cancel;
  cancel.mutable_cancel_requested()->set_reason("no longer needed");
  AppendWhileDown(dir_.path(), id, cancel);
  Open();
  ASSERT_TRUE(Await(engine_->Recover()).ok());
  EXPECT_EQ(AwaitEnd(id).status(), proto::CANCELLED);
  auto violations = Verify(*journal_);
  ASSERT_TRUE(violations.ok());
  for (const auto& v : *violations) ADD_FAILURE() << v.subject << ": " << v.what;
}

TEST_F(EngineTest, SignalWaitTimesOut) {
  ASSERT_TRUE(registry_
                  .Register("approval", "default",
                            [&](Context& ctx) -> Task<Result<std::string>> {
                              auto r = co_await ctx.WaitSignal("approve", Millis(50));
                              co_return r.ok() ? "approved" : std::string(CodeName(r.status().code()));
                            })
                  .ok());
  EXPECT_EQ(AwaitEnd(StartOk("approval")).result(), "deadline_exceeded");
}

TEST_F(EngineTest, SignalToUnknownOrEndedWorkflowIsRefused) {
  ASSERT_TRUE(registry_
                  .Register("quick", "default",
                            [&](Context&) -> Task<Result<std::string>> { co_return "x"; })
                  .ok());
  std::string id = StartOk("quick");
  AwaitEnd(id);
  EXPECT_EQ(Await(engine_->Signal(id, "s", "")).code(), Code::kFailedPrecondition);
  EXPECT_EQ(Await(engine_->Signal("01NOPE", "s", "")).code(), Code::kNotFound);
  EXPECT_EQ(Await(engine_->Cancel("01NOPE", "")).code(), Code::kNotFound);
}

TEST_F(EngineTest, CancelIsDeliveredAtTheNextAwaitAndCompensationRuns) {
  int undo = 0;
  ASSERT_TRUE(registry_
                  .Register("saga", "default",
                            [&](Context& ctx) -> Task<Result<std::string>> {
                              int n = 0;
                              (void)co_await ctx.Step("create", Counting(&n, "made"));
                              Status slept = co_await ctx.Sleep(Millis(60000));
                              if (!slept.ok()) {
                                (void)co_await ctx.Step("destroy", Counting(&undo, "undone"));
                                co_return slept;
                              }
                              co_return "finished";
                            })
                  .ok());
  std::string id = StartOk("saga");
  ASSERT_TRUE(RunUntil([&] { return engine_->Summary(id)->status() == proto::WAITING; }));
  ASSERT_TRUE(Await(engine_->Cancel(id, "customer changed their mind")).ok());
  proto::WorkflowSummary s = AwaitEnd(id);
  EXPECT_EQ(s.status(), proto::CANCELLED);
  EXPECT_EQ(undo, 1);
  auto events = Events(id);
  EXPECT_TRUE(events.back().has_workflow_cancelled());
  EXPECT_EQ(events.back().workflow_cancelled().reason(), "customer changed their mind");
}

TEST_F(EngineTest, DedupKeyReturnsTheExistingWorkflow) {
  ASSERT_TRUE(registry_
                  .Register("once", "default",
                            [&](Context&) -> Task<Result<std::string>> { co_return "x"; })
                  .ok());
  auto first = Await(engine_->Start({"once", "", "c-1:game:n1"}));
  auto second = Await(engine_->Start({"once", "", "c-1:game:n1"}));
  auto other = Await(engine_->Start({"once", "", "c-1:game:n2"}));
  ASSERT_TRUE(first.ok() && second.ok() && other.ok());
  EXPECT_TRUE(first->created);
  EXPECT_FALSE(second->created);
  EXPECT_EQ(second->id, first->id);
  EXPECT_NE(other->id, first->id);
  EXPECT_TRUE(Events(second->id).size() >= 1);
}

TEST_F(EngineTest, ConcurrentStartsWithOneDedupKeyMakeOneWorkflow) {
  ASSERT_TRUE(registry_
                  .Register("once", "default",
                            [&](Context&) -> Task<Result<std::string>> { co_return "x"; })
                  .ok());
  std::vector<std::future<Result<Started>>> futures;
  for (int i = 0; i < 20; ++i) {
    futures.push_back(asio::co_spawn(*io_, engine_->Start({"once", "", "same"}), asio::use_future));
  }
  ASSERT_TRUE(RunUntil([&] {
    for (auto& f : futures) {
      if (f.wait_for(0s) != std::future_status::ready) return false;
    }
    return true;
  }));
  std::set<std::string> ids;
  int created = 0;
  for (auto& f : futures) {
    auto r = f.get();
    ASSERT_TRUE(r.ok());
    ids.insert(r->id);
    created += r->created;
  }
  EXPECT_EQ(ids.size(), 1u);
  EXPECT_EQ(created, 1);
}

TEST_F(EngineTest, AtMostOnceStepInterruptedByACrashIsNotRunAgain) {
  int calls = 0;
  ASSERT_TRUE(registry_
                  .Register("destroy", "default",
                            [&](Context& ctx) -> Task<Result<std::string>> {
                              auto r = co_await ctx.Step(
                                  "rebuild_container",
                                  [&](const StepInfo&) -> Task<Result<std::string>> {
                                    ++calls;
                                    asio::steady_timer t(co_await asio::this_coro::executor, 1h);
                                    co_await t.async_wait(asio::use_awaitable);
                                    co_return "rebuilt";
                                  },
                                  RetryPolicy::AtMostOnce());
                              if (!r.ok()) co_return r.status();
                              co_return *r;
                            })
                  .ok());
  std::string id = StartOk("destroy");
  ASSERT_TRUE(RunUntil([&] { return calls == 1; }));
  Restart();  // the step never finished: a crash in the middle of it
  proto::WorkflowSummary s = AwaitEnd(id);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(s.status(), proto::FAILED);
  EXPECT_EQ(s.error().code(), "interrupted");
}

// An operator's retry is held to at-most-once too: it runs an interrupted destructive step again
// only when told that it may run twice.
TEST_F(EngineTest, RetryOverAnInterruptedAtMostOnceStepNeedsConfirmation) {
  int prepared = 0, calls = 0;
  ASSERT_TRUE(registry_
                  .Register("destroy", "default",
                            [&](Context& ctx) -> Task<Result<std::string>> {
                              ZLH_CO_RETURN_IF_ERROR(
                                  (co_await ctx.Step("stop", Counting(&prepared, ""))).status());
                              co_return co_await ctx.Step(
                                  "rebuild_container",
                                  [&](const StepInfo&) -> Task<Result<std::string>> {
                                    if (++calls == 1) {  // the first run never returns
                                      asio::steady_timer t(co_await asio::this_coro::executor, 1h);
                                      co_await t.async_wait(asio::use_awaitable);
                                    }
                                    co_return "rebuilt";
                                  },
                                  RetryPolicy::AtMostOnce());
                            })
                  .ok());
  std::string id = StartOk("destroy");
  ASSERT_TRUE(RunUntil([&] { return calls == 1; }));
  Restart();  // a crash in the middle of the step
  ASSERT_EQ(AwaitEnd(id).error().code(), "interrupted");

  auto before = Events(id);
  Status refused = Await(engine_->Retry(id));
  EXPECT_EQ(refused.code(), Code::kFailedPrecondition);
  EXPECT_NE(refused.message().find("step 2 'rebuild_container'"), std::string::npos)
      << refused.message();
  ExpectSameEvents(Events(id), before);
  EXPECT_EQ(engine_->Summary(id)->status(), proto::FAILED);

  ASSERT_TRUE(Await(engine_->Retry(id, {.confirm_at_most_once = true})).ok());
  proto::WorkflowSummary s = AwaitEnd(id);
  EXPECT_EQ(s.status(), proto::COMPLETED);
  EXPECT_EQ(s.result(), "rebuilt");
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(prepared, 1);
}

TEST_F(EngineTest, FailedWorkflowRetriesFromItsFailedStep) {
  int first = 0, second = 0;
  bool broken = true;
  ASSERT_TRUE(registry_
                  .Register("fixable", "default",
                            [&](Context& ctx) -> Task<Result<std::string>> {
                              auto a = co_await ctx.Step("first", Counting(&first, "1"));
                              auto b = co_await ctx.Step(
                                  "second",
                                  [&](const StepInfo&) -> Task<Result<std::string>> {
                                    ++second;
                                    if (broken) co_return Unavailable("dns api down");
                                    co_return "2";
                                  },
                                  Fast(2));
                              if (!b.ok()) co_return b.status();
                              co_return *a + *b;
                            })
                  .ok());
  std::string id = StartOk("fixable");
  proto::WorkflowSummary s = AwaitEnd(id);
  ASSERT_EQ(s.status(), proto::FAILED);
  EXPECT_FALSE(s.compensated());
  broken = false;
  ASSERT_TRUE(Await(engine_->Retry(id)).ok());
  s = AwaitEnd(id);
  EXPECT_EQ(s.status(), proto::COMPLETED);
  EXPECT_EQ(s.result(), "12");
  EXPECT_EQ(first, 1);
  EXPECT_EQ(second, 3);
  EXPECT_EQ(Await(engine_->Retry(id)).code(), Code::kFailedPrecondition);  // completed now
}

// Readers are told of a workflow's end only once its write is durable: while the write is held,
// the summary still shows the workflow as it was; a retry right after the failure is shown then
// finds it written.
TEST_F(EngineTest, AnEndIsShownOnlyOnceItIsWritten) {
  std::atomic<bool> hold{false}, held{false};
  std::atomic<int> calls{0};
  journal_options_.fault_before_write = [&](size_t) {
    while (hold && calls == 1) {  // the writes after the step's failure
      held = true;
      std::this_thread::sleep_for(1ms);
    }
    return Status::Ok();
  };
  Restart();
  ASSERT_TRUE(registry_
                  .Register("flaky", "default",
                            [&](Context& ctx) -> Task<Result<std::string>> {
                              ZLH_CO_RETURN_IF_ERROR(co_await ctx.Sleep(Millis(50)));
                              co_return co_await ctx.Step(
                                  "act",
                                  [&](const StepInfo&) -> Task<Result<std::string>> {
                                    if (++calls == 1) co_return InvalidArgument("not yet");
                                    co_return "acted";
                                  });
                            })
                  .ok());
  std::string id = StartOk("flaky");
  ASSERT_TRUE(RunUntilDurably(id, proto::WAITING));
  hold = true;
  // The timer fires, the step fails for good, the workflow ends: that write is held.
  ASSERT_TRUE(RunUntil([&] { return held && calls == 1; }));
  auto until = std::chrono::steady_clock::now() + 200ms;
  while (std::chrono::steady_clock::now() < until) {
    io_->run_one_for(5ms);
    ASSERT_NE(engine_->Summary(id)->status(), proto::FAILED) << "an end shown before its write";
  }
  EXPECT_EQ(engine_->live_count(), 1u);
  hold = false;
  ASSERT_TRUE(RunUntil([&] { return engine_->Summary(id)->status() == proto::FAILED; }));
  EXPECT_TRUE(journal_->Get(journal::Cf::kIndex, journal::StatusIndexKey(proto::FAILED, id))
                  ->has_value());
  Status retry = Await(engine_->Retry(id));
  ASSERT_TRUE(retry.ok()) << retry.ToString();
  EXPECT_EQ(AwaitEnd(id).result(), "acted");
}

TEST_F(EngineTest, CompensatedWorkflowCannotBeRetried) {
  int undo = 0, n = 0;
  ASSERT_TRUE(registry_
                  .Register("saga", "default",
                            [&](Context& ctx) -> Task<Result<std::string>> {
                              auto r = co_await ctx.Step(
                                  "create", Failing(&n, InvalidArgument("template missing")));
                              (void)co_await ctx.Step("release", Counting(&undo, ""));
                              co_return r.status();
                            })
                  .ok());
  std::string id = StartOk("saga");
  proto::WorkflowSummary s = AwaitEnd(id);
  EXPECT_TRUE(s.compensated());
  Status retry = Await(engine_->Retry(id));
  EXPECT_EQ(retry.code(), Code::kFailedPrecondition);
  EXPECT_NE(retry.message().find("compensated"), std::string::npos);
}

TEST_F(EngineTest, TransactionalStepsNeverTakeTheSameRowAndFailuresLeaveNothing) {
  auto take_lowest = [](journal::Txn& txn, const StepInfo& info) -> Result<std::string> {
    std::set<int> used;
    Status s = txn.Scan(journal::Cf::kDomain, "V", [&](std::string_view k, std::string_view) {
      used.insert(std::stoi(std::string(k.substr(1))));
      return true;
    });
    if (!s.ok()) return s;
    int vmid = 100;
    while (used.count(vmid)) ++vmid;
    if (vmid > 109) return FailedPrecondition("no free VMID in 100-109");
    txn.Put(journal::Cf::kDomain, "V" + std::to_string(vmid), info.workflow_id);
    return std::to_string(vmid);
  };
  ASSERT_TRUE(registry_
                  .Register("alloc", "default",
                            [&](Context& ctx) -> Task<Result<std::string>> {
                              co_return co_await ctx.TxnStep("allocate_vmid", take_lowest);
                            })
                  .ok());
  std::vector<std::string> ids;
  for (int i = 0; i < 12; ++i) ids.push_back(StartOk("alloc"));
  std::set<std::string> vmids;
  int failed = 0;
  for (auto& id : ids) {
    proto::WorkflowSummary s = AwaitEnd(id);
    if (s.status() == proto::COMPLETED) {
      EXPECT_TRUE(vmids.insert(s.result()).second) << "VMID " << s.result() << " taken twice";
      EXPECT_EQ(journal_->Get(journal::Cf::kDomain, "V" + s.result())->value_or(""), id);
    } else {
      ++failed;
      EXPECT_EQ(s.error().code(), "failed_precondition");
    }
  }
  EXPECT_EQ(vmids.size(), 10u);
  EXPECT_EQ(failed, 2);
}

TEST_F(EngineTest, RecordedValuesAreStableAcrossReplay) {
  std::vector<std::string> seen;
  ASSERT_TRUE(registry_
                  .Register("det", "default",
                            [&](Context& ctx) -> Task<Result<std::string>> {
                              auto now = co_await ctx.Now();
                              auto rnd = co_await ctx.Random();
                              auto nid = co_await ctx.NewId();
                              std::string v = std::to_string(*now) + "/" + std::to_string(*rnd) +
                                              "/" + *nid;
                              seen.push_back(v);
                              ZLH_CO_RETURN_IF_ERROR(co_await ctx.Sleep(Millis(200)));
                              co_return v;
                            })
                  .ok());
  std::string id = StartOk("det");
  ASSERT_TRUE(RunUntil([&] { return engine_->Summary(id)->status() == proto::WAITING; }));
  Restart();
  proto::WorkflowSummary s = AwaitEnd(id);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], seen[1]);
  EXPECT_EQ(s.result(), seen[0]);
}

TEST_F(EngineTest, JournalFailureStopsWorkUntilRestartAndLosesNothingAcknowledged) {
  std::atomic<bool> fail{false};
  journal_options_.fault_before_write = [&](size_t) {
    return fail ? IOError("disk went away") : Status::Ok();
  };
  Restart();
  int a = 0, b = 0;
  ASSERT_TRUE(registry_
                  .Register("two", "default",
                            [&](Context& ctx) -> Task<Result<std::string>> {
                              auto x = co_await ctx.Step("a", Counting(&a, "A"));
                              ZLH_CO_RETURN_IF_ERROR(co_await ctx.Sleep(Millis(100)));
                              auto y = co_await ctx.Step("b", Counting(&b, "B"));
                              if (!y.ok()) co_return y.status();
                              co_return *x + *y;
                            })
                  .ok());
  std::string id = StartOk("two");
  // Durably asleep: step a's result is acknowledged.
  ASSERT_TRUE(RunUntilDurably(id, proto::WAITING));
  fail = true;
  // The timer fires, the next write fails: the workflow stops where it is, recording no end.
  ASSERT_TRUE(RunUntil([&] { return engine_->live_count() == 0; }));
  EXPECT_EQ(b, 0);
  auto refused = Await(engine_->Start({"two", "", ""}));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kUnavailable);
  EXPECT_NE(refused.status().message().find("disk went away"), std::string::npos);

  fail = false;
  Restart();
  proto::WorkflowSummary s = AwaitEnd(id);
  EXPECT_EQ(s.status(), proto::COMPLETED);
  EXPECT_EQ(s.result(), "AB");
  EXPECT_EQ(a, 1);  // acknowledged before the failure: not run again
  EXPECT_EQ(b, 1);
}

TEST_F(EngineTest, StatusIndexFollowsTheWorkflow) {
  ASSERT_TRUE(registry_
                  .Register("nap", "default",
                            [&](Context& ctx) -> Task<Result<std::string>> {
                              ZLH_CO_RETURN_IF_ERROR(co_await ctx.Sleep(Millis(100)));
                              co_return "";
                            })
                  .ok());
  std::string id = StartOk("nap");
  ASSERT_TRUE(RunUntilDurably(id, proto::WAITING));
  AwaitEnd(id);
  auto has = [&](int status) {
    return journal_->Get(journal::Cf::kIndex, journal::StatusIndexKey(status, id))->has_value();
  };
  EXPECT_TRUE(has(proto::COMPLETED));
  EXPECT_FALSE(has(proto::WAITING));
  EXPECT_FALSE(has(proto::RUNNING));
}

}  // namespace
}  // namespace zlh::workflows

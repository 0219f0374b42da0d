// The engine's transactional hooks: domain-table changes written with a workflow's start, with its
// end (OnEnd, FinalTxnStep), and transactional steps that wait for their condition (TxnStepWhen).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "journal/format.h"
#include "workflows/engine.h"
#include "workflows/engine_fixture.h"
#include "workflows/verify.h"

namespace zlh::workflows {
namespace {

using EngineTxnTest = EngineFixture;

std::string Domain(journal::Journal& j, const std::string& key) {
  return j.Get(journal::Cf::kDomain, key)->value_or("<absent>");
}

TEST_F(EngineTxnTest, StartTxnCommitsWithTheWorkflowOrRefusesTheStart) {
  ASSERT_TRUE(registry_
                  .Register("w", "default",
                            [](Context&) -> Task<Result<std::string>> { co_return "done"; })
                  .ok());
  StartRequest ok{"w", "in", "key-1"};
  ok.txn = [](journal::Txn& t, const std::string& id) {
    t.Put(journal::Cf::kDomain, "server/s-1", id);
    return Status::Ok();
  };
  auto first = Await(engine_->Start(ok));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(Domain(*journal_, "server/s-1"), first->id);

  // The same dedup key names the first workflow; its txn does not run again.
  StartRequest again = ok;
  again.txn = [](journal::Txn& t, const std::string&) {
    t.Put(journal::Cf::kDomain, "server/s-1", "overwritten");
    return Status::Ok();
  };
  auto second = Await(engine_->Start(again));
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->created);
  EXPECT_EQ(second->id, first->id);
  EXPECT_EQ(Domain(*journal_, "server/s-1"), first->id);

  // A failing txn refuses the start: no workflow, no dedup key, no domain row.
  StartRequest refused{"w", "in", "key-2"};
  refused.txn = [](journal::Txn& t, const std::string&) {
    t.Put(journal::Cf::kDomain, "server/s-2", "x");
    return Status(Code::kFailedPrecondition, "name taken");
  };
  auto r = Await(engine_->Start(refused));
  EXPECT_EQ(r.status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(Domain(*journal_, "server/s-2"), "<absent>");
  EXPECT_FALSE(journal_->Get(journal::Cf::kIndex, journal::DedupIndexKey("key-2"))->has_value());
  EXPECT_EQ(AwaitEnd(first->id).status(), proto::COMPLETED);
  EXPECT_TRUE(Verify(*journal_)->empty());
}

TEST_F(EngineTxnTest, OnEndRunsInTheEndWriteWhateverTheEnd) {
  int after_calls = 0;
  ASSERT_TRUE(registry_
                  .Register("holder", "default",
                            [&](Context& ctx) -> Task<Result<std::string>> {
                              auto took = co_await ctx.TxnStep(
                                  "take", [](journal::Txn& t, const StepInfo& info) {
                                    t.Put(journal::Cf::kDomain, "lock/" + info.workflow_id, "held");
                                    return Result<std::string>("ok");
                                  });
                              if (!took.ok()) co_return took.status();
                              ctx.OnEnd(
                                  [id = ctx.id()](journal::Txn& t) {
                                    t.Delete(journal::Cf::kDomain, "lock/" + id);
                                    return Status::Ok();
                                  },
                                  [&] { ++after_calls; });
                              if (ctx.input() == "fail") co_return Status(Code::kInvalidArgument, "no");
                              ZLH_CO_RETURN_IF_ERROR(co_await ctx.Sleep(Millis(ctx.input() == "sleep" ? 60'000 : 1)));
                              co_return "done";
                            })
                  .ok());
  std::string completes = StartOk("holder", "");
  std::string fails = StartOk("holder", "fail");
  std::string cancelled = StartOk("holder", "sleep");
  ASSERT_TRUE(RunUntilDurably(cancelled, proto::WAITING));
  EXPECT_EQ(Domain(*journal_, "lock/" + cancelled), "held");
  // A restart in the middle: the code registers its end transaction again when it replays.
  Restart();
  ASSERT_TRUE(Await(engine_->Cancel(cancelled, "operator")).ok());
  EXPECT_EQ(AwaitEnd(completes).status(), proto::COMPLETED);
  EXPECT_EQ(AwaitEnd(fails).status(), proto::FAILED);
  EXPECT_EQ(AwaitEnd(cancelled).status(), proto::CANCELLED);
  for (const auto& id : {completes, fails, cancelled}) {
    EXPECT_EQ(Domain(*journal_, "lock/" + id), "<absent>") << id;
  }
  EXPECT_GE(after_calls, 1);
  EXPECT_TRUE(Verify(*journal_)->empty());
}

TEST_F(EngineTxnTest, FinalTxnStepIsRecordedInTheSameWriteAsTheFailure) {
  ASSERT_TRUE(registry_
                  .Register("saga", "default",
                            [](Context& ctx) -> Task<Result<std::string>> {
                              (void)co_await ctx.TxnStep("allocate", [](journal::Txn& t, const StepInfo&) {
                                t.Put(journal::Cf::kDomain, "vmid/100", "mine");
                                return Result<std::string>("100");
                              });
                              auto work = co_await ctx.Step(
                                  "work",
                                  [](const StepInfo&) -> Task<Result<std::string>> {
                                    co_return Status(Code::kInvalidArgument, "bad template");
                                  },
                                  RetryPolicy::Once());
                              ZLH_CO_RETURN_IF_ERROR(ctx.FinalTxnStep(
                                  "release", [](journal::Txn& t, const StepInfo&) {
                                    t.Delete(journal::Cf::kDomain, "vmid/100");
                                    return Result<std::string>("");
                                  }));
                              co_return work.status();
                            })
                  .ok());
  std::string id = StartOk("saga");
  proto::WorkflowSummary s = AwaitEnd(id);
  EXPECT_EQ(s.status(), proto::FAILED);
  EXPECT_TRUE(s.compensated());
  EXPECT_EQ(s.error().message(), "bad template");
  EXPECT_EQ(Domain(*journal_, "vmid/100"), "<absent>");
  auto events = Events(id);
  ASSERT_GE(events.size(), 3u);
  const proto::Event& release = events[events.size() - 2];
  ASSERT_TRUE(release.has_step_completed());
  EXPECT_EQ(release.step_completed().name(), "release");
  EXPECT_TRUE(events.back().has_workflow_failed());
  EXPECT_EQ(release.seq() + 1, events.back().seq());
  EXPECT_TRUE(Verify(*journal_)->empty());
}

// Two workflows want one lock; the second waits (status waiting, kind "lock") until the first
// releases it at its end and notifies.
TEST_F(EngineTxnTest, TxnStepWhenWaitsForItsConditionAndWakesOnNotify) {
  std::vector<std::string> order;
  ASSERT_TRUE(
      registry_
          .Register(
              "locker", "default",
              [&](Context& ctx) -> Task<Result<std::string>> {
                ctx.OnEnd(
                    [id = ctx.id()](journal::Txn& t) -> Status {
                      auto holder = t.Get(journal::Cf::kDomain, "lock");
                      if (!holder.ok()) return holder.status();
                      if (holder->value_or("") == id) t.Delete(journal::Cf::kDomain, "lock");
                      return Status::Ok();
                    },
                    [&] { engine_->Notify("lock"); });
                auto took = co_await ctx.TxnStepWhen(
                    "acquire",
                    [](journal::Txn& t, const StepInfo& info) -> Result<std::optional<std::string>> {
                      auto holder = t.Get(journal::Cf::kDomain, "lock");
                      if (!holder.ok()) return holder.status();
                      if (holder->has_value()) return std::optional<std::string>();
                      t.Put(journal::Cf::kDomain, "lock", info.workflow_id);
                      return std::optional<std::string>("acquired");
                    },
                    WaitSpec{"lock", "the lock", "lock", Millis(60'000)});
                if (!took.ok()) co_return took.status();
                order.push_back(ctx.id());
                if (ctx.input() == "long") {
                  ZLH_CO_RETURN_IF_ERROR(co_await ctx.Sleep(Millis(300)));
                }
                co_return *took;
              })
          .ok());
  std::string first = StartOk("locker", "long");
  ASSERT_TRUE(RunUntilDurably(first, proto::WAITING));  // asleep, holding the lock
  std::string second = StartOk("locker", "");
  ASSERT_TRUE(RunUntil([&] {
    auto s = engine_->Summary(second);
    return s.ok() && s->waiting_for().kind() == "lock";
  }));
  EXPECT_EQ(AwaitEnd(first).status(), proto::COMPLETED);
  // Woken by the Notify, not by the 60 s poll (AwaitEnd's deadline is 30 s).
  EXPECT_EQ(AwaitEnd(second).status(), proto::COMPLETED);
  EXPECT_EQ(order, (std::vector<std::string>{first, second}));
  bool waited = false;
  for (const auto& e : Events(second)) waited |= e.has_step_waiting();
  EXPECT_TRUE(waited);
  EXPECT_EQ(Domain(*journal_, "lock"), "<absent>");
  EXPECT_TRUE(Verify(*journal_)->empty());
}

// Polling a condition does not grow the history: the wait is recorded once per run (a restart
// during it resumes it), its end once; and the workflow stays waiting while it tries again (stuck
// detection looks only at running workflows' last events).
TEST_F(EngineTxnTest, TxnStepWhenRecordsItsWaitOnceHoweverOftenItPolls) {
  std::atomic<int> tries{0};
  ASSERT_TRUE(
      registry_
          .Register("poller", "default",
                    [&](Context& ctx) -> Task<Result<std::string>> {
                      co_return co_await ctx.TxnStepWhen(
                          "acquire",
                          [&tries](journal::Txn& t, const StepInfo& info)
                              -> Result<std::optional<std::string>> {
                            ++tries;
                            auto holder = t.Get(journal::Cf::kDomain, "lock");
                            if (!holder.ok()) return holder.status();
                            if (holder->has_value()) return std::optional<std::string>();
                            t.Put(journal::Cf::kDomain, "lock", info.workflow_id);
                            return std::optional<std::string>("acquired");
                          },
                          WaitSpec{"lock", "the lock", "lock", Millis(5)});
                    })
          .ok());
  auto set_lock = [&](bool held) {
    journal::Batch b;
    if (held) {
      b.Put(journal::Cf::kDomain, "lock", "someone else");
    } else {
      b.Delete(journal::Cf::kDomain, "lock");
    }
    ASSERT_TRUE(journal_->AppendSync(std::move(b)).ok());
  };
  set_lock(true);
  std::string id = StartOk("poller");
  bool seen_running = false;
  // Runs until `n` tries; running is fine only until a run's first try has recorded the wait.
  auto polled = [&](int n) {
    int first = tries;
    return RunUntil([&] {
      auto s = engine_->Summary(id);
      if (tries > first + 1 && s.ok() && s->status() == proto::RUNNING) seen_running = true;
      return tries >= n;
    });
  };
  ASSERT_TRUE(polled(20));
  Restart();  // mid-wait: the wait resumes
  ASSERT_TRUE(polled(tries + 20));
  set_lock(false);
  proto::WorkflowSummary s = AwaitEnd(id);
  EXPECT_EQ(s.status(), proto::COMPLETED);
  EXPECT_EQ(s.result(), "acquired");
  EXPECT_FALSE(seen_running);
  int waits = 0, ends = 0;
  for (const auto& e : Events(id)) {
    waits += e.has_step_waiting();
    ends += e.has_step_completed() || e.has_step_failed();
  }
  EXPECT_EQ(waits, 2);  // one per run
  EXPECT_EQ(ends, 1);
  EXPECT_TRUE(Verify(*journal_)->empty());
}

TEST_F(EngineTxnTest, TxnStepPrepareIsRetriedAndItsResultReachesTheTransaction) {
  int prepares = 0;
  RetryPolicy policy;
  policy.initial_backoff = Millis(5);
  ASSERT_TRUE(registry_
                  .Register("prep", "default",
                            [&](Context& ctx) -> Task<Result<std::string>> {
                              auto r = co_await ctx.TxnStep(
                                  "allocate",
                                  [&](const StepInfo&) -> Task<Result<std::string>> {
                                    if (++prepares < 3) co_return Unavailable("hypervisor down");
                                    co_return "in use: 100";
                                  },
                                  [](journal::Txn& t, const StepInfo& info) {
                                    t.Put(journal::Cf::kDomain, "seen", info.prepared);
                                    return Result<std::string>(info.prepared);
                                  },
                                  policy);
                              if (!r.ok()) co_return r.status();
                              ZLH_CO_RETURN_IF_ERROR(co_await ctx.Sleep(Millis(100)));
                              co_return *r;
                            })
                  .ok());
  std::string id = StartOk("prep");
  ASSERT_TRUE(RunUntilDurably(id, proto::WAITING));
  Restart();  // the replay returns the recorded result without preparing again
  EXPECT_EQ(AwaitEnd(id).result(), "in use: 100");
  EXPECT_EQ(prepares, 3);
  EXPECT_EQ(Domain(*journal_, "seen"), "in use: 100");
}

// A retried workflow takes again what its failure released: the retake_on_retry step runs again
// (keeping its step number) instead of returning its old result.
TEST_F(EngineTxnTest, ARetriedWorkflowRetakesWhatItsEndReleased) {
  int work_calls = 0;
  ASSERT_TRUE(
      registry_
          .Register("holder", "default",
                    [&](Context& ctx) -> Task<Result<std::string>> {
                      ctx.OnEnd([](journal::Txn& t) {
                        t.Delete(journal::Cf::kDomain, "lock");
                        return Status::Ok();
                      });
                      WaitSpec wait{"lock", "the lock", "lock", Millis(60'000), true};
                      auto took = co_await ctx.TxnStepWhen(
                          "take",
                          [](journal::Txn& t, const StepInfo& info) -> Result<std::optional<std::string>> {
                            t.Put(journal::Cf::kDomain, "lock", info.workflow_id);
                            return std::optional<std::string>("attempt " + std::to_string(info.attempt));
                          },
                          wait);
                      if (!took.ok()) co_return took.status();
                      auto work = co_await ctx.Step(
                          "work",
                          [&](const StepInfo&) -> Task<Result<std::string>> {
                            if (++work_calls == 1) co_return InvalidArgument("not yet");
                            co_return "worked";
                          },
                          RetryPolicy::Once());
                      if (!work.ok()) co_return work.status();
                      co_return *took;
                    })
          .ok());
  std::string id = StartOk("holder");
  EXPECT_EQ(AwaitEnd(id).status(), proto::FAILED);
  EXPECT_EQ(Domain(*journal_, "lock"), "<absent>");  // released with the failure
  ASSERT_TRUE(Await(engine_->Retry(id)).ok());
  proto::WorkflowSummary s = AwaitEnd(id);
  EXPECT_EQ(s.status(), proto::COMPLETED);
  EXPECT_EQ(s.result(), "attempt 2");  // taken again, under the same step number
  int takes = 0;
  for (const auto& e : Events(id)) {
    if (e.has_step_completed() && e.step_completed().name() == "take") {
      ++takes;
      EXPECT_EQ(e.step_completed().step(), 1u);
    }
  }
  EXPECT_EQ(takes, 2);
  EXPECT_EQ(work_calls, 2);
  EXPECT_TRUE(Verify(*journal_)->empty());
}

// A node that loses its lock suspends the engine: nothing runs, starts are refused; on Resume
// every unfinished workflow goes on from the journal, once.
TEST_F(EngineTxnTest, SuspendStopsEverythingAndResumeRecoversFromTheJournal) {
  int calls = 0;
  ASSERT_TRUE(registry_
                  .Register("napper", "default",
                            [&](Context& ctx) -> Task<Result<std::string>> {
                              ZLH_CO_RETURN_IF_ERROR(co_await ctx.Sleep(Millis(200)));
                              auto r = co_await ctx.Step("after", [&](const StepInfo&) -> Task<Result<std::string>> {
                                ++calls;
                                co_return "woke";
                              });
                              co_return r;
                            })
                  .ok());
  std::string id = StartOk("napper");
  ASSERT_TRUE(RunUntilDurably(id, proto::WAITING));
  Await(engine_->Suspend(Millis(5'000)));
  EXPECT_TRUE(engine_->suspended());
  EXPECT_EQ(engine_->live_count(), 0u);
  auto refused = Await(engine_->Start({"napper", "", ""}));
  EXPECT_EQ(refused.status().code(), Code::kUnavailable);
  // Past its wake time while suspended: nothing ran.
  RunUntil([] { return false; }, std::chrono::seconds(0));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  RunUntil([] { return false; }, std::chrono::seconds(0));
  EXPECT_EQ(calls, 0);
  ASSERT_TRUE(Await(engine_->Resume()).ok());
  EXPECT_EQ(AwaitEnd(id).status(), proto::COMPLETED);
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(Verify(*journal_)->empty());
}

// A node whose lock lapsed (EngineOptions::may_act says no) before its suspension reached the
// engine — a paused process resumed with its timers due — runs no further step: the run ends
// with its progress kept, not failed, and goes on after Suspend and Resume, once.
TEST_F(EngineTxnTest, NoStepRunsOnceTheNodeMayNoLongerActEvenBeforeItsSuspension) {
  bool may_act = true;
  options_.may_act = [&] { return may_act; };
  Restart();
  int calls = 0;
  ASSERT_TRUE(registry_
                  .Register("napper", "default",
                            [&](Context& ctx) -> Task<Result<std::string>> {
                              ZLH_CO_RETURN_IF_ERROR(co_await ctx.Sleep(Millis(100)));
                              co_return co_await ctx.Step("after", [&](const StepInfo&) -> Task<Result<std::string>> {
                                ++calls;
                                co_return "woke";
                              });
                            })
                  .ok());
  std::string id = StartOk("napper");
  ASSERT_TRUE(RunUntilDurably(id, proto::WAITING));
  may_act = false;
  ASSERT_TRUE(RunUntil([&] { return engine_->live_count() == 0; })) << "the run did not stop";
  EXPECT_EQ(calls, 0) << "a step ran after the node could no longer act";
  EXPECT_NE(engine_->Summary(id)->status(), proto::FAILED);
  for (const auto& e : Events(id)) EXPECT_FALSE(e.has_step_failed()) << "the refusal was recorded";
  Await(engine_->Suspend(Millis(1'000)));
  may_act = true;
  ASSERT_TRUE(Await(engine_->Resume()).ok());
  EXPECT_EQ(AwaitEnd(id).status(), proto::COMPLETED);
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(Verify(*journal_)->empty());
}

}  // namespace
}  // namespace zlh::workflows

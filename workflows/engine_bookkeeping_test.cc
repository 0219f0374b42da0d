// The engine's in-memory state follows the journal: an operator's cancel of a queued workflow or
// retry of a failed one that could not be written changes nothing that readers see (its summary,
// status, queue). Runs over the real scheduler::Queues and a journal that fails on demand.
#include <gtest/gtest.h>

#include <atomic>

#include "scheduler/queues.h"
#include "workflows/engine_fixture.h"

namespace zlh::workflows {
namespace {

class EngineBookkeepingTest : public EngineFixture {
 protected:
  void SetUp() override {
    // "held" never runs anything: its workflows stay queued.
    queues_ = std::make_unique<scheduler::Queues>(std::map<std::string, uint32_t>{{"held", 0}}, 1);
    options_.admission = queues_.get();
    journal_options_.fault_before_write = [this](size_t) {
      return fail_ ? IOError("disk went away") : Status::Ok();
    };
    EngineFixture::SetUp();
    queues_->Attach(*engine_);
  }
  void Register(const std::string& type, const std::string& queue, Status outcome) {
    ASSERT_TRUE(registry_
                    .Register(type, queue,
                              [outcome](Context& ctx) -> Task<Result<std::string>> {
                                auto r = co_await ctx.Step(
                                    "act",
                                    [outcome](const StepInfo&) -> Task<Result<std::string>> {
                                      if (!outcome.ok()) co_return outcome;
                                      co_return "acted";
                                    },
                                    RetryPolicy::Once());
                                if (!r.ok()) co_return r.status();
                                co_return *r;
                              })
                    .ok());
  }

  std::unique_ptr<scheduler::Queues> queues_;
  std::atomic<bool> fail_{false};
};

TEST_F(EngineBookkeepingTest, ACancelOfAQueuedWorkflowThatWasNotWrittenLeavesItQueued) {
  Register("later", "held", Status::Ok());
  std::string id = StartOk("later");
  ASSERT_EQ(queues_->stats()["held"].queued, 1u);
  fail_ = true;
  Status cancel = Await(engine_->Cancel(id, "not needed"));
  EXPECT_EQ(cancel.code(), Code::kUnavailable);
  proto::WorkflowSummary s = *engine_->Summary(id);
  EXPECT_EQ(s.status(), proto::QUEUED);
  EXPECT_EQ(s.waiting_for().kind(), "queue");
  EXPECT_FALSE(s.has_error());
  EXPECT_EQ(engine_->live_count(), 1u);
  EXPECT_EQ(queues_->stats()["held"].queued, 1u);
  // Not recorded as requested either: a second cancel tries again (and meets the journal's failure).
  EXPECT_EQ(Await(engine_->Cancel(id, "not needed")).code(), Code::kUnavailable);
}

TEST_F(EngineBookkeepingTest, ARetryThatWasNotWrittenLeavesTheWorkflowFailed) {
  Register("broken", "default", InvalidArgument("no such plan"));
  std::string id = StartOk("broken");
  ASSERT_EQ(AwaitEnd(id).status(), proto::FAILED);
  fail_ = true;
  EXPECT_EQ(Await(engine_->Retry(id)).code(), Code::kUnavailable);
  proto::WorkflowSummary s = *engine_->Summary(id);
  EXPECT_EQ(s.status(), proto::FAILED);
  EXPECT_EQ(s.error().message(), "no such plan");
  EXPECT_EQ(engine_->live_count(), 0u);
  EXPECT_EQ(queues_->stats()["default"].queued, 0u);
  EXPECT_EQ(queues_->stats()["default"].running, 0u);
  // Not live: a second retry is not refused as "queued", it tries again.
  EXPECT_EQ(Await(engine_->Retry(id)).code(), Code::kUnavailable);
}

}  // namespace
}  // namespace zlh::workflows

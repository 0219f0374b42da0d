#include "scheduler/queues.h"

#include <gtest/gtest.h>

#include "journal/format.h"
#include "workflows/engine_fixture.h"

namespace zlh::scheduler {
namespace {

using workflows::Context;
using workflows::Task;

class QueuesTest : public workflows::EngineFixture {
 protected:
  void SetUp() override {
    queues_ = std::make_unique<Queues>(std::map<std::string, uint32_t>{{"provision", 1}});
    options_.admission = queues_.get();
    EngineFixture::SetUp();
    queues_->Attach(*engine_);
  }
  void RestartWithNewQueues() {
    Close(Millis(0));
    queues_ = std::make_unique<Queues>(std::map<std::string, uint32_t>{{"provision", 1}});
    options_.admission = queues_.get();
    Open();
    queues_->Attach(*engine_);
    ASSERT_TRUE(Await(engine_->Recover()).ok());
  }
  void RegisterNap(std::vector<std::string>* order = nullptr, int* max_in_flight = nullptr) {
    ASSERT_TRUE(registry_
                    .Register("prov", "provision",
                              [this, order, max_in_flight](Context& ctx)
                                  -> Task<Result<std::string>> {
                                ++in_flight_;
                                if (max_in_flight) {
                                  *max_in_flight = std::max(*max_in_flight, in_flight_);
                                }
                                Status s = co_await ctx.Sleep(Millis(30));
                                --in_flight_;
                                ZLH_CO_RETURN_IF_ERROR(s);
                                if (order) order->push_back(ctx.input());
                                co_return ctx.input();
                              })
                    .ok());
  }
  std::unique_ptr<Queues> queues_;
  int in_flight_ = 0;
};

TEST_F(QueuesTest, LimitKeepsTheRestQueuedInArrivalOrder) {
  std::vector<std::string> order;
  int max_in_flight = 0;
  RegisterNap(&order, &max_in_flight);
  std::vector<std::string> ids;
  for (const char* input : {"a", "b", "c"}) ids.push_back(StartOk("prov", input));
  EXPECT_EQ(engine_->Summary(ids[2])->status(), proto::QUEUED);
  EXPECT_EQ(engine_->Summary(ids[2])->waiting_for().kind(), "queue");
  EXPECT_EQ(queues_->stats()["provision"].queued, 2u);
  EXPECT_EQ(queues_->stats()["provision"].running, 1u);
  for (auto& id : ids) AwaitEnd(id);
  EXPECT_EQ(max_in_flight, 1);
  EXPECT_EQ(order, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(queues_->stats()["provision"].running, 0u);
}

TEST_F(QueuesTest, QueuedWorkflowsSurviveARestartInOrder) {
  std::vector<std::string> order;
  RegisterNap(&order);
  std::string a = StartOk("prov", "a"), b = StartOk("prov", "b"), c = StartOk("prov", "c");
  EXPECT_TRUE(journal_->Get(journal::Cf::kIndex, journal::StatusIndexKey(proto::QUEUED, c))
                  ->has_value());
  RestartWithNewQueues();
  EXPECT_EQ(AwaitEnd(a).result(), "a");
  EXPECT_EQ(AwaitEnd(b).result(), "b");
  EXPECT_EQ(AwaitEnd(c).result(), "c");
  EXPECT_EQ(order, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_FALSE(journal_->Get(journal::Cf::kIndex, journal::StatusIndexKey(proto::QUEUED, c))
                   ->has_value());
}

TEST_F(QueuesTest, CancellingAQueuedWorkflowEndsItAtOnce) {
  RegisterNap();
  std::string a = StartOk("prov"), b = StartOk("prov");
  ASSERT_TRUE(Await(engine_->Cancel(b, "not needed")).ok());
  EXPECT_EQ(engine_->Summary(b)->status(), proto::CANCELLED);
  EXPECT_EQ(queues_->stats()["provision"].queued, 0u);
  EXPECT_EQ(AwaitEnd(a).status(), proto::COMPLETED);
  EXPECT_FALSE(journal_->Get(journal::Cf::kIndex, journal::StatusIndexKey(proto::QUEUED, b))
                   ->has_value());
}

TEST_F(QueuesTest, UnnamedQueuesGetTheDefaultLimit) {
  Queues q({{"provision", 1}}, 7);
  q.Resumed("repair");
  EXPECT_EQ(q.stats()["repair"].limit, 7u);
  EXPECT_EQ(q.stats()["repair"].running, 1u);
}

}  // namespace
}  // namespace zlh::scheduler

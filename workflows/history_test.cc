#include "workflows/history.h"

#include <gtest/gtest.h>

namespace zlh::workflows {
namespace {

class HistoryBuilder {
 public:
  HistoryBuilder() {
    proto::Event e;
    e.mutable_workflow_started()->set_type("t");
    Add(std::move(e));
  }
  HistoryBuilder& Completed(uint32_t step, std::string name, std::string result) {
    proto::Event e;
    e.mutable_step_completed()->set_step(step);
    e.mutable_step_completed()->set_name(std::move(name));
    e.mutable_step_completed()->set_result(std::move(result));
    return Add(std::move(e));
  }
  HistoryBuilder& Failed(uint32_t step, uint32_t attempt, Code code, int64_t retry_at) {
    proto::Event e;
    auto* f = e.mutable_step_failed();
    f->set_step(step);
    f->set_name("s");
    f->set_attempt(attempt);
    StatusToProto(Status(code, "x"), f->mutable_error());
    f->set_retry_at_ms(retry_at);
    return Add(std::move(e));
  }
  HistoryBuilder& Retried() {
    proto::Event e;
    e.mutable_workflow_retried();
    return Add(std::move(e));
  }
  HistoryBuilder& Add(proto::Event e) {
    e.set_seq(events.size() + 1);
    events.push_back(std::move(e));
    return *this;
  }
  std::vector<proto::Event> events;
};

TEST(HistoryTest, FoldsResultsAndFailures) {
  HistoryBuilder b;
  b.Completed(1, "a", "ra").Failed(2, 1, Code::kUnavailable, 5000).Failed(2, 2, Code::kUnavailable, 0);
  auto h = History::Fold(b.events);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(*h->steps[1].result, "ra");
  EXPECT_EQ(h->steps[2].attempts, 2u);
  ASSERT_TRUE(h->steps[2].final_error);
  EXPECT_EQ(h->steps[2].final_error->code(), Code::kUnavailable);
}

TEST(HistoryTest, RetriedClearsFinalFailuresButKeepsAttemptNumbers) {
  HistoryBuilder b;
  b.Failed(1, 1, Code::kUnavailable, 0).Retried();
  auto h = History::Fold(b.events);
  ASSERT_TRUE(h.ok());
  EXPECT_FALSE(h->steps[1].final_error);
  EXPECT_EQ(h->steps[1].attempts, 1u);
  EXPECT_EQ(h->steps[1].attempts_since_retry, 0u);
}

TEST(HistoryTest, GapIsCorruption) {
  HistoryBuilder b;
  b.Completed(1, "a", "x");
  b.events.back().set_seq(5);
  auto h = History::Fold(b.events);
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().code(), Code::kCorruption);
  EXPECT_NE(h.status().message().find("gap"), std::string::npos);
}

TEST(HistoryTest, ConsumedSignalsLeaveTheQueue) {
  HistoryBuilder b;
  proto::Event s1, s2;
  s1.mutable_signal_received()->set_name("go");
  s1.mutable_signal_received()->set_payload("first");
  s2.mutable_signal_received()->set_name("go");
  s2.mutable_signal_received()->set_payload("second");
  b.Add(s1).Add(s2);
  proto::Event consumed;
  consumed.mutable_step_completed()->set_step(1);
  consumed.mutable_step_completed()->set_name("signal:go");
  consumed.mutable_step_completed()->set_consumed_seq(2);
  b.Add(consumed);
  auto h = History::Fold(b.events);
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h->signals["go"].size(), 1u);
  EXPECT_EQ(h->signals["go"].front().second, "second");
}

}  // namespace
}  // namespace zlh::workflows

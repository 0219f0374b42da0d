// Context::Version: a step added to a workflow's code under instances in flight. An instance whose
// history went past the change point takes the old path and replays without a divergence; a new
// one records the new version and takes the new step, also on replay.
#include <gtest/gtest.h>

#include <atomic>
#include <vector>

#include "workflows/engine.h"
#include "workflows/engine_fixture.h"
#include "workflows/verify.h"

namespace zlh::workflows {
namespace {

class EngineVersionTest : public EngineFixture {
 protected:
  // "w": step a, [v2: the version point, then step c when it takes 1], step b, a signal, step d.
  void SetUp() override {
    EngineFixture::SetUp();
    auto step = [this](Context& ctx, std::string name) -> Task<Status> {
      auto r = co_await ctx.Step(name, [this, name](const StepInfo&) -> Task<Result<std::string>> {
        ran_.push_back(name);
        co_return name;
      });
      co_return r.ok() ? Status::Ok() : r.status();
    };
    ASSERT_TRUE(registry_
                    .Register("w", "default",
                              [this, step](Context& ctx) -> Task<Result<std::string>> {
                                ZLH_CO_RETURN_IF_ERROR(co_await step(ctx, "a"));
                                if (code_ >= 2) {
                                  auto v = co_await ctx.Version("add-c", min_, max_);
                                  if (!v.ok()) co_return v.status();
                                  if (*v >= 1) ZLH_CO_RETURN_IF_ERROR(co_await step(ctx, "c"));
                                }
                                ZLH_CO_RETURN_IF_ERROR(co_await step(ctx, "b"));
                                auto go = co_await ctx.WaitSignal("go", Millis(60'000));
                                if (!go.ok()) co_return go.status();
                                ZLH_CO_RETURN_IF_ERROR(co_await step(ctx, "d"));
                                co_return "done";
                              })
                    .ok());
  }
  // Starts an instance and runs it to its signal wait.
  std::string StartToTheSignal() {
    std::string id = StartOk("w");
    EXPECT_TRUE(RunUntil([&] {
      auto s = engine_->Summary(id);
      return s.ok() && s->waiting_for().kind() == "signal";
    }));
    return id;
  }
  proto::WorkflowSummary SignalAndEnd(const std::string& id) {
    EXPECT_TRUE(Await(engine_->Signal(id, "go", "")).ok());
    return AwaitEnd(id);
  }

  int code_ = 1;
  int min_ = 0;
  int max_ = 1;
  std::vector<std::string> ran_;
};

TEST_F(EngineVersionTest, AnInstancePastTheChangeTakesTheOldPathWithoutADivergence) {
  std::string id = StartToTheSignal();  // a and b recorded by the old code
  code_ = 2;
  Restart();
  proto::WorkflowSummary s = SignalAndEnd(id);
  EXPECT_EQ(s.status(), proto::COMPLETED) << s.error().message();
  EXPECT_EQ(ran_, (std::vector<std::string>{"a", "b", "d"}));
  for (const auto& e : Events(id)) {
    if (e.has_step_completed()) EXPECT_NE(e.step_completed().name(), "zlh.version add-c");
  }
  EXPECT_TRUE(Verify(*journal_)->empty());
}

TEST_F(EngineVersionTest, ANewInstanceRecordsTheNewVersionAndReplaysIt) {
  code_ = 2;
  std::string id = StartToTheSignal();
  Restart();  // replays a, the version, c and b without running them
  proto::WorkflowSummary s = SignalAndEnd(id);
  EXPECT_EQ(s.status(), proto::COMPLETED) << s.error().message();
  EXPECT_EQ(ran_, (std::vector<std::string>{"a", "c", "b", "d"}));
  int markers = 0;
  for (const auto& e : Events(id)) {
    if (e.has_step_completed() && e.step_completed().name() == "zlh.version add-c") {
      ++markers;
      EXPECT_EQ(e.step_completed().result(), "1");
    }
  }
  EXPECT_EQ(markers, 1);
}

TEST_F(EngineVersionTest, CodeThatDroppedTheOldVersionRefusesAnOldHistory) {
  code_ = 2;
  std::string id = StartToTheSignal();  // records version 1
  min_ = max_ = 2;                     // code that supports only version 2 of the change
  Restart();
  proto::WorkflowSummary s = AwaitEnd(id);
  EXPECT_EQ(s.status(), proto::FAILED);
  EXPECT_EQ(s.error().code(), "non_determinism");
  EXPECT_NE(s.error().message().find("version 1 of change 'add-c', the code supports 2 to 2"),
            std::string::npos)
      << s.error().message();
}

}  // namespace
}  // namespace zlh::workflows

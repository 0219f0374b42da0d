// CheckUpgrade: the workflows that may still run are replayed with the new code; those it cannot
// continue are listed with why, the rest (and every finished one) are not.
#include "workflows/upgrade.h"

#include <gtest/gtest.h>

#include "workflows/engine_fixture.h"

namespace zlh::workflows {
namespace {

// "w": step `first`, [behind a version marker: step c], a signal, step b.
WorkflowFn Code(std::string first, bool versioned_c) {
  return [first, versioned_c](Context& ctx) -> Task<Result<std::string>> {
    auto step = [&ctx](std::string name) -> Task<Status> {
      auto r = co_await ctx.Step(name, [name](const StepInfo&) -> Task<Result<std::string>> {
        co_return name;
      });
      co_return r.ok() ? Status::Ok() : r.status();
    };
    ZLH_CO_RETURN_IF_ERROR(co_await step(first));
    auto go = co_await ctx.WaitSignal("go", Millis(60'000));
    if (!go.ok()) co_return go.status();
    if (versioned_c) {
      auto v = co_await ctx.Version("add-c", 0, 1);
      if (!v.ok()) co_return v.status();
      if (*v >= 1) ZLH_CO_RETURN_IF_ERROR(co_await step("c"));
    }
    ZLH_CO_RETURN_IF_ERROR(co_await step("b"));
    co_return "done";
  };
}

// "failing": step `first`, then fails for good.
WorkflowFn Failing(std::string first) {
  return [first](Context& ctx) -> Task<Result<std::string>> {
    auto r = co_await ctx.Step(first, [first](const StepInfo&) -> Task<Result<std::string>> {
      co_return first;
    });
    if (!r.ok()) co_return r.status();
    co_return FailedPrecondition("the server is gone");
  };
}

class UpgradeCheckTest : public EngineFixture {
 protected:
  void SetUp() override {
    ASSERT_TRUE(registry_.Register("w", "default", Code("a", false)).ok());
    ASSERT_TRUE(registry_.Register("legacy", "default", Code("a", false)).ok());
    ASSERT_TRUE(registry_.Register("failing", "default", Failing("a")).ok());
    EngineFixture::SetUp();
  }
  std::string StartToTheSignal(const std::string& type) {
    std::string id = StartOk(type);
    EXPECT_TRUE(RunUntilDurably(id, proto::WAITING));
    return id;
  }
  UpgradeReport Check(const Registry& next) {
    auto report = CheckUpgrade(next, *journal_);
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    return report.ok() ? *report : UpgradeReport();
  }
};

TEST_F(UpgradeCheckTest, ListsOnlyTheWorkflowsTheNewCodeCannotContinue) {
  std::string waiting = StartToTheSignal("w");
  std::string finished = StartToTheSignal("w");
  ASSERT_TRUE(Await(engine_->Signal(finished, "go", "")).ok());
  ASSERT_EQ(AwaitEnd(finished).status(), proto::COMPLETED);
  std::string dropped = StartToTheSignal("legacy");

  // A step added behind a version marker, the type "legacy" dropped.
  Registry v2;
  ASSERT_TRUE(v2.Register("w", "default", Code("a", true)).ok());
  UpgradeReport report = Check(v2);
  EXPECT_EQ(report.checked, 2u);  // the finished one is not replayed
  ASSERT_EQ(report.blocked.size(), 1u);
  EXPECT_EQ(report.blocked[0].id, dropped);
  EXPECT_EQ(report.blocked[0].type, "legacy");
  EXPECT_EQ(report.blocked[0].status, proto::WAITING);
  EXPECT_NE(report.blocked[0].reason.find("has type 'legacy', which this build does not register"),
            std::string::npos)
      << report.blocked[0].reason;

  // A recorded step renamed without a marker: the waiting "w" cannot go on.
  Registry v3;
  ASSERT_TRUE(v3.Register("w", "default", Code("a2", true)).ok());
  ASSERT_TRUE(v3.Register("legacy", "default", Code("a", false)).ok());
  report = Check(v3);
  ASSERT_EQ(report.blocked.size(), 1u);
  EXPECT_EQ(report.blocked[0].id, waiting);
  EXPECT_NE(report.blocked[0].reason.find("'a'"), std::string::npos) << report.blocked[0].reason;
  EXPECT_NE(report.blocked[0].reason.find("'a2'"), std::string::npos) << report.blocked[0].reason;
}

// A failed workflow may be retried from its failed step: the new code must follow it too.
TEST_F(UpgradeCheckTest, AFailedWorkflowIsCheckedForItsRetry) {
  std::string id = StartOk("failing");
  ASSERT_EQ(AwaitEnd(id).status(), proto::FAILED);
  Registry same;
  ASSERT_TRUE(same.Register("failing", "default", Failing("a")).ok());
  UpgradeReport report = Check(same);
  EXPECT_EQ(report.checked, 1u);
  EXPECT_TRUE(report.blocked.empty());
  Registry renamed;
  ASSERT_TRUE(renamed.Register("failing", "default", Failing("a2")).ok());
  report = Check(renamed);
  ASSERT_EQ(report.blocked.size(), 1u);
  EXPECT_EQ(report.blocked[0].id, id);
  EXPECT_EQ(report.blocked[0].status, proto::FAILED);
}

}  // namespace
}  // namespace zlh::workflows

// A backup (journal checkpoint) taken while workflows write is a consistent journal of its own.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "workflows/engine_fixture.h"
#include "workflows/verify.h"

namespace zlh::workflows {
namespace {

using BackupTest = EngineFixture;

TEST_F(BackupTest, BackupUnderWriteLoadPassesVerify) {
  int calls = 0;
  ASSERT_TRUE(registry_
                  .Register("busy", "default",
                            [&](Context& ctx) -> Task<Result<std::string>> {
                              // Held until every one has started (starting 200 runs the loop).
                              auto go = co_await ctx.WaitSignal("go", Millis(120'000));
                              if (!go.ok()) co_return go.status();
                              for (int i = 0; i < 5; ++i) {
                                auto r = co_await ctx.Step(
                                    "step" + std::to_string(i),
                                    [&](const StepInfo&) -> Task<Result<std::string>> {
                                      ++calls;
                                      co_return "x";
                                    });
                                if (!r.ok()) co_return r.status();
                                ZLH_CO_RETURN_IF_ERROR(co_await ctx.Sleep(Millis(20)));
                              }
                              co_return "done";
                            })
                  .ok());
  std::vector<std::string> ids;
  for (int i = 0; i < 200; ++i) ids.push_back(StartOk("busy", "", "busy-" + std::to_string(i)));
  ASSERT_EQ(calls, 0);
  for (const auto& id : ids) {  // all at once: awaiting each would run the released ones
    boost::asio::co_spawn(*io_, engine_->Signal(id, "go", ""), boost::asio::detached);
  }
  constexpr int kTotal = 200 * 5;
  int copies = 0, mid_flight = 0;
  while (copies < 5) {
    // Let the workflows write a little, then copy in the middle of it.
    ASSERT_TRUE(RunUntil([&, target = calls + 50] { return calls >= target || calls == kTotal; }));
    mid_flight += calls < kTotal;
    std::string dir = dir_.Sub("backup-" + std::to_string(copies++));
    ASSERT_TRUE(journal_->Checkpoint(dir).ok());
    auto copy = journal::Journal::Open(dir);
    ASSERT_TRUE(copy.ok()) << copy.status().ToString();
    auto violations = Verify(**copy);
    ASSERT_TRUE(violations.ok());
    for (const auto& v : *violations) ADD_FAILURE() << v.subject << ": " << v.what;
  }
  EXPECT_GE(mid_flight, 1);  // at least one copy was taken while work was still going on
  for (const auto& id : ids) EXPECT_EQ(AwaitEnd(id).status(), proto::COMPLETED);
}

}  // namespace
}  // namespace zlh::workflows

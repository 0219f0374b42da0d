// The README's example workflow, compiled and run so that the README stays true.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "base/temp_dir.h"
#include "workflows/engine.h"

using namespace zlh;
using namespace zlh::workflows;

namespace {

// ---- from README.md ----
Task<Result<std::string>> RestartServer(Context& ctx) {
  RetryPolicy policy;               // 5 attempts, exponential backoff from 200 ms
  policy.attempt_timeout = Millis(30'000);  // a late attempt is cancelled and awaited: none overlap
  auto stopped = co_await ctx.Step("stop_container", [&](const StepInfo& info) -> Task<Result<std::string>> {
    // info.idempotency_key is "<workflowId>:<step>": the same on every attempt and after a crash.
    // Capturing by reference is safe: no attempt outlives its Step call. An activity lets a
    // cancellation through (its pending I/O aborts) instead of catching it and carrying on.
    co_return "stopped " + ctx.input();
  }, policy);
  if (!stopped.ok()) co_return stopped.status();
  ZLH_CO_RETURN_IF_ERROR(co_await ctx.Sleep(Millis(2'000)));   // a durable timer
  auto started = co_await ctx.Step("start_container", [&](const StepInfo&) -> Task<Result<std::string>> {
    co_return "started " + ctx.input();
  }, policy);
  if (!started.ok()) co_return started.status();
  co_return *stopped + ", " + *started;
}
// ---- end ----

TEST(ReadmeExampleTest, RestartServerRuns) {
  TempDir dir;
  auto journal = journal::Journal::Open(dir.Sub("journal"));
  ASSERT_TRUE(journal.ok());
  Registry registry;
  ASSERT_TRUE(registry.Register("restart", "operation", RestartServer).ok());
  boost::asio::io_context io;
  Engine engine(io, **journal, registry);
  auto future = boost::asio::co_spawn(
      io,
      [&]() -> Task<Result<proto::WorkflowSummary>> {
        ZLH_CO_RETURN_IF_ERROR(co_await engine.Recover());
        StartRequest request{"restart", "survival", "srv-1:restart:nonce-7"};
        auto id = co_await engine.Start(std::move(request));
        if (!id.ok()) co_return id.status();
        co_return co_await engine.AwaitTerminal(id->id);
      },
      boost::asio::use_future);
  io.run();
  auto summary = future.get();
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_EQ(summary->status(), proto::COMPLETED);
  EXPECT_EQ(summary->result(), "stopped survival, started survival");
}

}  // namespace

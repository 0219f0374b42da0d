// Cron: one start per tick with a dedup key per tick, and a slow run makes later ticks skip
// instead of queueing behind it.
#include "scheduler/cron.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <set>

#include "journal/format.h"
#include "workflows/engine_fixture.h"

namespace zlh::scheduler {
namespace {

using CronTest = workflows::EngineFixture;

TEST_F(CronTest, SlowRunsMakeTicksCollapseInsteadOfPilingUp) {
  int running = 0, most = 0, runs = 0;
  ASSERT_TRUE(registry_
                  .Register("tick", "control",
                            [&](workflows::Context& ctx) -> workflows::Task<Result<std::string>> {
                              ++runs;
                              most = std::max(most, ++running);
                              Status s = co_await ctx.Sleep(Millis(250));
                              --running;
                              if (!s.ok()) co_return s;
                              co_return ctx.input();
                            })
                  .ok());
  std::set<int64_t> ticks;
  Cron cron(*engine_, Millis(40), [&](int64_t tick) {
    ticks.insert(tick);
    workflows::StartRequest r;
    r.type = "tick";
    r.input = std::to_string(tick);
    r.dedup_key = "tick:" + std::to_string(tick);
    return r;
  });
  cron.Start();
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(1'200);
  RunUntil([&] { return std::chrono::steady_clock::now() > until; });
  cron.Stop();
  // The last run is still asleep: stop the engine here, while the counters it touches live.
  Close(Millis(5'000));
  EXPECT_EQ(most, 1) << "two ticks ran at once";
  EXPECT_GE(runs, 2);
  EXPECT_LE(runs, 6) << "ticks piled up: " << runs << " runs of 250 ms in 1.2 s";
  EXPECT_EQ(static_cast<size_t>(runs), ticks.size());
  // Each tick's dedup key is in the index: a restart could not fire it again.
  Open();
  for (int64_t t : ticks) {
    EXPECT_TRUE(journal_->Get(journal::Cf::kIndex, journal::DedupIndexKey("tick:" + std::to_string(t)))
                    ->has_value());
  }
}

}  // namespace
}  // namespace zlh::scheduler

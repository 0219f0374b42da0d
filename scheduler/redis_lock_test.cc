// RedisLock against a real redis-server: one holder at a time, fencing tokens that only grow (also
// across a Redis that lost its keys), release on stop, a holder that cannot renew stops acting at
// once (long before its ttl), a lock taken again once Redis is back, and a lock taken in a Redis
// that lost its state not acted on for one ttl.
#include "scheduler/redis_lock.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "base/clock.h"
#include "tests/eventually.h"
#include "tests/redis_process.h"

namespace zlh::scheduler {
namespace {

using namespace std::chrono_literals;

RedisLockOptions Fast(std::string owner) {
  RedisLockOptions o;
  o.owner = std::move(owner);
  o.key = "test:lock";
  o.ttl = Millis(1'500);
  o.renew = Millis(300);
  o.connect_timeout = Millis(300);
  return o;
}

TEST(RedisUrlTest, ParsesAndRefuses) {
  auto u = ParseRedisUrl("redis://10.0.0.5:6380/2");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "10.0.0.5");
  EXPECT_EQ(u->port, 6380);
  EXPECT_EQ(u->db, 2);
  for (const char* bad : {"http://x:1", "redis://x", "redis://x:0", "redis://x:99999", "redis://x:1/abc",
                          "redis://:6379"}) {
    EXPECT_FALSE(ParseRedisUrl(bad).ok()) << bad;
  }
}

TEST(RedisLockTest, OneHolderAtATimeAndTokensOnlyGrow) {
  RedisServer redis;
  auto url = *ParseRedisUrl(redis.url());
  std::atomic<int> changes{0};
  auto a = std::make_unique<RedisLock>(url, Fast("a"), [&](bool, uint64_t) { ++changes; });
  a->Start();
  ASSERT_TRUE(Eventually([&] { return a->held(); }));
  uint64_t first = a->token();
  EXPECT_GE(first, static_cast<uint64_t>(NowMs() - 60'000));  // max(stored + 1, wall-clock ms)
  RedisLock b(url, Fast("b"), nullptr);
  b.Start();
  std::this_thread::sleep_for(2s);  // past a's ttl: a renews, b never gets it
  EXPECT_TRUE(a->held());
  EXPECT_FALSE(b.held());
  a.reset();  // releases
  ASSERT_TRUE(Eventually([&] { return b.held(); }));
  EXPECT_GT(b.token(), first);
}

TEST(RedisLockTest, AHolderThatCannotRenewStopsBeforeItsTtlAndComesBack) {
  RedisServer redis;
  auto url = *ParseRedisUrl(redis.url());
  RedisLock a(url, Fast("a"), nullptr);
  a.Start();
  ASSERT_TRUE(Eventually([&] { return a.held(); }));
  uint64_t before = a.token();
  redis.Stop();
  auto stopped = std::chrono::steady_clock::now();
  ASSERT_TRUE(Eventually([&] { return !a.held(); }));
  // The next renewal (every 300 ms) fails and stops it, well inside the ttl (1.5 s) and its margin.
  EXPECT_LT(std::chrono::steady_clock::now() - stopped, 900ms) << "acted on after a failed renewal";
  EXPECT_FALSE(a.may_act());
  EXPECT_LE(a.time_left(), Millis(1'500));
  EXPECT_TRUE(Eventually([&] { return !a.redis_ok(); }));
  redis.Start();  // a Redis that lost everything, the token counter included
  ASSERT_TRUE(Eventually([&] { return a.held(); }));
  EXPECT_GT(a.token(), before) << "a token went backwards after Redis lost its counter";
  EXPECT_TRUE(a.redis_ok());
}

// Redis restarted empty under a holder: the lock taken again then waits one ttl before it is acted
// on, since a previous holder (had it been another node) cannot know yet that its lock is gone.
TEST(RedisLockTest, ALockTakenInARedisThatLostItsStateIsNotActedOnForOneTtl) {
  RedisServer redis;
  auto url = *ParseRedisUrl(redis.url());
  RedisLock a(url, Fast("a"), nullptr);
  a.Start();
  ASSERT_TRUE(Eventually([&] { return a.held(); }));
  ASSERT_TRUE(Eventually([&] { return a.waiting_until_ms() == 0; }));
  redis.Restart();
  int64_t waiting_until = 0;
  ASSERT_TRUE(Eventually([&] { return (waiting_until = a.waiting_until_ms()) != 0; }))
      << "acted on a lock taken in a Redis that lost its state without waiting";
  EXPECT_GE(waiting_until, NowMs() + 1'000) << "waits less than a ttl (1.5 s)";
  while (!a.held()) {
    EXPECT_FALSE(a.may_act());
    ASSERT_LT(NowMs(), waiting_until + 10'000) << "never acted after its wait";
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_GE(NowMs(), waiting_until) << "acted before one ttl had passed";
  EXPECT_TRUE(a.may_act());
  EXPECT_EQ(a.waiting_until_ms(), 0);
}

}  // namespace
}  // namespace zlh::scheduler

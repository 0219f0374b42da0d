// RedisLock against a real redis-server: one holder at a time, fencing tokens that only grow (also
// across a Redis that lost its keys), release on stop, a holder that cannot renew stops acting at
// once (long before its ttl), a lock taken again once Redis is back, a lock taken in a Redis
// that lost its state not acted on for one ttl, and AUTH: with requirepass and with an ACL user,
// refused credentials never leading.
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

TEST(RedisUrlTest, TakesAUserAndAPasswordPercentDecoded) {
  auto both = ParseRedisUrl("redis://zlh:p%40ss%2Fw0rd@10.0.0.5:6380/1");
  ASSERT_TRUE(both.ok()) << both.status().ToString();
  EXPECT_EQ(both->user, "zlh");
  EXPECT_EQ(both->password, "p@ss/w0rd");
  EXPECT_EQ(both->host, "10.0.0.5");
  EXPECT_EQ(both->port, 6380);
  EXPECT_EQ(both->db, 1);
  auto password_only = ParseRedisUrl("redis://:s3cret@127.0.0.1:6379");
  ASSERT_TRUE(password_only.ok());
  EXPECT_EQ(password_only->user, "");
  EXPECT_EQ(password_only->password, "s3cret");
  auto user_only = ParseRedisUrl("redis://zlh@127.0.0.1:6379");  // the password from a file
  ASSERT_TRUE(user_only.ok());
  EXPECT_EQ(user_only->user, "zlh");
  EXPECT_EQ(user_only->password, "");
  // Unencoded '@' and '/' in a password: the last '@' ends the credentials.
  auto raw = ParseRedisUrl("redis://zlh:a@b/c@127.0.0.1:6379/2");
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->password, "a@b/c");
  EXPECT_EQ(raw->db, 2);
}

TEST(RedisUrlTest, ARefusedUrlIsNotSaidBackWithItsPassword) {
  for (const char* bad : {"redis://zlh:Sekr1t-Pw@host", "redis://:Sekr1t-Pw@host:0",
                          "rediss://zlh:Sekr1t-Pw@host:6379", "redis://zlh:Sekr1t-Pw@host:1/x"}) {
    auto u = ParseRedisUrl(bad);
    ASSERT_FALSE(u.ok()) << bad;
    EXPECT_EQ(u.status().message().find("Sekr1t-Pw"), std::string::npos) << u.status().message();
    EXPECT_NE(u.status().message().find("***"), std::string::npos) << u.status().message();
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

// `redis`'s URL with AUTH credentials.
RedisUrl WithCredentials(const RedisServer& redis, std::string password, std::string user = "") {
  RedisUrl url = *ParseRedisUrl(redis.url());
  url.password = std::move(password);
  url.user = std::move(user);
  return url;
}

// Redis with requirepass: the URL's password takes the lock; a wrong one, or none, never does and
// says so (auth refused, not unreachable).
TEST(RedisLockTest, RequirepassTakesTheRightPasswordOnly) {
  RedisServer redis({"--requirepass", "S3cret-pw"});
  RedisLock right(WithCredentials(redis, "S3cret-pw"), Fast("right"), nullptr);
  right.Start();
  ASSERT_TRUE(Eventually([&] { return right.held(); })) << "AUTH with the right password";
  EXPECT_EQ(right.redis_state(), RedisState::kOk);

  for (const char* password : {"wrong", ""}) {
    RedisLock refused(WithCredentials(redis, password), Fast(std::string("refused-") + password),
                      nullptr);
    refused.Start();
    ASSERT_TRUE(Eventually([&] { return refused.redis_state() == RedisState::kAuthRefused; }))
        << "password '" << password << "'";
    EXPECT_FALSE(refused.held());
  }
}

// An ACL user (the default user disabled): AUTH USER PASSWORD; the same password without the user
// is refused.
TEST(RedisLockTest, AnAclUserAuthenticatesWithItsName) {
  RedisServer redis(
      {"--user", "default", "off", "--user", "zlh", "on", ">Zlh-acl-pw", "~*", "+@all"});
  RedisLock anonymous(WithCredentials(redis, "Zlh-acl-pw"), Fast("anonymous"), nullptr);
  anonymous.Start();
  ASSERT_TRUE(Eventually([&] { return anonymous.redis_state() == RedisState::kAuthRefused; }));
  RedisLock named(WithCredentials(redis, "Zlh-acl-pw", "zlh"), Fast("named"), nullptr);
  named.Start();
  ASSERT_TRUE(Eventually([&] { return named.held(); })) << "AUTH zlh Zlh-acl-pw";
  EXPECT_FALSE(anonymous.held());
}

// Credentials are sent on every connection: a holder whose Redis restarted (with the same
// requirepass) takes the lock again.
TEST(RedisLockTest, CredentialsAreSentAgainAfterAReconnect) {
  RedisServer redis({"--requirepass", "S3cret-pw"});
  RedisLock a(WithCredentials(redis, "S3cret-pw"), Fast("a"), nullptr);
  a.Start();
  ASSERT_TRUE(Eventually([&] { return a.held(); }));
  redis.Restart();
  ASSERT_TRUE(Eventually([&] { return !a.held(); }));
  ASSERT_TRUE(Eventually([&] { return a.held(); })) << "not authenticated after reconnecting";
  EXPECT_EQ(a.redis_state(), RedisState::kOk);
}

}  // namespace
}  // namespace zlh::scheduler

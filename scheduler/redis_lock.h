// RedisLock: the node lock of SPEC §6.4 on Redis. `SET key value NX PX ttl`, renewed every
// `renew` and released only by compare-on-value scripts; each acquisition takes a fencing token in
// the same script, max(stored token + 1, the acquirer's wall-clock ms), written back — so tokens
// keep increasing even after a restarted Redis lost the counter.
//
// A background thread (hiredis is blocking) acquires, renews and re-acquires after Redis comes
// back; it never stops trying. The lock counts as held only until `ttl - margin` after the start
// (monotonic clock) of the last call that confirmed it, so a node that cannot renew stops acting
// before its lock could have expired; `on_change` tells the node when it gains or loses it.
//
// Thread-safety: held(), token() and redis_ok() may be called from any thread; callbacks run on
// the lock's thread and must only post work elsewhere.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "base/duration.h"
#include "base/status.h"

namespace zlh::scheduler {

struct RedisUrl {
  std::string host;
  uint16_t port = 6379;
  int db = 0;
};
// "redis://HOST:PORT[/DB]". kInvalidArgument saying what is wrong otherwise.
Result<RedisUrl> ParseRedisUrl(const std::string& url);

struct RedisLockOptions {
  std::string key = "zlh:controller";  // the token is kept at key + ":token"
  std::string owner;                    // this node's unique value
  Millis ttl{15'000};
  Millis renew{5'000};
  Millis connect_timeout{1'000};
};

class RedisLock {
 public:
  RedisLock(RedisUrl url, RedisLockOptions options,
            std::function<void(bool held, uint64_t token)> on_change);
  // Stops trying and releases the lock if held.
  ~RedisLock();
  RedisLock(const RedisLock&) = delete;
  RedisLock& operator=(const RedisLock&) = delete;

  void Start();
  bool held() const { return held_.load(); }
  uint64_t token() const { return token_.load(); }
  bool redis_ok() const { return redis_ok_.load(); }
  Millis ttl() const { return options_.ttl; }

 private:
  struct Conn;
  void Loop();
  void SetHeld(bool held, uint64_t token);

  RedisUrl url_;
  RedisLockOptions options_;
  std::function<void(bool, uint64_t)> on_change_;
  std::atomic<bool> held_{false};
  std::atomic<uint64_t> token_{0};
  std::atomic<bool> redis_ok_{false};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace zlh::scheduler

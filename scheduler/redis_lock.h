// RedisLock: the node lock of SPEC §6.4 on Redis. `SET key value NX PX ttl`, renewed every
// `renew` and released only by compare-on-value scripts; each acquisition takes a fencing token in
// the same script, max(stored token + 1, the acquirer's wall-clock ms), written back — so tokens
// keep increasing even after a restarted Redis lost the counter.
//
// A background thread (hiredis is blocking) acquires, renews and re-acquires after Redis comes
// back; it never stops trying. With credentials it sends AUTH on every (re)connect before anything
// else; refused credentials are treated like an unreachable Redis (the node does not act) but
// said as such, once, and retried every `renew` (an operator may fix the ACL without a restart).
// The node may act (held()) only while its last renewal succeeded, and only until `ttl - margin`
// after the start (monotonic clock) of the last call that confirmed the lock: a renewal that fails
// for any reason, or comes back too late (a paused process), stops it at once, well before the lock
// could have expired in Redis. A lock taken in a Redis that lost its state (the token key was
// absent) is not acted on for one ttl, since the previous holder may still believe in its own lock
// until then (waiting_until_ms()). `on_change` tells the node when it gains or loses the right to
// act; may_act() is the same answer read at the moment of asking, for callers that must not wait
// for the change to reach them.
//
// Thread-safety: the const accessors may be called from any thread; callbacks run on the lock's
// thread and must only post work elsewhere.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "base/duration.h"
#include "base/status.h"
#include "scheduler/redis_connection.h"

namespace zlh::scheduler {

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
  // This node may act: the lock is confirmed, not waiting out a lost Redis (as last decided on the
  // lock's thread).
  bool held() const { return held_.load(); }
  // held(), and the confirmation has not lapsed on the monotonic clock by now.
  bool may_act() const;
  // Until the lock could have expired in Redis (start of the last confirming call + ttl), from now;
  // 0 when it is not held.
  Millis time_left() const;
  uint64_t token() const { return token_.load(); }
  bool redis_ok() const { return redis_state() == RedisState::kOk; }
  RedisState redis_state() const { return redis_state_.load(); }
  // Wall-clock ms until which a lock taken in a Redis that lost its state is not acted on; 0 when
  // not waiting.
  int64_t waiting_until_ms() const { return waiting_until_ms_.load(); }
  Millis ttl() const { return options_.ttl; }

 private:
  using Clock = std::chrono::steady_clock;
  void Loop();
  // One acquire or renew call and what its answer means.
  void Acquire(RedisConnection& conn);
  void Renew(RedisConnection& conn);
  // Acts while the lock is owned, confirmed by the last call, not lapsed and not waiting out a
  // lost Redis; owns it until it could have expired.
  void Settle();
  // Sleeps until the next call is due (sooner while not acting), waking for a lapse or the wait's end.
  void Pause();
  void Confirmed(Clock::time_point started);
  // Logs a change of Redis's state (unreachable, credentials refused, back).
  void Report(RedisState now, const std::string& refusal);
  Clock::time_point ConfirmedAt() const;
  // How long before the lock could expire the node stops acting: a third of the ttl.
  Millis Margin() const { return options_.ttl / 3; }
  void SetHeld(bool held, uint64_t token);

  RedisUrl url_;
  RedisLockOptions options_;
  std::function<void(bool, uint64_t)> on_change_;
  std::atomic<bool> held_{false};
  std::atomic<uint64_t> token_{0};
  std::atomic<RedisState> redis_state_{RedisState::kUnknown};
  std::atomic<bool> stop_{false};
  // The start of the last call that confirmed the lock (steady clock, ns since its epoch).
  std::atomic<int64_t> confirmed_ns_{0};
  std::atomic<int64_t> waiting_until_ms_{0};
  // The lock's thread only: our value is (as far as we know) in Redis; when we may act after a
  // lost Redis (the epoch when not waiting).
  bool owned_ = false;
  bool confirmed_ = false;  // the last call confirmed the lock
  Clock::time_point wait_end_{};
  std::thread thread_;
};

}  // namespace zlh::scheduler

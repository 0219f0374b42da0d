#include "scheduler/redis_lock.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "base/clock.h"

namespace zlh::scheduler {
namespace {

// KEYS[1] lock, KEYS[2] token; ARGV[1] owner, ARGV[2] ttl ms, ARGV[3] wall-clock ms.
// Returns {token, 1 when the token key was absent (a Redis that lost its state)} when acquired,
// {0, 0} when another holds the lock.
constexpr char kAcquire[] = R"(
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local stored = redis.call('GET', KEYS[2])
  local token = math.max(tonumber(stored or '0') + 1, tonumber(ARGV[3]))
  redis.call('SET', KEYS[2], token)
  if stored then return {token, 0} end
  return {token, 1}
end
return {0, 0})";
// Renews only our own lock: 1 renewed, 0 not ours (any more).
constexpr char kRenew[] = R"(
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0)";
constexpr char kRelease[] = R"(
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0)";

}  // namespace

RedisLock::RedisLock(RedisUrl url, RedisLockOptions options,
                     std::function<void(bool, uint64_t)> on_change)
    : url_(std::move(url)), options_(std::move(options)), on_change_(std::move(on_change)) {}

RedisLock::~RedisLock() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void RedisLock::Start() {
  thread_ = std::thread([this] { Loop(); });
}

RedisLock::Clock::time_point RedisLock::ConfirmedAt() const {
  return Clock::time_point(Clock::duration(confirmed_ns_.load()));
}

bool RedisLock::may_act() const {
  return held_ && Clock::now() < ConfirmedAt() + options_.ttl - Margin();
}

Millis RedisLock::time_left() const {
  if (confirmed_ns_.load() == 0) return Millis(0);
  auto left = std::chrono::duration_cast<Millis>(ConfirmedAt() + options_.ttl - Clock::now());
  return std::max(left, Millis(0));
}

void RedisLock::SetHeld(bool held, uint64_t token) {
  if (held) token_ = token;
  bool was = held_.exchange(held);
  if (was != held && on_change_) on_change_(held, token);
}

void RedisLock::Confirmed(Clock::time_point started) {
  confirmed_ns_ = started.time_since_epoch().count();
  confirmed_ = true;
}

void RedisLock::Acquire(RedisConnection& conn) {
  auto started = Clock::now();
  auto answer =
      conn.Eval(kAcquire, options_.key, options_.key + ":token",
                {options_.owner, std::to_string(options_.ttl.count()), std::to_string(NowMs())});
  if (!answer || answer->size() != 2 || (*answer)[0] <= 0) return;
  owned_ = true;
  token_ = static_cast<uint64_t>((*answer)[0]);
  Confirmed(started);
  if ((*answer)[1] == 0) {
    spdlog::info("controller lock acquired, fencing token {}", token_.load());
    return;
  }
  // The previous holder's lock vanished with Redis's state, not by expiring: it may still act
  // until its own ttl runs out.
  wait_end_ = Clock::now() + options_.ttl;
  waiting_until_ms_ = NowMs() + options_.ttl.count();
  spdlog::warn("controller lock acquired (fencing token {}) in a Redis that lost its state: this "
               "node does not act before {} (one ttl, while the previous holder may still act)",
               token_.load(), FormatRfc3339(waiting_until_ms_));
}

void RedisLock::Renew(RedisConnection& conn) {
  auto started = Clock::now();
  auto answer = conn.Eval(kRenew, options_.key, options_.key + ":token",
                          {options_.owner, std::to_string(options_.ttl.count())});
  if (!answer || answer->empty()) {
    if (held_) spdlog::warn("controller lock could not be renewed: this node stops acting until it is");
    confirmed_ = false;
    SetHeld(false, 0);
    return;
  }
  if ((*answer)[0] != 1) {
    spdlog::warn("controller lock: no longer ours (taken by another node, or lost by Redis): this "
                 "node stops acting");
    owned_ = false;
    confirmed_ = false;
    SetHeld(false, 0);
    return;
  }
  if (held_ && Clock::now() >= ConfirmedAt() + options_.ttl - Margin()) {
    // Renewed, but after the node could no longer act (may_act() said no meanwhile, so a step may
    // have been refused): it stops, and takes the lock up again at once, recovering its work.
    spdlog::warn("controller lock renewed too late (a paused process or a slow Redis): this node "
                 "stops acting and starts again");
    SetHeld(false, 0);
  }
  Confirmed(started);
}

void RedisLock::Settle() {
  auto now = Clock::now();
  // Expired in Redis by now: it has to be acquired anew.
  if (owned_ && now >= ConfirmedAt() + options_.ttl) owned_ = false;
  bool valid = owned_ && confirmed_ && now < ConfirmedAt() + options_.ttl - Margin();
  if (held_ && !valid) {
    spdlog::warn("controller lock lapsed: not confirmed for {} (a paused process or an unanswered "
                 "Redis): this node stops acting",
                 FormatDuration(std::chrono::duration_cast<Millis>(now - ConfirmedAt())));
    SetHeld(false, 0);
  }
  // A wait after a lost Redis lasts its ttl even if the lock changes hands meanwhile: whoever held
  // it before the loss may act until then.
  bool waited = now >= wait_end_;
  if (!held_ && valid && waited) {
    if (waiting_until_ms_ != 0) spdlog::info("controller lock: waited one ttl, acting now");
    SetHeld(true, token_);
  }
  if (waited) waiting_until_ms_ = 0;
}

void RedisLock::Pause() {
  // Renew on schedule while acting; retry sooner while not, unless Redis refused the credentials
  // (they will not change by themselves soon).
  bool soon = !held_ && redis_state_ != RedisState::kAuthRefused;
  auto wait = soon ? std::min(options_.renew, Millis(500)) : options_.renew;
  auto until = Clock::now() + wait;
  while (!stop_ && Clock::now() < until) {
    bool was = held_;
    Settle();
    if (held_ != was) return;  // a change: ask Redis at once
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void RedisLock::Report(RedisState now, const std::string& refusal) {
  RedisState was = redis_state_.exchange(now);
  if (now == was) return;
  std::string where = url_.host + ":" + std::to_string(url_.port);
  switch (now) {
    case RedisState::kUnreachable:
      spdlog::error("redis at {} unreachable: the controller does not act until it is back", where);
      break;
    case RedisState::kAuthRefused:
      spdlog::error(
          "redis at {}: authentication failed{} ({}): the controller does not act "
          "(standby) until Redis accepts this node's credentials (the --redis URL's "
          "user and password, redis.passwordFile; Redis's requirepass or ACL)",
          where, url_.user.empty() ? "" : " for user '" + url_.user + "'", refusal);
      break;
    case RedisState::kOk:
      if (was != RedisState::kUnknown) spdlog::info("redis at {} answers again", where);
      break;
    case RedisState::kUnknown:
      break;
  }
}

void RedisLock::Loop() {
  RedisConnection conn(url_, options_.connect_timeout);
  while (!stop_) {
    conn.Connect();
    if (owned_) {
      Renew(conn);
    } else {
      Acquire(conn);
    }
    Report(conn.state(), conn.refusal());
    Settle();
    Pause();
  }
  if (owned_ && conn.connected()) {
    (void)conn.Eval(kRelease, options_.key, options_.key + ":token", {options_.owner});
  }
  SetHeld(false, 0);
}

}  // namespace zlh::scheduler

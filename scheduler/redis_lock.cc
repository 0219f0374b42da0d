#include "scheduler/redis_lock.h"

#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <vector>

#include "base/clock.h"

namespace zlh::scheduler {
namespace {

using Clock = std::chrono::steady_clock;

// KEYS[1] lock, KEYS[2] token; ARGV[1] owner, ARGV[2] ttl ms, ARGV[3] wall-clock ms.
// Returns the new token when acquired, 0 when another holds the lock.
constexpr char kAcquire[] = R"(
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local stored = tonumber(redis.call('GET', KEYS[2]) or '0')
  local token = math.max(stored + 1, tonumber(ARGV[3]))
  redis.call('SET', KEYS[2], token)
  return token
end
return 0)";
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

Result<RedisUrl> ParseRedisUrl(const std::string& url) {
  const std::string scheme = "redis://";
  if (url.rfind(scheme, 0) != 0) return InvalidArgument("'" + url + "' is not redis://HOST:PORT[/DB]");
  std::string rest = url.substr(scheme.size());
  RedisUrl out;
  size_t slash = rest.find('/');
  if (slash != std::string::npos) {
    std::string db = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
    char* end = nullptr;
    long v = std::strtol(db.c_str(), &end, 10);
    if (db.empty() || *end != '\0' || v < 0 || v > 15) {
      return InvalidArgument("'" + url + "': the database must be a number from 0 to 15");
    }
    out.db = static_cast<int>(v);
  }
  size_t colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return InvalidArgument("'" + url + "' is not redis://HOST:PORT[/DB]");
  }
  out.host = rest.substr(0, colon);
  std::string port = rest.substr(colon + 1);
  char* end = nullptr;
  long p = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || p < 1 || p > 65535) {
    return InvalidArgument("'" + url + "': the port must be a number from 1 to 65535");
  }
  out.port = static_cast<uint16_t>(p);
  return out;
}

struct RedisLock::Conn {
  redisContext* c = nullptr;
  ~Conn() {
    if (c) redisFree(c);
  }
  // A script's integer answer; nullopt when Redis did not answer (the connection is then dropped).
  std::optional<long long> Eval(const char* script, const std::string& k1, const std::string& k2,
                                const std::vector<std::string>& args) {
    if (!c) return std::nullopt;
    std::vector<const char*> argv = {"EVAL", script, "2", k1.c_str(), k2.c_str()};
    std::vector<size_t> lens = {4, std::strlen(script), 1, k1.size(), k2.size()};
    for (const auto& a : args) {
      argv.push_back(a.c_str());
      lens.push_back(a.size());
    }
    auto* reply = static_cast<redisReply*>(
        redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()));
    if (!reply) {
      redisFree(c);
      c = nullptr;
      return std::nullopt;
    }
    std::optional<long long> out;
    if (reply->type == REDIS_REPLY_INTEGER) out = reply->integer;
    if (reply->type == REDIS_REPLY_ERROR) spdlog::error("redis: {}", reply->str ? reply->str : "error");
    freeReplyObject(reply);
    return out;
  }
};

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

void RedisLock::SetHeld(bool held, uint64_t token) {
  if (held) token_ = token;
  bool was = held_.exchange(held);
  if (was != held && on_change_) on_change_(held, token);
}

void RedisLock::Loop() {
  Conn conn;
  const std::string lock = options_.key, token_key = options_.key + ":token";
  const std::string ttl = std::to_string(options_.ttl.count());
  // The lock is ours until `valid_until`: the start of the last confirming call plus ttl minus a
  // margin (a third of the ttl) in which the node stops its work.
  Clock::time_point valid_until{};
  const auto margin = options_.ttl / 3;
  bool logged_down = false;
  while (!stop_) {
    if (!conn.c) {
      timeval tv{static_cast<time_t>(options_.connect_timeout.count() / 1000),
                 static_cast<suseconds_t>((options_.connect_timeout.count() % 1000) * 1000)};
      conn.c = redisConnectWithTimeout(url_.host.c_str(), url_.port, tv);
      if (conn.c && !conn.c->err) {
        redisSetTimeout(conn.c, tv);
        if (url_.db != 0) {
          auto* r = static_cast<redisReply*>(redisCommand(conn.c, "SELECT %d", url_.db));
          if (r) freeReplyObject(r);
        }
      } else if (conn.c) {
        redisFree(conn.c);
        conn.c = nullptr;
      }
    }
    auto started = Clock::now();
    std::optional<long long> answer;
    if (held_) {
      answer = conn.Eval(kRenew, lock, token_key, {options_.owner, ttl});
      if (answer && *answer == 1) valid_until = started + options_.ttl - margin;
      if (answer && *answer == 0) {
        spdlog::warn("controller lock: taken by another node");
        SetHeld(false, 0);
      }
    } else {
      answer = conn.Eval(kAcquire, lock, token_key,
                         {options_.owner, ttl, std::to_string(NowMs())});
      if (answer && *answer > 0) {
        valid_until = started + options_.ttl - margin;
        spdlog::info("controller lock acquired, fencing token {}", *answer);
        SetHeld(true, static_cast<uint64_t>(*answer));
      }
    }
    redis_ok_ = answer.has_value();
    if (!answer && !logged_down) {
      spdlog::error("redis at {}:{} unreachable: the controller does not act until it is back",
                    url_.host, url_.port);
    }
    if (answer && logged_down) spdlog::info("redis reachable again");
    logged_down = !answer.has_value();
    if (held_ && Clock::now() >= valid_until) {
      spdlog::warn("controller lock could not be renewed in time: stopping work");
      SetHeld(false, 0);
    }
    // Renew on schedule while held; retry sooner while not.
    auto wait = held_ ? options_.renew : std::min(options_.renew, Millis(500));
    auto until = Clock::now() + wait;
    while (!stop_ && Clock::now() < until) {
      if (held_ && Clock::now() >= valid_until) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  if (held_ && conn.c) (void)conn.Eval(kRelease, lock, token_key, {options_.owner});
  SetHeld(false, 0);
}

}  // namespace zlh::scheduler

// RedisConnection: one blocking hiredis connection as the controller lock uses it (SPEC §6.4,
// §11): connect within a timeout, AUTH with the URL's credentials before anything else, SELECT the
// database, then EVAL scripts whose answers are integers. A failure is kept as a RedisState —
// unreachable, or credentials refused (with Redis's words, never the password) — and drops the
// connection, so that the next Connect starts over, AUTH included. Also the redis:// URL.
//
// Thread-safety: one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/duration.h"
#include "base/status.h"

struct redisContext;
struct redisReply;

namespace zlh::scheduler {

struct RedisUrl {
  std::string host;
  uint16_t port = 6379;
  int db = 0;
  std::string user;      // AUTH user (an ACL user); "": Redis's default user
  std::string password;  // AUTH password; "": no AUTH. A secret: never logged
};
// "redis://[USER[:PASSWORD]@]HOST:PORT[/DB]", the user and password percent-decoded.
// kInvalidArgument saying what is wrong otherwise (the message never holds the password).
Result<RedisUrl> ParseRedisUrl(const std::string& url);

// What the last connect or call came to.
enum class RedisState {
  kUnknown,      // not asked yet
  kOk,           // Redis answered
  kUnreachable,  // no connection, no answer, or an error answer
  kAuthRefused,  // Redis refused the credentials (WRONGPASS), wants some (NOAUTH), or the user
                 // may not run the lock's scripts (NOPERM)
};

class RedisConnection {
 public:
  RedisConnection(RedisUrl url, Millis timeout);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // When not connected: connects, authenticates (when the URL has a password) and selects the
  // database; stays unconnected, state() saying why, when Redis does not answer or refuses the
  // credentials.
  void Connect();
  bool connected() const { return context_ != nullptr; }

  // EVAL `script` with keys `k1`, `k2` and `args`: its integer answer, or its array of integers;
  // nullopt when not connected, when Redis did not answer (the connection is then dropped) or
  // answered an error (an error about the credentials drops it too).
  std::optional<std::vector<long long>> Eval(const char* script, const std::string& k1,
                                             const std::string& k2,
                                             const std::vector<std::string>& args);

  RedisState state() const { return state_; }
  // Redis's words when it refused the credentials.
  const std::string& refusal() const { return refusal_; }

 private:
  struct ReplyFree {
    void operator()(redisReply* reply) const;
  };
  using Reply = std::unique_ptr<redisReply, ReplyFree>;

  // AUTH [USER] PASSWORD; false (the connection dropped) when Redis refuses or does not answer.
  bool Authenticate();
  // Keeps Redis's refusal of the credentials and drops the connection.
  void Refused(std::string words);
  // One command's reply; null when Redis did not answer (the connection is then dropped).
  Reply Command(const std::vector<std::string_view>& args);
  void Drop();

  RedisUrl url_;
  Millis timeout_;
  redisContext* context_ = nullptr;
  RedisState state_ = RedisState::kUnknown;
  std::string refusal_;
};

}  // namespace zlh::scheduler

// RedisConnection and ParseRedisUrl (redis_connection.h), on hiredis's blocking API.
#include "scheduler/redis_connection.h"

#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include <cstdlib>

#include "base/url.h"

namespace zlh::scheduler {
namespace {

constexpr char kUrlForm[] = "redis://[USER[:PASSWORD]@]HOST:PORT[/DB]";

// `url` as it may be said back: a password in it replaced by "***".
std::string Redacted(const std::string& url) {
  size_t scheme = url.find("://");
  size_t at = url.rfind('@');
  if (scheme == std::string::npos || at == std::string::npos || at < scheme) return url;
  size_t colon = url.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

// An error answer about the credentials rather than the call: refused (WRONGPASS), wanted
// (NOAUTH), or not enough for the lock's scripts (NOPERM).
bool IsAuthError(std::string_view error) {
  for (std::string_view code : {"NOAUTH", "WRONGPASS", "NOPERM"}) {
    if (error.substr(0, code.size()) == code) return true;
  }
  return false;
}

}  // namespace

Result<RedisUrl> ParseRedisUrl(const std::string& url) {
  const std::string scheme = "redis://";
  const std::string shown = "'" + Redacted(url) + "'";
  if (url.rfind(scheme, 0) != 0) return InvalidArgument(shown + " is not " + kUrlForm);
  std::string rest = url.substr(scheme.size());
  RedisUrl out;
  // The last '@' ends the credentials, so that a password may hold '@' or '/' unencoded.
  if (size_t at = rest.rfind('@'); at != std::string::npos) {
    std::string credentials = rest.substr(0, at);
    rest = rest.substr(at + 1);
    size_t colon = credentials.find(':');
    out.user = UrlDecode(credentials.substr(0, colon), false);
    if (colon != std::string::npos) out.password = UrlDecode(credentials.substr(colon + 1), false);
  }
  size_t slash = rest.find('/');
  if (slash != std::string::npos) {
    std::string db = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
    char* end = nullptr;
    long v = std::strtol(db.c_str(), &end, 10);
    if (db.empty() || *end != '\0' || v < 0 || v > 15) {
      return InvalidArgument(shown + ": the database must be a number from 0 to 15");
    }
    out.db = static_cast<int>(v);
  }
  size_t colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return InvalidArgument(shown + " is not " + kUrlForm);
  }
  out.host = rest.substr(0, colon);
  std::string port = rest.substr(colon + 1);
  char* end = nullptr;
  long p = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || p < 1 || p > 65535) {
    return InvalidArgument(shown + ": the port must be a number from 1 to 65535");
  }
  out.port = static_cast<uint16_t>(p);
  return out;
}

void RedisConnection::ReplyFree::operator()(redisReply* reply) const { freeReplyObject(reply); }

RedisConnection::RedisConnection(RedisUrl url, Millis timeout)
    : url_(std::move(url)), timeout_(timeout) {}

RedisConnection::~RedisConnection() { Drop(); }

void RedisConnection::Drop() {
  if (context_) redisFree(context_);
  context_ = nullptr;
}

void RedisConnection::Connect() {
  if (context_) return;
  timeval tv{static_cast<time_t>(timeout_.count() / 1000),
             static_cast<suseconds_t>((timeout_.count() % 1000) * 1000)};
  context_ = redisConnectWithTimeout(url_.host.c_str(), url_.port, tv);
  if (!context_ || context_->err) {
    Drop();
    state_ = RedisState::kUnreachable;
    return;
  }
  redisSetTimeout(context_, tv);
  if (!url_.password.empty() && !Authenticate()) return;
  if (url_.db != 0) (void)Command({"SELECT", std::to_string(url_.db)});
}

bool RedisConnection::Authenticate() {
  std::vector<std::string_view> args{"AUTH"};
  if (!url_.user.empty()) args.push_back(url_.user);
  args.push_back(url_.password);
  Reply reply = Command(args);
  if (!reply) return false;
  if (reply->type != REDIS_REPLY_ERROR) return true;
  Refused(reply->str ? reply->str : "refused");
  return false;
}

void RedisConnection::Refused(std::string words) {
  // Redis does not say the password back; should some version do so, it is not kept.
  const std::string& password = url_.password;
  for (size_t at; !password.empty() && (at = words.find(password)) != std::string::npos;) {
    words.replace(at, password.size(), "***");
  }
  refusal_ = std::move(words);
  state_ = RedisState::kAuthRefused;
  Drop();
}

RedisConnection::Reply RedisConnection::Command(const std::vector<std::string_view>& args) {
  if (!context_) return nullptr;
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (std::string_view a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  Reply reply(static_cast<redisReply*>(
      redisCommandArgv(context_, static_cast<int>(argv.size()), argv.data(), lens.data())));
  if (!reply) {
    Drop();
    state_ = RedisState::kUnreachable;
  }
  return reply;
}

std::optional<std::vector<long long>> RedisConnection::Eval(const char* script,
                                                            const std::string& k1,
                                                            const std::string& k2,
                                                            const std::vector<std::string>& args) {
  std::vector<std::string_view> argv = {"EVAL", script, "2", k1, k2};
  argv.insert(argv.end(), args.begin(), args.end());
  Reply reply = Command(argv);
  if (!reply) return std::nullopt;
  std::optional<std::vector<long long>> out;
  if (reply->type == REDIS_REPLY_INTEGER) out = std::vector<long long>{reply->integer};
  if (reply->type == REDIS_REPLY_ARRAY) {
    out.emplace();
    for (size_t i = 0; i < reply->elements; ++i) {
      const redisReply* e = reply->element[i];
      out->push_back(e->type == REDIS_REPLY_INTEGER ? e->integer : 0);
    }
  }
  state_ = out ? RedisState::kOk : RedisState::kUnreachable;
  if (reply->type == REDIS_REPLY_ERROR) {
    std::string error = reply->str ? reply->str : "error";
    if (IsAuthError(error)) {
      Refused(std::move(error));
    } else {
      spdlog::error("redis: {}", error);
    }
  }
  return out;
}

}  // namespace zlh::scheduler

// DiscordNotifier: the Notifier over Discord webhooks (EXTERNAL-APIS.md), one webhook per channel.
// Mentions are explicit (allowed_mentions): nobody is pinged unless `ping`, which pings the
// channel's configured role, or @here when it has none. Content longer than one message is split
// at line breaks into several (only the first pings). Every message carries a nonce derived from
// the call's idempotency key and its part (`enforce_nonce`), so a post repeated within a few
// minutes (after a crash, or after a timeout or 5xx that came when Discord had stored the message)
// can be recognised by the receiver instead of shown twice. zlh-sim honours it for five minutes;
// Discord documents it for message creation, not for webhooks. PostPart makes one attempt and
// tells what came of it (PostResult): Discord's status, word and code, and a 429's retry_after;
// whether to try again, and when, is its caller's decision (notify::Dispatcher). Webhook URLs are
// secrets: logs and errors name the channel only.
//
// LogNotifier: a Notifier that only logs (spdlog), for a daemon without webhooks: every message is
// one part, "delivered" (204) to the log.
//
// Thread-safety: both are shareable; DiscordNotifier's HttpClient must outlive it.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "activities/http_client.h"
#include "activities/json_service.h"
#include "activities/services.h"

namespace zlh::activities {

struct DiscordOptions {
  std::map<std::string, std::string> webhooks;  // channel → webhook URL (a secret)
  std::map<std::string, std::string> roles;     // channel → the role id a ping mentions
  // The webhook of a channel not in `webhooks`, "{channel}" replaced; empty: none. zlh-sim's is
  // "http://127.0.0.1:9090/api/webhooks/{channel}/sim".
  std::string default_webhook_template;
  bool verify_tls = true;
  std::string ca_file;
  Millis request_timeout{5'000};
};

class DiscordNotifier final : public Notifier {
 public:
  DiscordNotifier(HttpClient& http, DiscordOptions options);

  size_t PartCount(const std::string& content) const override;
  // One POST of part `part` of `content` to the channel's webhook. No answer: `transport` says
  // why, naming the channel, never the webhook's URL.
  Task<PostResult> PostPart(std::string key, std::string channel, std::string content, bool ping,
                            size_t part) override;

 private:
  // The channel's webhook URL; kInvalidArgument when it has none.
  Result<std::string> Webhook(const std::string& channel) const;

  DiscordOptions options_;
  JsonService service_;
};

// The body a part is posted as: `content` with the mention in front when `ping` ("<@&ROLE> "
// for `role_id`, "@here " without one), cut to 2,000 bytes (so to 2,000 characters however
// Discord counts them) ending in "…", allowed_mentions letting through only that mention, and
// `nonce` with enforce_nonce unless it is empty.
std::string DiscordMessageBody(const std::string& content, bool ping, const std::string& role_id,
                               const std::string& nonce = "");

// `content` in parts of at most `limit` bytes, split after a line break where there is one in
// reach, else at a character boundary; the line break a split falls on is dropped. One part (maybe
// empty) at least.
std::vector<std::string> SplitDiscordContent(const std::string& content, size_t limit);

// The nonce of part `part` of the message posted under `idempotency_key`: the same on every retry,
// at most 25 characters (Discord's limit).
std::string DiscordNonce(const std::string& idempotency_key, size_t part);

// How long a 429 asks to wait: the body's retry_after (seconds, fractional), else the Retry-After
// header (seconds); nullopt when it says neither.
std::optional<Millis> DiscordRetryAfter(const HttpResponse& response);

class LogNotifier final : public Notifier {
 public:
  // 1: the log takes a message whole.
  size_t PartCount(const std::string& content) const override;
  // Logs the message (channel, ping, key, content) at info level: a 204; kInvalidArgument in
  // `transport` for a part other than 0.
  Task<PostResult> PostPart(std::string key, std::string channel, std::string content, bool ping,
                            size_t part) override;
};

}  // namespace zlh::activities

// DiscordNotifier: the Notifier over Discord webhooks (EXTERNAL-APIS.md), one webhook per channel.
// Mentions are explicit (allowed_mentions): nobody is pinged unless `ping`, which pings the
// channel's configured role, or @here when it has none. Content longer than one message is split
// at line breaks into several (only the first pings). Every message carries a nonce derived from
// the call's idempotency key and its part (`enforce_nonce`), so a post repeated within a few
// minutes (after a crash, or after a timeout or 5xx that came when Discord had stored the message)
// can be recognised by the receiver instead of shown twice. zlh-sim honours it for five minutes;
// Discord documents it for message creation, not for webhooks. A 429 is waited out (retry_after) on a
// timer, not a blocked thread. Webhook URLs are secrets: logs and errors name the channel only.
// Errors: kUnavailable / kDeadlineExceeded for what a retry may fix (no answer, 5xx, still rate
// limited), kFailedPrecondition for a stale fencing token, kInvalidArgument for other refusals
// and for a channel without a webhook.
//
// LogNotifier: a Notifier that only logs (spdlog), for a daemon without webhooks.
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
  int max_429_waits = 5;            // then kUnavailable, for the step's retry policy
  Millis longest_429_wait{60'000};  // a longer retry_after is not waited out: kUnavailable
};

class DiscordNotifier final : public Notifier {
 public:
  DiscordNotifier(HttpClient& http, DiscordOptions options);

  Task<Status> Post(const CallContext& ctx, std::string channel, std::string content,
                    bool ping) override;

 private:
  // Posts one message body, waiting out 429s.
  Task<Status> PostOne(const CallContext& ctx, const std::string& channel, const std::string& url,
                       const std::string& body);
  // The channel's webhook URL; kInvalidArgument when it has none.
  Result<std::string> Webhook(const std::string& channel) const;

  DiscordOptions options_;
  JsonService service_;
};

// The message body Post sends: `content` with the mention in front when `ping` ("<@&ROLE> " for
// `role_id`, "@here " without one), cut to 2,000 bytes (so to 2,000 characters however Discord
// counts them) ending in "…", allowed_mentions letting through only that mention, and `nonce`
// with enforce_nonce unless it is empty.
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
  // Logs the message (channel, ping, content) at info level; always OK.
  Task<Status> Post(const CallContext& ctx, std::string channel, std::string content,
                    bool ping) override;
};

}  // namespace zlh::activities

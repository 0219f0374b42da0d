// DiscordNotifier: the Notifier over Discord webhooks (EXTERNAL-APIS.md), one webhook per channel.
// Mentions are explicit (allowed_mentions): nobody is pinged unless `ping`, which pings the
// channel's configured role, or @here when it has none. A 429 is waited out (retry_after) on a
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
  // The channel's webhook URL; kInvalidArgument when it has none.
  Result<std::string> Webhook(const std::string& channel) const;

  DiscordOptions options_;
  JsonService service_;
};

// The message body Post sends: `content` with the mention in front when `ping` ("<@&ROLE> " for
// `role_id`, "@here " without one), cut to 2,000 bytes (so to 2,000 characters however Discord
// counts them) ending in "…", and allowed_mentions letting through only that mention.
std::string DiscordMessageBody(const std::string& content, bool ping, const std::string& role_id);

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

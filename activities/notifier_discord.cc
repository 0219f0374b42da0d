// DiscordNotifier and LogNotifier (notifier_discord.h).
// Thread-safety: as its header says (shareable; no mutable state).
#include "activities/notifier_discord.h"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace zlh::activities {
namespace {

namespace json = boost::json;

constexpr size_t kMaxContent = 2000;
// A part's length: room is left for the mention in front ("<@&ROLE> " or "@here ").
constexpr size_t kPartLimit = kMaxContent - 32;
constexpr const char* kEllipsis = "\xE2\x80\xA6";  // "…" in UTF-8

// At most kMaxContent bytes, cut at a character boundary, with "…" at the end when cut.
std::string Cut(std::string s) {
  if (s.size() <= kMaxContent) return s;
  size_t n = kMaxContent - std::char_traits<char>::length(kEllipsis);
  // s[n] is the first byte dropped; a continuation byte there means a character would be split.
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  s.resize(n);
  return s + kEllipsis;
}

std::optional<Millis> SecondsToMillis(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0 || seconds > 1e7) return std::nullopt;
  return Millis(static_cast<int64_t>(std::ceil(seconds * 1000)));
}

void ReplaceAll(std::string& text, const std::string& from, const std::string& to) {
  if (from.empty()) return;
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

// Discord's error body, {"message", "code"}: its word and code into `result`.
void ReadErrorBody(const std::string& body, PostResult& result) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return;
  const json::object& o = v.as_object();
  if (const json::value* m = o.if_contains("message"); m && m->is_string()) {
    result.message = std::string(m->as_string());
  }
  if (const json::value* c = o.if_contains("code"); c && c->is_int64()) {
    result.discord_code = static_cast<int>(c->as_int64());
  }
}

// What an answer came to: a 2xx is a delivery; otherwise Discord's word (else the reason phrase),
// its code, and a 429's wait.
PostResult ReadAnswer(const HttpResponse& response) {
  PostResult result;
  result.http_status = response.status;
  if (response.status >= 200 && response.status < 300) return result;
  ReadErrorBody(response.body, result);
  if (result.message.empty()) result.message = response.reason;
  if (response.status == 429) result.retry_after = DiscordRetryAfter(response);
  return result;
}

// An attempt that got no answer, `why`.
PostResult Unanswered(Status why) {
  PostResult result;
  result.transport = std::move(why);
  return result;
}

}  // namespace

std::vector<std::string> SplitDiscordContent(const std::string& content, size_t limit) {
  std::vector<std::string> parts;
  size_t at = 0;
  while (content.size() - at > limit) {
    // The last line break that keeps the part within the limit, else a character boundary.
    size_t end = content.rfind('\n', at + limit);
    if (end == std::string::npos || end <= at) {
      end = at + limit;
      while (end > at && (static_cast<unsigned char>(content[end]) & 0xC0) == 0x80) --end;
      if (end == at) end = at + limit;  // not UTF-8: cut anyway rather than loop
    }
    parts.push_back(content.substr(at, end - at));
    at = end;
    if (at < content.size() && content[at] == '\n') ++at;
  }
  if (at < content.size() || parts.empty()) parts.push_back(content.substr(at));
  return parts;
}

std::string DiscordNonce(const std::string& idempotency_key, size_t part) {
  // FNV-1a, 64 bits: 16 hex digits, plus the part, within Discord's 25 characters.
  uint64_t h = 14695981039346656037ULL;
  for (char c : idempotency_key) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return std::string(hex) + "." + std::to_string(part);
}

std::string DiscordMessageBody(const std::string& content, bool ping, const std::string& role_id,
                               const std::string& nonce) {
  json::object mentions;
  std::string text = content;
  if (!ping) {
    mentions["parse"] = json::array();
  } else if (!role_id.empty()) {
    text = "<@&" + role_id + "> " + content;
    mentions["roles"] = json::array{json::value(role_id)};
  } else {
    text = "@here " + content;
    mentions["parse"] = json::array{"everyone"};
  }
  json::object body{{"content", Cut(std::move(text))}, {"allowed_mentions", std::move(mentions)}};
  if (!nonce.empty()) {
    body["nonce"] = nonce;
    body["enforce_nonce"] = true;
  }
  return json::serialize(body);
}

std::optional<Millis> DiscordRetryAfter(const HttpResponse& response) {
  boost::system::error_code ec;
  json::value v = json::parse(response.body, ec);
  if (!ec && v.is_object()) {
    const json::value* after = v.as_object().if_contains("retry_after");
    if (after && after->is_number()) return SecondsToMillis(after->to_number<double>());
  }
  auto header = response.headers.find("retry-after");
  if (header != response.headers.end()) {
    char* end = nullptr;
    double seconds = std::strtod(header->second.c_str(), &end);
    if (end != header->second.c_str()) return SecondsToMillis(seconds);
  }
  return std::nullopt;
}

DiscordNotifier::DiscordNotifier(HttpClient& http, DiscordOptions options)
    : options_(std::move(options)),
      service_(http, JsonServiceOptions{"", options_.verify_tls, options_.ca_file,
                                        options_.request_timeout}) {}

Result<std::string> DiscordNotifier::Webhook(const std::string& channel) const {
  auto it = options_.webhooks.find(channel);
  if (it != options_.webhooks.end()) return it->second;
  if (options_.default_webhook_template.empty()) {
    return InvalidArgument("discord: no webhook is configured for channel '" + channel + "'");
  }
  std::string url = options_.default_webhook_template;
  ReplaceAll(url, "{channel}", UrlEscape(channel));
  return url;
}

size_t DiscordNotifier::PartCount(const std::string& content) const {
  return SplitDiscordContent(content, kPartLimit).size();
}

Task<PostResult> DiscordNotifier::PostPart(std::string key, std::string channel,
                                           std::string content, bool ping, size_t part) {
  auto url = Webhook(channel);
  std::vector<std::string> parts = SplitDiscordContent(content, kPartLimit);
  if (!url.ok()) co_return Unanswered(url.status());
  if (part >= parts.size()) {
    co_return Unanswered(
        InvalidArgument("discord: the message has no part " + std::to_string(part)));
  }
  auto role = options_.roles.find(channel);
  std::string role_id = role == options_.roles.end() ? "" : role->second;
  std::string nonce = key.empty() ? "" : DiscordNonce(key, part);
  // Only the first part pings: one alert is one ping.
  std::string body = DiscordMessageBody(parts[part], ping && part == 0, role_id, nonce);
  // No fencing token: a delivery carries a decision recorded under one; it makes none.
  const CallContext unfenced{std::move(key), 0};
  auto res = co_await service_.Send("POST", *url, body, &unfenced);
  if (res.ok()) co_return ReadAnswer(*res);
  // HttpClient names the URL, which is the webhook's secret.
  std::string message = res.status().message();
  ReplaceAll(message, url->substr(0, url->find('?')), "the webhook of #" + channel);
  co_return Unanswered(Status(res.status().code(), message));
}

size_t LogNotifier::PartCount(const std::string&) const { return 1; }

Task<PostResult> LogNotifier::PostPart(std::string key, std::string channel, std::string content,
                                       bool ping, size_t part) {
  if (part != 0) {
    co_return Unanswered(InvalidArgument("log: the message has no part " + std::to_string(part)));
  }
  spdlog::info("notify #{}{} [{}]: {}", channel, ping ? " (ping)" : "", key, content);
  PostResult logged;         // transport OK: the log always takes it
  logged.http_status = 204;  // as a webhook that took it
  co_return logged;
}

}  // namespace zlh::activities

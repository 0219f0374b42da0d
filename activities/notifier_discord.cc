// DiscordNotifier and LogNotifier (notifier_discord.h).
// Thread-safety: as its header says (shareable; no mutable state).
#include "activities/notifier_discord.h"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace zlh::activities {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

constexpr size_t kMaxContent = 2000;
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

Task<Status> DiscordNotifier::Post(const CallContext& ctx, std::string channel, std::string content,
                                   bool ping) {
  auto url = Webhook(channel);
  if (!url.ok()) co_return url.status();
  auto role = options_.roles.find(channel);
  std::string role_id = role == options_.roles.end() ? "" : role->second;
  // Room for the mention in front ("<@&ROLE> " or "@here ").
  std::vector<std::string> parts = SplitDiscordContent(content, kMaxContent - 32);
  for (size_t i = 0; i < parts.size(); ++i) {
    std::string nonce = ctx.idempotency_key.empty() ? "" : DiscordNonce(ctx.idempotency_key, i);
    // Only the first part pings: one alert is one ping.
    std::string body = DiscordMessageBody(parts[i], ping && i == 0, role_id, nonce);
    ZLH_CO_RETURN_IF_ERROR(co_await PostOne(ctx, channel, *url, body));
  }
  co_return Status::Ok();
}

Task<Status> DiscordNotifier::PostOne(const CallContext& ctx, const std::string& channel,
                                      const std::string& url, const std::string& body) {
  std::string what = "discord post to #" + channel;
  asio::steady_timer wait(co_await asio::this_coro::executor);
  for (int waits = 0;; ++waits) {
    auto res = co_await service_.Send("POST", url, body, &ctx);
    if (!res.ok()) {
      // HttpClient names the URL, which is the webhook's secret.
      std::string message = res.status().message();
      ReplaceAll(message, url.substr(0, url.find('?')), "the webhook of #" + channel);
      spdlog::warn("{}: {}", what, message);
      co_return Status(res.status().code(), message);
    }
    if (res->status >= 200 && res->status < 300) co_return Status::Ok();
    if (res->status != 429) {
      Status s = StatusOfHttp(res->status, what, res->body);
      // Discord's 4xx (a deleted webhook's 404 too) will not change on a retry.
      if (s.code() == Code::kNotFound) s = InvalidArgument(s.message());
      spdlog::warn("{}", s.message());
      co_return s;
    }
    Millis after = DiscordRetryAfter(*res).value_or(Millis(1'000));
    if (waits >= options_.max_429_waits || after > options_.longest_429_wait) {
      spdlog::warn("{}: rate limited (retry after {}), giving up after {} waits", what,
                   FormatDuration(after), waits);
      co_return Unavailable(what + ": rate limited, retry after " + FormatDuration(after));
    }
    spdlog::info("{}: rate limited, waiting {}", what, FormatDuration(after));
    wait.expires_after(after);
    co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

Task<Status> LogNotifier::Post(const CallContext& ctx, std::string channel, std::string content,
                               bool ping) {
  spdlog::info("notify #{}{} [{}]: {}", channel, ping ? " (ping)" : "", ctx.idempotency_key,
               content);
  co_return Status::Ok();
}

}  // namespace zlh::activities

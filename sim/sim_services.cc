// The simulated agent, proxy (Velocity plugin), Cloudflare-style DNS, Discord webhooks and
// billing status (EXTERNAL-APIS.md), each behind bearer-token auth.
#include <algorithm>
#include <cstdio>

#include "base/clock.h"
#include "sim/sim_state.h"

namespace zlh::sim {
namespace {

// The VMID of the container a DNS or proxy name belongs to (0 when none): "survival",
// "survival.play.example" and "_minecraft._tcp.survival.play.example" all name "survival".
int64_t VmidOfName(const std::map<int64_t, Container>& containers, std::string name) {
  const std::string srv = "_minecraft._tcp.";
  if (name.rfind(srv, 0) == 0) name = name.substr(srv.size());
  name = name.substr(0, name.find('.'));
  for (const auto& [vmid, c] : containers) {
    if (c.hostname == name) return vmid;
  }
  return 0;
}

std::optional<json::object> ParseObject(const std::string& body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return v.as_object();
}

std::string String(const json::object& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_string() ? std::string(it->value().as_string()) : "";
}

HttpReply Delayed(HttpReply r, int64_t delay_ms) {
  r.delay_ms = delay_ms;
  return r;
}

// Cloudflare's envelope.
HttpReply Cf(int status, json::value result, int64_t delay_ms = 0) {
  json::object o{{"success", status < 400}, {"errors", json::array()}, {"messages", json::array()},
                 {"result", std::move(result)}};
  return Delayed(JsonReply(status, std::move(o)), delay_ms);
}
HttpReply CfError(int status, int code, const std::string& message, int64_t delay_ms = 0) {
  json::object o{{"success", false},
                 {"errors", json::array{json::object{{"code", code}, {"message", message}}}},
                 {"messages", json::array()},
                 {"result", nullptr}};
  return Delayed(JsonReply(status, std::move(o)), delay_ms);
}

// A record as Cloudflare answers it. An SRV's parts are in `data` and `priority`; its `content`
// leaves the priority out ("WEIGHT PORT TARGET").
json::object RecordJson(const DnsRecord& r) {
  json::object o{{"id", r.id},   {"type", r.type},      {"name", r.name}, {"content", r.content},
                 {"ttl", 1},     {"proxied", false},    {"proxiable", r.type == "A"},
                 {"settings", json::object()}, {"meta", json::object()}, {"comment", nullptr},
                 {"tags", json::array()}};
  int64_t priority = 0, weight = 0, port = 0;
  char target[256] = "";
  if (r.type == "SRV" && std::sscanf(r.content.c_str(), "%ld %ld %ld %255s", &priority, &weight,
                                     &port, target) == 4) {
    o["content"] = std::to_string(weight) + " " + std::to_string(port) + " " + target;
    o["priority"] = priority;
    o["data"] = json::object{{"priority", priority}, {"weight", weight}, {"port", port},
                             {"target", target}};
  }
  return o;
}

// GET .../dns_records: the records of `type` and `name` (or `name.exact`, as Cloudflare's SDK
// asks), paged as Cloudflare pages: `page` from 1, `per_page` (default 100), with result_info.
HttpReply DnsList(const HttpCall& call, const std::vector<DnsRecord>& dns) {
  auto query = [&](const char* key) -> const std::string* {
    auto it = call.query.find(key);
    return it == call.query.end() ? nullptr : &it->second;
  };
  const std::string* want_type = query("type");
  const std::string* want_name = query("name") ? query("name") : query("name.exact");
  json::array out;
  for (const DnsRecord& r : dns) {
    if (want_name && *want_name != r.name) continue;
    if (want_type && *want_type != r.type) continue;
    out.push_back(RecordJson(r));
  }
  auto query_int = [&](const char* key, int64_t fallback) {
    auto v = query(key) ? ToInt(*query(key)) : std::optional<int64_t>(fallback);
    return v && *v > 0 ? *v : fallback;
  };
  int64_t page = query_int("page", 1);
  int64_t per_page = std::min<int64_t>(query_int("per_page", 100), 5000);
  int64_t total = static_cast<int64_t>(out.size());
  json::array slice;
  for (int64_t i = (page - 1) * per_page; i < std::min(total, page * per_page); ++i) {
    slice.push_back(out[static_cast<size_t>(i)]);
  }
  int64_t count = static_cast<int64_t>(slice.size());
  json::object o{{"success", true},
                 {"errors", json::array()},
                 {"messages", json::array()},
                 {"result", std::move(slice)},
                 {"result_info", json::object{{"page", page},
                                              {"per_page", per_page},
                                              {"count", count},
                                              {"total_count", total},
                                              {"total_pages", (total + per_page - 1) / per_page}}}};
  return JsonReply(200, std::move(o));
}

// The message of an early end (ErrorReply's {"error": {"message"}}), for another service's shape.
std::string EarlyMessage(const HttpReply& early) {
  boost::system::error_code ec;
  json::value v = json::parse(early.body, ec);
  const json::value* error = !ec && v.is_object() ? v.as_object().if_contains("error") : nullptr;
  if (!error || !error->is_object()) return "HTTP " + std::to_string(early.status);
  return String(error->as_object(), "message");
}

// An early end of a DNS call (an injected fault, a stale fencing token) in Cloudflare's envelope:
// a 429 as Cloudflare's API answers one (971); the others carry the HTTP status as their code
// (Cloudflare documents no codes for its 5xx).
HttpReply AsCloudflare(const HttpReply& early) {
  HttpReply r = early.status == 429
                    ? CfError(429, 971, "Please wait and consider throttling your request speed")
                    : CfError(early.status, early.status, EarlyMessage(early));
  r.delay_ms = early.delay_ms;
  return r;
}

// Discord's error body: {"message", "code"} (code 0 when Discord gives none, as for its 5xx).
HttpReply DiscordError(int status, const std::string& message, int64_t code) {
  return JsonReply(status, json::object{{"message", message}, {"code", code}});
}

// Discord's rate-limit headers: a bucket of 5 posts per webhook, `remaining` left, refilled
// `reset_after` seconds from now.
void AddRateLimitHeaders(HttpReply& r, int remaining, double reset_after) {
  char reset[32], after[32];
  std::snprintf(reset, sizeof reset, "%.3f", static_cast<double>(NowMs()) / 1000 + reset_after);
  std::snprintf(after, sizeof after, "%.3f", reset_after);
  r.headers.emplace_back("X-RateLimit-Limit", "5");
  r.headers.emplace_back("X-RateLimit-Remaining", std::to_string(remaining));
  r.headers.emplace_back("X-RateLimit-Reset", reset);
  r.headers.emplace_back("X-RateLimit-Reset-After", after);
  r.headers.emplace_back("X-RateLimit-Bucket", "3cd1f278bd0ecaf11e0d2391374c011d");
}

// Discord's answer to a rate-limited webhook (its documented example's shape): the wait in the
// body (fractional seconds), in X-RateLimit-Reset-After and in Retry-After (whole seconds, rounded
// up); kept short so that tests wait it out quickly.
constexpr double kRetryAfterSeconds = 0.35;
HttpReply DiscordRateLimited(int64_t delay_ms) {
  HttpReply r = JsonReply(429, json::object{{"message", "You are being rate limited."},
                                            {"retry_after", kRetryAfterSeconds},
                                            {"global", false}});
  AddRateLimitHeaders(r, 0, kRetryAfterSeconds);
  r.headers.emplace_back("X-RateLimit-Scope", "user");
  r.headers.emplace_back("Retry-After", "1");
  r.delay_ms = delay_ms;
  return r;
}

// An early end of a Discord post in Discord's shapes.
HttpReply AsDiscord(const HttpReply& early) {
  if (early.status == 429) return DiscordRateLimited(early.delay_ms);
  HttpReply r = DiscordError(early.status, EarlyMessage(early), 0);
  r.delay_ms = early.delay_ms;
  return r;
}

// Whether a message body pings: without allowed_mentions Discord parses every mention; with it,
// only what it lets through.
bool Pings(const json::object& body) {
  auto allowed = body.find("allowed_mentions");
  if (allowed == body.end() || !allowed->value().is_object()) return true;
  const json::object& a = allowed->value().as_object();
  bool ping = false;
  for (const char* k : {"parse", "roles", "users"}) {
    auto it = a.find(k);
    ping |= it != a.end() && it->value().is_array() && !it->value().as_array().empty();
  }
  return ping;
}

// The message object Execute Webhook answers with `?wait=true` (the fields Discord documents as
// always present).
json::object DiscordMessageObject(const std::string& channel, const DiscordMessage& m,
                                  size_t index, const json::object& body) {
  std::string id = std::to_string(1'200'000'000'000'000'000LL + static_cast<int64_t>(index));
  auto embeds = body.find("embeds");
  json::object author{{"id", channel},     {"username", channel}, {"avatar", nullptr},
                      {"discriminator", "0000"}, {"public_flags", 0}, {"flags", 0},
                      {"bot", true},       {"global_name", nullptr}};
  return json::object{
      {"id", id},
      {"type", 0},
      {"content", m.content},
      {"channel_id", channel},
      {"author", std::move(author)},
      {"attachments", json::array()},
      {"embeds", embeds != body.end() && embeds->value().is_array() ? embeds->value() : json::array()},
      {"mentions", json::array()},
      {"mention_roles", json::array()},
      {"pinned", false},
      {"mention_everyone", false},
      {"tts", false},
      {"timestamp", m.at},
      {"edited_timestamp", nullptr},
      {"flags", 0},
      {"components", json::array()},
      {"webhook_id", channel}};
}

}  // namespace

HttpReply World::State::AgentCall(const HttpCall& call, const std::vector<std::string>& p,
                                  bool* changed) {
  if (!HasServiceToken(call)) return ErrorReply(401, "agent: bearer token required");
  auto vmid = ToInt(p[1]);
  if (!vmid) return ErrorReply(400, "vmid: '" + p[1] + "' is not a number");
  std::string rest;
  for (size_t i = 2; i < p.size(); ++i) rest += "/" + p[i];
  std::string name = rest == "/health" && call.method == "GET"            ? "agent.health"
                     : rest == "/install" && call.method == "POST"        ? "agent.install"
                     : (rest == "/workload/start" || rest == "/workload/stop") &&
                               call.method == "POST"
                         ? "agent.workload"
                     : rest == "/service/restart" && call.method == "POST" ? "agent.restart"
                                                                           : "";
  if (name.empty()) return ErrorReply(404, "no such agent route: " + rest);
  int64_t delay = 0;
  if (auto early = Begin(name, *vmid, name != "agent.health", call, &delay, changed)) return *early;
  auto agent = agents.find(*vmid);
  auto container = containers.find(*vmid);
  if (agent == agents.end() || container == containers.end() ||
      container->second.status != "running" || agent->second.state == "offline") {
    // What a caller sees of an agent that does not answer.
    return Delayed(ErrorReply(503, "agent " + p[1] + " is unreachable"), delay);
  }
  Agent& a = agent->second;
  if (name == "agent.health") {
    // No players join a simulated game: 0 while it runs.
    return Delayed(JsonReply(200, json::object{{"status", a.state}, {"version", "zlh-sim-1"},
                                               {"workload", a.workload}, {"players", 0}}),
                   delay);
  }
  if (name == "agent.install") {
    auto body = ParseObject(call.body);
    if (!body || String(*body, "game").empty()) {
      return Delayed(ErrorReply(400, "game: required"), delay);
    }
    a.game = String(*body, "game");
    return Delayed(JsonReply(200, json::object{{"game", a.game}, {"loader", String(*body, "loader")}}), delay);
  }
  if (name == "agent.workload") {
    a.workload = rest == "/workload/start" ? "running" : "stopped";
    return Delayed(JsonReply(200, json::object{{"workload", a.workload}}), delay);
  }
  ++a.restarts;
  a.state = "ready";
  return Delayed(JsonReply(200, json::object{{"restarts", a.restarts}}), delay);
}

HttpReply World::State::ProxyCall(const HttpCall& call, const std::vector<std::string>& p,
                                  bool* changed) {
  if (!HasServiceToken(call)) return ErrorReply(401, "proxy: bearer token required");
  if (call.method == "GET" && p.size() == 2) {
    json::array out;
    for (const auto& [name, address] : proxy) out.push_back(json::object{{"name", name}, {"address", address}});
    return JsonReply(200, std::move(out));
  }
  if (call.method == "POST" && p.size() == 2) {
    auto body = ParseObject(call.body);
    std::string name = body ? String(*body, "name") : "", address = body ? String(*body, "address") : "";
    if (name.empty() || address.empty()) return ErrorReply(400, "name and address: required");
    int64_t delay = 0;
    if (auto early = Begin("proxy.register", VmidOfName(containers, name), true, call, &delay, changed)) {
      return *early;
    }
    auto it = proxy.find(name);
    if (it != proxy.end() && it->second != address) {
      return Delayed(ErrorReply(409, "server '" + name + "' is registered at " + it->second), delay);
    }
    proxy[name] = address;  // the same name and address again is success
    return Delayed(JsonReply(200, json::object{{"name", name}, {"address", address}}), delay);
  }
  if (call.method == "DELETE" && p.size() == 3) {
    int64_t delay = 0;
    if (auto early = Begin("proxy.unregister", VmidOfName(containers, p[2]), true, call, &delay, changed)) {
      return *early;
    }
    if (!proxy.erase(p[2])) return Delayed(ErrorReply(404, "no server '" + p[2] + "'"), delay);
    return Delayed(JsonReply(200, json::object{{"name", p[2]}}), delay);
  }
  return ErrorReply(405, "proxy: GET or POST /proxy/servers, DELETE /proxy/servers/{name}");
}

HttpReply World::State::DnsCall(const HttpCall& call, const std::vector<std::string>& p,
                                bool* changed) {
  if (!HasServiceToken(call)) return CfError(401, 10000, "Authentication error");
  if (p.size() < 5 || p[4] != "dns_records") return CfError(404, 7003, "No route for that URI");
  if (call.method == "GET" && p.size() == 5) return DnsList(call, dns);
  if (call.method == "POST" && p.size() == 5) {
    auto body = ParseObject(call.body);
    if (!body) return CfError(400, 9207, "Request body is invalid");
    DnsRecord record{"", String(*body, "type"), String(*body, "name"), String(*body, "content")};
    if (record.type != "A" && record.type != "SRV") return CfError(400, 9004, "type: A or SRV");
    if (record.name.empty()) return CfError(400, 9005, "name: required");
    if (record.type == "SRV") {
      auto data = body->find("data");
      if (data == body->end() || !data->value().is_object()) return CfError(400, 9101, "data: required for SRV");
      const json::object& d = data->value().as_object();
      auto num = [&](const char* k) {
        auto it = d.find(k);
        return it != d.end() && it->value().is_int64() ? std::to_string(it->value().as_int64()) : "";
      };
      record.content = num("priority") + " " + num("weight") + " " + num("port") + " " + String(d, "target");
    } else if (record.content.empty()) {
      return CfError(400, 9006, "content: required for A");
    }
    int64_t delay = 0;
    if (auto early = Begin("dns.publish", VmidOfName(containers, record.name), true, call, &delay, changed)) {
      return AsCloudflare(*early);
    }
    // What Cloudflare answers today for an identical record (81057 "Record already exists." is
    // its older answer; the adapter takes either as success).
    for (const DnsRecord& r : dns) {
      if (r.type == record.type && r.name == record.name && r.content == record.content) {
        return CfError(400, 81058, "An identical record already exists.", delay);
      }
    }
    record.id = "rec" + std::to_string(++dns_ids);
    dns.push_back(record);
    return Cf(200, RecordJson(record), delay);
  }
  if (call.method == "DELETE" && p.size() == 6) {
    auto it = std::find_if(dns.begin(), dns.end(), [&](const DnsRecord& r) { return r.id == p[5]; });
    int64_t vmid = it == dns.end() ? 0 : VmidOfName(containers, it->name);
    int64_t delay = 0;
    if (auto early = Begin("dns.delete", vmid, true, call, &delay, changed)) return AsCloudflare(*early);
    if (it == dns.end()) return CfError(404, 81044, "Record does not exist.", delay);
    dns.erase(it);
    return Cf(200, json::object{{"id", p[5]}}, delay);
  }
  return CfError(405, 10405, "Method not allowed");
}

HttpReply World::State::ZoneCall(const HttpCall& call, const std::string& zone_id) const {
  // What Cloudflare answers a token it does not know here (the records answer 401 10000).
  if (!HasServiceToken(call)) return CfError(403, 9109, "Invalid access token");
  if (call.method != "GET") return CfError(405, 10405, "Method not allowed");
  auto zone = zones.find(zone_id);
  if (zone == zones.end()) {
    return CfError(400, 7003, "Could not route to /zones/" + zone_id +
                                  ", perhaps your object identifier is invalid?");
  }
  return Cf(200, json::object{{"id", zone->first}, {"name", zone->second}, {"status", "active"},
                              {"paused", false}, {"type", "full"}});
}

HttpReply World::State::TokenVerifyCall(const HttpCall& call) const {
  if (!HasServiceToken(call)) return CfError(401, 1000, "Invalid API Token");
  if (call.method != "GET") return CfError(405, 10405, "Method not allowed");
  return Cf(200, json::object{{"id", "0000000000000000000000000000517e"}, {"status", "active"}});
}

HttpReply World::State::DiscordCall(const HttpCall& call, const std::vector<std::string>& p,
                                    bool* changed) {
  if (deleted_webhooks.count(p[2])) return DiscordError(404, "Unknown Webhook", 10015);
  if (p[3] != kServiceToken) return DiscordError(401, "Invalid Webhook Token", 50027);
  if (call.method == "GET") {
    // Discord's webhook object as "Get Webhook with Token" answers it: no user.
    return JsonReply(200, json::object{{"id", p[2]},          {"type", 1},
                                       {"guild_id", "zlh"},   {"channel_id", p[2]},
                                       {"name", p[2]},        {"avatar", nullptr},
                                       {"token", p[3]},       {"application_id", nullptr}});
  }
  if (call.method != "POST") return DiscordError(405, "405: Method Not Allowed", 0);
  auto body = ParseObject(call.body);
  if (!body) return DiscordError(400, "Cannot send an empty message", 50006);
  std::string content = String(*body, "content");
  auto embeds = body->find("embeds");
  bool has_embeds = embeds != body->end() && embeds->value().is_array() && !embeds->value().as_array().empty();
  if (content.empty() && !has_embeds) return DiscordError(400, "Cannot send an empty message", 50006);
  if (content.size() > 2000 || (has_embeds && embeds->value().as_array().size() > 10)) {
    return DiscordError(400, "Invalid Form Body", 50035);
  }
  int64_t delay = 0;
  if (auto early = Begin("discord.post", 0, true, call, &delay, changed)) return AsDiscord(*early);
  DiscordMessage message{p[2], content, Pings(*body), FormatRfc3339(NowMs()), String(*body, "nonce")};
  if (IsNonceRepeat(message, *body)) {
    ++discord_repeats;
  } else {
    discord.push_back(message);
  }
  auto wait = call.query.find("wait");
  HttpReply r = wait != call.query.end() && wait->second == "true"
                    ? JsonReply(200, DiscordMessageObject(p[2], message, discord.size(), *body))
                    : HttpReply{204, "", "application/json", {}, 0, ""};
  AddRateLimitHeaders(r, 4, 2.0);
  r.delay_ms = delay;
  return r;
}

bool World::State::IsNonceRepeat(const DiscordMessage& m, const json::object& body) const {
  // Only when a test asks for it (SPEC §9.5): Discord documents enforce_nonce for messages a bot
  // creates, not for webhooks. Then a message this channel showed under the nonce in the last few
  // minutes (Discord says "the past few minutes"; five here) is not shown again.
  auto enforce = body.find("enforce_nonce");
  if (!discord_nonce_dedup || m.nonce.empty() || enforce == body.end() ||
      !enforce->value().is_bool() || !enforce->value().as_bool()) {
    return false;
  }
  constexpr int64_t kNonceWindowMs = 5 * 60'000;
  return std::any_of(discord.begin(), discord.end(), [&](const DiscordMessage& shown) {
    return shown.channel == m.channel && shown.nonce == m.nonce &&
           NowMs() - ParseRfc3339(shown.at).value_or(0) < kNonceWindowMs;
  });
}

HttpReply World::State::BillingCall(const HttpCall& call, const std::vector<std::string>& p,
                                    bool* changed) {
  if (!HasServiceToken(call)) return ErrorReply(401, "billing: bearer token required");
  if (call.method != "GET") return ErrorReply(405, "use GET");
  int64_t delay = 0;
  if (auto early = Begin("billing.status", 0, false, call, &delay, changed)) return *early;
  auto it = billing.find(p[2]);
  std::string status = it == billing.end() ? "active" : it->second;
  return Delayed(JsonReply(200, json::object{{"customerId", p[2]}, {"status", status}}), delay);
}

}  // namespace zlh::sim

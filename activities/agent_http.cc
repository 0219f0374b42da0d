// HttpAgent (agent_http.h): the agent API over HTTP, one base URL per container.
// Thread-safety: as its header says (shareable; no mutable state).
#include "activities/agent_http.h"

#include <boost/json.hpp>

namespace zlh::activities {
namespace {

namespace json = boost::json;

void ReplaceAll(std::string& text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

}  // namespace

HttpAgent::HttpAgent(HttpClient& http, AgentOptions options)
    : url_template_(std::move(options.url_template)),
      service_(http, JsonServiceOptions{std::move(options.token), options.verify_tls,
                                        std::move(options.ca_file), options.request_timeout}) {}

Result<std::string> HttpAgent::BaseUrl(const AgentTarget& target) const {
  std::string url = url_template_;
  if (url.find("{ip}") != std::string::npos && target.address.empty()) {
    return FailedPrecondition("agent " + std::to_string(target.vmid) +
                              ": container has no recorded address for the agent URL's {ip}");
  }
  ReplaceAll(url, "{vmid}", std::to_string(target.vmid));
  ReplaceAll(url, "{ip}", target.address);
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

Task<Result<AgentHealth>> HttpAgent::Health(AgentTarget target) {
  std::string what = "agent " + std::to_string(target.vmid) + " GET /health";
  auto base = BaseUrl(target);
  if (!base.ok()) co_return base.status();
  auto res = co_await service_.Send("GET", *base + "/health", "", nullptr);
  if (!res.ok()) co_return res.status();
  ZLH_CO_RETURN_IF_ERROR(StatusOfHttp(res->status, what, res->body));
  auto body = ParseJson(res->body, what);
  if (!body.ok()) co_return body.status();
  AgentHealth health;
  health.status = StringField(*body, "status");
  if (health.status.empty()) co_return Unavailable(what + ": the answer has no \"status\"");
  health.workload = StringField(*body, "workload");
  const json::value* players = body->as_object().if_contains("players");  // an object: it has status
  if (players && players->is_int64()) health.players = players->as_int64();
  co_return health;
}

Task<Status> HttpAgent::Post(const CallContext& ctx, const AgentTarget& target,
                             const std::string& path, std::string body) {
  std::string what = "agent " + std::to_string(target.vmid) + " POST " + path;
  auto base = BaseUrl(target);
  if (!base.ok()) co_return base.status();
  auto res = co_await service_.Send("POST", *base + path, std::move(body), &ctx);
  if (!res.ok()) co_return res.status();
  co_return StatusOfHttp(res->status, what, res->body);
}

Task<Status> HttpAgent::Install(const CallContext& ctx, AgentTarget target, std::string game,
                                std::string loader) {
  json::object body{{"game", game}, {"loader", loader}};
  co_return co_await Post(ctx, target, "/install", json::serialize(body));
}

Task<Status> HttpAgent::Workload(const CallContext& ctx, AgentTarget target, bool start) {
  co_return co_await Post(ctx, target, start ? "/workload/start" : "/workload/stop", "{}");
}

Task<Status> HttpAgent::RestartService(const CallContext& ctx, AgentTarget target) {
  co_return co_await Post(ctx, target, "/service/restart", "{}");
}

}  // namespace zlh::activities

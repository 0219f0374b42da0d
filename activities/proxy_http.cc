// HttpProxy (proxy_http.h): the Velocity registration plugin over HTTP.
// Thread-safety: as its header says (shareable; no mutable state).
#include "activities/proxy_http.h"

#include <boost/json.hpp>

namespace zlh::activities {
namespace {

namespace json = boost::json;

}  // namespace

HttpProxy::HttpProxy(HttpClient& http, ProxyOptions options)
    : base_url_(std::move(options.base_url)),
      service_(http, JsonServiceOptions{std::move(options.token), options.verify_tls,
                                        std::move(options.ca_file), options.request_timeout}) {
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
}

Task<Result<std::vector<ProxyServer>>> HttpProxy::List() {
  const std::string what = "proxy GET /servers";
  auto res = co_await service_.Send("GET", base_url_ + "/servers", "", nullptr);
  if (!res.ok()) co_return res.status();
  ZLH_CO_RETURN_IF_ERROR(StatusOfHttp(res->status, what, res->body));
  auto body = ParseJson(res->body, what);
  if (!body.ok()) co_return body.status();
  if (!body->is_array()) co_return Unavailable(what + ": the answer is not a list");
  std::vector<ProxyServer> out;
  for (const json::value& s : body->as_array()) {
    ProxyServer server{StringField(s, "name"), StringField(s, "address")};
    if (server.name.empty()) co_return Unavailable(what + ": a server without a name");
    out.push_back(std::move(server));
  }
  co_return out;
}

Task<Status> HttpProxy::Register(const CallContext& ctx, std::string name, std::string address) {
  std::string what = "proxy POST /servers " + name;
  auto servers = co_await List();
  if (!servers.ok()) co_return servers.status();
  for (const ProxyServer& s : *servers) {
    if (s.name != name) continue;
    if (s.address == address) co_return Status::Ok();  // an earlier attempt got through
    co_return FailedPrecondition(what + ": '" + name + "' is registered at " + s.address +
                                 ", not " + address);
  }
  json::object body{{"name", name}, {"address", address}};
  auto res = co_await service_.Send("POST", base_url_ + "/servers", json::serialize(body), &ctx);
  if (!res.ok()) co_return res.status();
  co_return StatusOfHttp(res->status, what, res->body);
}

Task<Status> HttpProxy::Unregister(const CallContext& ctx, std::string name) {
  std::string what = "proxy DELETE /servers/" + name;
  auto res = co_await service_.Send("DELETE", base_url_ + "/servers/" + UrlEscape(name), "", &ctx);
  if (!res.ok()) co_return res.status();
  if (res->status != 404) co_return StatusOfHttp(res->status, what, res->body);
  // Gone already, or a wrong base URL: only the list tells them apart.
  auto servers = co_await List();
  if (!servers.ok()) co_return servers.status().WithContext(what);
  for (const ProxyServer& s : *servers) {
    if (s.name == name) co_return StatusOfHttp(res->status, what, res->body);
  }
  co_return Status::Ok();
}

}  // namespace zlh::activities

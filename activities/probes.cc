// Probes (probes.h): one GET per question, its answer read as the service documents it.
// Thread-safety: as its header says (shareable; no mutable state).
#include "activities/probes.h"

#include <boost/json.hpp>
#include <iterator>

#include "activities/json_service.h"

namespace zlh::activities {
namespace {

namespace json = boost::json;

constexpr char kProbeCustomer[] = "zlh-check-config";

std::string Trimmed(const std::string& body) {
  return body.size() > 200 ? body.substr(0, 200) + "..." : body;
}

// A failure status of `what`: a 401/403 names the credential's field; others quote the body.
Status Refused(const std::string& what, const HttpResponse& r, const std::string& credential) {
  std::string status = "HTTP " + std::to_string(r.status);
  if (r.status == 401 || r.status == 403) {
    return FailedPrecondition(what + ": " + status + ": " + credential + " was refused");
  }
  return FailedPrecondition(what + ": " + status + (r.body.empty() ? "" : " " + Trimmed(r.body)));
}

// `message` with every occurrence of `secret` replaced by `label`.
std::string Redacted(std::string message, const std::string& secret, const std::string& label) {
  for (size_t at; !secret.empty() && (at = message.find(secret)) != std::string::npos;) {
    message.replace(at, secret.size(), label);
  }
  return message;
}

}  // namespace

Probes::Probes(HttpClient& http, ProbeOptions options) : http_(http), options_(std::move(options)) {}

Task<Result<HttpResponse>> Probes::Get(std::string url, std::string authorization, Millis timeout,
                                       bool verify_tls, std::string ca_file) const {
  HttpRequest req;
  req.url = std::move(url);
  if (!authorization.empty()) req.headers.emplace_back("Authorization", std::move(authorization));
  req.timeout = timeout;
  req.verify_tls = verify_tls;
  req.ca_file = std::move(ca_file);
  co_return co_await http_.Send(std::move(req));
}

Task<Result<std::string>> Probes::ProxmoxData(std::string path) const {
  const ProxmoxOptions& o = options_.proxmox;
  std::string what = "GET " + path.substr(0, path.find('?'));
  auto res = co_await Get(o.base_url + "/api2/json" + path, "PVEAPIToken=" + o.token,
                          o.request_timeout, o.verify_tls, o.ca_file);
  if (!res.ok()) co_return res.status();
  if (res->status != 200) co_return Refused(what, *res, "proxmox.token");
  auto body = ParseJson(res->body, what);
  if (!body.ok() || !body->is_object() || !body->as_object().contains("data")) {
    co_return FailedPrecondition(what + ": the answer is not Proxmox's {\"data\": ...}");
  }
  co_return json::serialize(body->as_object().at("data"));
}

Task<Result<std::string>> Probes::ProxmoxVersion() const {
  auto data = co_await ProxmoxData("/version");
  if (!data.ok()) co_return data.status();
  std::string version = StringField(json::parse(*data), "version");
  if (version.empty()) co_return FailedPrecondition("GET /version: no version in the answer");
  co_return "Proxmox VE " + version;
}

Task<Result<std::string>> Probes::ProxmoxPrivileges() const {
  auto data = co_await ProxmoxData("/access/permissions?path=/");
  if (!data.ok()) co_return data.status();
  json::value v = json::parse(*data);
  const json::value* root = v.is_object() ? v.as_object().if_contains("/") : nullptr;
  std::string missing;
  for (const char* privilege : kProxmoxPrivileges) {
    if (!root || !root->is_object() || !root->as_object().contains(privilege)) {
      missing += (missing.empty() ? "" : ", ") + std::string(privilege);
    }
  }
  if (!missing.empty()) {
    co_return FailedPrecondition("the token (proxmox.token) lacks on /: " + missing);
  }
  co_return "the token holds on / the " + std::to_string(std::size(kProxmoxPrivileges)) +
      " privileges the engine uses";
}

Task<Result<std::vector<TemplateGuest>>> Probes::ProxmoxTemplates() const {
  auto data = co_await ProxmoxData("/cluster/resources?type=vm");
  if (!data.ok()) co_return data.status();
  json::value v = json::parse(*data);
  if (!v.is_array()) co_return FailedPrecondition("GET /cluster/resources: not a list of guests");
  std::vector<TemplateGuest> out;
  for (const json::value& g : v.as_array()) {
    const json::object* o = g.if_object();
    const json::value* is_template = o ? o->if_contains("template") : nullptr;
    if (!is_template || !is_template->is_int64() || is_template->as_int64() != 1) continue;
    const json::value* vmid = o->if_contains("vmid");
    if (!vmid || !vmid->is_int64()) continue;
    out.push_back({vmid->as_int64(), StringField(g, "node")});
  }
  co_return out;
}

Task<Result<json::value>> Probes::CloudflareResult(std::string path) const {
  const CloudflareOptions& o = options_.dns;
  std::string what = "GET " + path;
  auto res = co_await Get(o.base_url + path, "Bearer " + o.token, o.request_timeout, o.verify_tls,
                          o.ca_file);
  if (!res.ok()) co_return res.status();
  if (res->status != 200) co_return Refused(what, *res, "dns.token");
  auto body = ParseJson(res->body, what);
  if (!body.ok() || !body->is_object() || !body->as_object().contains("result")) {
    co_return FailedPrecondition(what + ": the answer is not Cloudflare's {\"result\": ...}");
  }
  co_return body->as_object().at("result");
}

Task<Result<std::string>> Probes::DnsToken() const {
  auto result = co_await CloudflareResult("/user/tokens/verify");
  if (!result.ok()) co_return result.status();
  std::string status = StringField(*result, "status");
  if (status != "active") {
    co_return FailedPrecondition("the token (dns.token) is '" + status + "', not active");
  }
  co_return std::string("the token is active");
}

Task<Result<std::string>> Probes::DnsZone(std::string zone) const {
  const std::string& id = options_.dns.zone_id;
  auto result = co_await CloudflareResult("/zones/" + UrlEscape(id));
  if (!result.ok()) co_return result.status();
  std::string name = StringField(*result, "name");
  if (name != zone) {
    co_return FailedPrecondition("zone " + id + " (dns.zoneId) is '" + name + "', not dns.zone '" +
                                 zone + "'");
  }
  co_return "zone " + name + " (" + id + ") is " + StringField(*result, "status");
}

Task<Result<std::string>> Probes::ProxyServers() const {
  const ProxyOptions& o = options_.proxy;
  auto res = co_await Get(o.base_url + "/servers", "Bearer " + o.token, o.request_timeout,
                          o.verify_tls, o.ca_file);
  if (!res.ok()) co_return res.status();
  if (res->status != 200) co_return Refused("GET /servers", *res, "proxy.token");
  auto body = ParseJson(res->body, "GET /servers");
  if (!body.ok() || !body->is_array()) {
    co_return FailedPrecondition("GET /servers: the answer is not a list of servers");
  }
  co_return "GET /servers answers: " + std::to_string(body->as_array().size()) +
      " servers registered";
}

Task<Result<std::string>> Probes::Billing() const {
  const BillingOptions& o = options_.billing;
  std::string what = std::string("GET /customers/") + kProbeCustomer;
  auto res = co_await Get(o.base_url + "/customers/" + kProbeCustomer, "Bearer " + o.token,
                          o.request_timeout, o.verify_tls, o.ca_file);
  if (!res.ok()) co_return res.status();
  if (res->status != 200 && res->status != 404) co_return Refused(what, *res, "billing.token");
  co_return what + " answers (HTTP " + std::to_string(res->status) + ")";
}

Task<Result<std::string>> Probes::DiscordWebhook(std::string channel, std::string url) const {
  auto res = co_await Get(url, "", options_.discord_timeout, true, "");
  if (!res.ok()) {
    co_return Status(res.status().code(), Redacted(res.status().message(), url, "the webhook URL"));
  }
  if (res->status != 200) {
    co_return Refused("GET on the webhook URL", *res, "the token in discord.webhooks." + channel);
  }
  auto body = ParseJson(res->body, "GET on the webhook URL");
  if (!body.ok() || StringField(*body, "id").empty()) {
    co_return FailedPrecondition("GET on the webhook URL: the answer is not a webhook");
  }
  co_return "webhook '" + StringField(*body, "name") + "'";
}

}  // namespace zlh::activities

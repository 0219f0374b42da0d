// JsonService (json_service.h): bearer-token JSON calls for the service activities.
// Thread-safety: as its header says (shareable; no mutable state).
#include "activities/json_service.h"

#include <boost/json.hpp>

#include "activities/proxmox_api.h"

namespace zlh::activities {

namespace json = boost::json;

JsonService::JsonService(HttpClient& http, JsonServiceOptions options)
    : http_(http), options_(std::move(options)) {}

Task<Result<HttpResponse>> JsonService::Send(std::string method, std::string url, std::string body,
                                             const CallContext* ctx) const {
  HttpRequest req;
  req.method = std::move(method);
  req.url = std::move(url);
  if (!options_.token.empty())
    req.headers.emplace_back("Authorization", "Bearer " + options_.token);
  if (!body.empty()) req.headers.emplace_back("Content-Type", "application/json");
  if (ctx && ctx->fencing_token > 0) {
    req.headers.emplace_back("X-ZLH-Fencing-Token", std::to_string(ctx->fencing_token));
  }
  if (ctx && !ctx->idempotency_key.empty()) {
    // Which workflow step made the call: services may ignore it; zlh-sim records it.
    req.headers.emplace_back("X-ZLH-Idempotency-Key", ctx->idempotency_key);
  }
  req.body = std::move(body);
  req.timeout = options_.request_timeout;
  req.verify_tls = options_.verify_tls;
  req.ca_file = options_.ca_file;
  co_return co_await http_.Send(std::move(req));
}

Result<json::value> ParseJson(const std::string& body, const std::string& what) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) return Unavailable(what + ": the answer is not JSON: " + ec.message());
  return v;
}

std::string StringField(const json::value& v, const char* key) {
  if (!v.is_object()) return "";
  const json::object& o = v.as_object();
  auto it = o.find(key);
  return it != o.end() && it->value().is_string() ? std::string(it->value().as_string()) : "";
}

std::string UrlEscape(const std::string& s) { return FormEscape(s); }

}  // namespace zlh::activities

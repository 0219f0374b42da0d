// HttpProxy: the Proxy over the Velocity registration plugin's HTTP API (EXTERNAL-APIS.md):
// GET/POST {base}/servers, DELETE {base}/servers/{name}, bearer-token auth; mutating calls carry
// the fencing token. Errors: kUnavailable / kDeadlineExceeded for what a retry may fix,
// kFailedPrecondition for a name registered at another address or a stale fencing token.
//
// Thread-safety: shareable; its HttpClient must outlive it.
#pragma once

#include <string>

#include "activities/http_client.h"
#include "activities/json_service.h"
#include "activities/services.h"

namespace zlh::activities {

struct ProxyOptions {
  std::string base_url;  // "http://velocity:8081", or zlh-sim's "http://127.0.0.1:9090/proxy"
  std::string token;     // bearer token; no Authorization header when empty
  bool verify_tls = true;
  std::string ca_file;
  Millis request_timeout{5'000};
};

class HttpProxy final : public Proxy {
 public:
  HttpProxy(HttpClient& http, ProxyOptions options);

  Task<Result<std::vector<ProxyServer>>> List() override;
  // Lists first: the same name and address already there is success without a call that changes
  // anything; the name at another address is kFailedPrecondition.
  Task<Status> Register(const CallContext& ctx, std::string name, std::string address) override;
  // An absent name is success (a 404 confirmed by the list).
  Task<Status> Unregister(const CallContext& ctx, std::string name) override;

 private:
  std::string base_url_;
  JsonService service_;
};

}  // namespace zlh::activities

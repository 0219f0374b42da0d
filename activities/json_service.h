// JsonService: how the activities call a bearer-token JSON service (the agent, the proxy plugin,
// billing, Cloudflare) — one place that sets auth, the fencing token, TLS and the timeout, and
// parses answers. Internal to activities/.
//
// Thread-safety: shareable (immutable after construction); its HttpClient must outlive it.
#pragma once

#include <boost/json/value.hpp>
#include <string>

#include "activities/http_client.h"
#include "activities/hypervisor.h"

namespace zlh::activities {

struct JsonServiceOptions {
  std::string token;  // sent as "Authorization: Bearer TOKEN"; no header when empty
  bool verify_tls = true;
  std::string ca_file;
  Millis request_timeout{5'000};
};

class JsonService {
 public:
  JsonService(HttpClient& http, JsonServiceOptions options);

  // Sends `method url` with `body` (JSON; none when empty) and, when `ctx` has one, its fencing
  // token as X-ZLH-Fencing-Token. The response whatever its status; kDeadlineExceeded or
  // kUnavailable (per HttpClient::Send) when none came.
  Task<Result<HttpResponse>> Send(std::string method, std::string url, std::string body,
                                  const CallContext* ctx) const;

 private:
  HttpClient& http_;
  JsonServiceOptions options_;
};

// The JSON of an answer's body; kUnavailable naming `what` when it is not JSON.
Result<boost::json::value> ParseJson(const std::string& body, const std::string& what);

// A JSON object's string field, or "" when it is absent or not a string.
std::string StringField(const boost::json::value& v, const char* key);

// A path segment or query value, percent-encoded.
std::string UrlEscape(const std::string& s);

}  // namespace zlh::activities

// HttpAgent: the Agent over the ZLH agent's HTTP API (EXTERNAL-APIS.md), one agent per container,
// reached through a URL template. Bearer-token auth; mutating calls carry the fencing token.
// Errors: kUnavailable when the agent does not answer or answers 5xx/429, kDeadlineExceeded when
// it answers too slowly, others per StatusOfHttp.
//
// Thread-safety: shareable; its HttpClient must outlive it.
#pragma once

#include <cstdint>
#include <string>

#include "activities/http_client.h"
#include "activities/json_service.h"
#include "activities/services.h"

namespace zlh::activities {

struct AgentOptions {
  // The agent's base URL; "{vmid}" and "{ip}" (the container's recorded address) are replaced:
  // "http://{ip}:7070", or zlh-sim's "http://127.0.0.1:9090/agents/{vmid}".
  std::string url_template = "http://{ip}:7070";
  std::string token;  // bearer token; no Authorization header when empty
  bool verify_tls = true;
  std::string ca_file;
  Millis request_timeout{5'000};
};

class HttpAgent final : public Agent {
 public:
  HttpAgent(HttpClient& http, AgentOptions options);

  Task<Result<AgentHealth>> Health(AgentTarget target) override;
  Task<Status> Install(const CallContext& ctx, AgentTarget target, std::string game,
                       std::string loader) override;
  Task<Status> Workload(const CallContext& ctx, AgentTarget target, bool start) override;
  Task<Status> RestartService(const CallContext& ctx, AgentTarget target) override;

  // The agent's base URL for `target` (the template filled in); kFailedPrecondition when the
  // template has "{ip}" and the target no address.
  Result<std::string> BaseUrl(const AgentTarget& target) const;

 private:
  // POST `path` with `body`; OK on 2xx.
  Task<Status> Post(const CallContext& ctx, const AgentTarget& target, const std::string& path,
                    std::string body);

  std::string url_template_;
  JsonService service_;
};

}  // namespace zlh::activities

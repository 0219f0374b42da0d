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

// The container's address, 127.1.<vmid / 256>.<vmid % 256> (SPEC §7.4; the third octet wraps
// above VMID 65535).
std::string ContainerAddress(int64_t vmid);

struct AgentOptions {
  // The agent's base URL; "{vmid}" and "{ip}" (ContainerAddress) are replaced:
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

  Task<Result<std::string>> Health(int64_t vmid) override;
  Task<Status> Install(const CallContext& ctx, int64_t vmid, std::string game,
                       std::string loader) override;
  Task<Status> Workload(const CallContext& ctx, int64_t vmid, bool start) override;
  Task<Status> RestartService(const CallContext& ctx, int64_t vmid) override;

  // The agent's base URL for `vmid` (the template filled in).
  std::string BaseUrl(int64_t vmid) const;

 private:
  // POST `path` with `body`; OK on 2xx.
  Task<Status> Post(const CallContext& ctx, int64_t vmid, const std::string& path,
                    std::string body);

  std::string url_template_;
  JsonService service_;
};

}  // namespace zlh::activities

// ProxmoxHypervisor: the Hypervisor over Proxmox VE's HTTP API (EXTERNAL-APIS.md): API-token auth,
// {"data": ...} answers, form-encoded POSTs, long operations as tasks (UPIDs) polled to the end.
// Errors: kUnavailable / kDeadlineExceeded for what a retry may fix (5xx, 429, no answer), others
// for what it cannot.
//
// Thread-safety: shareable; its HttpClient must outlive it.
#pragma once

#include <string>

#include "activities/http_client.h"
#include "activities/hypervisor.h"
#include "activities/proxmox_api.h"

namespace zlh::activities {

// ProxmoxOptions (the server, its API token, TLS and timeouts) is in proxmox_api.h.

class ProxmoxHypervisor final : public Hypervisor {
 public:
  ProxmoxHypervisor(HttpClient& http, ProxmoxOptions options);

  Task<Result<std::vector<HostNode>>> Nodes() override;
  Task<Result<std::vector<Guest>>> Guests() override;
  Task<Result<std::string>> Clone(const CallContext& ctx, std::string template_node,
                                  int64_t template_vmid, std::string node, int64_t vmid,
                                  std::string hostname) override;
  Task<Result<GuestConfig>> Config(std::string node, int64_t vmid) override;
  Task<Status> SetConfig(const CallContext& ctx, std::string node, int64_t vmid,
                         GuestConfig changes) override;
  Task<Status> ResizeRootfs(const CallContext& ctx, std::string node, int64_t vmid,
                            uint32_t size_gb) override;
  Task<Status> Start(const CallContext& ctx, std::string node, int64_t vmid) override;
  Task<Status> Stop(const CallContext& ctx, std::string node, int64_t vmid) override;
  Task<Status> Reboot(const CallContext& ctx, std::string node, int64_t vmid) override;
  Task<Result<std::vector<GuestInterface>>> Interfaces(std::string node, int64_t vmid) override;
  Task<Result<std::string>> PowerState(std::string node, int64_t vmid) override;
  Task<Status> Destroy(const CallContext& ctx, std::string node, int64_t vmid,
                       std::string hostname) override;

 private:
  Task<Status> Power(const CallContext& ctx, std::string node, int64_t vmid, const char* action);

  ProxmoxApi api_;
  std::string container_storage_;
};

}  // namespace zlh::activities

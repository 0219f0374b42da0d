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

namespace zlh::activities {

struct ProxmoxOptions {
  std::string base_url;      // "https://pve1:8006" (".../api2/json" is added)
  std::string token;         // "USER@REALM!TOKENID=SECRET"
  bool verify_tls = true;
  std::string ca_file;
  Millis request_timeout{10'000};
  Millis task_poll_interval{500};
  Millis task_timeout{300'000};
};

class ProxmoxHypervisor final : public Hypervisor {
 public:
  ProxmoxHypervisor(HttpClient& http, ProxmoxOptions options);

  Task<Result<std::vector<HostNode>>> Nodes() override;
  Task<Result<std::vector<Guest>>> Guests() override;
  Task<Status> Clone(const CallContext& ctx, std::string template_node, int64_t template_vmid,
                     std::string node, int64_t vmid, std::string hostname) override;
  Task<Status> Start(const CallContext& ctx, std::string node, int64_t vmid) override;
  Task<Status> Stop(const CallContext& ctx, std::string node, int64_t vmid) override;
  Task<Status> Reboot(const CallContext& ctx, std::string node, int64_t vmid) override;
  Task<Result<std::string>> PowerState(std::string node, int64_t vmid) override;
  Task<Status> Destroy(const CallContext& ctx, std::string node, int64_t vmid,
                       std::string hostname) override;

 private:
  // The "data" of an answer; errors per StatusOfHttp.
  Task<Result<std::string>> Call(std::string method, std::string path, std::string form,
                                 const CallContext* ctx);
  // Runs a call that answers with a task, and waits for the task to end.
  Task<Status> RunTask(std::string method, std::string path, std::string form,
                       const CallContext& ctx, std::string node);
  Task<Status> Power(const CallContext& ctx, std::string node, int64_t vmid, const char* action);

  HttpClient& http_;
  ProxmoxOptions options_;
};

}  // namespace zlh::activities

// ProxmoxApi: the calling conventions of Proxmox VE's HTTP API shared by the Proxmox activities
// (proxmox.h, backups_proxmox.h) — API-token auth, the {"data": ...} envelope, form-encoded
// POSTs, and long operations as tasks (UPIDs) polled until they stop. Internal to activities/.
//
// Thread-safety: shareable (it keeps no state besides its options); its HttpClient must outlive it.
#pragma once

#include <string>

#include "activities/http_client.h"
#include "activities/hypervisor.h"

namespace zlh::activities {

struct ProxmoxOptions {
  std::string base_url;  // "https://pve1:8006" (".../api2/json" is added)
  std::string token;     // "USER@REALM!TOKENID=SECRET"
  bool verify_tls = true;
  std::string ca_file;
  Millis request_timeout{10'000};
  Millis task_poll_interval{500};
  Millis task_timeout{300'000};
  std::string container_storage;  // a clone's `storage`; empty: the template's
};

// Percent-encoding of one form value or path segment (RFC 3986 unreserved characters kept).
std::string FormEscape(const std::string& s);

class ProxmoxApi {
 public:
  ProxmoxApi(HttpClient& http, ProxmoxOptions options);

  // The serialized "data" of an answer to `method path` (path below /api2/json, with its query).
  // `form` is sent form-encoded; `ctx`, when given, sends its fencing token. Errors per
  // StatusOfHttp, naming the call and carrying Proxmox's word: a 400's refused parameters
  // ("bad parameters: cores: type check ('integer') failed - got 'two'", kInvalidArgument), else
  // its message from the body or the status line (a 500 "CT is locked (backup)" is kUnavailable:
  // retried); kUnavailable when the answer is not Proxmox's envelope.
  Task<Result<std::string>> Call(std::string method, std::string path, std::string form,
                                 const CallContext* ctx);
  // Runs a call that answers with a task id, and polls the task on `node` until it stops: OK when
  // its exit status is "OK" or "WARNINGS: N", otherwise kUnavailable naming the task and its exit
  // status ("proxmox task vzstart of 101 on pve1 failed: CT is locked (backup) (UPID:...)");
  // kDeadlineExceeded after the options' task_timeout.
  Task<Status> RunTask(std::string method, std::string path, std::string form,
                       const CallContext& ctx, std::string node);
  // Container `vmid`'s power state from its node (GET …/status/current): "running" or "stopped".
  // Unlike /cluster/resources, never "unknown" for a container made a moment ago.
  Task<Result<std::string>> CurrentStatus(std::string node, int64_t vmid);

 private:
  HttpClient& http_;
  ProxmoxOptions options_;
};

}  // namespace zlh::activities

// ProxmoxBackups: container backups over Proxmox VE's HTTP API (EXTERNAL-APIS.md) — vzdump to a
// backup storage, the storage's backup list, and restore (a container create with restore=1 and
// force=1, the way the Proxmox UI restores over an existing container). Tasks are polled to the
// end. Errors: kUnavailable / kDeadlineExceeded for what a retry may fix (5xx, 429, no answer, a
// failed task), kNotFound for an unknown backup, kFailedPrecondition for a stale fencing token.
//
// Thread-safety: shareable; its HttpClient must outlive it.
#pragma once

#include <string>

#include "activities/http_client.h"
#include "activities/proxmox_api.h"
#include "activities/services.h"

namespace zlh::activities {

struct ProxmoxBackupOptions {
  std::string storage = "local";  // where vzdump writes and List looks
  // Where a restore puts the container's disks; empty: Proxmox's default ("local", which must
  // then allow container directories).
  std::string rootfs_storage;
};

class ProxmoxBackups final : public Backups {
 public:
  ProxmoxBackups(HttpClient& http, ProxmoxOptions proxmox, ProxmoxBackupOptions options = {});

  // vzdump in snapshot mode (the container keeps running).
  Task<Status> Run(const CallContext& ctx, std::string node, int64_t vmid) override;
  // The backups of `vmid` on the configured storage, oldest first.
  Task<Result<std::vector<BackupInfo>>> List(std::string node, int64_t vmid) override;
  Task<Result<std::map<int64_t, int64_t>>> Newest(std::string node) override;
  // kNotFound when `backup_id` (a volume id, "STORAGE:backup/...") is not on `node`. Proxmox
  // refuses to overwrite a running container, so a running one is stopped first (a proxmox.stop);
  // the restored container ends stopped, its VMID kept.
  Task<Status> Restore(const CallContext& ctx, std::string node, int64_t vmid,
                       std::string backup_id) override;

 private:
  // The backups on `storage` of `node` (of `vmid` only when it is > 0), oldest first.
  Task<Result<std::vector<BackupInfo>>> Content(const std::string& node, const std::string& storage,
                                                int64_t vmid);

  ProxmoxApi api_;
  ProxmoxBackupOptions options_;
};

}  // namespace zlh::activities

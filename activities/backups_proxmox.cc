// ProxmoxBackups (backups_proxmox.h): vzdump, the backup list and restore over Proxmox VE's API.
// Thread-safety: as its header says (shareable; no mutable state).
#include "activities/backups_proxmox.h"

#include <algorithm>
#include <boost/json.hpp>

namespace zlh::activities {
namespace {

namespace json = boost::json;

std::string CtPath(const std::string& node, int64_t vmid) {
  return "/nodes/" + node + "/lxc/" + std::to_string(vmid);
}

}  // namespace

ProxmoxBackups::ProxmoxBackups(HttpClient& http, ProxmoxOptions proxmox,
                               ProxmoxBackupOptions options)
    : api_(http, std::move(proxmox)), options_(std::move(options)) {}

Task<Status> ProxmoxBackups::Run(const CallContext& ctx, std::string node, int64_t vmid) {
  std::string form = "vmid=" + std::to_string(vmid) + "&storage=" + FormEscape(options_.storage) +
                     "&mode=snapshot";
  co_return co_await api_.RunTask("POST", "/nodes/" + node + "/vzdump", form, ctx, node);
}

Task<Result<std::vector<BackupInfo>>> ProxmoxBackups::Content(const std::string& node,
                                                              const std::string& storage,
                                                              int64_t vmid) {
  std::string path =
      "/nodes/" + node + "/storage/" + FormEscape(storage) + "/content?content=backup";
  if (vmid > 0) path += "&vmid=" + std::to_string(vmid);
  auto data = co_await api_.Call("GET", path, "", nullptr);
  if (!data.ok()) co_return data.status();
  std::vector<BackupInfo> out;
  try {
    json::value items = json::parse(*data);
    for (const auto& item : items.as_array()) {
      const json::object& o = item.as_object();
      // The filter is Proxmox's; checked again so that a server ignoring it cannot mislead us.
      if (vmid > 0 && o.contains("vmid") && o.at("vmid").to_number<int64_t>() != vmid) continue;
      BackupInfo b;
      b.id = std::string(o.at("volid").as_string());
      b.created_ms = o.contains("ctime") ? o.at("ctime").to_number<int64_t>() * 1000 : 0;
      b.vmid = o.contains("vmid") ? o.at("vmid").to_number<int64_t>() : 0;
      out.push_back(std::move(b));
    }
  } catch (const std::exception& e) {
    co_return Unavailable("proxmox backups on " + node + ":" + storage +
                          ": unexpected answer: " + e.what());
  }
  std::stable_sort(out.begin(), out.end(), [](const BackupInfo& a, const BackupInfo& b) {
    return a.created_ms < b.created_ms;
  });
  co_return out;
}

Task<Result<std::vector<BackupInfo>>> ProxmoxBackups::List(std::string node, int64_t vmid) {
  co_return co_await Content(node, options_.storage, vmid);
}

Task<Result<std::map<int64_t, int64_t>>> ProxmoxBackups::Newest(std::string node) {
  auto all = co_await Content(node, options_.storage, 0);
  if (!all.ok()) co_return all.status();
  std::map<int64_t, int64_t> newest;
  for (const BackupInfo& b : *all) {
    if (b.vmid > 0) newest[b.vmid] = std::max(newest[b.vmid], b.created_ms);
  }
  co_return newest;
}

Task<Status> ProxmoxBackups::Restore(const CallContext& ctx, std::string node, int64_t vmid,
                                     std::string backup_id) {
  std::string what = "restore of CT " + std::to_string(vmid) + " from " + backup_id;
  size_t colon = backup_id.find(':');
  if (colon == std::string::npos || colon == 0) {
    co_return InvalidArgument(what + ": not a volume id (STORAGE:backup/...)");
  }
  // Any container's backup may be restored into `vmid`: look it up on its own storage.
  auto backups = co_await Content(node, backup_id.substr(0, colon), 0);
  if (!backups.ok()) co_return backups.status();
  if (std::none_of(backups->begin(), backups->end(),
                   [&](const BackupInfo& b) { return b.id == backup_id; })) {
    co_return NotFound(what + ": no such backup on " + node);
  }

  auto guests = co_await api_.Call("GET", "/cluster/resources?type=vm", "", nullptr);
  if (!guests.ok()) co_return guests.status();
  bool exists = false;
  try {
    json::value all = json::parse(*guests);
    for (const auto& g : all.as_array()) {
      const json::object& o = g.as_object();
      if (o.at("vmid").to_number<int64_t>() != vmid) continue;
      std::string on(o.at("node").as_string());
      if (on != node) co_return FailedPrecondition(what + ": the container is on " + on);
      exists = true;
    }
  } catch (const std::exception& e) {
    co_return Unavailable(std::string("proxmox /cluster/resources: unexpected answer: ") +
                          e.what());
  }
  // The power state from the node itself: /cluster/resources says "unknown" while its status
  // cache is behind (a container cloned or restored a moment ago).
  auto status = exists ? co_await api_.CurrentStatus(node, vmid) : Result<std::string>("absent");
  if (!status.ok()) co_return status.status().WithContext(what);
  if (*status == "running") {
    ZLH_CO_RETURN_IF_ERROR(
        co_await api_.RunTask("POST", CtPath(node, vmid) + "/status/stop", "", ctx, node));
  }

  std::string form = "vmid=" + std::to_string(vmid) + "&ostemplate=" + FormEscape(backup_id) +
                     "&restore=1&force=1";
  if (!options_.rootfs_storage.empty()) form += "&storage=" + FormEscape(options_.rootfs_storage);
  Status s = co_await api_.RunTask("POST", "/nodes/" + node + "/lxc", form, ctx, node);
  co_return s.ok() ? s : s.WithContext(what);
}

}  // namespace zlh::activities

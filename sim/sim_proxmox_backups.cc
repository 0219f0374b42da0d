// The simulated Proxmox's backups, as pve-manager's vzdump, pve-storage's content list and
// pve-container's restore answer: POST /nodes/{node}/vzdump (backup.run), GET
// /nodes/{node}/storage/{storage}/content and POST /nodes/{node}/lxc with restore=1
// (backup.restore). Parameters are verified first (400 {"data": null, "errors": {param:
// message}}, sim_proxmox_params.cc), then each call's own checks in Proxmox's order and words.
#include "base/clock.h"
#include "sim/sim_state.h"

namespace zlh::sim {
namespace {

// The VMID whose backup volume `volid` is: "local:backup/vzdump-lxc-101[-2026_...]" → 101.
std::optional<int64_t> BackupOfVolume(const std::string& volid) {
  const std::string marker = ":backup/vzdump-lxc-";
  size_t at = volid.find(marker);
  if (at == std::string::npos) return std::nullopt;
  std::string rest = volid.substr(at + marker.size());
  return ToInt(rest.substr(0, rest.find('-')));
}

// A route's parameters: the query's and the form's, with those of the path.
std::map<std::string, std::string> ParamsOf(const HttpCall& call,
                                            const std::map<std::string, std::string>& form,
                                            std::map<std::string, std::string> path) {
  path.insert(form.begin(), form.end());
  path.insert(call.query.begin(), call.query.end());
  return path;
}

// What Perl takes for true: set, and neither "" nor "0".
bool Set(const std::map<std::string, std::string>& params, const char* key) {
  auto it = params.find(key);
  return it != params.end() && !it->second.empty() && it->second != "0";
}

// The checks of vzdump's API call after its schema (API2/VZDump.pm, for a token that is not
// root@pam, then PVE::VZDump::verify_vzdump_parameters): {param: message} of the first refusal.
json::object VzdumpRefusal(const std::map<std::string, std::string>& params) {
  if (Set(params, "stdout")) {
    return {{"stdout", "option is only allowed on the command line interface."}};
  }
  for (const char* root_only : {"tmpdir", "dumpdir", "script"}) {
    if (params.count(root_only)) return {{root_only, "Only root may set this option."}};
  }
  for (const char* other : {"all", "exclude", "pool"}) {
    if (Set(params, other) && Set(params, "vmid")) {
      return {{other, "option conflicts with option 'vmid'"}};
    }
  }
  if (!Set(params, "all") && !Set(params, "stop") && !Set(params, "pool") && !Set(params, "vmid")) {
    return {{"vmid", "property is missing"}};
  }
  return {};
}

}  // namespace

HttpReply World::State::Vzdump(const HttpCall& call, const std::string& node,
                               const std::map<std::string, std::string>& form, bool* changed) {
  auto params = ParamsOf(call, form, {{"node", node}});
  json::object errors = PveParamErrors("vzdump", params);
  if (errors.empty()) errors = VzdumpRefusal(params);
  if (!errors.empty()) return PveBadParams(std::move(errors));
  auto vmid = ToInt(params["vmid"]);
  if (!vmid) return PveError(501, "the simulator backs up one container: vzdump needs one vmid");
  int64_t delay = 0;
  if (auto early = Begin("backup.run", *vmid, true, call, &delay, changed)) return *early;
  if (!containers.count(*vmid)) {
    return PveError(500, "CT " + params["vmid"] + " does not exist", delay);
  }
  BackUp(containers.at(*vmid), NowMs());
  return Pve(json::value(NewTask(node, "vzdump", *vmid)), delay);
}

HttpReply World::State::StorageContent(const HttpCall& call, const std::string& node,
                                       const std::string& storage) const {
  auto params = ParamsOf(call, {}, {{"node", node}, {"storage", storage}});
  json::object errors = PveParamErrors("storage/content", params);
  if (!errors.empty()) return PveBadParams(std::move(errors));
  json::array out;
  // Only backups are simulated: asked for another content type, the storage has none.
  if (params.count("content") && params["content"] != "backup") return Pve(std::move(out));
  for (const auto& [vmid, b] : backups) {
    if (params.count("vmid") && ToInt(params["vmid"]) != vmid) continue;
    out.push_back(json::object{{"volid", storage + ":backup/vzdump-lxc-" + std::to_string(vmid)},
                               {"vmid", vmid},
                               {"ctime", b.at_ms / 1000},
                               {"content", "backup"}});
  }
  return Pve(std::move(out));
}

HttpReply World::State::Restore(const HttpCall& call, const std::string& node,
                                const std::map<std::string, std::string>& form, bool* changed) {
  auto params = ParamsOf(call, form, {{"node", node}});
  json::object errors = PveParamErrors("lxc/create", params);
  if (!errors.empty()) return PveBadParams(std::move(errors));
  if (params["restore"] != "1") {
    return PveError(501, "the simulator makes containers by clone; POST .../lxc needs restore=1");
  }
  int64_t vmid = *ToInt(params["vmid"]);
  std::string volid = params["ostemplate"];
  int64_t delay = 0;
  if (auto early = Begin("backup.restore", vmid, true, call, &delay, changed)) return *early;
  // Proxmox's checks, in its order and with its words.
  auto it = containers.find(vmid);
  if (it != containers.end() && (params["force"] != "1" || it->second.node != node)) {
    return PveError(
        500, "CT " + std::to_string(vmid) + " already exists on node '" + it->second.node + "'",
        delay);
  }
  if (it != containers.end() && it->second.status == "running") {
    return PveError(500, "can't overwrite running container", delay);
  }
  auto from = BackupOfVolume(volid);
  if (!from || !backups.count(*from)) {
    return PveError(
        500,
        "unable to restore CT " + std::to_string(vmid) + " - volume '" + volid + "' does not exist",
        delay);
  }
  // The container becomes the backup's (hostname, config, disk, what was installed): same VMID,
  // on this node, stopped, its agent offline until it starts. A missing one is made anew.
  const Backup& b = backups.at(*from);
  Container& c = containers[vmid];
  c = Container{vmid,  node,     b.hostname, "stopped", c.create_calls,
                false, b.config, b.disk_gb,  volid,      NowMs() + kStatusCacheLagMs};
  agents[vmid] = Agent{"offline", 0, "stopped", b.game};
  return Pve(json::value(NewTask(node, "vzrestore", vmid)), delay);
}

}  // namespace zlh::sim

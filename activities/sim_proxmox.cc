// The simulated Proxmox VE API subset (EXTERNAL-APIS.md): nodes, guests (the templates among
// them), clone, power, status, destroy, backups (vzdump, the storage's backup list, restore), task
// status, the version and the token's permissions. Tasks finish at once. A container's config and
// resize are in sim_proxmox_config.cc.
#include <algorithm>

#include "activities/sim_state.h"
#include "base/clock.h"
#include "base/url.h"

namespace zlh::activities::sim {
namespace {

// The VMID whose backup volume `volid` is: "local:backup/vzdump-lxc-101[-2026_...]" → 101.
std::optional<int64_t> BackupOfVolume(const std::string& volid) {
  const std::string marker = ":backup/vzdump-lxc-";
  size_t at = volid.find(marker);
  if (at == std::string::npos) return std::nullopt;
  std::string rest = volid.substr(at + marker.size());
  return ToInt(rest.substr(0, rest.find('-')));
}

// The templates every simulated cluster has (config's default templates), on its first node.
struct SimTemplate {
  int64_t vmid;
  const char* name;
};
constexpr SimTemplate kTemplates[] = {
    {9000, "tpl-vanilla"}, {9001, "tpl-fabric"}, {9002, "tpl-paper"}, {9003, "tpl-dev"}};

// What the simulator's token may do on every path: the role PVEVMAdmin and the datastore
// privileges (GET /access/permissions lists them as Proxmox does, privilege -> propagate flag).
json::object TokenPrivileges() {
  json::object privileges;
  for (const char* p :
       {"VM.Allocate", "VM.Audit", "VM.Backup", "VM.Clone", "VM.Config.CDROM", "VM.Config.CPU",
        "VM.Config.Cloudinit", "VM.Config.Disk", "VM.Config.HWType", "VM.Config.Memory",
        "VM.Config.Network", "VM.Config.Options", "VM.Console", "VM.Migrate", "VM.PowerMgmt",
        "VM.Snapshot", "VM.Snapshot.Rollback", "Datastore.AllocateSpace", "Datastore.Audit",
        "Sys.Audit", "SDN.Use"}) {
    privileges[p] = 1;
  }
  return privileges;
}

// GET /version, /access/permissions and /cluster/resources: what reads the cluster as a whole.
std::optional<HttpReply> ClusterRead(const HttpCall& call, const std::vector<std::string>& p,
                                     const std::vector<std::string>& nodes,
                                     const std::map<int64_t, Container>& containers) {
  if (call.method != "GET") return std::nullopt;
  if (p.size() == 1 && p[0] == "version") {
    return Pve(json::object{{"version", "8.2.4"}, {"release", "8.2"}, {"repoid", "faa83925c9641325"}});
  }
  if (p.size() == 2 && p[0] == "access" && p[1] == "permissions") {
    auto path = call.query.find("path");
    return Pve(json::object{{path == call.query.end() ? "/" : path->second, TokenPrivileges()}});
  }
  if (p.size() == 2 && p[0] == "cluster" && p[1] == "resources") {
    json::array out;
    for (const auto& [vmid, c] : containers) {
      out.push_back(json::object{{"vmid", c.vmid}, {"node", c.node}, {"type", "lxc"},
                                 {"status", c.status}, {"name", c.hostname}, {"template", 0}});
    }
    for (const SimTemplate& t : kTemplates) {
      out.push_back(json::object{{"vmid", t.vmid}, {"node", nodes.front()}, {"type", "lxc"},
                                 {"status", "stopped"}, {"name", t.name}, {"template", 1}});
    }
    return Pve(std::move(out));
  }
  return std::nullopt;
}

}  // namespace

namespace {

// Proxmox's API server names the charset (clients such as npm's proxmox-api refuse any other
// content type).
HttpReply PveReply(int status, json::object body, int64_t delay_ms) {
  HttpReply r = JsonReply(status, std::move(body));
  r.content_type = "application/json;charset=UTF-8";
  r.delay_ms = delay_ms;
  return r;
}

}  // namespace

HttpReply Pve(json::value data, int64_t delay_ms) {
  return PveReply(200, json::object{{"data", std::move(data)}}, delay_ms);
}

HttpReply PveError(int status, const std::string& message, int64_t delay_ms) {
  return PveReply(status, json::object{{"data", nullptr}, {"message", message}}, delay_ms);
}

HttpReply PveBadParams(json::object errors, int64_t delay_ms) {
  return PveReply(400, json::object{{"data", nullptr}, {"errors", std::move(errors)}}, delay_ms);
}

HttpReply World::State::Restore(const HttpCall& call, const std::string& node,
                                const std::map<std::string, std::string>& form, bool* changed) {
  auto field = [&](const char* key) {
    auto it = form.find(key);
    return it == form.end() ? std::string() : it->second;
  };
  auto vmid = ToInt(field("vmid"));
  if (!vmid) return PveError(400, "vmid: required, a number");
  if (field("restore") != "1") {
    return PveError(501, "the simulator makes containers by clone; POST .../lxc needs restore=1");
  }
  std::string volid = field("ostemplate");
  if (volid.empty()) return PveError(400, "ostemplate: required");
  int64_t delay = 0;
  if (auto early = Begin("backup.restore", *vmid, true, call, &delay, changed)) return *early;
  // Proxmox's checks, in its order and with its words.
  std::string fail = "unable to restore CT " + std::to_string(*vmid) + " - ";
  auto it = containers.find(*vmid);
  if (it != containers.end() && (field("force") != "1" || it->second.node != node)) {
    return PveError(500, "CT " + std::to_string(*vmid) + " already exists on node '" +
                             it->second.node + "'",
                    delay);
  }
  if (it != containers.end() && it->second.status == "running") {
    return PveError(500, "can't overwrite running container", delay);
  }
  auto from = BackupOfVolume(volid);
  if (!from || !backups.count(*from)) {
    return PveError(500, fail + "volume '" + volid + "' does not exist", delay);
  }
  // The container becomes the backup's (hostname, config, disk, what was installed): same VMID,
  // on this node, stopped, its agent offline until it starts. A missing one is made anew.
  const Backup& b = backups.at(*from);
  Container& c = containers[*vmid];
  c = Container{*vmid, node, b.hostname, "stopped", c.create_calls, false, b.config, b.disk_gb, volid};
  agents[*vmid] = Agent{"offline", 0, "stopped", b.game};
  return Pve(json::value(NewTask(node, "vzrestore", *vmid)), delay);
}

HttpReply World::State::Proxmox(const HttpCall& call, const std::vector<std::string>& parts,
                                bool* changed) {
  auto auth = call.headers.find("authorization");
  if (auth == call.headers.end() || auth->second != std::string("PVEAPIToken=") + kProxmoxToken) {
    return PveError(401, "authentication failure");
  }
  std::vector<std::string> p(parts.begin() + 2, parts.end());  // after /api2/json
  if (auto read = ClusterRead(call, p, nodes, containers)) return *read;
  if (call.method == "GET" && p.size() == 1 && p[0] == "nodes") {
    json::array out;
    for (const auto& n : nodes) {
      int64_t guests = 0;
      for (const auto& [vmid, c] : containers) guests += c.node == n;
      out.push_back(json::object{{"node", n},
                                 {"status", "online"},
                                 {"cpu", 0.01 + 0.05 * static_cast<double>(guests)},
                                 {"mem", guests * (int64_t{2} << 30)},
                                 {"maxmem", int64_t{64} << 30}});
    }
    return Pve(std::move(out));
  }
  if (p.size() < 2 || p[0] != "nodes") return PveError(404, "no such path");
  const std::string& node = p[1];
  if (std::find(nodes.begin(), nodes.end(), node) == nodes.end()) {
    return PveError(404, "no such node '" + node + "'");
  }
  if (call.method == "GET" && p.size() == 5 && p[2] == "tasks" && p[4] == "status") {
    if (p[3].rfind("UPID:" + node + ":", 0) != 0) return PveError(404, "no such task");
    return Pve(json::object{{"upid", p[3]}, {"status", "stopped"}, {"exitstatus", "OK"}});
  }
  std::map<std::string, std::string> form = ParseForm(call.body);
  if (p.size() == 3 && p[2] == "vzdump" && call.method == "POST") {
    auto vmid = ToInt(form["vmid"]);
    if (!vmid) return PveError(400, "vmid: required, a number");
    int64_t delay = 0;
    if (auto early = Begin("backup.run", *vmid, true, call, &delay, changed)) return *early;
    if (!containers.count(*vmid)) return PveError(500, "CT " + form["vmid"] + " does not exist", delay);
    BackUp(containers.at(*vmid), NowMs());
    return Pve(json::value(NewTask(node, "vzdump", *vmid)), delay);
  }
  if (p.size() == 5 && p[2] == "storage" && p[4] == "content" && call.method == "GET") {
    json::array out;
    for (const auto& [vmid, b] : backups) {
      auto want = call.query.find("vmid");
      if (want != call.query.end() && ToInt(want->second) != vmid) continue;
      out.push_back(json::object{{"volid", p[3] + ":backup/vzdump-lxc-" + std::to_string(vmid)},
                                 {"vmid", vmid}, {"ctime", b.at_ms / 1000}, {"content", "backup"}});
    }
    return Pve(std::move(out));
  }
  if (p.size() == 3 && p[2] == "lxc" && call.method == "POST") {
    return Restore(call, node, form, changed);
  }
  if (p.size() < 4 || p[2] != "lxc") return PveError(404, "no such path");
  auto vmid = ToInt(p[3]);
  if (!vmid) return PveError(400, "vmid: '" + p[3] + "' is not a number");
  if (p.size() == 5 && (p[4] == "config" || p[4] == "resize")) {
    return ContainerConfig(call, node, *vmid, p[4], form, changed);
  }

  std::string name;
  bool mutating = true;
  if (call.method == "POST" && p.size() == 5 && p[4] == "clone") {
    name = "proxmox.create";
  } else if (call.method == "POST" && p.size() == 6 && p[4] == "status") {
    name = p[5] == "start"                        ? "proxmox.start"
           : p[5] == "stop" || p[5] == "shutdown" ? "proxmox.stop"
           : p[5] == "reboot"                     ? "proxmox.reboot"
                                                  : "";
  } else if (call.method == "GET" && p.size() == 6 && p[4] == "status" && p[5] == "current") {
    name = "proxmox.status";
    mutating = false;
  } else if (call.method == "DELETE" && p.size() == 4) {
    name = "proxmox.destroy";
  }
  if (name.empty()) return PveError(404, "no such path");
  int64_t target = *vmid;
  if (name == "proxmox.create") {
    auto newid = ToInt(form["newid"]);
    if (!newid) return PveError(400, "newid: required, a number");
    target = *newid;
  }
  int64_t delay = 0;
  if (auto early = Begin(name, target, mutating, call, &delay, changed)) return *early;

  if (name == "proxmox.create") {
    std::string hostname = form["hostname"];
    if (hostname.empty()) return PveError(400, "hostname: required", delay);
    std::string to = form.count("target") ? form["target"] : node;
    if (std::find(nodes.begin(), nodes.end(), to) == nodes.end()) {
      return PveError(400, "target: no such node '" + to + "'", delay);
    }
    auto it = containers.find(target);
    if (it != containers.end()) {
      ++it->second.create_calls;
      return PveError(500, "CT " + std::to_string(target) + " already exists", delay);
    }
    containers[target] = Container{target, to, hostname, "stopped", 1, false, {}, kTemplateDiskGb, ""};
    agents[target] = Agent{};
    return Pve(json::value(NewTask(node, "vzclone", target)), delay);
  }
  auto it = containers.find(target);
  if (it == containers.end() || it->second.node != node) {
    return PveError(500, "CT " + std::to_string(target) + " does not exist", delay);
  }
  if (name == "proxmox.status") {
    return Pve(json::object{{"vmid", target}, {"status", it->second.status},
                            {"name", it->second.hostname}},
               delay);
  }
  if (name == "proxmox.destroy") {
    containers.erase(it);
    agents.erase(target);
    return Pve(json::value(NewTask(node, "vzdestroy", target)), delay);
  }
  if (name == "proxmox.stop") {
    it->second.status = "stopped";
    Stopped(target);
  } else {
    if (name == "proxmox.reboot") Stopped(target);  // a reboot stops the game with the container
    it->second.status = "running";
    Started(target);
  }
  return Pve(json::value(NewTask(node, name == "proxmox.start"  ? "vzstart"
                                       : name == "proxmox.stop" ? "vzstop"
                                                                : "vzreboot",
                                 target)),
             delay);
}

}  // namespace zlh::activities::sim

// The simulated Proxmox VE API subset (EXTERNAL-APIS.md): its routing, its envelope and errors
// (the message in the body and the status line), nodes, guests (the templates among them), the
// version and the token's permissions. Beside it: a container's clone, power, status, interfaces
// and destroy (sim_proxmox_guests.cc), config and resize (sim_proxmox_config.cc), backups
// (vzdump, the storage's backup list, restore: sim_proxmox_backups.cc), tasks and locks
// (sim_proxmox_tasks.cc), parameter checks (sim_proxmox_params.cc), interfaces and DHCP leases
// (sim_proxmox_network.cc).
#include <algorithm>

#include "base/clock.h"
#include "base/url.h"
#include "sim/sim_state.h"

namespace zlh::sim {
namespace {

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
    json::object errors = PveParamErrors("cluster/resources", call.query);
    if (!errors.empty()) return PveBadParams(std::move(errors));
    json::array out;
    auto type = call.query.find("type");
    // Only guests are simulated: nodes, storages and SDN zones are not listed.
    if (type != call.query.end() && type->second != "vm") return Pve(std::move(out));
    const int64_t now = NowMs();
    for (const auto& [vmid, c] : containers) {
      json::object guest{{"vmid", c.vmid}, {"node", c.node}, {"type", "lxc"}, {"template", 0}};
      if (now < c.listed_from_ms) {  // the status cache has not caught up with it yet
        guest["status"] = "unknown";
      } else {
        guest["status"] = c.status;
        guest["name"] = c.hostname;
      }
      out.push_back(std::move(guest));
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

// What Proxmox's API server answers for a path or method it does not serve.
HttpReply NotImplemented(const HttpCall& call) {
  return PveError(501, "Method '" + call.method + " " +
                           call.path.substr(std::string("/api2/json").size()) +
                           "' not implemented");
}

}  // namespace

HttpReply Pve(json::value data, int64_t delay_ms) {
  return PveReply(200, json::object{{"data", std::move(data)}}, delay_ms);
}

// Proxmox's API server puts an error's message in the status line (its first line) and, since
// pve-http-server 5.2 (Proxmox VE 8.3), in the body's "message" too, ending with the newline of
// the die that raised it.
HttpReply PveError(int status, const std::string& message, int64_t delay_ms) {
  HttpReply r =
      PveReply(status, json::object{{"data", nullptr}, {"message", message + "\n"}}, delay_ms);
  r.reason = message.substr(0, message.find('\n'));
  return r;
}

HttpReply PveBadParams(json::object errors, int64_t delay_ms) {
  HttpReply r = PveReply(400,
                         json::object{{"data", nullptr},
                                      {"errors", std::move(errors)},
                                      {"message", "Parameter verification failed.\n"}},
                         delay_ms);
  r.reason = "Parameter verification failed.";
  return r;
}

const char* TemplateName(int64_t vmid) {
  for (const SimTemplate& t : kTemplates) {
    if (t.vmid == vmid) return t.name;
  }
  return nullptr;
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
  if (p.size() < 2 || p[0] != "nodes") return NotImplemented(call);
  const std::string& node = p[1];
  json::object bad_node = PveParamErrors("node", {{"node", node}});
  if (!bad_node.empty()) return PveBadParams(std::move(bad_node));
  if (std::find(nodes.begin(), nodes.end(), node) == nodes.end()) {
    return PveError(404, "no such node '" + node + "'");
  }
  if (call.method == "GET" && p.size() == 5 && p[2] == "tasks" && p[4] == "status") {
    return TaskStatus(node, p[3]);
  }
  std::map<std::string, std::string> form = ParseForm(call.body);
  if (p.size() == 3 && p[2] == "vzdump" && call.method == "POST") {
    return Vzdump(call, node, form, changed);
  }
  if (p.size() == 5 && p[2] == "storage" && p[4] == "content" && call.method == "GET") {
    return StorageContent(call, node, p[3]);
  }
  if (p.size() == 3 && p[2] == "lxc" && call.method == "POST") {
    return Restore(call, node, form, changed);
  }
  if (p.size() < 4 || p[2] != "lxc") return NotImplemented(call);
  json::object bad_vmid = PveParamErrors("lxc", {{"node", node}, {"vmid", p[3]}});
  if (!bad_vmid.empty()) return PveBadParams(std::move(bad_vmid));
  if (p.size() == 5 && (p[4] == "config" || p[4] == "resize")) {
    return ContainerConfig(call, node, *ToInt(p[3]), p[4], form, changed);
  }
  return ContainerCall(call, p, form, changed);
}

}  // namespace zlh::sim

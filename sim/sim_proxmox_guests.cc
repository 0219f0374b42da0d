// The simulated Proxmox's containers: clone, power (start, stop, shutdown, reboot), status,
// interfaces and destroy under /nodes/{node}/lxc/{vmid}, checked in Proxmox's order and refused in
// its words (pve-container's API2/LXC.pm, LXC/Status.pm): the parameters first (400), then
// whether the guest exists, its lock (sim_proxmox_tasks.cc) and its state ("CT 101 already
// running", "unable to destroy CT 101 - container is running"). Tasks finish at once.
#include <algorithm>

#include "base/clock.h"
#include "sim/sim_state.h"

namespace zlh::sim {
namespace {

// A container route: its name for the parameter check, its call name, whether it changes things.
struct GuestRoute {
  std::string route;
  std::string call;
  bool mutating = true;
};

// The route of `method` on `p` (the path after /api2/json: nodes, NODE, lxc, VMID, ...).
std::optional<GuestRoute> RouteOf(const std::string& method, const std::vector<std::string>& p) {
  std::string what;
  for (size_t i = 4; i < p.size(); ++i) what += (i > 4 ? "/" : "") + p[i];
  if (method == "POST" && what == "clone") return GuestRoute{"lxc/clone", "proxmox.create"};
  if (method == "POST" && what == "status/start") {
    return GuestRoute{"lxc/status/start", "proxmox.start"};
  }
  if (method == "POST" && (what == "status/stop" || what == "status/shutdown")) {
    return GuestRoute{"lxc/" + what, "proxmox.stop"};
  }
  if (method == "POST" && what == "status/reboot") {
    return GuestRoute{"lxc/status/reboot", "proxmox.reboot"};
  }
  if (method == "GET" && what == "status/current") {
    return GuestRoute{"lxc/status/current", "proxmox.status", false};
  }
  if (method == "GET" && what == "interfaces") {
    return GuestRoute{"lxc/interfaces", "proxmox.interfaces", false};
  }
  if (method == "DELETE" && what.empty()) return GuestRoute{"lxc/destroy", "proxmox.destroy"};
  return std::nullopt;
}

std::string ConfigMissing(const std::string& node, int64_t vmid) {
  return "Configuration file 'nodes/" + node + "/lxc/" + std::to_string(vmid) +
         ".conf' does not exist";
}

std::string Param(const std::map<std::string, std::string>& params, const char* key) {
  auto it = params.find(key);
  return it == params.end() ? "" : it->second;
}

HttpReply Clone(World::State& s, const std::string& node, int64_t source,
                const std::map<std::string, std::string>& params, int64_t delay, bool* changed) {
  std::string source_name;
  auto from = s.containers.find(source);
  if (const char* name = TemplateName(source); name && node == s.nodes.front()) {
    source_name = name;
  } else if (from != s.containers.end() && from->second.node == node) {
    source_name = from->second.hostname;
  } else {
    return PveError(500, ConfigMissing(node, source), delay);
  }
  std::string to = params.count("target") ? params.at("target") : node;
  if (std::find(s.nodes.begin(), s.nodes.end(), to) == s.nodes.end()) {
    return PveError(500, "no such cluster node '" + to + "'", delay);
  }
  if (auto locked = s.Locked("proxmox.create", source, node, delay, changed)) return *locked;
  int64_t newid = *ToInt(params.at("newid"));
  if (auto it = s.containers.find(newid); it != s.containers.end()) {
    ++it->second.create_calls;
    return PveError(
        500, "CT " + std::to_string(newid) + " already exists on node '" + it->second.node + "'",
        delay);
  }
  std::string hostname = params.count("hostname") ? params.at("hostname") : source_name;
  s.containers[newid] = Container{newid, to, hostname, "stopped", 1, false, {}, kTemplateDiskGb, "",
                                  NowMs() + kStatusCacheLagMs};
  s.agents[newid] = Agent{};
  return Pve(json::value(s.NewTask(node, "vzclone", source)), delay);
}

// Start, stop, shutdown and reboot of `c`: refused when it is already so, or locked.
HttpReply Power(World::State& s, const GuestRoute& r, Container& c, int64_t delay, bool* changed) {
  std::string id = std::to_string(c.vmid);
  bool running = c.status == "running";
  if (r.call == "proxmox.start" && running)
    return PveError(500, "CT " + id + " already running", delay);
  if (r.call == "proxmox.stop" && !running)
    return PveError(500, "CT " + id + " not running", delay);
  // Proxmox's words for a container, "VM" and all (LXC/Status.pm vm_reboot).
  if (r.call == "proxmox.reboot" && !running)
    return PveError(500, "VM " + id + " not running", delay);
  if (auto locked = s.Locked(r.call, c.vmid, c.node, delay, changed)) return *locked;
  std::string kind = r.route == "lxc/status/shutdown" ? "vzshutdown" : "vz" + r.route.substr(11);
  if (r.call == "proxmox.stop") {
    c.status = "stopped";
    s.Stopped(c.vmid);
  } else {
    if (r.call == "proxmox.reboot") s.Stopped(c.vmid);  // the game stops with the container
    c.status = "running";
    s.Started(c.vmid);
  }
  return Pve(json::value(s.NewTask(c.node, kind, c.vmid)), delay);
}

HttpReply Destroy(World::State& s, Container& c, const std::map<std::string, std::string>& params,
                  int64_t delay, bool* changed) {
  if (auto locked = s.Locked("proxmox.destroy", c.vmid, c.node, delay, changed)) return *locked;
  if (c.status == "running" && Param(params, "force") != "1") {
    return PveError(
        500, "unable to destroy CT " + std::to_string(c.vmid) + " - container is running", delay);
  }
  int64_t vmid = c.vmid;
  std::string node = c.node;
  s.containers.erase(vmid);
  s.agents.erase(vmid);
  s.leases.erase(vmid);
  s.locks.erase(vmid);
  return Pve(json::value(s.NewTask(node, "vzdestroy", vmid)), delay);
}

json::object CurrentStatus(const World::State& s, const Container& c) {
  json::object o{{"vmid", c.vmid}, {"status", c.status}, {"name", c.hostname}, {"type", "lxc"}};
  auto lock = s.locks.find(c.vmid);
  if (lock != s.locks.end() && lock->second.what != "file") o["lock"] = lock->second.what;
  return o;
}

}  // namespace

HttpReply World::State::ContainerCall(const HttpCall& call, const std::vector<std::string>& p,
                                      const std::map<std::string, std::string>& form,
                                      bool* changed) {
  auto route = RouteOf(call.method, p);
  if (!route) {
    return PveError(501,
                    "Method '" + call.method + " " + call.path.substr(10) + "' not implemented");
  }
  std::map<std::string, std::string> params = call.query;
  params.insert(form.begin(), form.end());
  params["node"] = p[1];
  params["vmid"] = p[3];
  json::object errors = PveParamErrors(route->route, params);
  if (!errors.empty()) return PveBadParams(std::move(errors));
  const std::string& node = p[1];
  int64_t vmid = *ToInt(p[3]);
  bool clone = route->call == "proxmox.create";
  int64_t target = clone ? *ToInt(params.at("newid")) : vmid;
  int64_t delay = 0;
  if (auto early = Begin(route->call, target, route->mutating, call, &delay, changed))
    return *early;
  if (clone) return Clone(*this, node, vmid, params, delay, changed);
  auto it = containers.find(vmid);
  if (it == containers.end() || it->second.node != node) {
    return PveError(500, ConfigMissing(node, vmid), delay);
  }
  if (route->call == "proxmox.status") return Pve(CurrentStatus(*this, it->second), delay);
  if (route->call == "proxmox.interfaces") return Interfaces(it->second, delay);
  if (route->call == "proxmox.destroy") return Destroy(*this, it->second, params, delay, changed);
  return Power(*this, *route, it->second, delay, changed);
}

}  // namespace zlh::sim

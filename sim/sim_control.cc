// The simulator's own controls: POST /sim/containers (pre-existing containers), /sim/faults (call
// faults and failing tasks, drift, guest locks, Discord's nonce de-duplication and deleted
// webhooks), /sim/billing (billing changed behind the webhooks' back) and /sim/zones (a DNS zone
// the account holds). Every input is checked field by field; a refused one changes nothing.
#include <algorithm>
#include <set>

#include "base/clock.h"
#include "sim/sim_state.h"

namespace zlh::sim {
namespace {

// Every call name of SPEC §7.4; faults name one of these.
const std::set<std::string> kCalls = {
    "proxmox.create", "proxmox.start",     "proxmox.stop",     "proxmox.destroy",
    "proxmox.status", "agent.health",      "agent.install",    "agent.restart",
    "agent.workload", "proxy.register",    "proxy.unregister", "dns.publish",
    "dns.delete",     "billing.status",    "backup.run",       "backup.restore",
    "discord.post",   "proxmox.reboot",    "proxmox.config",   "proxmox.configure",
    "proxmox.resize", "proxmox.interfaces"};

// Proxmox's config locks (pve-container's `lock` option) and "file": the config file's flock held
// by another task.
const std::set<std::string> kLocks = {"backup",   "create",          "destroyed", "disk",
                                      "fstrim",   "migrate",         "mounted",   "rollback",
                                      "snapshot", "snapshot-delete", "file"};

const std::set<std::string> kDrifts = {"agent_offline",     "dns_missing",       "proxy_missing",
                                       "container_stopped", "container_missing", "backup_missed",
                                       "workload_stopped",  "workload_crashed"};

// The field names an input may have; the first other one, if any.
std::optional<std::string> Unknown(const json::object& o, std::initializer_list<const char*> known) {
  for (const auto& [key, value] : o) {
    if (std::none_of(known.begin(), known.end(), [&](const char* k) { return key == k; })) {
      return std::string(key);
    }
  }
  return std::nullopt;
}

}  // namespace

HttpReply World::State::DiscordControl(const json::object& o, bool* changed) {
  if (o.contains("discordNonceDedup")) {
    if (auto extra = Unknown(o, {"discordNonceDedup"})) return ErrorReply(400, *extra + ": unknown field");
    const json::value& on = o.at("discordNonceDedup");
    if (!on.is_bool()) return ErrorReply(400, "discordNonceDedup: true or false");
    discord_nonce_dedup = on.as_bool();
    *changed = true;
    return JsonReply(200, json::object{{"discordNonceDedup", discord_nonce_dedup}});
  }
  // A webhook deleted in Discord (or brought back with "clear"): its posts answer 404 10015.
  if (auto extra = Unknown(o, {"discordWebhookDeleted", "clear"})) return ErrorReply(400, *extra + ": unknown field");
  const json::value& channel = o.at("discordWebhookDeleted");
  if (!channel.is_string() || channel.as_string().empty()) {
    return ErrorReply(400, "discordWebhookDeleted: a channel name");
  }
  auto clear = o.find("clear");
  if (clear != o.end() && !clear->value().is_bool()) return ErrorReply(400, "clear: true or false");
  std::string name(channel.as_string());
  if (clear != o.end() && clear->value().as_bool()) {
    deleted_webhooks.erase(name);
  } else {
    deleted_webhooks.insert(name);
  }
  *changed = true;
  return JsonReply(200, json::object{{"discordWebhookDeleted", name},
                                     {"deleted", deleted_webhooks.count(name) == 1}});
}

HttpReply World::State::OutageControl(const json::object& o, bool* changed) {
  static const std::set<std::string> kServices = {"discord", "proxmox", "agent",
                                                  "proxy",   "dns",     "billing"};
  if (auto extra = Unknown(o, {"outage", "seconds"})) return ErrorReply(400, *extra + ": unknown field");
  const json::value& service = o.at("outage");
  if (!service.is_string() || !kServices.count(std::string(service.as_string()))) {
    return ErrorReply(400, "outage: one of discord, proxmox, agent, proxy, dns, billing");
  }
  const json::value* seconds = o.if_contains("seconds");
  if (!seconds || !seconds->is_int64() || seconds->as_int64() < 0) {
    return ErrorReply(400, "seconds: required, a non-negative integer (0 ends the outage)");
  }
  std::string name(service.as_string());
  if (seconds->as_int64() == 0) {
    outages.erase(name);
  } else {
    outages[name] = NowMs() + seconds->as_int64() * 1000;
  }
  *changed = true;
  auto until = outages.find(name);
  return JsonReply(200, json::object{{"outage", name},
                                     {"until", until == outages.end()
                                                   ? json::value(nullptr)
                                                   : json::value(FormatRfc3339(until->second))}});
}

std::optional<HttpReply> World::State::Outage(const std::string& service) const {
  auto it = outages.find(service);
  if (it == outages.end() || NowMs() >= it->second) return std::nullopt;
  // What a load balancer in front of a service that is down answers.
  HttpReply r = ErrorReply(503, service + " is down (a simulated outage until " +
                                    FormatRfc3339(it->second) + ")");
  r.reason = "Service Unavailable";
  return r;
}

HttpReply World::State::LockControl(const json::object& o, bool* changed) {
  if (auto extra = Unknown(o, {"lock", "vmid", "count", "clear"}))
    return ErrorReply(400, *extra + ": unknown field");
  const json::value& what = o.at("lock");
  if (!what.is_string() || !kLocks.count(std::string(what.as_string()))) {
    return ErrorReply(400,
                      "lock: one of backup, create, destroyed, disk, fstrim, migrate, mounted, "
                      "rollback, snapshot, snapshot-delete, file");
  }
  auto vmid = o.find("vmid");
  if (vmid == o.end() || !vmid->value().is_int64())
    return ErrorReply(400, "vmid: required, an integer");
  int64_t id = vmid->value().as_int64();
  if (!containers.count(id) && !TemplateName(id)) {
    return ErrorReply(404, "vmid: no container or template " + std::to_string(id));
  }
  auto count = o.find("count");
  if (count != o.end() && (!count->value().is_int64() || count->value().as_int64() < 1)) {
    return ErrorReply(400, "count: a positive integer");
  }
  auto clear = o.find("clear");
  if (clear != o.end() && !clear->value().is_bool()) return ErrorReply(400, "clear: true or false");
  bool cleared = clear != o.end() && clear->value().as_bool();
  if (cleared) {
    locks.erase(id);
  } else {
    locks[id] =
        GuestLock{std::string(what.as_string()), count == o.end() ? 0 : count->value().as_int64()};
  }
  *changed = true;
  return JsonReply(200, json::object{{"lock", what}, {"vmid", id}, {"held", !cleared}});
}

HttpReply World::State::SimPost(const HttpCall& call, const std::string& what, bool* changed) {
  boost::system::error_code ec;
  json::value body = json::parse(call.body, ec);
  if (ec) return ErrorReply(400, "the body is not JSON: " + ec.message());
  if (!body.is_object()) return ErrorReply(400, "the body must be a JSON object");
  const json::object& o = body.as_object();
  auto str = [&](const char* key) -> std::optional<std::string> {
    auto it = o.find(key);
    if (it == o.end() || !it->value().is_string()) return std::nullopt;
    return std::string(it->value().as_string());
  };
  auto num = [&](const char* key) -> std::optional<int64_t> {
    auto it = o.find(key);
    if (it == o.end() || !it->value().is_int64()) return std::nullopt;
    return it->value().as_int64();
  };

  if (what == "containers") {
    if (auto extra = Unknown(o, {"vmid", "node", "hostname"})) return ErrorReply(400, *extra + ": unknown field");
    auto vmid = num("vmid");
    auto node = str("node");
    auto hostname = str("hostname");
    if (!vmid || *vmid <= 0) return ErrorReply(400, "vmid: required, a positive integer");
    if (!node || std::find(nodes.begin(), nodes.end(), *node) == nodes.end()) {
      return ErrorReply(400, "node: required, one of the simulated nodes");
    }
    if (!hostname || hostname->empty()) return ErrorReply(400, "hostname: required");
    if (containers.count(*vmid)) return ErrorReply(409, "vmid: " + std::to_string(*vmid) + " exists");
    containers[*vmid] = Container{*vmid, *node, *hostname, "running", 0, true, {}, kTemplateDiskGb, ""};
    *changed = true;
    return JsonReply(201, json::object{{"vmid", *vmid}});
  }

  if (what == "billing") {
    if (auto extra = Unknown(o, {"customerId", "status"})) return ErrorReply(400, *extra + ": unknown field");
    auto customer = str("customerId");
    auto status = str("status");
    if (!customer || customer->empty()) return ErrorReply(400, "customerId: required");
    if (!status || (*status != "active" && *status != "suspended")) {
      return ErrorReply(400, "status: active or suspended");
    }
    billing[*customer] = *status;
    *changed = true;
    return JsonReply(200, json::object{{"customerId", *customer}, {"status", *status}});
  }

  if (what == "zones") {
    if (auto extra = Unknown(o, {"id", "name"})) return ErrorReply(400, *extra + ": unknown field");
    auto id = str("id");
    auto name = str("name");
    if (!id || id->empty()) return ErrorReply(400, "id: required");
    if (!name || name->empty()) return ErrorReply(400, "name: required");
    zones[*id] = *name;
    *changed = true;
    return JsonReply(200, json::object{{"id", *id}, {"name", *name}});
  }

  if (what != "faults") return ErrorReply(404, "no such simulator route: /sim/" + what);

  if (o.contains("discordNonceDedup") || o.contains("discordWebhookDeleted")) {
    return DiscordControl(o, changed);
  }

  if (o.contains("lock")) return LockControl(o, changed);
  if (o.contains("outage")) return OutageControl(o, changed);

  if (o.contains("drift")) {
    if (auto extra = Unknown(o, {"drift", "vmid", "clear"})) return ErrorReply(400, *extra + ": unknown field");
    auto drift = str("drift");
    auto vmid = num("vmid");
    if (!drift || !kDrifts.count(*drift)) {
      return ErrorReply(400, "drift: one of agent_offline, dns_missing, proxy_missing, "
                             "container_stopped, container_missing, backup_missed, "
                             "workload_stopped, workload_crashed");
    }
    if (!vmid) return ErrorReply(400, "vmid: required, an integer");
    auto clear_it = o.find("clear");
    if (clear_it != o.end() && !clear_it->value().is_bool()) return ErrorReply(400, "clear: true or false");
    bool clear = clear_it != o.end() && clear_it->value().as_bool();
    auto c = containers.find(*vmid);
    if (c == containers.end()) return ErrorReply(404, "vmid: no container " + std::to_string(*vmid));
    const std::string& host = c->second.hostname;
    if (*drift == "agent_offline") {
      auto a = agents.find(*vmid);
      if (a == agents.end()) return ErrorReply(409, "container " + std::to_string(*vmid) + " has no agent");
      a->second.state = clear ? "ready" : "offline";
    } else if (*drift == "workload_stopped" || *drift == "workload_crashed") {
      // The agent reports it (SPEC §9.6); a clear is the game started again, as an operator would.
      auto a = agents.find(*vmid);
      if (a == agents.end()) return ErrorReply(409, "container " + std::to_string(*vmid) + " has no agent");
      a->second.workload = clear ? "running" : *drift == "workload_stopped" ? "stopped" : "crashed";
    } else if (*drift == "container_stopped") {
      if (clear) {
        c->second.status = "running";
        Started(*vmid);
      } else {
        c->second.status = "stopped";
        Stopped(*vmid);
      }
    } else if (*drift == "backup_missed") {
      BackUp(c->second, clear ? NowMs() : NowMs() - 3 * 24 * 3600 * 1000LL);
    } else if (clear) {
      return ErrorReply(400, "clear: " + *drift + " is undone by a repair, not cleared");
    } else if (*drift == "dns_missing") {
      std::erase_if(dns, [&](const DnsRecord& r) {
        return r.name.rfind(host + ".", 0) == 0 || r.name.rfind("_minecraft._tcp." + host + ".", 0) == 0;
      });
    } else if (*drift == "proxy_missing") {
      proxy.erase(host);
    } else if (*drift == "container_missing") {
      containers.erase(c);
      agents.erase(*vmid);
      leases.erase(*vmid);
      locks.erase(*vmid);
    }
    *changed = true;
    return JsonReply(200, json::object{{"drift", *drift}, {"vmid", *vmid}, {"clear", clear}});
  }

  if (auto extra = Unknown(o, {"call", "mode", "count", "status", "latencyMs", "exitstatus"})) {
    return ErrorReply(400, *extra + ": unknown field");
  }
  auto name = str("call");
  if (!name || !kCalls.count(*name)) return ErrorReply(400, "call: required, a call name of SPEC §7.4");
  Fault f;
  f.mode = str("mode").value_or("");
  if (f.mode != "error" && f.mode != "timeout" && f.mode != "latency" && f.mode != "taskFailed") {
    return ErrorReply(400, "mode: required, one of error, timeout, latency, taskFailed");
  }
  if (f.mode == "taskFailed" && !IsTaskCall(*name)) {
    return ErrorReply(400, "mode: taskFailed needs a call that answers with a task, not " + *name);
  }
  if (o.contains("exitstatus") &&
      (f.mode != "taskFailed" || !str("exitstatus") || str("exitstatus")->empty())) {
    return ErrorReply(400, "exitstatus: a task's exit status text, with mode taskFailed only");
  }
  f.exitstatus = str("exitstatus").value_or("");
  if (o.contains("count") && (!num("count") || *num("count") < 1)) {
    return ErrorReply(400, "count: a positive integer");
  }
  if (o.contains("status") && (!num("status") || *num("status") < 400 || *num("status") > 599)) {
    return ErrorReply(400, "status: an HTTP error status (400-599)");
  }
  if (o.contains("latencyMs") && (!num("latencyMs") || *num("latencyMs") < 0)) {
    return ErrorReply(400, "latencyMs: a non-negative integer");
  }
  f.count = num("count").value_or(1);
  f.status = num("status").value_or(500);
  f.latency_ms = num("latencyMs").value_or(0);
  faults[*name].push_back(f);
  *changed = true;
  return JsonReply(200, json::object{{"call", *name}, {"pending", static_cast<int64_t>(faults[*name].size())}});
}

}  // namespace zlh::sim

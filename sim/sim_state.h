// The simulated world's state and the helpers its parts share (internal to sim/: the
// Proxmox, services and control parts each live in their own file). Not thread-safe.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "sim/sim_world.h"

namespace zlh::sim {

namespace json = boost::json;

// The templates' root disk (SPEC §9.7): a clone starts with it.
constexpr int64_t kTemplateDiskGb = 8;

struct Container {
  int64_t vmid = 0;
  std::string node;
  std::string hostname;
  std::string status = "stopped";
  int64_t create_calls = 0;
  bool preexisting = false;
  // What PUT .../config set (net0, cores, memory, swap, nameserver, onboot, tags, description);
  // a key not set has the template's value (ConfigOf in sim_proxmox_config.cc).
  std::map<std::string, std::string> config;
  int64_t disk_gb = kTemplateDiskGb;  // whole GB (a resize rounds up)
  std::string restored_from;          // the backup volume its last restore came from
  // Until then /cluster/resources lists it without its name and with status "unknown", as
  // Proxmox does while its status cache has not caught up with a new guest (not persisted).
  int64_t listed_from_ms = 0;
};

// How long a cloned or restored container goes nameless in /cluster/resources.
constexpr int64_t kStatusCacheLagMs = 1'000;

// A lock on a guest (a container or a template), as POST /sim/faults {"lock"} sets it: one of
// Proxmox's config locks ("backup", "disk", ...: the config says `lock: backup`), or "file" (the
// config file's flock held by another task: "can't lock file ... - got timeout").
struct GuestLock {
  std::string what;
  int64_t count = 0;  // refusals before it lifts (as the backup holding it ends); 0: until cleared
};

struct Agent {
  std::string state = "offline";  // ready, offline, installing
  int64_t restarts = 0;
  std::string workload = "stopped";
  std::string game;  // what install put there
};

// A vzdump backup: when, and what the container was then (a restore brings that back).
struct Backup {
  int64_t at_ms = 0;
  std::string hostname;
  std::map<std::string, std::string> config;
  int64_t disk_gb = kTemplateDiskGb;
  std::string game;  // what its agent had installed
};

struct DnsRecord {
  std::string id;
  std::string type;
  std::string name;
  std::string content;  // A: the address; SRV: "priority weight port target"
};

struct DiscordMessage {
  std::string channel;
  std::string content;
  bool ping = false;
  std::string at;
  std::string nonce;  // empty when the post had none
};

struct Mutation {
  std::string call;
  int64_t vmid = 0;
  std::optional<uint64_t> token;
  std::string at;
  bool rejected = false;
  std::string key;  // X-ZLH-Idempotency-Key ("<workflowId>:<step>"), empty when absent
};

struct Fault {
  std::string mode;  // error, timeout, latency
  int64_t count = 1;
  int64_t status = 500;
  int64_t latency_ms = 0;
  std::string exitstatus;  // mode taskFailed: what the task ends with (empty: the call's default)
};

struct World::State {
  std::vector<std::string> nodes;
  std::map<int64_t, Container> containers;
  std::map<int64_t, Agent> agents;
  std::vector<DnsRecord> dns;
  std::map<std::string, std::string> proxy;  // server name -> address
  std::vector<DiscordMessage> discord;
  int64_t discord_repeats = 0;  // posts recognised by their nonce as already shown
  // Off by default, as Discord documents nonces for messages, not webhooks (SPEC §9.5); turned on
  // by POST /sim/faults {"discordNonceDedup": true}.
  bool discord_nonce_dedup = false;
  std::set<std::string> deleted_webhooks;  // channels whose webhook answers 404 Unknown Webhook
  std::map<std::string, std::string> billing;  // customer -> active | suspended
  std::map<int64_t, Backup> backups;           // vmid -> its last backup
  std::vector<Mutation> mutations;
  std::map<std::string, std::deque<Fault>> faults;
  // Services down until a time (ms): every request to them answers 503 until then. Set by
  // POST /sim/faults {"outage": service, "seconds": S} (sim_control.cc).
  std::map<std::string, int64_t> outages;
  uint64_t max_token = 0;
  uint64_t tasks = 0;
  uint64_t dns_ids = 0;
  // Cloudflare zones by id: the name records are made under. The simulated fleet's "zlh" is
  // "play.example"; POST /sim/zones declares more.
  std::map<std::string, std::string> zones = {{"zlh", "play.example"}};
  std::map<int64_t, GuestLock> locks;               // vmid -> its lock (sim_proxmox_tasks.cc)
  std::map<std::string, std::string> failed_tasks;  // UPID -> the exitstatus it ended with
  std::map<int64_t, std::string> leases;            // vmid -> its DHCP address (net0 ip=dhcp)

  json::object ToJson(bool with_internal) const;
  static Result<std::unique_ptr<State>> FromJson(const json::value& v);

  // What every simulated call goes through first: an injected fault of `call` (which may end the
  // call, or delay it), then, when `mutating`, the fencing check and the record of the mutation.
  // Returns the reply that ends the call early, if any; sets *delay_ms and *changed.
  std::optional<HttpReply> Begin(const std::string& call, int64_t vmid, bool mutating,
                                 const HttpCall& http, int64_t* delay_ms, bool* changed);
  std::string NewTask(const std::string& node, const std::string& kind, int64_t vmid);

  HttpReply Proxmox(const HttpCall& call, const std::vector<std::string>& parts, bool* changed);
  // GET and PUT /nodes/{node}/lxc/{vmid}/config, PUT .../resize (sim_proxmox_config.cc).
  HttpReply ContainerConfig(const HttpCall& call, const std::string& node, int64_t vmid,
                            const std::string& what, const std::map<std::string, std::string>& form,
                            bool* changed);
  // POST /nodes/{node}/vzdump (backup.run), GET /nodes/{node}/storage/{storage}/content and
  // POST /nodes/{node}/lxc with restore=1 (backup.restore) (sim_proxmox_backups.cc).
  HttpReply Vzdump(const HttpCall& call, const std::string& node,
                   const std::map<std::string, std::string>& form, bool* changed);
  HttpReply StorageContent(const HttpCall& call, const std::string& node,
                           const std::string& storage) const;
  HttpReply Restore(const HttpCall& call, const std::string& node,
                    const std::map<std::string, std::string>& form, bool* changed);
  HttpReply AgentCall(const HttpCall& call, const std::vector<std::string>& parts, bool* changed);
  HttpReply ProxyCall(const HttpCall& call, const std::vector<std::string>& parts, bool* changed);
  HttpReply DnsCall(const HttpCall& call, const std::vector<std::string>& parts, bool* changed);
  // GET /client/v4/zones/{zone_id} and GET /client/v4/user/tokens/verify (read-only).
  HttpReply ZoneCall(const HttpCall& call, const std::string& zone_id) const;
  HttpReply TokenVerifyCall(const HttpCall& call) const;
  HttpReply DiscordCall(const HttpCall& call, const std::vector<std::string>& parts, bool* changed);
  // Whether message `m` (posted with `body`) repeats one shown under its nonce, when nonce
  // de-duplication is on.
  bool IsNonceRepeat(const DiscordMessage& m, const json::object& body) const;
  HttpReply BillingCall(const HttpCall& call, const std::vector<std::string>& parts, bool* changed);
  HttpReply SimPost(const HttpCall& call, const std::string& what, bool* changed);
  // POST /sim/faults {"discordNonceDedup": bool} or {"discordWebhookDeleted": channel[, "clear"]}.
  HttpReply DiscordControl(const json::object& body, bool* changed);

  // Backs container `c` up now (or as of `at_ms`): its last backup.
  void BackUp(const Container& c, int64_t at_ms);
  // Container lifecycle effects on its agent.
  void Started(int64_t vmid);
  void Stopped(int64_t vmid);

  // Clone, power, status and destroy of /nodes/{node}/lxc/{vmid}/... (sim_proxmox_guests.cc);
  // `p` is the path after /api2/json.
  HttpReply ContainerCall(const HttpCall& call, const std::vector<std::string>& p,
                          const std::map<std::string, std::string>& form, bool* changed);
  // GET /nodes/{node}/tasks/{upid}/status (sim_proxmox_tasks.cc).
  HttpReply TaskStatus(const std::string& node, const std::string& upid) const;
  // A task `call` on `vmid` started on `node` that ends with `exitstatus` (its default when empty).
  HttpReply FailedTask(const std::string& node, const std::string& call, int64_t vmid,
                       std::string exitstatus, int64_t delay_ms);
  // The refusal of `call` on `vmid` while the guest is locked, where Proxmox refuses it (an HTTP
  // 500, or a task that fails); nullopt when it may go on. Uses up a counted lock.
  std::optional<HttpReply> Locked(const std::string& call, int64_t vmid, const std::string& node,
                                  int64_t delay_ms, bool* changed);
  // POST /sim/faults {"lock": "backup|...|file", "vmid", "count", "clear"} (sim_control.cc).
  HttpReply LockControl(const json::object& body, bool* changed);
  // POST /sim/faults {"outage": "discord|proxmox|agent|proxy|dns|billing", "seconds": S}: the
  // service is down for S seconds from now (0 ends an outage) (sim_control.cc).
  HttpReply OutageControl(const json::object& body, bool* changed);
  // The 503 a request to `service` gets while it is down; nullopt when it is up.
  std::optional<HttpReply> Outage(const std::string& service) const;
  // GET /nodes/{node}/lxc/{vmid}/interfaces; Lease gives a container on net0 ip=dhcp its address
  // (sim_proxmox_network.cc).
  HttpReply Interfaces(const Container& c, int64_t delay_ms) const;
  void Lease(int64_t vmid);
};

// The name of the simulated template at `vmid` (on the first node), nullptr when there is none.
const char* TemplateName(int64_t vmid);
// Proxmox's parameter verification for route `route` ("lxc/clone", "lxc/status/start", ...;
// sim_proxmox_params.cc): {param: message} for each problem, in Proxmox's words.
json::object PveParamErrors(const std::string& route,
                            const std::map<std::string, std::string>& params);
// What Proxmox's parameter verification says of a parameter a route does not define.
inline constexpr char kNotInSchema[] =
    "property is not defined in schema and the schema does not allow additional properties";
// The problem with setting the container option `key` to `value` (PUT .../config, or a restore's
// options; sim_proxmox_config.cc), "" when there is none; kNotInSchema for an option the
// simulator does not know.
std::string ContainerOptionProblem(const std::string& key, const std::string& value);
// Whether `call` answers with a task (a UPID): a fault may make its task fail.
bool IsTaskCall(const std::string& call);

// A container's settings as GET .../config reports them (the template's where none was set).
json::object ConfigOf(const Container& c);
// Proxmox's envelope: {"data": ...}; its errors: {"data": null, "message"} or, for bad
// parameters, 400 {"data": null, "errors": {param: message}}.
HttpReply Pve(json::value data, int64_t delay_ms = 0);
HttpReply PveError(int status, const std::string& message, int64_t delay_ms = 0);
HttpReply PveBadParams(json::object errors, int64_t delay_ms = 0);

HttpReply JsonReply(int status, json::value body);
// {"error": {"code", "message"}} with the code for `status`.
HttpReply ErrorReply(int status, const std::string& message);
std::optional<int64_t> ToInt(const std::string& text);
// Whether the call carries "Authorization: Bearer sim" (kServiceToken).
bool HasServiceToken(const HttpCall& call);

}  // namespace zlh::sim

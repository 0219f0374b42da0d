// The simulated outside world (SPEC §7.4): the subsets of Proxmox VE, the agent, the proxy, DNS,
// billing, backups and Discord that the HTTP activities call, served from one in-memory state that
// is written to a file after every change (so it outlives a killed zlhd). It counts create calls,
// records every mutating call with its fencing token, rejects stale tokens with 409, and takes
// injected faults and drift through /sim/faults. zlh-sim serves it over HTTP; zlhd runs the same
// world in-process when no --fleet is given.
//
// Routes: /api2/json/... (Proxmox, API-token auth; backups are vzdump, the storage's content list
// and restore as Proxmox does it, POST /nodes/{node}/lxc with restore=1 and force=1; /version,
// /access/permissions; the templates in /cluster/resources; a container's GET/PUT .../config and
// PUT .../resize, calls proxmox.config, proxmox.configure, proxmox.resize; GET .../interfaces, call
// proxmox.interfaces, with a DHCP lease for net0 ip=dhcp; errors as Proxmox gives them: 400 naming
// each bad parameter, a message in the body and the status line, locks injected with
// POST /sim/faults {"lock"}, tasks made to fail with {"mode": "taskFailed"}), /agents/{vmid}/...,
// /proxy/servers, /client/v4/zones/{zone}/dns_records (Cloudflare-style, paged),
// /client/v4/zones/{zone}, /client/v4/user/tokens/verify, /api/webhooks/{channel}/{token}
// (Discord: POST a message, GET the webhook; an injected 429 answers like Discord's rate limit),
// /billing/customers/{id}, and /sim/state, /sim/faults, /sim/containers, /sim/billing, /sim/zones.
//
// Credentials (SPEC §9.7): Proxmox accepts only the API token kProxmoxToken, the other services
// only "Bearer sim" (Discord: the webhook token "sim"); anything else is 401.
//
// Thread-compatible: the caller serializes calls to Handle.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"

namespace zlh::sim {

// The one Proxmox API token the simulator accepts (USER@REALM!TOKENID=SECRET).
inline constexpr char kProxmoxToken[] = "zlh@pve!zlh=00000000-0000-0000-0000-00000000517e";
// The one bearer token (and Discord webhook token) of the other services.
inline constexpr char kServiceToken[] = "sim";

struct HttpCall {
  std::string method;
  std::string path;  // decoded, without the query
  std::map<std::string, std::string> query;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
};

struct HttpReply {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  // Headers besides Content-Type, such as a 429's Retry-After.
  std::vector<std::pair<std::string, std::string>> headers;
  // An injected latency or timeout: the server waits this long before it answers.
  int64_t delay_ms = 0;
  // The status line's reason phrase when not the standard one (Proxmox puts its error there).
  std::string reason;
};

class World {
 public:
  // Loads `state_file` when it exists (kCorruption naming what is wrong when it cannot be read)
  // or starts empty with `nodes`. An empty `state_file` keeps the state in memory only.
  static Result<std::unique_ptr<World>> Open(std::string state_file,
                                             std::vector<std::string> nodes);
  ~World();
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  HttpReply Handle(const HttpCall& call);
  // GET /sim/state's body.
  std::string StateJson() const;

  struct State;  // sim/sim_state.h

 private:
  World(std::string state_file, std::unique_ptr<State> state);
  Status Save() const;

  std::string state_file_;
  std::unique_ptr<State> state_;
};

}  // namespace zlh::sim

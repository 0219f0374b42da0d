// What one reconcile tick saw of the fleet (SPEC §5.4) and what it decided: plain values with a
// JSON form, recorded as the results of the reconcile's `observe` and `diff` steps so that every
// decision can be explained later from the journal (and replayed without observing again).
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace zlh::controller {

// One server as the tables hold it and as the outside world answered for it.
struct ServerObservation {
  // From the tables.
  std::string server_id;
  std::string customer_id;
  std::string name;
  std::string ctype;
  bool stopped_by_billing = false;
  int64_t vmid = 0;
  std::string node;
  std::string address;  // its recorded address ("" for a server provisioned before addresses)
  int64_t created_ms = 0;
  std::string status;  // running, stopped
  bool lease_held = false;
  bool maintenance = false;
  int64_t repairs_in_flight = 0;  // level 1-2 repair workflows of this server not ended
  bool open_proposal = false;     // a level-3 repair proposed or approved and not ended
  // From the outside world; `*_known` is false when the service did not answer.
  bool container_known = false;
  bool container_exists = false;
  std::string container_status;  // running, stopped
  bool agent_known = false;
  std::string agent;     // ready, installing, starting, error, unreachable
  std::string workload;  // what the agent says of the game: running, stopped, crashed, installing
  bool node_drained = false;  // its node is drained (SPEC §9.2): no repair starts its container
  bool dns_known = false;
  bool dns_a_ok = false;
  bool dns_srv_ok = false;  // game servers only
  bool proxy_known = false;
  bool proxy_ok = false;  // game servers only
  bool backups_known = false;
  int64_t last_backup_ms = 0;  // the newest backup; 0: none
};

// A held server lease not heartbeated for longer than the stale limit.
struct StaleLease {
  std::string server_id;
  std::string holder;
  uint64_t epoch = 0;
  std::string holder_state;  // live, ended, unknown
  int64_t silent_ms = 0;     // since the last heartbeat
};

// A customer with live servers: what the billing webhooks told us, and what billing says now.
struct CustomerObservation {
  std::string customer_id;
  std::string recorded;  // active, suspended (from the webhooks)
  std::string billing;   // active, suspended; "" when billing did not answer
};

// A workflow running (not waiting on a timer, signal or lease) without an event for a while.
struct StuckWorkflow {
  std::string workflow_id;
  std::string type;
  int64_t silent_ms = 0;
  std::string step;  // the step it was last seen in (or after); "" before its first
};

struct Observation {
  int64_t tick = 0;
  int64_t observed_ms = 0;  // when observe began (wall clock)
  std::vector<CustomerObservation> customers;
  std::vector<StuckWorkflow> stuck;
  std::vector<ServerObservation> servers;
  std::vector<StaleLease> stale_leases;
  std::vector<std::string> errors;  // services that did not answer: an observation, not a crash
  // Servers observed healthy and left out of `servers` when it was compacted (diff.h), so that a
  // large fleet's record stays small; they had no drift and nothing under way.
  int64_t healthy_servers = 0;
  // When the newest scheduled journal backup was taken and verified (SPEC §11); 0: none recorded.
  int64_t journal_backup_ms = 0;
};

// One drift on one server and what the controller does about it.
struct Decision {
  std::string server_id;
  std::string drift;   // dns_missing, proxy_missing, agent_offline, container_stopped,
                       // workload_stopped
  std::string rule;    // the §6.1 row that matched, in words
  int level = 0;       // the repair's level (§6.2)
  // repair: start the repair workflow; propose: start it as a proposal that waits for the
  // operator's approval (level 3); notify: alert only (above the allowed level); held: a lease or
  // maintenance holds it back (audit log only).
  std::string action;
  std::string repair;  // republish_dns, reregister_proxy, restart_agent, start_container,
                       // restart_workload, clear_stale_lease, rebuild_container, restore_backup
  // clear_stale_lease: the lease as observed (the repair clears only that holder at that epoch).
  std::string holder;
  uint64_t epoch = 0;
  // billing_stop / billing_start: the customer; billing_apply: the status billing says.
  std::string value;
  // What an alert names: "survival (VMID 101)", "customer c-1", "workflow … (type) at step …".
  std::string subject;
  // billing_apply: the customer whose status billing says (its server_id, "customer:<id>", only
  // keys the incident).
  std::string customer_id = {};
};

std::string ToJson(const Observation& o);
Result<Observation> ParseObservation(const std::string& json);
std::string ToJson(const std::vector<Decision>& decisions);
Result<std::vector<Decision>> ParseDecisions(const std::string& json);

}  // namespace zlh::controller

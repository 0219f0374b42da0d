#include "controller/diff.h"

#include <map>
#include <set>

#include "base/clock.h"
#include "base/duration.h"

namespace zlh::controller {
namespace {

std::string Subject(const ServerObservation& s) {
  return s.name + " (VMID " + std::to_string(s.vmid) + ")";
}

void Add(std::vector<Decision>& out, const ServerObservation& s, const Policy& policy,
         const char* drift, const char* rule, int level, const char* repair) {
  Decision d{s.server_id, drift, rule, level, "", repair, "", 0, "", Subject(s)};
  // §9.2: a drained node gets no container started by a repair (a reboot starts one too).
  bool starts = d.repair == "start_container" || d.repair == "restart_agent";
  if (s.lease_held || s.maintenance) {
    d.action = "held";  // §6.3: no repair under an operation's lease or in maintenance
  } else if (starts && s.node_drained) {
    d.action = "held";
    d.rule += "; held: node " + s.node + " is drained";
  } else if (level > policy.max_repair_level) {
    d.action = "notify";
  } else {
    d.action = "repair";
  }
  out.push_back(std::move(d));
}

// The journal's own backups (SPEC §11): once one has been taken and verified, none since for
// longer than the policy allows is a missing backup — alerted once (an incident until the next
// good one), whatever the cause: the node down at the time, the workflow stuck or failing.
void JournalBackupMissed(const Observation& o, const Policy& policy, std::vector<Decision>& out) {
  if (policy.journal_backup_missed_ms <= 0 || o.journal_backup_ms <= 0 || o.observed_ms <= 0)
    return;
  if (o.observed_ms - o.journal_backup_ms <= policy.journal_backup_missed_ms) return;
  out.push_back({"journal:backup", "journal_backup_missed",
                 "no journal backup taken and verified since " +
                     FormatRfc3339(o.journal_backup_ms) + ", more than " +
                     FormatDuration(Millis(policy.journal_backup_missed_ms)) +
                     " ago: alert (zlh-journal list --type backup shows the daily backups)",
                 0, "notify", "", "", 0, "", "the journal's backups"});
}

}  // namespace

std::vector<Decision> Diff(const Observation& observation, const Policy& policy) {
  std::vector<Decision> out;
  for (const ServerObservation& s : observation.servers) {
    bool game = s.ctype != "dev";
    bool should_run = s.status == "running";
    if (s.container_known && !s.container_exists) {
      // Level 3: never automatic; proposed, and done only once an operator approves (§6.2).
      Decision d{s.server_id, "container_missing",
                 "container gone from the hypervisor, server should exist: propose rebuild_container",
                 3, s.lease_held || s.maintenance ? "held" : "propose", "rebuild_container", "", 0, "",
                 Subject(s)};
      out.push_back(std::move(d));
      continue;
    }
    if (s.dns_known && (!s.dns_a_ok || (game && !s.dns_srv_ok))) {
      Add(out, s, policy, "dns_missing", "DNS record missing or wrong: republish", 1, "republish_dns");
    }
    if (game && s.proxy_known && !s.proxy_ok) {
      Add(out, s, policy, "proxy_missing", "server registered nowhere in Velocity: re-register", 1,
          "reregister_proxy");
    }
    if (should_run && s.container_known && s.container_status == "stopped") {
      Add(out, s, policy, "container_stopped",
          "container stopped, server should be running: start_container", 2, "start_container");
    } else if (should_run && s.container_known && s.container_status == "running" &&
               s.agent_known && s.agent == "unreachable") {
      Add(out, s, policy, "agent_offline", "container running, agent unreachable: restart_agent", 2,
          "restart_agent");
    } else if (should_run && s.container_known && s.container_status == "running" &&
               s.agent_known && s.agent == "ready" &&
               (s.workload == "stopped" || s.workload == "crashed")) {
      Add(out, s, policy, "workload_stopped",
          s.workload == "crashed" ? "agent ready, game crashed: restart_workload"
                                  : "agent ready, game stopped, server should be running: restart_workload",
          2, "restart_workload");
    }
    // A backup older than one schedule period + grace is missed (since the server's creation when
    // it has none): #system-health; two periods in a row: #alerts-critical. Notify only.
    if (s.backups_known && observation.observed_ms > 0 && policy.backup_period_ms > 0) {
      int64_t age = observation.observed_ms - (s.last_backup_ms > 0 ? s.last_backup_ms : s.created_ms);
      if (age > policy.backup_period_ms + policy.backup_grace_ms) {
        int64_t missed = (age - policy.backup_grace_ms) / policy.backup_period_ms;
        std::string last = s.last_backup_ms > 0 ? "last backup " + FormatRfc3339(s.last_backup_ms)
                                                : "no backup yet";
        if (missed >= 2) {
          out.push_back({s.server_id, "backup_missed_twice",
                         "backup missed two periods in a row (" + last + "): alert", 0, "notify",
                         "", "", 0, "", Subject(s)});
        } else {
          out.push_back({s.server_id, "backup_missed",
                         "backup missed (" + last + "): notify #system-health", 0, "notice", "",
                         "", 0, "", Subject(s)});
        }
      }
    }
  }
  // Billing enforcement, housekeeping outside the levels (§6.1): a suspended customer's running
  // servers are stopped by an operation (reason billing); a reactivated customer's servers that
  // billing stopped are started again; billing that says otherwise than the webhooks is applied.
  std::map<std::string, const CustomerObservation*> customers;
  for (const auto& c : observation.customers) customers[c.customer_id] = &c;
  for (const ServerObservation& s : observation.servers) {
    auto c = customers.find(s.customer_id);
    if (c == customers.end()) continue;
    if (c->second->recorded == "suspended" && s.status == "running") {
      out.push_back({s.server_id, "billing_suspended",
                     "billing suspended and server running: a stop operation, reason billing", 0,
                     "billing_stop", "", "", 0, s.customer_id, Subject(s)});
    } else if (c->second->recorded == "active" && s.status == "stopped" && s.stopped_by_billing) {
      out.push_back({s.server_id, "billing_reactivated",
                     "customer reactivated: start what billing stopped", 0, "billing_start", "",
                     "", 0, s.customer_id, Subject(s)});
    }
  }
  for (const auto& c : observation.customers) {
    if (!c.billing.empty() && c.billing != c.recorded) {
      out.push_back({"customer:" + c.customer_id, "billing_mismatch",
                     "billing state differs from what webhooks told us: apply it", 0,
                     "billing_apply", "", "", 0, c.billing, "customer " + c.customer_id,
                     c.customer_id});
    }
  }
  // Stuck workflows: a provisioning is failed cleanly (cancelled: it compensates and releases its
  // VMID); any other is alerted once.
  for (const StuckWorkflow& w : observation.stuck) {
    std::string subject = "workflow " + w.workflow_id + " (" + w.type + ")" +
                          (w.step.empty() ? "" : " at step " + w.step);
    if (w.type == "provision" && w.silent_ms > policy.stuck_provisioning_ms) {
      out.push_back({"workflow:" + w.workflow_id, "stuck_provisioning",
                     "provisioning with no progress: fail cleanly, release its VMID", 0,
                     "fail_stuck", "", "", 0, w.workflow_id, subject});
    } else if (w.type != "provision" && w.silent_ms > policy.stuck_workflow_ms) {
      out.push_back({"workflow:" + w.workflow_id, "stuck_workflow",
                     "workflow " + w.workflow_id + " (" + w.type + ") without progress past its limit", 0,
                     "notify", "", "", 0, w.workflow_id, subject});
    }
  }
  JournalBackupMissed(observation, policy, out);
  // Housekeeping, outside the levels (§6.1): a stale lease of an ended or unknown holder is
  // cleared; one whose holder lives is only alerted.
  std::map<std::string, const ServerObservation*> servers;
  for (const auto& s : observation.servers) servers[s.server_id] = &s;
  for (const StaleLease& l : observation.stale_leases) {
    auto server = servers.find(l.server_id);
    Decision d{l.server_id, "stale_lease", "", 0, "", "", l.holder, l.epoch, "",
               server == servers.end() ? "server " + l.server_id : Subject(*server->second)};
    if (l.holder_state == "live") {
      d.rule = "a stale lease whose holder is live: alert once, never cleared automatically";
      d.action = "notify";
    } else {
      d.rule = "a stale lease whose holder is " + l.holder_state + ": clear it, bumping the epoch";
      d.action = "repair";
      d.repair = "clear_stale_lease";
    }
    out.push_back(std::move(d));
  }
  return out;
}

Observation Compact(Observation o, const Policy& policy) {
  std::set<std::string> decided;
  for (const Decision& d : Diff(o, policy)) decided.insert(d.server_id);
  std::vector<ServerObservation> kept;
  std::set<std::string> customers;
  for (ServerObservation& s : o.servers) {
    if (decided.count(s.server_id) || s.lease_held || s.maintenance || s.repairs_in_flight > 0 ||
        s.open_proposal) {
      customers.insert(s.customer_id);
      kept.push_back(std::move(s));
    } else {
      ++o.healthy_servers;
    }
  }
  o.servers = std::move(kept);
  std::erase_if(o.customers, [&](const CustomerObservation& c) {
    bool mismatch = !c.billing.empty() && c.billing != c.recorded;
    return !mismatch && !customers.count(c.customer_id);
  });
  return o;
}

}  // namespace zlh::controller

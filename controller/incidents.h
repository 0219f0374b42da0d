// Incidents, repair attempts and breakers (SPEC §6.1, §6.3): what one tick's decisions become once
// the controller's memory is consulted — inside the reconcile's `record_incidents` transaction, so
// the incidents, the attempt counts and the breakers change in the same write as its event.
//
// Per decision: a new incident opens at this tick; a repair starts only when none of the
// incident's is still running, at most 3 per incident (then #alerts-critical once), while fewer
// than the global and the per-host limits of repairs are in flight (else it waits, audit-log
// only), and at most 3 per server per rolling hour whatever the drift (the breaker; the first
// drift it holds back alerts once per server per hour). A server has at most one open destructive
// proposal until the operator has reviewed it. Housekeeping (level 0) is not counted by the
// breakers. Incidents no longer observed close.
//
// Thread-safety: runs on the journal's writer inside a transaction.
#pragma once

#include <boost/json.hpp>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "controller/observation.h"
#include "fleet/tables.h"
#include "journal/journal.h"

namespace zlh::controller {

struct Act {
  Decision decision;
  int64_t first_tick = 0;
  // repair (start attempt `attempt`), propose (start the proposal), proposed (one is open),
  // in_progress, exhausted (3 failures), exhausted_propose (3 failures of a level-2 repair: alert
  // and propose restore_backup), breaker, limited (a concurrency limit or an open proposal holds
  // it back for now), notify (#alerts-critical), notice (#system-health), held
  std::string outcome;
  uint32_t attempt = 0;
  bool alert = false;  // its once-only alert is due now
  // The breaker or limit that held it back: repairs_per_hour, repair_concurrency,
  // host_concurrency, open_proposal; "" when none did.
  std::string breaker;
  // Worth an #audit-log line: an action, an alert, or an outcome other than the incident's last
  // (a drift newly held back, say) — not the same wait repeated every tick.
  bool news = true;
};

// The §6.3 limits on repairs in flight, and what is in flight, from one observation.
struct RepairLimits {
  int64_t global = 4;    // level 1-2 repairs in flight at once, fleet-wide
  int64_t per_host = 2;  // ... on one hypervisor node
  int64_t in_flight = 0;
  std::map<std::string, int64_t> in_flight_by_node;
  std::map<std::string, std::string> node_of;  // server id -> node
  std::set<std::string> open_proposals;         // servers with a destructive proposal open
  // Servers with a level 1-2 repair in flight: one repair of a server at a time, so that a repair
  // half done (a container started, its game not yet) is not taken for a second drift.
  std::set<std::string> busy;
  // When the tick's observe began: a repair that ended after it is judged by the next tick's
  // observation, not this one (which may predate the repair's effect). 0: no such check.
  int64_t observed_ms = 0;

  static RepairLimits Of(const Observation& observation, int64_t global, int64_t per_host);
};

inline constexpr uint32_t kMaxRepairAttempts = 3;
inline constexpr size_t kBreakerRepairsPerHour = 3;

std::string RepairDedupKey(const Act& act);

// The per-hour breakers with repairs in the last hour as of `now_ms`, for GET /api/controller:
// [{serverId, kind: "repairs_per_hour", count, openUntil (RFC 3339, null while closed)}].
Result<boost::json::array> BreakersJson(const journal::Journal& journal, int64_t now_ms);

// The node's fencing token when it decided, and its source. Value 0: none (tests).
struct FencingToken {
  fleet::FencingSource source = fleet::FencingSource::kJournal;
  uint64_t value = 0;
};

// `fencing` is the node's token when it decided (SPEC §6.4): the decisions are recorded with it,
// and refused (kFailedPrecondition, nothing written) when a newer token of the same source —
// Redis's wall-clock tokens or the journal's open counts — has been recorded already.
Result<std::vector<Act>> RecordIncidents(journal::Txn& txn, const std::vector<Decision>& decisions,
                                         int64_t tick, int64_t now_ms, FencingToken fencing = {},
                                         RepairLimits limits = {});

std::string ToJson(const std::vector<Act>& acts);
Result<std::vector<Act>> ParseActs(const std::string& json, const std::vector<Decision>& decisions);

}  // namespace zlh::controller

// Incidents, repair attempts and breakers (SPEC §6.1, §6.3): what one tick's decisions become once
// the controller's memory is consulted — inside the reconcile's `record_incidents` transaction, so
// the incidents, the attempt counts and the breakers change in the same write as its event.
//
// Per decision: a new incident opens at this tick; a repair starts only when none of the
// incident's is still running, at most 3 per incident (then #alerts-critical once), and at most 3
// per server per rolling hour whatever the drift (the breaker; the first drift it holds back
// alerts once per server per hour). Housekeeping (level 0) is not counted by the breakers.
// Incidents no longer observed close.
//
// Thread-safety: runs on the journal's writer inside a transaction.
#pragma once

#include <string>
#include <vector>

#include "controller/observation.h"
#include "journal/journal.h"

namespace zlh::controller {

struct Act {
  Decision decision;
  int64_t first_tick = 0;
  // repair (start attempt `attempt`), propose (start the proposal), proposed (one is open),
  // in_progress, exhausted (3 failures), exhausted_propose (3 failures of a level-2 repair: alert
  // and propose restore_backup), breaker, notify, held
  std::string outcome;
  uint32_t attempt = 0;
  bool alert = false;  // its once-only alert is due now
};

inline constexpr uint32_t kMaxRepairAttempts = 3;
inline constexpr size_t kBreakerRepairsPerHour = 3;

std::string RepairDedupKey(const Act& act);

// `fencing_token` is the node's token when it decided (SPEC §6.4): the decisions are recorded with
// it, and refused (kFailedPrecondition, nothing written) when a newer token of the same kind —
// Redis's wall-clock tokens or the journal's open counts — has been recorded already.
Result<std::vector<Act>> RecordIncidents(journal::Txn& txn, const std::vector<Decision>& decisions,
                                         int64_t tick, int64_t now_ms, uint64_t fencing_token = 0);

std::string ToJson(const std::vector<Act>& acts);
Result<std::vector<Act>> ParseActs(const std::string& json, const std::vector<Decision>& decisions);

}  // namespace zlh::controller

// diff (SPEC §5.4): a pure function from one observation and the policy to the drift list — the
// rows of §6.1 this slice handles, their repair levels (§6.2), and what holds a repair back.
//
// Thread-safety: pure.
#pragma once

#include <vector>

#include "controller/observation.h"

namespace zlh::controller {

struct Policy {
  int max_repair_level = 1;  // §6.2: repairs above it become notifications
  int64_t stuck_provisioning_ms = 15 * 60'000;
  int64_t stuck_workflow_ms = 30 * 60'000;
  int64_t backup_period_ms = 24 * 3'600'000;  // the backup schedule's period
  int64_t backup_grace_ms = 2 * 3'600'000;
  // The journal's own backups (SPEC §11): none taken and verified for longer than this is a
  // missing backup; 0: not scheduled, nothing to miss.
  int64_t journal_backup_missed_ms = 0;
};

// The decisions for `observation`, one per drift per server, in server order. What a service did
// not answer for is not a drift (it is unknown, not missing).
std::vector<Decision> Diff(const Observation& observation, const Policy& policy);

// `observation` without the servers nothing is to be said about — no decision of Diff, no lease,
// maintenance, repair or proposal under way — counted in healthy_servers instead, and without the
// customers none of the rest refers to and whose billing agrees with the webhooks. Diff of the
// result is Diff of the whole: what reconcile records is what explains its decisions, at the size
// of what is wrong rather than of the fleet.
Observation Compact(Observation observation, const Policy& policy);

}  // namespace zlh::controller

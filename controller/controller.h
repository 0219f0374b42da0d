// The controller's workflows (SPEC §5.3, §5.4): `reconcile`, fired by the scheduler's cron every
// tick — observe the fleet, diff it against the tables and the policy, record the incidents, start
// one `repair` workflow per incident, alert once per incident what is above the allowed level, and
// write one #audit-log message for the tick — and `repair`, which runs one repair on one server
// unless a lease or maintenance holds it back, then reports it to #alerts-repairs.
//
// Thread-safety: the workflows run on the engine's thread; Deps must outlive the engine.
#pragma once

#include <string>
#include <vector>

#include "fleet/tables.h"
#include "flows/flows.h"
#include "workflows/engine.h"
#include "workflows/registry.h"

namespace zlh::backup {
class Keeper;
}

namespace zlh::controller {

inline constexpr char kReconcile[] = "reconcile";
inline constexpr char kRepair[] = "repair";

class DecisionLog;

// Registers `reconcile` and `digest` (controller/digest.h; queue control), `repair` (queue
// repair) and the journal's daily `backup` (controller/journal_backup.h; queue backup). `log`,
// when set, receives every decision (GET /api/controller); it must outlive the engine. `fencing`:
// where the node's fencing token comes from (with Redis, the lock's), so that the journal compares
// a decision's token only with tokens of the same source. `backups`: where the daily backup goes
// (null: a node that keeps none, whose backups fail); it must outlive the engine.
Status Register(workflows::Registry& registry, flows::Deps& deps, DecisionLog* log = nullptr,
                fleet::FencingSource fencing = fleet::FencingSource::kJournal,
                backup::Keeper* backups = nullptr);

// The start of tick `tick`'s reconcile: dedup key per tick, so a restart never fires it twice.
workflows::StartRequest ReconcileStart(int64_t tick);

// The start of tick `tick` of the scheduled workflow `type` (the reconcile's ticks, the digest's
// and the backup's days): input {"<field>": tick}, dedup key "<type>\x1f<tick>".
workflows::StartRequest ScheduledStart(const char* type, const char* field, int64_t tick);

}  // namespace zlh::controller

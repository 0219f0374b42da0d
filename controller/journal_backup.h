// The daily journal backup (SPEC §11): a `backup` workflow fired by the controller's cron at
// backup.at (local time in the business hours' zone) on the node that leads, one per local day (its
// dedup key), so a restart never takes two. Its steps: the time it is taken (recorded, so a crash
// retakes into the same directory), `take` — a checkpoint into <backup.dir>/<UTC time>, the tokens
// file beside it (0600), the copy opened read-only and verified, all off the event loop
// (backup/keeper.h) — `record` (the newest good backup, which the reconcile watches) and `prune`
// (the scheduled backups beyond backup.keep). A failed or unverifiable backup, or a failed prune,
// records a #alerts-critical ping in the outbox, and the workflow fails.
//
// A backup that goes missing — none taken and verified for kMissedAfter, say because the node was
// down at the time or the workflow is stuck — is noticed by the reconcile (controller/diff.h), not
// here: a workflow that does not run cannot report that it did not.
//
// Thread-safety: the workflow runs on the engine's thread.
#pragma once

#include <string>

#include "base/duration.h"
#include "flows/flows.h"
#include "workflows/context.h"
#include "workflows/engine.h"

namespace zlh::backup {
class Keeper;
}

namespace zlh::controller {

inline constexpr char kBackup[] = "backup";
// A queue of its own: verifying a large journal takes a while, and must not hold up the
// reconcile's queue (control).
inline constexpr char kBackupQueue[] = "backup";
// None taken and verified for this long (a day and two hours' grace) is a missing backup.
inline constexpr Millis kMissedAfter{26LL * 3'600'000};

// The start of the backup of local day `day` (days since 1970-01-01): dedup key per day.
workflows::StartRequest BackupStart(int64_t day);

// The workflow. `keeper` (may be null: every backup then fails, alerting) must outlive the engine.
workflows::Task<Result<std::string>> JournalBackup(const flows::Deps& d, backup::Keeper* keeper,
                                                   workflows::Context& ctx);

}  // namespace zlh::controller

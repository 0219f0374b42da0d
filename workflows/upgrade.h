// Upgrade check (SPEC §11): before a new build takes over a journal, each workflow it would have to
// continue is replayed with the new build's code (workflows/replay.h); the ones whose history the
// code no longer follows — a step changed without a ctx.Version marker, a type dropped — are
// listed, so that the operator drains or finishes them under the old build first. Reads only;
// safe on a read-only journal beside a running daemon.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "journal/journal.h"
#include "proto/records.pb.h"
#include "workflows/registry.h"

namespace zlh::workflows {

// A workflow the checked code cannot continue.
struct UpgradeBlocker {
  std::string id;
  std::string type;
  proto::WorkflowStatus status = proto::WORKFLOW_STATUS_UNSPECIFIED;
  // Why: the first divergence ("step 3: the history holds 'x', the code asked for 'y'") or "type
  // 'legacy' is not registered by this build".
  std::string reason;
};

struct UpgradeReport {
  size_t checked = 0;  // workflows replayed
  std::vector<UpgradeBlocker> blocked;  // in status, then id (creation) order
};

// Replays every workflow that may still run — queued, running, waiting, and failed (a retry
// resumes it) — with `registry`'s code. kCorruption/kIOError when the journal cannot be read.
Result<UpgradeReport> CheckUpgrade(const Registry& registry, const journal::Journal& journal);

}  // namespace zlh::workflows

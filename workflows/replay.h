// Replay: runs a workflow's registered code over its recorded history with no side effect — a
// step whose outcome is recorded returns it, and the run stops at the first call the history does
// not answer — to check that the code and the history agree (after a deploy, before a retry).
// Reads only; safe on a read-only journal.
#pragma once

#include <string>

#include "base/status.h"
#include "journal/journal.h"
#include "workflows/registry.h"

namespace zlh::workflows {

struct ReplayReport {
  bool matches = false;
  // The first divergence when it does not match: "step 3: the history holds 'create_container',
  // the code asked for 'clone_template'".
  std::string divergence;
  uint32_t steps_replayed = 0;
};

// kNotFound for an unknown id; kFailedPrecondition when the workflow's type is not registered.
Result<ReplayReport> Replay(const Registry& registry, const journal::Journal& journal,
                            const std::string& id);

}  // namespace zlh::workflows

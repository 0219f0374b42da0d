// Recorded workflows found by meaning from inside a journal transaction (a controller decision
// that depends on how an earlier workflow ended), so that callers above workflows/ need not know
// the index and summary layouts.
//
// Thread-safety: free functions; a Txn is used on the journal's writer thread only.
#pragma once

#include <optional>
#include <string_view>

#include "base/status.h"
#include "journal/journal.h"
#include "proto/records.pb.h"

namespace zlh::workflows {

// The stored summary of the workflow started under `dedup_key`; nullopt when none was started.
// kCorruption when the index names a workflow whose summary is missing or unreadable.
Result<std::optional<proto::WorkflowSummary>> SummaryByDedupKey(journal::Txn& txn,
                                                                std::string_view dedup_key);

}  // namespace zlh::workflows

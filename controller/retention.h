// Retention (SPEC §4.6): finished workflows of the given types made before a cut-off are deleted
// — their events, summary and index entries — at most `limit` per call. Only for types that change
// no domain table (reconcile, digest), so the fold of the events stays whole.
//
// Thread-safety: runs on the journal's writer inside a transaction.
#pragma once

#include <set>
#include <string>

#include "base/clock.h"
#include "journal/journal.h"

namespace zlh::controller {

// How many were deleted.
Result<size_t> DeleteExpired(journal::Txn& txn, const std::set<std::string>& types, TimeMs cutoff,
                             size_t limit);

}  // namespace zlh::controller

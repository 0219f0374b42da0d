// Everything `zlh-journal verify` checks, in one call, for the tool and for the backups that are
// verified before they count (SPEC §11): the journal's files, then the engine's invariants
// (workflows/verify.h), the domain tables' (fleet/verify.h) and the tables against the fold of the
// ZLH workflows' events (flows/fold.h).
//
// Thread-safety: reads only (VerifyFiles opens a second read-only instance on a read-only journal).
#pragma once

#include <vector>

#include "journal/journal.h"
#include "workflows/verify.h"

namespace zlh::flows {

// Every violation found (none: the journal is consistent). kCorruption naming the first damage
// when a file is missing or damaged (Journal::VerifyFiles); the read's error when the journal
// cannot be read.
Result<std::vector<workflows::Violation>> VerifyJournal(journal::Journal& journal);

}  // namespace zlh::flows

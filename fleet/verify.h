// The domain tables' invariants (SPEC §8.2, §8.4), checked by zlh-journal verify beside the
// workflows' own (workflows/verify.h): a VMID belongs to at most one server and every allocated
// VMID to a live server that names it; every live server with a VMID holds its row (and the same
// for addresses, SPEC §9.1); names and the customer index match the live servers; a lease is held
// only by a workflow that has not ended; the outbox's pending index holds exactly its pending
// deliveries, and every notification id is below the sequence's next.
//
// Thread-safety: reads only; safe beside a writing process (on a read-only journal).
#pragma once

#include <vector>

#include "journal/journal.h"
#include "workflows/verify.h"

namespace zlh::fleet {

Result<std::vector<workflows::Violation>> VerifyDomain(const journal::Journal& journal);

}  // namespace zlh::fleet

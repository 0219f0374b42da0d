// Appending from a coroutine: the append's completion (which runs on the journal's writer thread)
// brought back to the awaiting coroutine's executor.
//
// Thread-safety: as Journal::Append; the coroutine resumes on its own executor.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "base/status.h"
#include "journal/journal.h"

namespace zlh::journal {

// Appends `txn` to `journal` (synced before it returns) and resumes on the caller's executor; the
// status of the write, or of the transaction when it refused.
boost::asio::awaitable<Status> AppendDurably(Journal& journal, TxnFn txn);

}  // namespace zlh::journal

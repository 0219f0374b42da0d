// Verify: checks a journal against the invariants the engine keeps (SPEC §8): every event stream
// is gap-free from seq 1; every workflow's summary agrees with its history; the status, dedup and
// timer indexes agree with the summaries and histories. Reads only; safe on a read-only journal.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "journal/journal.h"

namespace zlh::workflows {

struct Violation {
  std::string subject;  // the workflow, stream or index key it is about
  std::string what;     // one line
};

// Every violation found (none: the journal is consistent); an error when the journal cannot be read.
Result<std::vector<Violation>> Verify(const journal::Journal& journal);

}  // namespace zlh::workflows

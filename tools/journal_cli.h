// The zlh-journal command line: the operator's window into the journal. It opens the journal
// read-only (a RocksDB secondary instance), so it works beside a running zlhd and can neither
// block nor change it. A function of the registry so that `replay` runs the code of the binary it
// is linked into (zlh-journal: the ZLH workflows; tests: their own).
//
// Exit codes: 0 fine; 1 replay or verify found a problem, or a restore was refused; 2 bad usage,
// unknown id or no journal at the path; 3 journal unreadable or of a newer format, or a restore's
// copy failed.
#pragma once

#include "workflows/registry.h"

namespace zlh::tools {

// Runs zlh-journal with `argv`; returns the exit code (usage errors exit directly).
int JournalMain(int argc, char** argv, const workflows::Registry& registry);

}  // namespace zlh::tools

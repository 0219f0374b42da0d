// zlh-bench reconcile: one full reconcile tick over N healthy servers of the simulated world
// served in-process (every answer held `latency`), timed, with the process's peak memory.
// Not thread-safe; one run per process.
#pragma once

#include <string>

#include "tools/bench_baseline.h"

namespace zlh::bench {

// Builds the fleet in a fresh journal at `dir`, then runs and times one tick (`concurrency` probes
// in flight); prints one line, the fsync `baseline` beside. Returns the exit code.
int BenchReconcile(const std::string& dir, long servers, long latency_ms, long concurrency,
                   const Baseline& baseline);

}  // namespace zlh::bench

// zlh-bench reconcile: one full reconcile tick over N healthy servers of the simulated world
// served in-process (every answer held `latency`), timed, with the process's peak memory.
// Not thread-safe; one run per process.
#pragma once

#include <string>

namespace zlh::bench {

int BenchReconcile(const std::string& dir, long servers, long latency_ms, long concurrency);

}  // namespace zlh::bench

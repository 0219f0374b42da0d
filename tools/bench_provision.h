// zlh-bench provision: the engine's own cost per provisioning, against the simulated world served
// in-process over loopback with no injected latency. Not thread-safe; one run per process.
#pragma once

#include <string>

#include "tools/bench_baseline.h"

namespace zlh::bench {

// Provisions `servers` servers, `concurrency` at a time, in a fresh journal at `dir`; prints one
// line (provisionings/s, p50/p99 from accept to completion, CPU per provisioning, `baseline` beside).
// Returns the exit code.
int BenchProvision(const std::string& dir, long servers, long concurrency,
                   const Baseline& baseline);

}  // namespace zlh::bench

// The fsync baseline every zlh-bench figure is printed beside (SPEC §14 states its targets as ratios
// to it, measured in the same run, so that they hold on any machine), and the process's CPU time.
// Not thread-safe.
#pragma once

#include <string>

#include "base/status.h"

namespace zlh::bench {

struct Baseline {
  double writes_per_s = 0;  // synced single-Put RocksDB writes per second, one after another
  double p50_ms = 0;        // the median of their latencies
};

// `writes` synced Puts into a fresh database beside `data_dir` (the same disk: `data_dir` with
// "-fsync-baseline" appended), removed afterwards.
Result<Baseline> MeasureBaseline(const std::string& data_dir, long writes);

// " fsync_writes_per_s=5149 fsync_p50_ms=0.180": what every figure line ends with.
std::string BaselineFields(const Baseline& b);

// User plus system CPU time of the whole process (every thread) so far, in seconds.
double ProcessCpuSeconds();

}  // namespace zlh::bench

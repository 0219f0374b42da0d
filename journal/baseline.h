// The reference that journal benchmarks are quoted beside: a plain loop of synced single-Put
// RocksDB writes (one fsync each, no batching), on a fresh database in `dir`. Not thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "base/status.h"

namespace zlh::journal {

// Writes `count` 64-byte values one synced Put at a time; returns each write's latency in ms.
Result<std::vector<double>> MeasureSyncedPuts(const std::string& dir, size_t count);

}  // namespace zlh::journal

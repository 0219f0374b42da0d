#include "tools/bench_baseline.h"

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "journal/baseline.h"
#include "tools/bench_stats.h"

namespace zlh::bench {

Result<Baseline> MeasureBaseline(const std::string& data_dir, long writes) {
  std::string dir = data_dir + "-fsync-baseline";
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::filesystem::create_directories(std::filesystem::path(dir).parent_path(), ec);
  auto t0 = std::chrono::steady_clock::now();
  auto latencies = journal::MeasureSyncedPuts(dir, static_cast<size_t>(writes));
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::filesystem::remove_all(dir, ec);
  if (!latencies.ok()) return latencies.status();
  return Baseline{static_cast<double>(writes) / seconds, Percentile(*latencies, 50)};
}

std::string BaselineFields(const Baseline& b) {
  char fields[96];
  std::snprintf(fields, sizeof fields, " fsync_writes_per_s=%.0f fsync_p50_ms=%.3f",
                b.writes_per_s, b.p50_ms);
  return fields;
}

double ProcessCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

}  // namespace zlh::bench

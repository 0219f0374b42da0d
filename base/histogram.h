// Histogram: counts of observations in fixed buckets, with their sum — what /metrics exposes as a
// Prometheus histogram. A plain value: thread-compatible (its owner serializes updates).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace zlh {

struct Histogram {
  explicit Histogram(std::vector<double> upper_bounds = LatencyBuckets())
      : bounds(std::move(upper_bounds)), counts(bounds.size() + 1, 0) {}

  void Observe(double v) {
    size_t i = static_cast<size_t>(std::lower_bound(bounds.begin(), bounds.end(), v) - bounds.begin());
    ++counts[i];  // the last slot is +Inf
    sum += v;
    ++count;
  }

  // Seconds, from half a millisecond to ten seconds.
  static std::vector<double> LatencyBuckets() {
    return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  }

  std::vector<double> bounds;
  std::vector<uint64_t> counts;  // per bucket (not cumulative); one more than bounds: +Inf
  double sum = 0;
  uint64_t count = 0;
};

}  // namespace zlh

// What the outbox's dispatcher shows (SPEC §10, design §4): per route and channel what waits and
// since when, which channels fail, and counters since the start — as a plain value for
// GET /api/controller, and as Prometheus text for /metrics (RenderMetrics).
//
// Thread-safety: plain values and a pure function.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/clock.h"

namespace zlh::notify {

// One lane as the metrics show it: a route kind ("discord" or "email") and a channel.
struct LaneView {
  std::string route;
  std::string channel;
  size_t pending = 0;     // deliveries waiting
  int64_t oldest_ms = 0;  // when the oldest of them was recorded; 0 when none waits
};

struct RetryKey {
  std::string route;  // "discord" or "email"
  std::string channel;
  std::string reason;  // "rate_limited", "unavailable" or "timeout"
  auto operator<=>(const RetryKey&) const = default;
};

// Counted since the dispatcher started.
struct Counters {
  uint64_t delivered = 0;    // deliveries that ended delivered (every part shown)
  uint64_t failed = 0;       // deliveries refused for good
  uint64_t interrupted = 0;  // attempts a restart found in flight (each may have shown twice)
  std::map<RetryKey, uint64_t> retries;
};

struct Snapshot {
  std::vector<LaneView> lanes;       // every configured and seen channel, by route then channel
  size_t pending = 0;                // entries with a delivery waiting (entries, not deliveries)
  int64_t oldest_ms = 0;             // the oldest of them recorded at; 0 when none
  std::vector<std::string> failing;  // channels whose last attempt did not deliver or that were
                                     // refused in the last hour; "email" when its lane fails
  Counters counters;
};

// The outbox's series in Prometheus text format: zlh_outbox_pending and zlh_outbox_oldest_seconds
// {route, channel} (gauges, 0 when empty; oldest as of `now_ms`), zlh_outbox_delivered_total,
// zlh_outbox_failed_total, zlh_outbox_interrupted_total and
// zlh_outbox_retries_total{route, channel, reason}.
std::string RenderMetrics(const Snapshot& snapshot, int64_t now_ms = NowMs());

}  // namespace zlh::notify

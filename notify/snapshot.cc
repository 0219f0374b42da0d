// The outbox's series in Prometheus text format (snapshot.h).
// Thread-safety: a pure function.
#include "notify/snapshot.h"

#include <sstream>

#include "base/prometheus.h"

namespace zlh::notify {
namespace {

// A label value as the text format quotes it.
std::string Quoted(const std::string& value) { return "\"" + PrometheusLabelValue(value) + "\""; }

void Family(std::ostringstream& out, const char* name, const char* type, const char* help) {
  out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
}

std::string LaneLabels(const std::string& route, const std::string& channel) {
  return "{route=" + Quoted(route) + ",channel=" + Quoted(channel);
}

void Gauges(std::ostringstream& out, const Snapshot& s, int64_t now_ms) {
  Family(out, "zlh_outbox_pending", "gauge",
         "Notification deliveries waiting, per route and channel.");
  for (const LaneView& v : s.lanes) {
    out << "zlh_outbox_pending" << LaneLabels(v.route, v.channel) << "} " << v.pending << '\n';
  }
  Family(out, "zlh_outbox_oldest_seconds", "gauge",
         "Age of the oldest waiting delivery, per route and channel (0 when none waits).");
  for (const LaneView& v : s.lanes) {
    double age = v.oldest_ms == 0 ? 0.0 : static_cast<double>(now_ms - v.oldest_ms) / 1000.0;
    out << "zlh_outbox_oldest_seconds" << LaneLabels(v.route, v.channel) << "} "
        << (age < 0 ? 0.0 : age) << '\n';
  }
}

void Totals(std::ostringstream& out, const Counters& c) {
  Family(out, "zlh_outbox_delivered_total", "counter",
         "Deliveries that ended delivered since the start.");
  out << "zlh_outbox_delivered_total " << c.delivered << '\n';
  Family(out, "zlh_outbox_failed_total", "counter", "Deliveries refused for good since the start.");
  out << "zlh_outbox_failed_total " << c.failed << '\n';
  Family(out, "zlh_outbox_interrupted_total", "counter",
         "Attempts found in flight at the start (each may have shown twice).");
  out << "zlh_outbox_interrupted_total " << c.interrupted << '\n';
  Family(out, "zlh_outbox_retries_total", "counter",
         "Attempts to be tried again, per route, channel and reason, since the start.");
  for (const auto& [key, n] : c.retries) {
    out << "zlh_outbox_retries_total" << LaneLabels(key.route, key.channel)
        << ",reason=" << Quoted(key.reason) << "} " << n << '\n';
  }
}

}  // namespace

std::string RenderMetrics(const Snapshot& snapshot, int64_t now_ms) {
  std::ostringstream out;
  Gauges(out, snapshot, now_ms);
  Totals(out, snapshot.counters);
  return out.str();
}

}  // namespace zlh::notify

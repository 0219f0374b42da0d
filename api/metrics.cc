#include "api/metrics.h"

#include <cstdio>
#include <sstream>
#include <vector>

#include "base/prometheus.h"

namespace zlh::api {
namespace {

using Labels = std::vector<std::pair<std::string, std::string>>;

std::string Number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

class Writer {
 public:
  void Family(const char* name, const char* type, const char* help) {
    out_ << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
  }
  void Sample(const std::string& name, const Labels& labels, double value) {
    out_ << name;
    if (!labels.empty()) {
      out_ << '{';
      for (size_t i = 0; i < labels.size(); ++i) {
        out_ << (i ? "," : "") << labels[i].first << "=\"" << PrometheusLabelValue(labels[i].second) << '"';
      }
      out_ << '}';
    }
    out_ << ' ' << Number(value) << '\n';
  }
  void Histogram(const std::string& name, Labels labels, const zlh::Histogram& h) {
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= h.bounds.size(); ++i) {
      cumulative += h.counts[i];
      Labels with = labels;
      with.emplace_back("le", i < h.bounds.size() ? Number(h.bounds[i]) : "+Inf");
      Sample(name + "_bucket", with, static_cast<double>(cumulative));
    }
    Sample(name + "_sum", labels, h.sum);
    Sample(name + "_count", labels, static_cast<double>(h.count));
  }
  std::string Take() { return out_.str(); }

 private:
  std::ostringstream out_;
};

}  // namespace

std::string RenderMetrics(const MetricsSources& s) {
  Writer w;
  if (s.engine) {
    const workflows::EngineStats& e = s.engine->stats();
    w.Family("zlh_workflows_started_total", "counter", "Workflows recorded (started), by type.");
    for (const auto& [type, n] : e.started) {
      w.Sample("zlh_workflows_started_total", {{"type", type}}, static_cast<double>(n));
    }
    w.Family("zlh_workflows_ended_total", "counter",
             "Workflows that ended since this process started, by type and final status.");
    for (const auto& [key, n] : e.ended) {
      w.Sample("zlh_workflows_ended_total", {{"type", key.first}, {"status", key.second}},
               static_cast<double>(n));
    }
    w.Family("zlh_workflows_live", "gauge", "Workflows not yet ended (queued, running, waiting).");
    w.Sample("zlh_workflows_live", {}, static_cast<double>(s.engine->live_count()));
    w.Family("zlh_step_duration_seconds", "histogram",
             "Duration of each activity step attempt, by workflow type and step.");
    for (const auto& [key, h] : e.step_seconds) {
      w.Histogram("zlh_step_duration_seconds", {{"type", key.first}, {"step", key.second}}, h);
    }
  }
  if (s.queues) {
    auto stats = s.queues->stats();
    w.Family("zlh_queue_depth", "gauge", "Workflows waiting in a queue for a slot.");
    for (const auto& [q, st] : stats) w.Sample("zlh_queue_depth", {{"queue", q}}, static_cast<double>(st.queued));
    w.Family("zlh_queue_running", "gauge", "Workflows holding a queue's slots.");
    for (const auto& [q, st] : stats) w.Sample("zlh_queue_running", {{"queue", q}}, st.running);
    w.Family("zlh_queue_limit", "gauge", "A queue's concurrency limit.");
    for (const auto& [q, st] : stats) w.Sample("zlh_queue_limit", {{"queue", q}}, st.limit);
  }
  if (s.journal) {
    journal::WriterStats js = s.journal->writer_stats();
    w.Family("zlh_journal_healthy", "gauge", "1 while the journal accepts writes, 0 once it fail-stopped.");
    w.Sample("zlh_journal_healthy", {}, s.journal->health().ok() ? 1 : 0);
    w.Family("zlh_journal_commit_seconds", "histogram", "Duration of each synced group commit.");
    w.Histogram("zlh_journal_commit_seconds", {}, js.commit_seconds);
    w.Family("zlh_journal_group_appends", "histogram", "Appends committed together in one synced write.");
    w.Histogram("zlh_journal_group_appends", {}, js.group_appends);
  }
  if (s.router) {
    w.Family("zlh_http_requests_total", "counter", "HTTP requests answered, by route and status code.");
    for (const auto& [key, n] : s.router->counts()) {
      w.Sample("zlh_http_requests_total", {{"route", key.first}, {"code", std::to_string(key.second)}},
               static_cast<double>(n));
    }
  }
  return w.Take();
}

}  // namespace zlh::api

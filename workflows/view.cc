#include "workflows/view.h"

#include <algorithm>
#include <cctype>
#include <map>

namespace zlh::workflows {
namespace {

std::string ErrorText(const proto::Error& e) { return e.code() + ": " + e.message(); }

}  // namespace

std::string StatusName(int status) {
  if (!proto::WorkflowStatus_IsValid(status) || status == 0) return "unknown";
  std::string name = proto::WorkflowStatus_Name(static_cast<proto::WorkflowStatus>(status));
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

int StatusFromName(const std::string& name) {
  for (int s = proto::QUEUED; s <= proto::CANCELLED; ++s) {
    if (StatusName(s) == name) return s;
  }
  return 0;
}

WorkflowView BuildView(const proto::WorkflowSummary& summary,
                       const std::vector<proto::Event>& events) {
  WorkflowView view;
  view.summary = summary;
  std::map<uint32_t, StepView> steps;
  auto at = [&](uint32_t n, const std::string& name) -> StepView& {
    StepView& s = steps[n];
    s.step = n;
    if (!name.empty()) s.name = name;
    return s;
  };
  for (const proto::Event& e : events) {
    view.last_seq = e.seq();
    view.updated_ms = e.time_ms();
    switch (e.kind_case()) {
      case proto::Event::kWorkflowStarted:
        view.input = e.workflow_started().input();
        break;
      case proto::Event::kStepStarted: {
        StepView& s = at(e.step_started().step(), e.step_started().name());
        s.status = "running";
        s.attempts = std::max(s.attempts, e.step_started().attempt());
        if (s.started_ms == 0) s.started_ms = e.time_ms();
        break;
      }
      case proto::Event::kStepCompleted: {
        const auto& c = e.step_completed();
        StepView& s = at(c.step(), c.name());
        bool signal = c.name().rfind("signal:", 0) == 0;
        s.status = signal && c.consumed_seq() == 0 ? "timed_out" : "completed";
        s.attempts = std::max(s.attempts, c.attempt());
        if (s.started_ms == 0) s.started_ms = c.started_ms() ? c.started_ms() : e.time_ms();
        s.completed_ms = e.time_ms();
        s.wake_ms = 0;
        s.waiting_for.clear();
        break;
      }
      case proto::Event::kStepFailed: {
        const auto& f = e.step_failed();
        StepView& s = at(f.step(), f.name());
        s.attempts = std::max(s.attempts, f.attempt());
        if (s.started_ms == 0) s.started_ms = f.started_ms() ? f.started_ms() : e.time_ms();
        s.error = ErrorText(f.error());
        if (f.retry_at_ms() != 0) {
          s.status = "retrying";
          s.wake_ms = f.retry_at_ms();
        } else {
          s.status = f.error().code() == "cancelled"     ? "cancelled"
                     : f.error().code() == "interrupted" ? "interrupted"
                                                         : "failed";
          s.completed_ms = e.time_ms();
          s.wake_ms = 0;
        }
        break;
      }
      case proto::Event::kTimerScheduled: {
        StepView& s = at(e.timer_scheduled().step(), e.timer_scheduled().name());
        s.status = "waiting";
        s.started_ms = e.time_ms();
        s.wake_ms = e.timer_scheduled().fire_at_ms();
        break;
      }
      case proto::Event::kTimerFired: {
        StepView& s = at(e.timer_fired().step(), "");
        s.status = "completed";
        s.completed_ms = e.time_ms();
        s.wake_ms = 0;
        break;
      }
      case proto::Event::kStepWaiting: {
        StepView& s = at(e.step_waiting().step(), e.step_waiting().name());
        s.status = "waiting";
        if (s.started_ms == 0) s.started_ms = e.time_ms();
        s.waiting_for = e.step_waiting().detail();
        break;
      }
      default:
        break;
    }
  }
  view.steps.reserve(steps.size());
  for (auto& [n, s] : steps) view.steps.push_back(std::move(s));
  return view;
}

}  // namespace zlh::workflows

#include "workflows/history.h"

namespace zlh::workflows {

Status StatusFromProto(const proto::Error& error) {
  Code code = CodeFromName(error.code());
  if (code == Code::kOk) code = Code::kInternal;
  return {code, error.message()};
}

void StatusToProto(const Status& status, proto::Error* out) {
  out->set_code(std::string(CodeName(status.code())));
  out->set_message(status.message());
}

Result<History> History::Fold(const std::vector<proto::Event>& events) {
  History h;
  if (events.empty() || !events.front().has_workflow_started()) {
    return Corruption("history does not start with WorkflowStarted");
  }
  for (const proto::Event& e : events) {
    if (e.seq() != h.last_seq + 1) {
      return Corruption("history has a gap: event " + std::to_string(e.seq()) + " follows " +
                        std::to_string(h.last_seq));
    }
    h.Apply(e);
  }
  return h;
}

void History::Apply(const proto::Event& e) {
  last_seq = e.seq();
  switch (e.kind_case()) {
    case proto::Event::kWorkflowStarted:
      started = e.workflow_started();
      break;
    case proto::Event::kStepStarted: {
      StepHistory& s = steps[e.step_started().step()];
      s.name = e.step_started().name();
      s.attempts = e.step_started().attempt();
      s.in_flight = true;
      break;
    }
    case proto::Event::kStepCompleted: {
      const auto& c = e.step_completed();
      StepHistory& s = steps[c.step()];
      s.name = c.name();
      s.result = c.result();
      s.retake_on_retry = c.retake_on_retry();
      s.in_flight = false;
      s.consumed_seq = c.consumed_seq();
      if (c.attempt() > s.attempts) s.attempts = c.attempt();
      if (c.consumed_seq() != 0) {
        // "signal:<name>" consumed the oldest signal of that name.
        std::string name = c.name().substr(c.name().find(':') + 1);
        auto& queue = signals[name];
        for (auto it = queue.begin(); it != queue.end(); ++it) {
          if (it->first == c.consumed_seq()) {
            queue.erase(it);
            break;
          }
        }
      }
      break;
    }
    case proto::Event::kStepFailed: {
      const auto& f = e.step_failed();
      StepHistory& s = steps[f.step()];
      s.name = f.name();
      s.in_flight = false;
      if (f.attempt() > s.attempts) {
        s.attempts_since_retry += f.attempt() - s.attempts;
        s.attempts = f.attempt();
      }
      Status error = StatusFromProto(f.error());
      if (error.code() == Code::kCancelled) cancel_delivered = true;
      if (f.retry_at_ms() == 0) {
        s.final_error = error;
        s.retry_at_ms = 0;
      } else {
        s.retry_at_ms = f.retry_at_ms();
      }
      break;
    }
    case proto::Event::kTimerScheduled: {
      StepHistory& s = steps[e.timer_scheduled().step()];
      s.name = e.timer_scheduled().name();
      s.timer_fire_at_ms = e.timer_scheduled().fire_at_ms();
      break;
    }
    case proto::Event::kTimerFired:
      steps[e.timer_fired().step()].timer_fired = true;
      break;
    case proto::Event::kSignalReceived:
      signals[e.signal_received().name()].emplace_back(e.seq(), e.signal_received().payload());
      break;
    case proto::Event::kCancelRequested:
      cancel_requested = true;
      cancel_reason = e.cancel_requested().reason();
      break;
    case proto::Event::kWorkflowRetried:
      // The steps that failed for good run again, with a fresh count of attempts; so do the steps
      // that took what the failure released (a lease).
      for (auto& [n, s] : steps) {
        if (s.result && s.retake_on_retry) {
          s.result.reset();
          s.attempts_since_retry = 0;
          continue;
        }
        if (s.final_error && s.final_error->code() != Code::kCancelled) {
          s.final_error.reset();
          s.retry_at_ms = 0;
          s.attempts_since_retry = 0;
        }
      }
      break;
    case proto::Event::kStepWaiting:
      steps[e.step_waiting().step()].name = e.step_waiting().name();
      break;
    case proto::Event::kWorkflowCompleted:
    case proto::Event::kWorkflowFailed:
    case proto::Event::kWorkflowCancelled:
    case proto::Event::kSystemInput:  // system streams only
    case proto::Event::KIND_NOT_SET:
      break;
  }
}

}  // namespace zlh::workflows

#include "workflows/context.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <random>

#include "base/ids.h"
#include "journal/format.h"
#include "workflows/engine.h"
#include "workflows/instance.h"

namespace zlh::workflows {
namespace {

std::mt19937_64& Rng() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng;
}

proto::Event Completed(uint32_t step, std::string_view name, std::string result, uint32_t attempt,
                       int64_t started_ms) {
  proto::Event e;
  auto* c = e.mutable_step_completed();
  c->set_step(step);
  c->set_name(std::string(name));
  c->set_result(std::move(result));
  c->set_attempt(attempt);
  c->set_started_ms(started_ms);
  return e;
}

proto::Event Failed(uint32_t step, std::string_view name, uint32_t attempt, const Status& error,
                    int64_t retry_at_ms, int64_t started_ms) {
  proto::Event e;
  auto* f = e.mutable_step_failed();
  f->set_step(step);
  f->set_name(std::string(name));
  f->set_attempt(attempt);
  StatusToProto(error, f->mutable_error());
  f->set_retry_at_ms(retry_at_ms);
  f->set_started_ms(started_ms);
  return e;
}

// Whether a step the code asks for now is the one the history recorded at its number. A sleep is
// named by its duration ("sleep 2s"), so that one replayed with another duration diverges; a bare
// "sleep" was recorded before sleeps were named so, and matches any.
bool SameStep(std::string_view recorded, std::string_view asked) {
  return recorded == asked || (recorded == "sleep" && asked.starts_with("sleep "));
}

}  // namespace

// A call's step number and its history (created empty when the step is new).
struct Context::Call {
  uint32_t step;
  StepHistory* history;
  bool recorded;  // the history holds an outcome for it
};

Context::Context(Engine& engine, std::shared_ptr<Instance> instance)
    : engine_(engine), in_(std::move(instance)) {}

Context::~Context() = default;

const std::string& Context::id() const { return in_->id; }
const std::string& Context::input() const { return in_->history.started.input(); }
bool Context::cancel_requested() const { return in_->history.cancel_requested; }

StepInfo Context::Info(uint32_t step, uint32_t attempt) const {
  StepInfo info;
  info.workflow_id = in_->id;
  info.step = step;
  info.attempt = attempt;
  info.idempotency_key = in_->id + ":" + std::to_string(step);
  if (engine_.options_.fencing_token) info.fencing_token = engine_.options_.fencing_token();
  return info;
}

bool Context::Halted() {
  if (!fatal_.ok()) return true;
  if (engine_.stopping_) {
    fatal_ = Unavailable("the engine is stopping");
  } else if (engine_.options_.may_act && !engine_.options_.may_act()) {
    // A paused process wakes up with its timers due before it learns that its lock lapsed: it
    // must not act on them, not even once.
    fatal_ = Unavailable("this node may no longer act (its lock lapsed)");
    spdlog::warn("workflow {}: stopped before its next step: this node may no longer act (its "
                 "controller lock lapsed)", in_->id);
  }
  return !fatal_.ok();
}

Result<Context::Call> Context::Begin(std::string_view name) {
  if (Halted()) return fatal_;
  uint32_t step = ++counter_;
  auto& steps = in_->history.steps;
  auto it = steps.find(step);
  if (it != steps.end() && !it->second.name.empty() && !SameStep(it->second.name, name)) {
    fatal_ = Status(Code::kNonDeterminism,
                    "step " + std::to_string(step) + ": the history holds '" + it->second.name +
                        "', the code asked for '" + std::string(name) + "'");
    return fatal_;
  }
  StepHistory& h = steps[step];
  h.name = std::string(name);
  bool recorded = h.result.has_value() || h.final_error.has_value() || h.timer_fired;
  if (!recorded && engine_.options_.replay_only) {
    // Replaying: what the history does not answer is not run; the run ends here.
    steps.erase(step);
    end_of_history_ = true;
    fatal_ = FailedPrecondition("replay reached the end of the history at step " +
                                std::to_string(step));
    return fatal_;
  }
  return Call{step, &h, recorded};
}

std::string Context::RecordedNext() const {
  auto it = in_->history.steps.find(counter_ + 1);
  return it == in_->history.steps.end() ? "" : it->second.name;
}

void Context::Returned() {
  if (!fatal_.ok()) return;
  auto next = in_->history.steps.upper_bound(counter_);
  if (next == in_->history.steps.end()) return;
  fatal_ = Status(Code::kNonDeterminism, "step " + std::to_string(next->first) +
                                             ": the history holds '" + next->second.name +
                                             "', the code returned without asking for it");
}

void Context::NoteOutcome(uint32_t step, bool failed_for_good) {
  if (first_failure_step_ != 0 && step > first_failure_step_) {
    ++steps_after_failure_;
  } else if (failed_for_good && first_failure_step_ == 0) {
    first_failure_step_ = step;
  }
}

void Context::ClearTimer(uint32_t step, const StepHistory& h) {
  if (h.timer_fire_at_ms) {
    in_->pending.Delete(journal::Cf::kIndex, journal::TimerIndexKey(*h.timer_fire_at_ms, in_->id, step));
  }
}

Status Context::DeliverCancel(uint32_t step, std::string_view name) {
  History& h = in_->history;
  if (!h.cancel_requested || h.cancel_delivered) return Status::Ok();
  Status cancelled(Code::kCancelled, h.cancel_reason.empty() ? "cancelled" : h.cancel_reason);
  StepHistory& s = h.steps[step];
  ClearTimer(step, s);  // a wait scheduled before a restart ends here
  engine_.AddEvent(*in_, Failed(step, name, s.attempts, cancelled, 0, NowMs()));
  h.cancel_delivered = true;
  s.final_error = cancelled;
  NoteOutcome(step, true);
  return cancelled;
}

Result<std::string> Context::Replayed(uint32_t step, const StepHistory& h) {
  NoteOutcome(step, !h.result.has_value());
  if (h.result) return *h.result;
  return *h.final_error;
}

Task<Result<std::string>> Context::Step(std::string name, StepFn fn, RetryPolicy policy) {
  auto call = Begin(name);
  if (!call.ok()) co_return call.status();
  uint32_t n = call->step;
  StepHistory& h = *call->history;
  if (call->recorded) co_return Replayed(n, h);
  if (Status c = DeliverCancel(n, name); !c.ok()) co_return c;
  if (policy.at_most_once && h.in_flight) {
    Status interrupted(Code::kInterrupted,
                       "step " + std::to_string(n) + " '" + name +
                           "' was running when the process stopped; it is not run twice");
    engine_.AddEvent(*in_, Failed(n, name, h.attempts, interrupted, 0, NowMs()));
    h.in_flight = false;
    h.final_error = interrupted;
    NoteOutcome(n, true);
    spdlog::warn("workflow {} step {} ({}): {}", in_->id, n, name, interrupted.message());
    co_return interrupted;
  }
  for (;;) {
    if (h.retry_at_ms > NowMs()) {
      // The durable backoff: after a restart only the remainder is waited.
      auto wake = co_await engine_.WaitUntil(*in_, h.retry_at_ms, "timer", name + " (retry backoff)",
                                             nullptr);
      if (wake == Engine::Wake::kCancelled) co_return DeliverCancel(n, name);
      if (wake == Engine::Wake::kStopping) {
        fatal_ = Unavailable("the engine is stopping");
        co_return fatal_;
      }
    }
    if (Halted()) co_return fatal_;  // the backoff may have outlasted the node's lock
    uint32_t attempt = ++h.attempts;
    ++h.attempts_since_retry;
    if (policy.at_most_once) {
      proto::Event started;
      started.mutable_step_started()->set_step(n);
      started.mutable_step_started()->set_name(name);
      started.mutable_step_started()->set_attempt(attempt);
      engine_.AddEvent(*in_, std::move(started));
      h.in_flight = true;
    }
    // What the step may act on (earlier results, its own start) is durable before it acts.
    Status flushed = co_await engine_.FlushEvents(*in_);
    if (!flushed.ok()) {
      fatal_ = flushed;
      co_return fatal_;
    }
    int64_t started_ms = NowMs();
    auto t0 = std::chrono::steady_clock::now();
    Result<std::string> r = co_await engine_.RunAttempt(fn, Info(n, attempt), policy.attempt_timeout);
    h.in_flight = false;
    engine_.stats_.step_seconds[{in_->def->type, name}].Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    if (r.ok()) {
      engine_.AddEvent(*in_, Completed(n, name, *r, attempt, started_ms));
      h.result = *r;
      h.retry_at_ms = 0;
      NoteOutcome(n, false);
      co_return r;
    }
    Status error = r.status();
    if (!policy.ShouldRetry(error, h.attempts_since_retry)) {
      engine_.AddEvent(*in_, Failed(n, name, attempt, error, 0, started_ms));
      h.final_error = error;
      NoteOutcome(n, true);
      spdlog::warn("workflow {} step {} ({}) failed for good on attempt {}: {}", in_->id, n, name,
                   attempt, error.ToString());
      co_return error;
    }
    double jitter = 0.8 + 0.4 * std::uniform_real_distribution<double>(0, 1)(Rng());
    h.retry_at_ms = NowMs() + policy.Backoff(h.attempts_since_retry, jitter).count();
    engine_.AddEvent(*in_, Failed(n, name, attempt, error, h.retry_at_ms, started_ms));
    spdlog::warn("workflow {} step {} ({}) attempt {} failed, retrying in {}ms: {}", in_->id, n,
                 name, attempt, h.retry_at_ms - NowMs(), error.ToString());
  }
}

namespace {

// One try of a transactional step's body; what it throws is its error.
Result<std::optional<std::string>> CallTry(const TxnTryFn& fn, journal::Txn& t,
                                           const StepInfo& info) {
  try {
    return fn(t, info);
  } catch (const std::exception& e) {
    return Internal(std::string("transactional step threw: ") + e.what());
  }
}

TxnTryFn AlwaysReady(TxnStepFn fn) {
  return [fn = std::move(fn)](journal::Txn& t,
                              const StepInfo& info) -> Result<std::optional<std::string>> {
    auto r = fn(t, info);
    if (!r.ok()) return r.status();
    return std::optional<std::string>(std::move(*r));
  };
}

}  // namespace

uint64_t Context::ReserveSeq() {
  uint64_t seq = in_->next_seq++;
  in_->summary.set_last_seq(seq);
  in_->summary.set_updated_ms(NowMs());
  in_->history.last_seq = seq;
  return seq;
}

Status Context::RunTxnTry(journal::Txn& t, const TxnTryFn& fn, const StepInfo& info,
                          const std::string& name, uint64_t seq, int64_t started_ms,
                          const std::string& waiting_detail, bool retake_on_retry,
                          std::optional<Result<std::string>>* outcome) {
  t.SetSavePoint();
  Result<std::optional<std::string>> r = CallTry(fn, t, info);
  proto::Event e;
  if (!r.ok()) {
    t.RollbackToSavePoint();
    e = Failed(info.step, name, info.attempt, r.status(), 0, started_ms);
    *outcome = r.status();
  } else if (r->has_value()) {
    t.PopSavePoint();
    e = Completed(info.step, name, **r, info.attempt, started_ms);
    e.mutable_step_completed()->set_retake_on_retry(retake_on_retry);
    *outcome = std::move(**r);
  } else {
    t.PopSavePoint();
    auto* w = e.mutable_step_waiting();
    w->set_step(info.step);
    w->set_name(name);
    w->set_detail(waiting_detail);
    outcome->reset();
  }
  e.set_seq(seq);
  e.set_time_ms(NowMs());
  t.Put(journal::Cf::kEvents, journal::EventKey(info.workflow_id, seq), e.SerializeAsString());
  return Status::Ok();
}

Task<Result<std::string>> Context::TxnStep(std::string name, TxnStepFn fn) {
  co_return co_await RunTxnStep(std::move(name), nullptr, RetryPolicy(),
                                AlwaysReady(std::move(fn)), WaitSpec{});
}

Task<Result<std::string>> Context::TxnStep(std::string name, StepFn prepare, TxnStepFn fn,
                                           RetryPolicy policy) {
  co_return co_await RunTxnStep(std::move(name), std::move(prepare), std::move(policy),
                                AlwaysReady(std::move(fn)), WaitSpec{});
}

Task<Result<std::string>> Context::TxnStepWhen(std::string name, TxnTryFn fn, WaitSpec wait) {
  co_return co_await RunTxnStep(std::move(name), nullptr, RetryPolicy(), std::move(fn),
                                std::move(wait));
}

Task<Result<std::string>> Context::Prepare(uint32_t n, const std::string& name,
                                           const StepFn& prepare, const RetryPolicy& policy) {
  for (uint32_t attempt = 1;; ++attempt) {
    if (attempt > 1 && Halted()) co_return fatal_;
    Result<std::string> r = co_await engine_.RunAttempt(prepare, Info(n, attempt),
                                                        policy.attempt_timeout);
    if (r.ok() || !policy.ShouldRetry(r.status(), attempt)) co_return r;
    double jitter = 0.8 + 0.4 * std::uniform_real_distribution<double>(0, 1)(Rng());
    int64_t wake_at = NowMs() + policy.Backoff(attempt, jitter).count();
    spdlog::warn("workflow {} step {} ({}) prepare attempt {} failed: {}", in_->id, n, name,
                 attempt, r.status().ToString());
    auto wake = co_await engine_.WaitUntil(*in_, wake_at, "timer", name + " (retry backoff)",
                                           nullptr);
    if (wake == Engine::Wake::kStopping) {
      fatal_ = Unavailable("the engine is stopping");
      co_return fatal_;
    }
    if (wake == Engine::Wake::kCancelled) co_return DeliverCancel(n, name);
  }
}

Task<Result<std::string>> Context::RunTxnStep(std::string name, StepFn prepare,
                                              RetryPolicy policy, TxnTryFn fn, WaitSpec wait) {
  auto call = Begin(name);
  if (!call.ok()) co_return call.status();
  uint32_t n = call->step;
  StepHistory& h = *call->history;
  if (call->recorded) co_return Replayed(n, h);
  if (Status c = DeliverCancel(n, name); !c.ok()) co_return c;
  std::string prepared;
  if (prepare) {
    auto p = co_await Prepare(n, name, prepare, policy);
    if (!fatal_.ok()) co_return fatal_;
    if (h.final_error) co_return *h.final_error;  // cancelled while it backed off
    if (p.ok()) {
      prepared = std::move(*p);
    } else {
      // Its failure is the step's: recorded like any transactional step's.
      fn = [error = p.status()](journal::Txn&, const StepInfo&) -> Result<std::optional<std::string>> {
        return error;
      };
    }
  }

  bool wait_recorded = false;  // this run recorded the step's StepWaiting
  for (uint32_t tries = 1;; ++tries) {
    StepInfo info = Info(n, h.attempts + 1);
    info.prepared = prepared;
    if (wait_recorded) {
      auto met = co_await QuietTry(fn, info, wait, tries);
      if (!met.ok()) {
        fatal_ = met.status();
        co_return fatal_;
      }
      if (!*met) {
        if (Status w = co_await AwaitNextTry(n, name, wait); !w.ok()) co_return w;
        continue;
      }
    }
    // The step's event is written inside the transaction, which knows the outcome; its seq is
    // taken now so that nothing else can take it meanwhile.
    uint64_t seq = ReserveSeq();
    journal::Batch batch = engine_.TakeBatch(*in_);
    auto outcome = std::make_shared<std::optional<Result<std::string>>>();
    int64_t started_ms = NowMs();
    std::string detail = wait.kind.empty() ? wait.detail : wait.kind + " " + wait.detail;
    journal::TxnFn txn = [fn, info, outcome, seq, name, started_ms, detail,
                          retake = wait.retake_on_retry](journal::Txn& t) -> Status {
      return RunTxnTry(t, fn, info, name, seq, started_ms, detail, retake, outcome.get());
    };
    Listen(wait.key);
    Status s = co_await engine_.Append(std::move(batch), std::move(txn));
    if (!s.ok()) {
      in_->notify_key.clear();
      fatal_ = s;
      co_return fatal_;
    }
    if (outcome->has_value()) {
      in_->notify_key.clear();
      h.attempts = info.attempt;
      Result<std::string> r = std::move(**outcome);
      if (r.ok()) {
        h.result = *r;
        NoteOutcome(n, false);
      } else {
        h.final_error = r.status();
        NoteOutcome(n, true);
        spdlog::warn("workflow {} step {} ({}) failed: {}", in_->id, n, name,
                     r.status().ToString());
      }
      co_return r;
    }
    wait_recorded = true;
    engine_.SetStatus(*in_, proto::WAITING, wait.kind, wait.detail);
    in_->summary.mutable_waiting_for()->set_polls(tries);
    if (Status w = co_await AwaitNextTry(n, name, wait); !w.ok()) co_return w;
  }
}

void Context::Listen(const std::string& key) {
  if (key.empty()) return;
  in_->notify_key = key;
  auto [begin, end] = engine_.notify_waiters_.equal_range(key);
  bool listed = std::any_of(begin, end, [&](const auto& w) { return w.second.lock() == in_; });
  if (!listed) engine_.notify_waiters_.emplace(key, in_);
}

Task<Result<bool>> Context::QuietTry(const TxnTryFn& fn, const StepInfo& info,
                                     const WaitSpec& wait, uint32_t tries) {
  // The try is part of the wait: the status stays waiting through it, as stuck-workflow detection
  // (which skips waits) must not see a running workflow whose last event is the wait's start.
  engine_.SetStatus(*in_, proto::WAITING, wait.kind, wait.detail);
  in_->summary.mutable_waiting_for()->set_polls(tries);
  auto met = std::make_shared<bool>(false);
  journal::TxnFn txn = [fn, info, met](journal::Txn& t) -> Status {
    t.SetSavePoint();
    Result<std::optional<std::string>> r = CallTry(fn, t, info);
    *met = !r.ok() || r->has_value();
    if (*met) {
      t.RollbackToSavePoint();
    } else {
      t.PopSavePoint();
    }
    return Status::Ok();
  };
  Listen(wait.key);
  Status s = co_await engine_.Append(engine_.TakeBatch(*in_), std::move(txn));
  if (!s.ok()) {
    in_->notify_key.clear();
    co_return s;
  }
  if (*met) engine_.SetStatus(*in_, proto::RUNNING);
  co_return *met;
}

Task<Status> Context::AwaitNextTry(uint32_t n, const std::string& name, const WaitSpec& wait) {
  // Woken by a Notify (it clears notify_key, maybe already) or after the poll interval.
  auto wake = co_await engine_.WaitUntil(*in_, NowMs() + wait.poll.count(), wait.kind,
                                         wait.detail,
                                         [this] { return in_->notify_key.empty(); });
  in_->notify_key.clear();
  if (wake == Engine::Wake::kStopping) {
    fatal_ = Unavailable("the engine is stopping");
    co_return fatal_;
  }
  if (wake == Engine::Wake::kCancelled) co_return DeliverCancel(n, name);
  co_return Status::Ok();
}

Task<Result<std::string>> Context::Poll(std::string name, ProbeFn probe, PollSpec spec) {
  auto call = Begin(name);
  if (!call.ok()) co_return call.status();
  uint32_t n = call->step;
  StepHistory& h = *call->history;
  if (call->recorded) co_return Replayed(n, h);
  if (Status c = DeliverCancel(n, name); !c.ok()) co_return c;
  // What earlier steps did is durable before the first probe (as before any step's attempt).
  if (Status s = co_await engine_.FlushEvents(*in_); !s.ok()) {
    fatal_ = s;
    co_return fatal_;
  }
  const int64_t started_ms = NowMs();
  bool waiting = false;
  for (uint32_t polls = 1;; ++polls) {
    if (polls > 1) {
      auto wake = co_await engine_.WaitUntil(*in_, NowMs() + spec.interval.count(), spec.kind,
                                             spec.detail, nullptr, /*stay_waiting=*/true);
      if (wake == Engine::Wake::kStopping) {
        fatal_ = Unavailable("the engine is stopping");
        co_return fatal_;
      }
      if (wake == Engine::Wake::kCancelled) {
        engine_.SetStatus(*in_, proto::RUNNING);
        co_return DeliverCancel(n, name);
      }
      if (Halted()) co_return fatal_;
      in_->summary.mutable_waiting_for()->set_polls(polls);  // live; stored with the next write
    }
    auto answer = co_await Probe(probe, Info(n, polls), spec);
    if (!fatal_.ok()) co_return fatal_;
    if (!answer.ok()) co_return EndPoll(n, name, answer.status(), polls, started_ms);
    if (answer->done) co_return EndPoll(n, name, std::move(answer->text), polls, started_ms);
    if (spec.deadline_ms != 0 && NowMs() >= spec.deadline_ms) {
      co_return EndPoll(n, name,
                        Status(Code::kDeadlineExceeded,
                               spec.gave_up + " (" + std::to_string(polls) + " probes, the last saw " +
                                   answer->text + ")"),
                        polls, started_ms);
    }
    if (!waiting) {
      // The wait is recorded once: the status says what it waits for, the probes add nothing.
      proto::Event e;
      e.mutable_step_waiting()->set_step(n);
      e.mutable_step_waiting()->set_name(name);
      e.mutable_step_waiting()->set_detail(spec.kind + " " + spec.detail);
      engine_.AddEvent(*in_, std::move(e));
      engine_.SetStatus(*in_, proto::WAITING, spec.kind, spec.detail);
      in_->summary.mutable_waiting_for()->set_polls(polls);
      if (Status s = co_await engine_.Flush(*in_); !s.ok()) {
        fatal_ = s;
        co_return fatal_;
      }
      waiting = true;
    }
  }
}

Task<Result<ProbeAnswer>> Context::Probe(const ProbeFn& probe, const StepInfo& info,
                                         const PollSpec& spec) {
  auto answer = std::make_shared<ProbeAnswer>();
  StepFn fn = [&probe, answer](const StepInfo& i) -> Task<Result<std::string>> {
    auto r = co_await probe(i);
    if (!r.ok()) co_return r.status();
    *answer = std::move(*r);
    co_return std::string();
  };
  Result<std::string> r = co_await engine_.RunAttempt(fn, info, spec.probe_timeout);
  if (!r.ok()) co_return r.status();
  co_return std::move(*answer);
}

Result<std::string> Context::EndPoll(uint32_t n, const std::string& name,
                                     Result<std::string> outcome, uint32_t polls,
                                     int64_t started_ms) {
  StepHistory& h = in_->history.steps[n];
  h.attempts = polls;
  engine_.SetStatus(*in_, proto::RUNNING);
  if (outcome.ok()) {
    engine_.AddEvent(*in_, Completed(n, name, *outcome, polls, started_ms));
    h.result = *outcome;
    NoteOutcome(n, false);
  } else {
    engine_.AddEvent(*in_, Failed(n, name, polls, outcome.status(), 0, started_ms));
    h.final_error = outcome.status();
    NoteOutcome(n, true);
    spdlog::warn("workflow {} step {} ({}) failed after {} probes: {}", in_->id, n, name, polls,
                 outcome.status().ToString());
  }
  return outcome;
}

Status Context::FinalTxnStep(std::string name, TxnStepFn fn) {
  auto call = Begin(name);
  if (!call.ok()) return call.status();
  uint32_t n = call->step;
  StepHistory& h = *call->history;
  if (call->recorded) {
    auto r = Replayed(n, h);
    return r.ok() ? Status::Ok() : r.status();
  }
  uint64_t seq = ReserveSeq();
  StepInfo info = Info(n, h.attempts + 1);
  int64_t started_ms = NowMs();
  in_->end_txns.push_back([fn = AlwaysReady(std::move(fn)), info, name, seq,
                           started_ms](journal::Txn& t) -> Status {
    std::optional<Result<std::string>> outcome;
    return RunTxnTry(t, fn, info, name, seq, started_ms, "", false, &outcome);
  });
  NoteOutcome(n, false);
  return Status::Ok();
}

void Context::OnEnd(journal::TxnFn txn, std::function<void()> after) {
  if (txn) in_->end_txns.push_back(std::move(txn));
  if (after) in_->after_end.push_back(std::move(after));
}

Task<Status> Context::Sleep(Millis duration) {
  const std::string name = "sleep " + FormatDuration(duration);
  auto call = Begin(name);
  if (!call.ok()) co_return call.status();
  uint32_t n = call->step;
  StepHistory& h = *call->history;
  if (call->recorded) {
    NoteOutcome(n, h.final_error.has_value());
    co_return h.final_error ? *h.final_error : Status::Ok();
  }
  if (Status c = DeliverCancel(n, name); !c.ok()) co_return c;
  if (!h.timer_fire_at_ms) {
    h.timer_fire_at_ms = NowMs() + duration.count();
    proto::Event e;
    e.mutable_timer_scheduled()->set_step(n);
    e.mutable_timer_scheduled()->set_fire_at_ms(*h.timer_fire_at_ms);
    e.mutable_timer_scheduled()->set_name(name);
    engine_.AddEvent(*in_, std::move(e));
    in_->pending.Put(journal::Cf::kIndex, journal::TimerIndexKey(*h.timer_fire_at_ms, in_->id, n),
                     "");
  }
  auto wake = co_await engine_.WaitUntil(*in_, *h.timer_fire_at_ms, "timer", name, nullptr);
  if (wake == Engine::Wake::kStopping) {
    fatal_ = Unavailable("the engine is stopping");
    co_return fatal_;
  }
  ClearTimer(n, h);
  if (wake == Engine::Wake::kCancelled) co_return DeliverCancel(n, name);
  proto::Event fired;
  fired.mutable_timer_fired()->set_step(n);
  engine_.AddEvent(*in_, std::move(fired));
  h.timer_fired = true;
  NoteOutcome(n, false);
  co_return Status::Ok();
}

Task<Result<std::string>> Context::WaitSignal(std::string name, Millis timeout) {
  std::string step_name = "signal:" + name;
  auto call = Begin(step_name);
  if (!call.ok()) co_return call.status();
  uint32_t n = call->step;
  StepHistory& h = *call->history;
  auto timed_out = [&] {
    return Status(Code::kDeadlineExceeded, "no signal '" + name + "' arrived in time");
  };
  if (call->recorded) {
    NoteOutcome(n, !h.result.has_value());
    if (h.final_error) co_return *h.final_error;
    if (h.consumed_seq == 0) co_return timed_out();
    co_return *h.result;
  }
  if (Status c = DeliverCancel(n, step_name); !c.ok()) co_return c;
  auto& arrived = in_->history.signals[name];
  if (arrived.empty()) {
    if (!h.timer_fire_at_ms) {
      h.timer_fire_at_ms = NowMs() + timeout.count();
      proto::Event e;
      e.mutable_timer_scheduled()->set_step(n);
      e.mutable_timer_scheduled()->set_fire_at_ms(*h.timer_fire_at_ms);
      e.mutable_timer_scheduled()->set_name(step_name);
      engine_.AddEvent(*in_, std::move(e));
      in_->pending.Put(journal::Cf::kIndex,
                       journal::TimerIndexKey(*h.timer_fire_at_ms, in_->id, n), "");
    }
    auto wake = co_await engine_.WaitUntil(*in_, *h.timer_fire_at_ms, "signal", name,
                                           [&arrived] { return !arrived.empty(); });
    if (wake == Engine::Wake::kStopping) {
      fatal_ = Unavailable("the engine is stopping");
      co_return fatal_;
    }
    if (wake == Engine::Wake::kCancelled) co_return DeliverCancel(n, step_name);
    if (wake == Engine::Wake::kFired) {
      ClearTimer(n, h);
      engine_.AddEvent(*in_, Completed(n, step_name, "", 0, NowMs()));
      h.result = "";
      h.consumed_seq = 0;
      NoteOutcome(n, false);
      co_return timed_out();
    }
  }
  // Consumed: the timeout timer, if one was scheduled (maybe before a restart), is done.
  ClearTimer(n, h);
  auto [seq, payload] = std::move(arrived.front());
  arrived.pop_front();
  proto::Event e = Completed(n, step_name, payload, 0, NowMs());
  e.mutable_step_completed()->set_consumed_seq(seq);
  engine_.AddEvent(*in_, std::move(e));
  h.result = payload;
  h.consumed_seq = seq;
  NoteOutcome(n, false);
  co_return payload;
}

Task<Result<std::string>> Context::Record(std::string name, std::function<std::string()> make) {
  auto call = Begin(name);
  if (!call.ok()) co_return call.status();
  StepHistory& h = *call->history;
  if (!h.result) {
    h.result = make();
    engine_.AddEvent(*in_, Completed(call->step, name, *h.result, 0, NowMs()));
  }
  co_return *h.result;
}

Task<Result<int>> Context::Version(std::string change, int min, int max) {
  const std::string name = "zlh.version " + change;
  auto next = in_->history.steps.find(counter_ + 1);
  if (next != in_->history.steps.end() && !next->second.name.empty() && next->second.name != name) {
    co_return min;  // recorded by the code before the change
  }
  auto r = co_await Record(name, [max] { return std::to_string(max); });
  if (!r.ok()) co_return r.status();
  int v = std::atoi(r->c_str());
  if (v < min || v > max) {
    fatal_ = Status(Code::kNonDeterminism,
                    "step " + std::to_string(counter_) + ": the history took version " + *r +
                        " of change '" + change + "', the code supports " + std::to_string(min) +
                        " to " + std::to_string(max));
    co_return fatal_;
  }
  co_return v;
}

Task<Result<TimeMs>> Context::Now() {
  auto r = co_await Record("zlh.now", [] { return std::to_string(NowMs()); });
  if (!r.ok()) co_return r.status();
  co_return static_cast<TimeMs>(std::stoll(*r));
}

Task<Result<uint64_t>> Context::Random() {
  auto r = co_await Record("zlh.random", [] { return std::to_string(Rng()()); });
  if (!r.ok()) co_return r.status();
  co_return static_cast<uint64_t>(std::stoull(*r));
}

Task<Result<std::string>> Context::NewId() {
  co_return co_await Record("zlh.new_id", [] { return zlh::NewId(); });
}

}  // namespace zlh::workflows

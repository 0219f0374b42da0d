// Context: what workflow code sees. A workflow is a C++20 coroutine on the engine's io_context that
// calls ctx.Step, ctx.Sleep, ctx.WaitSignal...; each call has a step number (1, 2, 3... in the
// order the code asks), and once a call's outcome is recorded in the journal it is returned from
// there on replay without running again. Workflow code must therefore be deterministic apart from
// what it gets through the context.
//
// Thread-safety: a Context belongs to one workflow coroutine and is used on the engine's thread.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "base/duration.h"
#include "base/status.h"
#include "journal/journal.h"
#include "workflows/history.h"
#include "workflows/retry_policy.h"

namespace zlh::workflows {

template <typename T>
using Task = boost::asio::awaitable<T>;

// What an activity is told about the call it serves.
struct StepInfo {
  std::string workflow_id;
  uint32_t step = 0;
  uint32_t attempt = 1;
  // "<workflowId>:<step>": the same on every attempt and after every restart; an activity uses it
  // to make its side effect idempotent.
  std::string idempotency_key;
  // The node's current fencing token (0 when the node has none), for mutating calls.
  uint64_t fencing_token = 0;
  // A transactional step with a prepare call: what it returned.
  std::string prepared;
};

// A step's body: runs an activity; an error is retried per the step's RetryPolicy.
using StepFn = std::function<Task<Result<std::string>>(const StepInfo&)>;
// A transactional step's body: runs on the journal's writer thread, reads and stages domain-table
// changes through `txn`; they commit in the same write as the step's completion, or not at all when
// it returns an error (which fails the step without retry). Must be quick and must not block.
using TxnStepFn = std::function<Result<std::string>(journal::Txn& txn, const StepInfo&)>;

// A transactional step's body that may find its condition unmet: nullopt means "not yet" (its
// changes still commit, to side tables only, and the workflow waits to try again).
using TxnTryFn =
    std::function<Result<std::optional<std::string>>(journal::Txn& txn, const StepInfo&)>;

// What a TxnStepWhen waits for between tries: Engine::Notify(key), or `poll` as a fallback.
struct WaitSpec {
  std::string kind;    // the summary's waiting_for.kind, e.g. "lease"
  std::string detail;  // e.g. the server id
  std::string key;     // the Engine::Notify key that wakes it
  Millis poll{30'000};
  // What the step takes is released when the workflow ends (a lease): when the workflow is retried
  // (Engine::Retry) the step runs again, to take it again, instead of returning its old result.
  bool retake_on_retry = false;
};

// A probe's answer (Context::Poll): done with the step's result, or not yet with a note on what
// it saw ("unreachable", "installing"), kept for the message when the poll gives up.
struct ProbeAnswer {
  bool done = false;
  std::string text;
  static ProbeAnswer Done(std::string result) { return {true, std::move(result)}; }
  static ProbeAnswer NotYet(std::string seen) { return {false, std::move(seen)}; }
};
using ProbeFn = std::function<Task<Result<ProbeAnswer>>(const StepInfo&)>;

// How a Context::Poll probes.
struct PollSpec {
  std::string kind;    // the summary's waiting_for.kind, e.g. "agent"
  std::string detail;  // e.g. "VMID 101"
  Millis interval{5'000};   // between probes
  Millis probe_timeout{0};  // each probe's, 0: none (the probe has its own)
  TimeMs deadline_ms = 0;   // wall time at which it gives up; 0: never
  std::string gave_up;      // the deadline's error message, e.g. "the agent was not ready after 10m"
};

class Engine;
struct Instance;

class Context {
 public:
  Context(Engine& engine, std::shared_ptr<Instance> instance);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  const std::string& id() const;
  const std::string& input() const;

  // Runs `fn` as step `name`, retrying per `policy`; returns the recorded result on replay.
  // Errors: the step's final error; kCancelled when a cancel request is delivered here;
  // kInterrupted for an at-most-once step found started after a crash; kNonDeterminism when the
  // history holds another step at this number (the workflow then stops).
  Task<Result<std::string>> Step(std::string name, StepFn fn, RetryPolicy policy);
  // The same with the default RetryPolicy.
  Task<Result<std::string>> Step(std::string name, StepFn fn) {
    return Step(std::move(name), std::move(fn), RetryPolicy());
  }
  // A transactional step (see TxnStepFn).
  Task<Result<std::string>> TxnStep(std::string name, TxnStepFn fn);
  // A transactional step whose transaction needs outside data first (the VMIDs the hypervisor
  // reports): `prepare` runs before it, retried per `policy` and not recorded, and its result
  // reaches `fn` as info.prepared. On replay neither runs. When `prepare` fails for good, that is
  // the step's recorded failure.
  Task<Result<std::string>> TxnStep(std::string name, StepFn prepare, TxnStepFn fn,
                                    RetryPolicy policy);
  // A transactional step tried until its condition holds: the first try that returns nullopt
  // records a StepWaiting event, and the workflow waits (status waiting, `wait.kind`, also while it
  // tries again) for Engine::Notify(wait.key) or `wait.poll`; tries that find the condition unmet
  // again record nothing (their side-table changes commit). The try that returns a value or an
  // error is the step's outcome, recorded once. kCancelled when cancelled while waiting. A restart
  // during the wait resumes it (recording its StepWaiting again).
  Task<Result<std::string>> TxnStepWhen(std::string name, TxnTryFn fn, WaitSpec wait);
  // A step that probes until `probe` answers done, for waits that can last (the readiness gate):
  // its history grows by one event for the wait and one for the outcome, however many probes it
  // takes. The first probe that answers not yet records a StepWaiting event; the workflow then
  // waits (status waiting, `spec.kind`, waiting_for.polls counting the probes) and probes every
  // `spec.interval`, recording nothing, until a probe answers done (its text is the step's result),
  // a probe fails (its error is the step's recorded failure: a probe maps what is worth another
  // probe to not yet itself) or `spec.deadline_ms` passes (kDeadlineExceeded: `spec.gave_up`, the
  // number of probes and what the last one saw). The outcome's attempt is the number of probes.
  // kCancelled when cancelled while waiting; a restart resumes the probing with the same deadline
  // (recording its StepWaiting again).
  Task<Result<std::string>> Poll(std::string name, ProbeFn probe, PollSpec spec);
  // A transactional step that commits in the same write as the workflow's end (release_vmid with
  // the failure): the workflow must return right after this call. Its outcome is not known here;
  // a failing `fn` is recorded as the step's failure and the workflow ends anyway.
  Status FinalTxnStep(std::string name, TxnStepFn fn);
  // Registers `txn` to run in the same write as this workflow's end, whatever the end (completed,
  // failed, cancelled; not a stop of the engine, after which the run resumes), and `after` once that
  // write is durable. Not recorded: the code registers it again when it is replayed.
  void OnEnd(journal::TxnFn txn, std::function<void()> after = nullptr);

  // Sleeps durably: after a restart the workflow wakes at the original time. kCancelled when
  // cancelled while asleep. The step is named "sleep <duration>": replayed with another duration,
  // it is a non-determinism error.
  Task<Status> Sleep(Millis duration);
  // Waits for the signal `name` (delivered through Engine::Signal, possibly before this call) and
  // returns its payload; kDeadlineExceeded after `timeout`.
  Task<Result<std::string>> WaitSignal(std::string name, Millis timeout);

  // Which version of a change to the workflow's code this run takes, so that code can change
  // under workflows in flight (a step added, removed or changed): a run reaching this point for the
  // first time records `max` and takes it; a history recorded before the change (by code without
  // this call: it holds another step at this number) takes `min` and records nothing; one that
  // recorded a version takes that one. A recorded version outside [min, max] (code that dropped
  // support for it) is kNonDeterminism. Usage:
  //   if (*co_await ctx.Version("start-workload", 0, 1) >= 1) { ...the new step... }
  Task<Result<int>> Version(std::string change, int min, int max);

  // Recorded values: the same on replay.
  Task<Result<TimeMs>> Now();
  Task<Result<uint64_t>> Random();
  Task<Result<std::string>> NewId();

  // True once a cancel request has been recorded for this workflow.
  bool cancel_requested() const;

  // The error that stopped this run (non-determinism, engine stopping, journal failure); OK while
  // the workflow may go on. Once set, every call returns it without recording anything.
  const Status& fatal() const { return fatal_; }
  // True when steps ran after the first step that failed for good: the workflow compensated.
  bool compensated() const { return steps_after_failure_ > 0; }
  // Replay only: the code asked for a step the history does not answer (the run stopped there).
  bool reached_end_of_history() const { return end_of_history_; }
  // How many step numbers the code has asked for so far.
  uint32_t steps_asked() const { return counter_; }
  // The name the history holds at the next step number the code will ask for; "" when the history
  // holds nothing there (new code may take a step there that older code did not have: an
  // in-flight history keeps its old path where it already went on, SPEC §11).
  std::string RecordedNext() const;
  // Called once the workflow's code has returned. When the history holds a step the code did not
  // ask for, the code changed: sets fatal() to kNonDeterminism naming that step.
  void Returned();

 private:
  struct Call;
  Result<Call> Begin(std::string_view name);
  // True (fatal_ set) when the run must end here: an earlier fatal error, the engine stopping, or
  // the node no longer allowed to act (EngineOptions::may_act) before its suspension reached it.
  bool Halted();
  Status DeliverCancel(uint32_t step, std::string_view name);
  // Drops the step's entry from the journal's timer index (with the next write), if it has one.
  void ClearTimer(uint32_t step, const StepHistory& history);
  // The recorded outcome of a step whose result or final error is in the history.
  Result<std::string> Replayed(uint32_t step, const StepHistory& history);
  Task<Result<std::string>> Record(std::string name, std::function<std::string()> make);
  // One try of a transactional step under a reserved seq: writes its StepCompleted, StepFailed or
  // (nullopt) StepWaiting event inside `t`, and leaves the outcome in *outcome.
  static Status RunTxnTry(journal::Txn& t, const TxnTryFn& fn, const StepInfo& info,
                          const std::string& name, uint64_t seq, int64_t started_ms,
                          const std::string& waiting_detail, bool retake_on_retry,
                          std::optional<Result<std::string>>* outcome);
  Task<Result<std::string>> RunTxnStep(std::string name, StepFn prepare, RetryPolicy policy,
                                       TxnTryFn fn, WaitSpec wait);
  // Makes Engine::Notify(key) wake this workflow from now on (a Notify during a try is not lost).
  void Listen(const std::string& key);
  // A try of a TxnStepWhen whose wait is recorded already, that records nothing: a condition still
  // unmet commits the try's side-table changes and answers false; a met one (or an error) is undone
  // and answers true, for a recorded try to take it. An error when the journal fails.
  // `tries` counts this one (the summary's waiting_for.polls).
  Task<Result<bool>> QuietTry(const TxnTryFn& fn, const StepInfo& info, const WaitSpec& wait,
                              uint32_t tries);
  // Waits between tries of a TxnStepWhen: OK to try again; the cancellation or stop otherwise.
  Task<Status> AwaitNextTry(uint32_t step, const std::string& name, const WaitSpec& wait);
  // One probe of a Poll, its status kept waiting: the answer, or the probe's error.
  Task<Result<ProbeAnswer>> Probe(const ProbeFn& probe, const StepInfo& info,
                                  const PollSpec& spec);
  // Records a Poll's outcome (its `polls` probes).
  Result<std::string> EndPoll(uint32_t step, const std::string& name, Result<std::string> outcome,
                              uint32_t polls, int64_t started_ms);
  // Runs `prepare` with retries (not recorded). Sets fatal_ when the engine stops.
  Task<Result<std::string>> Prepare(uint32_t step, const std::string& name, const StepFn& prepare,
                                    const RetryPolicy& policy);
  // Reserves the next seq for an event written inside a transaction.
  uint64_t ReserveSeq();
  void NoteOutcome(uint32_t step, bool failed_for_good);
  StepInfo Info(uint32_t step, uint32_t attempt) const;

  Engine& engine_;
  std::shared_ptr<Instance> in_;
  uint32_t counter_ = 0;
  Status fatal_;
  uint32_t first_failure_step_ = 0;
  uint32_t steps_after_failure_ = 0;
  bool end_of_history_ = false;
};

// A workflow: takes its context, returns its result (or the error that failed it).
using WorkflowFn = std::function<Task<Result<std::string>>(Context&)>;

}  // namespace zlh::workflows

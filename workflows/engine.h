// Engine: runs workflows durably. Starting a workflow records it as `queued` (with its dedup key)
// in one journal write and hands it to the Admission, which launches it when its queue has room;
// every step outcome, timer, signal and cancel request is an event; at boot Recover() resumes every
// workflow that had not finished, replaying its history.
//
// Thread-safety: the engine lives on one io_context run by one thread; every method must be called
// (co_awaited) on that thread. Other threads reach it with boost::asio::co_spawn on executor().
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/histogram.h"
#include "journal/journal.h"
#include "workflows/admission.h"
#include "workflows/context.h"
#include "workflows/registry.h"

namespace zlh::workflows {

struct EngineOptions {
  // Decides when recorded workflows run (scheduler::Queues); not owned. nullptr: at once.
  Admission* admission = nullptr;
  // The node's current fencing token, read at every step attempt (0 when unset).
  std::function<uint64_t()> fencing_token;
  // Whether the node may act now (its lock has not lapsed, SPEC §6.4), asked before every step and
  // every attempt; a refusal ends the run as a suspension does, its progress kept. nullptr: always.
  std::function<bool()> may_act;
  // Replay only (workflows/replay.h): recorded outcomes are returned, nothing is run or written.
  bool replay_only = false;
};

struct StartRequest {
  std::string type;
  std::string input;
  // When non-empty: a second start with the same key returns the first workflow.
  std::string dedup_key;
  // When set: runs in the start's write, after the dedup check, with the new workflow's id, to
  // record domain-table changes together with the workflow (a server record). An error refuses the
  // start and nothing is written.
  std::function<Status(journal::Txn&, const std::string& id)> txn = nullptr;
};

// What the engine counts for /metrics. Read and written on the engine's thread.
struct EngineStats {
  std::map<std::string, uint64_t> started;                                   // by type
  std::map<std::pair<std::string, std::string>, uint64_t> ended;             // by (type, status)
  std::map<std::pair<std::string, std::string>, Histogram> step_seconds;     // by (type, step)
};

struct Started {
  std::string id;
  bool created = false;  // false: the dedup key named an existing workflow
};

struct RetryOptions {
  // The operator accepts that an at-most-once step that was interrupted (it may or may not have
  // acted) runs again. Without it such a retry is refused.
  bool confirm_at_most_once = false;
};

class Engine {
 public:
  // `journal` and `registry` must outlive the engine; destroy the engine before the journal.
  Engine(boost::asio::io_context& io, journal::Journal& journal, const Registry& registry,
         EngineOptions options = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Resumes every workflow of the journal that was running or waiting (timers already due fire at
  // once) and hands the queued ones to the Admission, oldest first. Call once, before Start.
  Task<Status> Recover();

  // Records a new workflow (durably) as queued and hands it to the Admission. kInvalidArgument for
  // an unknown type; kUnavailable when stopping or the journal has failed.
  Task<Result<Started>> Start(StartRequest request);
  // Runs queued workflow `id` (the Admission's call). False when it is not queued here any more,
  // or the engine is stopping.
  bool Launch(const std::string& id);
  // Records a signal for workflow `id` and wakes it if it waits for `name`. kNotFound for an
  // unknown id; kFailedPrecondition when the workflow has ended.
  Task<Status> Signal(std::string id, std::string name, std::string payload);
  // Records a cancel request, delivered at the workflow's next await point (a queued workflow is
  // cancelled at once; in memory, once that is written: a failed write leaves it queued).
  // Repeating it is harmless. kNotFound / kFailedPrecondition as for Signal.
  Task<Status> Cancel(std::string id, std::string reason);
  // Resumes a failed workflow from its failed step; in memory it is queued again once the retry is
  // durable (a failed write changes nothing). kFailedPrecondition when it is not failed, is being
  // retried, compensated (its effects were undone: start a new one), or would run again an
  // at-most-once step that was interrupted (the message names it) without
  // `options.confirm_at_most_once`.
  Task<Status> Retry(std::string id, RetryOptions options = {});
  // Wakes the workflows waiting in Context::TxnStepWhen on `key` (they try their step again).
  void Notify(const std::string& key);
  // Waits until workflow `id` is terminal and returns its summary.
  Task<Result<proto::WorkflowSummary>> AwaitTerminal(std::string id);
  // The summary: the live one for a running workflow, else the journal's. kNotFound when unknown.
  Result<proto::WorkflowSummary> Summary(const std::string& id) const;

  // Stops taking work: Start answers kUnavailable; running workflows stop at their next await
  // point (their progress is durable; they resume at the next boot). Drain waits for them, at most
  // `deadline`.
  Task<void> Drain(Millis deadline);

  // Stops running workflows as Drain does, then forgets them (their progress is durable): a node
  // that lost its lock (SPEC §6.4). Start answers kUnavailable until Resume.
  Task<void> Suspend(Millis deadline);
  // Takes work again once every suspended coroutine has stopped: recovers every unfinished
  // workflow from the journal, as at boot.
  Task<Status> Resume();
  bool suspended() const { return stopping_; }

  size_t live_count() const { return live_.size(); }
  const EngineStats& stats() const { return stats_; }
  boost::asio::any_io_executor executor() const;
  journal::Journal& journal() { return journal_; }

 private:
  friend class Context;

  void Spawn(std::shared_ptr<Instance> in);
  // Records `in` as queued (in its pending batch) and tells the Admission once it is durable.
  void Enqueue(Instance& in);
  Task<void> Run(std::shared_ptr<Instance> in);
  Task<void> Finish(std::shared_ptr<Instance> in, Context& ctx, Result<std::string> result);
  // Ends queued workflow `in` as cancelled (it never ran: nothing to compensate) once that is
  // durable; a failed write leaves it queued.
  Task<Status> CancelQueued(std::shared_ptr<Instance> in, std::string reason);

  // Appends an event to the instance's pending batch (seq and time set here).
  void AddEvent(Instance& in, proto::Event event);
  // The pending batch plus the summary (and status-index change), ready to append.
  journal::Batch TakeBatch(Instance& in);
  // Makes everything pending durable.
  Task<Status> Flush(Instance& in);
  // The same when events are pending; summary and index changes alone wait for the next write
  // (they are a cache of the history: a restart rebuilds them).
  Task<Status> FlushEvents(Instance& in);
  Task<Status> Append(journal::Batch batch, journal::TxnFn txn);
  // Sets the instance's status (and what it waits for).
  void SetStatus(Instance& in, int status, std::string wait_kind = {}, std::string wait_detail = {});

  enum class Wake { kFired, kReady, kCancelled, kStopping };
  // Waits until wall time `fire_at_ms`, until `ready()` turns true (checked whenever the wait is
  // woken), or until cancel/stop. The status is running again afterwards, unless `stay_waiting`
  // (a Poll, whose probes are part of its wait).
  Task<Wake> WaitUntil(Instance& in, int64_t fire_at_ms, std::string kind, std::string detail,
                       std::function<bool()> ready, bool stay_waiting = false);
  void WakeUp(Instance& in);
  // One attempt of a step. After `timeout` (when > 0) it is cancelled and awaited, then fails with
  // kDeadlineExceeded: attempts never overlap.
  Task<Result<std::string>> RunAttempt(const StepFn& fn, StepInfo info, Millis timeout);
  Result<std::shared_ptr<Instance>> Load(const std::string& id);
  // The live instance; kNotFound for an unknown id, kFailedPrecondition for an ended workflow.
  Result<std::shared_ptr<Instance>> FindLive(const std::string& id) const;

  // The transaction that ends workflow `in`: its end_txns, each in a save point (a failing one is
  // logged and undone; the end is recorded regardless).
  static journal::TxnFn EndTxn(Instance& in);

  // Waits until no workflow coroutine runs, at most `deadline`.
  Task<void> WaitIdle(std::chrono::steady_clock::duration deadline);

  class Completions;

  boost::asio::io_context& io_;
  journal::Journal& journal_;
  const Registry& registry_;
  EngineOptions options_;
  std::shared_ptr<Completions> completions_;
  std::unordered_map<std::string, std::shared_ptr<Instance>> live_;
  std::unordered_multimap<std::string, std::weak_ptr<Instance>> notify_waiters_;
  std::unordered_set<std::string> retrying_;  // retries being written (not live yet)
  EngineStats stats_;
  size_t active_ = 0;  // running coroutines
  bool stopping_ = false;
};

}  // namespace zlh::workflows

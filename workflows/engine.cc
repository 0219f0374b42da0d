#include "workflows/engine.h"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <mutex>
#include <optional>

#include "base/ids.h"
#include "base/log_context_executor.h"
#include "journal/format.h"
#include "workflows/instance.h"
#include "workflows/view.h"

namespace zlh::workflows {
namespace asio = boost::asio;
namespace {

constexpr auto kForever = std::chrono::hours(24 * 365);

// Runs `fn` within a save point of `t`: its failure undoes only its own changes and is logged (as
// `what` of workflow `id`), so it cannot take the rest of the write down with it.
void RunAlone(journal::Txn& t, const std::function<Status(journal::Txn&)>& fn, std::string_view id,
              std::string_view what) {
  t.SetSavePoint();
  Status s = fn(t);
  if (s.ok()) {
    t.PopSavePoint();
  } else {
    t.RollbackToSavePoint();
    spdlog::error("workflow {}: {} failed (undone): {}", id, what, s.ToString());
  }
}

// The at-most-once step that a retry would run again after it was interrupted (it may have acted),
// as "step 3 'restore_backup'"; nullopt when there is none.
std::optional<std::string> InterruptedStep(const History& history) {
  for (const auto& [n, step] : history.steps) {
    if (step.final_error && step.final_error->code() == Code::kInterrupted) {
      return "step " + std::to_string(n) + " '" + step.name + "'";
    }
  }
  return std::nullopt;
}

// Runs one attempt of a step; what it throws (a cancellation too) is its error.
Task<Result<std::string>> Guarded(const StepFn& fn, StepInfo info) {
  try {
    co_return co_await fn(info);
  } catch (const std::exception& e) {
    co_return Internal(std::string("step threw: ") + e.what());
  }
}

}  // namespace

// Hands work from the journal's writer thread to the engine's thread: one post per burst, however
// many appends completed in it (a post per append costs a lock and often a wake-up each).
class Engine::Completions : public std::enable_shared_from_this<Completions> {
 public:
  explicit Completions(asio::any_io_executor ex) : ex_(std::move(ex)) {}

  // Any thread. Runs `fn` on the engine's thread, after everything added before it.
  void Add(std::function<void()> fn) {
    std::lock_guard lock(mu_);
    pending_.push_back(std::move(fn));
    if (posted_) return;
    posted_ = true;
    asio::post(ex_, [self = shared_from_this()]() { self->Drain(); });
  }

 private:
  void Drain() {
    std::vector<std::function<void()>> batch;
    {
      std::lock_guard lock(mu_);
      batch.swap(pending_);
      posted_ = false;
    }
    for (auto& fn : batch) fn();
  }

  asio::any_io_executor ex_;
  std::mutex mu_;
  std::vector<std::function<void()>> pending_;
  bool posted_ = false;
};

Engine::Engine(asio::io_context& io, journal::Journal& journal, const Registry& registry,
               EngineOptions options)
    : io_(io),
      journal_(journal),
      registry_(registry),
      options_(std::move(options)),
      completions_(std::make_shared<Completions>(io.get_executor())) {
  // Runs behind a group's completions: by then the coroutines they resumed have queued their next
  // appends, so those form the next group together.
  journal_.SetGroupBarrier([completions = completions_](std::function<void()> resume) {
    completions->Add(std::move(resume));
  });
}

Engine::~Engine() { journal_.SetGroupBarrier(nullptr); }

asio::any_io_executor Engine::executor() const { return io_.get_executor(); }

// ---- journal plumbing ----

void Engine::AddEvent(Instance& in, proto::Event event) {
  event.set_seq(in.next_seq++);
  event.set_time_ms(NowMs());
  in.history.last_seq = event.seq();
  in.summary.set_last_seq(event.seq());
  in.summary.set_updated_ms(event.time_ms());
  in.pending.PutEvent(in.id, event);
  in.pending_events = true;
}

void Engine::SetStatus(Instance& in, int status, std::string wait_kind, std::string wait_detail) {
  if (in.summary.status() == status && in.summary.waiting_for().kind() == wait_kind &&
      in.summary.waiting_for().detail() == wait_detail) {
    return;
  }
  in.summary.set_status(static_cast<proto::WorkflowStatus>(status));
  if (wait_kind.empty()) {
    in.summary.clear_waiting_for();
  } else {
    auto* w = in.summary.mutable_waiting_for();
    w->set_kind(std::move(wait_kind));
    w->set_detail(std::move(wait_detail));
    w->set_since_ms(NowMs());
  }
  in.summary.set_updated_ms(NowMs());
  in.dirty = true;
}

journal::Batch Engine::TakeBatch(Instance& in) {
  journal::Batch batch = std::move(in.pending);
  in.pending = journal::Batch();
  in.pending_events = false;
  int status = in.summary.status();
  if (status != in.indexed_status) {
    if (in.indexed_status != 0) {
      batch.Delete(journal::Cf::kIndex, journal::StatusIndexKey(in.indexed_status, in.id));
    }
    batch.Put(journal::Cf::kIndex, journal::StatusIndexKey(status, in.id), "");
    in.indexed_status = status;
  }
  // The stored summary is rewritten when the status (or what it waits for, or the outcome)
  // changes; its last_seq and updated_ms are as of that write. The live one is exact.
  if (in.dirty) batch.PutSummary(in.summary);
  in.dirty = false;
  return batch;
}

Task<Status> Engine::Append(journal::Batch batch, journal::TxnFn txn) {
  co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(Status)>(
      [this, &batch, &txn](auto handler) {
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        journal_.Append(
            std::move(batch), std::move(txn), [shared, completions = completions_](Status s) {
              completions->Add([shared, s = std::move(s)]() mutable {
                // Through the awaiting coroutine's executor, as any other resumption,
                // so that a workflow's log context is current when it goes on.
                auto ex = asio::get_associated_executor(*shared);
                asio::dispatch(ex,
                               [shared, s = std::move(s)]() mutable { (*shared)(std::move(s)); });
              });
            });
      },
      asio::use_awaitable);
}

Task<Status> Engine::Flush(Instance& in) {
  if (in.pending.empty() && !in.dirty) co_return Status::Ok();
  co_return co_await Append(TakeBatch(in), nullptr);
}

Task<Status> Engine::FlushEvents(Instance& in) {
  if (!in.pending_events) co_return Status::Ok();
  co_return co_await Flush(in);
}

// ---- waiting ----

void Engine::WakeUp(Instance& in) {
  if (in.wake) in.wake->cancel();
}

Task<Engine::Wake> Engine::WaitUntil(Instance& in, int64_t fire_at_ms, std::string kind,
                                     std::string detail, std::function<bool()> ready,
                                     bool stay_waiting) {
  SetStatus(in, proto::WAITING, std::move(kind), std::move(detail));
  asio::steady_timer timer(io_);
  Wake result = Wake::kFired;
  for (;;) {
    if (ready && ready()) {
      result = Wake::kReady;
      break;
    }
    if (in.history.cancel_requested && !in.history.cancel_delivered) {
      result = Wake::kCancelled;
      break;
    }
    if (stopping_) {
      result = Wake::kStopping;
      break;
    }
    int64_t remaining = fire_at_ms - NowMs();
    if (remaining <= 0) break;
    // The waiting status is made durable once, before the first real wait.
    if (in.dirty || !in.pending.empty()) {
      Status s = co_await Flush(in);
      if (!s.ok()) {
        result = Wake::kStopping;
        break;
      }
      continue;  // the state may have changed while flushing
    }
    timer.expires_after(std::chrono::milliseconds(remaining));
    in.wake = &timer;
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    in.wake = nullptr;
  }
  if (!stay_waiting) SetStatus(in, proto::RUNNING);
  co_return result;
}

Task<Result<std::string>> Engine::RunAttempt(const StepFn& fn, StepInfo info, Millis timeout) {
  if (timeout.count() <= 0) co_return co_await Guarded(fn, std::move(info));
  // Race the attempt against its timeout. `||` cancels the loser and waits until it has ended: a
  // timed-out attempt gets a terminal cancellation (its pending I/O is aborted, its next await
  // throws) and is awaited, so that it never overlaps the next attempt, nor outlives the step.
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer timer(io_, timeout);
  auto first = co_await (Guarded(fn, std::move(info)) || timer.async_wait(asio::use_awaitable));
  if (first.index() == 0) co_return std::move(std::get<0>(first));
  co_return Status(Code::kDeadlineExceeded,
                   "attempt timed out after " + FormatDuration(timeout));
}

// ---- lifecycle ----

void Engine::Spawn(std::shared_ptr<Instance> in) {
  in->running = true;
  ++active_;
  SetStatus(*in, proto::RUNNING);
  // Whatever the workflow's code logs, on every resumption, says which workflow it is.
  auto fields = std::make_shared<logging::Fields>(logging::Fields{in->id, in->def->type, ""});
  asio::co_spawn(LogContextExecutor(io_.get_executor(), std::move(fields)), Run(std::move(in)),
                 asio::detached);
}

bool Engine::Launch(const std::string& id) {
  if (stopping_) return false;
  auto it = live_.find(id);
  if (it == live_.end() || it->second->running) return false;
  // Leaving the queue (the status change) rides with the workflow's next write.
  Spawn(it->second);
  return true;
}

void Engine::Enqueue(Instance& in) { SetStatus(in, proto::QUEUED, "queue", in.summary.queue()); }

Task<void> Engine::Run(std::shared_ptr<Instance> in) {
  Context ctx(*this, in);
  Result<std::string> result = Internal("no result");
  try {
    result = co_await in->def->fn(ctx);
  } catch (const std::exception& e) {
    result = Internal(std::string("workflow threw: ") + e.what());
  }
  ctx.Returned();
  co_await Finish(in, ctx, std::move(result));
}

Task<void> Engine::Finish(std::shared_ptr<Instance> in, Context& ctx, Result<std::string> result) {
  Instance& w = *in;
  const Status& fatal = ctx.fatal();
  w.before_end = w.summary;
  if (!fatal.ok() && fatal.code() == Code::kNonDeterminism) {
    // The history stays as it is: no event records the divergence, only the summary.
    w.pending = journal::Batch();
    SetStatus(w, proto::FAILED);
    StatusToProto(fatal, w.summary.mutable_error());
    spdlog::error("workflow {} ({}) stopped: {}", w.id, w.def->type, fatal.ToString());
  } else if (!fatal.ok()) {
    // Stopping, or the journal failed: the progress so far is kept and resumes at the next boot.
  } else if (result.ok()) {
    proto::Event e;
    e.mutable_workflow_completed()->set_result(*result);
    AddEvent(w, std::move(e));
    SetStatus(w, proto::COMPLETED);
    w.summary.set_result(*result);
    spdlog::info("workflow {} ({}) completed", w.id, w.def->type);
  } else if (result.status().code() == Code::kCancelled && w.history.cancel_requested) {
    proto::Event e;
    e.mutable_workflow_cancelled()->set_reason(w.history.cancel_reason);
    AddEvent(w, std::move(e));
    SetStatus(w, proto::CANCELLED);
    StatusToProto(result.status(), w.summary.mutable_error());
    spdlog::info("workflow {} ({}) cancelled: {}", w.id, w.def->type, w.history.cancel_reason);
  } else {
    proto::Event e;
    StatusToProto(result.status(), e.mutable_workflow_failed()->mutable_error());
    e.mutable_workflow_failed()->set_compensated(ctx.compensated());
    AddEvent(w, std::move(e));
    SetStatus(w, proto::FAILED);
    StatusToProto(result.status(), w.summary.mutable_error());
    w.summary.set_compensated(ctx.compensated());
    spdlog::warn("workflow {} ({}) failed: {}", w.id, w.def->type, result.status().ToString());
  }
  bool ended = fatal.ok();
  if (ended) ++stats_.ended[{w.def->type, StatusName(w.summary.status())}];
  Status s = ended ? co_await Append(TakeBatch(w), EndTxn(w)) : co_await Flush(w);
  if (!s.ok()) {
    spdlog::error("workflow {}: could not record its end: {}", w.id, s.ToString());
  } else if (ended) {
    for (auto& after : w.after_end) after();
  }
  w.running = false;
  --active_;
  live_.erase(w.id);
  if (options_.admission) options_.admission->Finished(w.summary.queue());
  for (auto& notify : w.on_terminal) notify();
}

Task<Result<Started>> Engine::Start(StartRequest request) {
  if (stopping_) {
    co_return Unavailable(
        "this node is not running workflows (it is stopping, or a standby without the lock)");
  }
  ZLH_CO_RETURN_IF_ERROR(journal_.health());
  const Definition* def = registry_.Find(request.type);
  if (!def) co_return InvalidArgument("unknown workflow type '" + request.type + "'");

  auto in = std::make_shared<Instance>();
  in->id = NewId();
  in->def = def;
  in->summary.set_id(in->id);
  in->summary.set_type(def->type);
  in->summary.set_queue(def->queue);
  in->summary.set_dedup_key(request.dedup_key);
  in->summary.set_created_ms(NowMs());
  Enqueue(*in);
  proto::Event started;
  auto* ws = started.mutable_workflow_started();
  ws->set_type(def->type);
  ws->set_input(request.input);
  ws->set_dedup_key(request.dedup_key);
  ws->set_queue(def->queue);
  in->history.started = *ws;
  AddEvent(*in, std::move(started));

  auto existing = std::make_shared<std::string>();
  journal::TxnFn txn;
  if (!request.dedup_key.empty() || request.txn) {
    txn = [key = request.dedup_key, id = in->id, existing,
           also = std::move(request.txn)](journal::Txn& t) -> Status {
      if (!key.empty()) {
        std::string index_key = journal::DedupIndexKey(key);
        auto found = t.Get(journal::Cf::kIndex, index_key);
        if (!found.ok()) return found.status();
        if (found->has_value()) {
          *existing = **found;
          return {Code::kAlreadyExists, "dedup key names workflow " + **found};
        }
        t.Put(journal::Cf::kIndex, index_key, id);
      }
      return also ? also(t, id) : Status::Ok();
    };
  }
  Status s = co_await Append(TakeBatch(*in), std::move(txn));
  if (!existing->empty()) co_return Started{*existing, false};
  if (!s.ok()) co_return s;
  live_[in->id] = in;
  ++stats_.started[def->type];
  if (options_.admission) {
    options_.admission->Queued(def->queue, in->id);
  } else {
    Launch(in->id);
  }
  co_return Started{in->id, true};
}

Result<std::shared_ptr<Instance>> Engine::Load(const std::string& id) {
  auto summary = journal_.ReadSummary(id);
  if (!summary.ok()) return summary.status();
  if (!summary->has_value()) return NotFound("workflow " + id + " does not exist");
  auto events = journal_.ReadEvents(id);
  if (!events.ok()) return events.status();
  auto history = History::Fold(*events);
  if (!history.ok()) return history.status().WithContext("workflow " + id);
  auto in = std::make_shared<Instance>();
  in->id = id;
  in->summary = std::move(**summary);
  in->indexed_status = in->summary.status();
  in->history = std::move(*history);
  in->next_seq = in->history.last_seq + 1;
  in->summary.set_last_seq(in->history.last_seq);  // the stored one is as of its last status change
  in->summary.set_updated_ms(events->back().time_ms());
  in->def = registry_.Find(in->summary.type());
  if (!in->def) {
    return FailedPrecondition("workflow " + id + " has type '" + in->summary.type() +
                              "', which this build does not register");
  }
  return in;
}

Task<Status> Engine::Recover() {
  auto unfinished = journal_.IdsWithStatus({proto::RUNNING, proto::WAITING, proto::QUEUED});
  if (!unfinished.ok()) co_return unfinished.status();
  std::vector<std::string> ids = std::move(*unfinished);
  std::sort(ids.begin(), ids.end());  // ids are time-ordered: queues keep arrival order
  std::vector<std::shared_ptr<Instance>> queued;
  size_t resumed = 0;
  for (const std::string& id : ids) {
    auto in = Load(id);
    if (!in.ok()) {
      spdlog::error("recovery: skipping {}: {}", id, in.status().ToString());
      continue;
    }
    live_[id] = *in;
    if ((*in)->summary.status() == proto::QUEUED) {
      queued.push_back(*in);
    } else {
      // It was admitted before the restart: it runs again at once and holds its slot.
      if (options_.admission) options_.admission->Resumed((*in)->summary.queue());
      Spawn(*in);
      ++resumed;
    }
  }
  for (auto& in : queued) {
    if (options_.admission) {
      options_.admission->Queued(in->summary.queue(), in->id);
    } else {
      Launch(in->id);
    }
  }
  spdlog::info("recovery: resumed {} workflows, {} queued", resumed, queued.size());
  co_return Status::Ok();
}

Result<std::shared_ptr<Instance>> Engine::FindLive(const std::string& id) const {
  if (auto it = live_.find(id); it != live_.end()) return it->second;
  auto summary = Summary(id);
  if (!summary.ok()) return summary.status();
  return FailedPrecondition("workflow " + id + " is " + StatusName(summary->status()));
}

Task<Status> Engine::Signal(std::string id, std::string name, std::string payload) {
  auto live = FindLive(id);
  if (!live.ok()) co_return live.status();
  std::shared_ptr<Instance> in = *live;
  proto::Event e;
  e.mutable_signal_received()->set_name(name);
  e.mutable_signal_received()->set_payload(payload);
  AddEvent(*in, e);
  Status s = co_await Flush(*in);
  if (!s.ok()) co_return s;
  in->history.signals[name].emplace_back(in->history.last_seq, std::move(payload));
  WakeUp(*in);
  co_return Status::Ok();
}

Task<Status> Engine::Cancel(std::string id, std::string reason) {
  auto live = FindLive(id);
  if (!live.ok()) co_return live.status();
  std::shared_ptr<Instance> in = *live;
  if (in->history.cancel_requested) co_return Status::Ok();
  if (!in->running) co_return co_await CancelQueued(std::move(in), std::move(reason));
  proto::Event e;
  e.mutable_cancel_requested()->set_reason(reason);
  AddEvent(*in, std::move(e));
  in->history.cancel_requested = true;
  in->history.cancel_reason = reason;
  Status s = co_await Flush(*in);
  WakeUp(*in);
  co_return s;
}

Task<Status> Engine::CancelQueued(std::shared_ptr<Instance> in, std::string reason) {
  const std::string id = in->id;
  // Meanwhile a second Cancel is a no-op, and it is out of its queue so that it cannot be launched.
  in->history.cancel_requested = true;
  if (options_.admission) options_.admission->Withdrawn(in->summary.queue(), id);
  // The write is built on a copy of what it changes (events, summary, status index): the live
  // state, which Summary serves, changes only once it is durable.
  Instance ended;
  ended.id = id;
  ended.summary = in->summary;
  ended.indexed_status = in->indexed_status;
  ended.next_seq = in->next_seq;
  proto::Event requested;
  requested.mutable_cancel_requested()->set_reason(reason);
  AddEvent(ended, std::move(requested));
  proto::Event end;
  end.mutable_workflow_cancelled()->set_reason(reason);
  AddEvent(ended, std::move(end));
  SetStatus(ended, proto::CANCELLED);
  StatusToProto(Status(Code::kCancelled, reason), ended.summary.mutable_error());
  in->next_seq = ended.next_seq;  // its seqs are taken: what is recorded meanwhile follows them
  journal::TxnFn undo;
  if (in->def->cancelled_queued) {
    // Its failure must not lose the cancellation: it is undone alone, and logged.
    undo = [fn = in->def->cancelled_queued, input = in->history.started.input(),
            id](journal::Txn& t) {
      RunAlone(t, [&](journal::Txn& txn) { return fn(txn, input); }, id, "undoing its start");
      return Status::Ok();
    };
  }
  Status s = co_await Append(TakeBatch(ended), std::move(undo));
  if (!s.ok()) {
    // Still queued, durably: back in its queue (at its end).
    in->history.cancel_requested = false;
    if (options_.admission) options_.admission->Queued(in->summary.queue(), id);
    co_return s;
  }
  in->history.cancel_reason = std::move(reason);
  in->history.last_seq = ended.history.last_seq;
  in->summary = std::move(ended.summary);
  in->indexed_status = ended.indexed_status;
  live_.erase(id);
  for (auto& notify : in->on_terminal) notify();
  co_return Status::Ok();
}

Task<Status> Engine::Retry(std::string id, RetryOptions options) {
  if (stopping_) co_return Unavailable("the engine is stopping");
  if (auto it = live_.find(id); it != live_.end() && it->second->summary.status() == proto::FAILED) {
    // Its failure is being written (readers see it already): retry once it is durable. Whatever
    // AwaitTerminal answers, the checks below read the state it leaves.
    (void)co_await AwaitTerminal(id);
  }
  if (retrying_.contains(id)) co_return FailedPrecondition("workflow " + id + " is being retried");
  if (auto it = live_.find(id); it != live_.end()) {
    co_return FailedPrecondition("workflow " + id + " is " +
                                 StatusName(it->second->summary.status()) +
                                 "; only a failed workflow can be retried");
  }
  auto loaded = Load(id);
  if (!loaded.ok()) co_return loaded.status();
  std::shared_ptr<Instance> in = *loaded;
  if (in->summary.status() != proto::FAILED) {
    co_return FailedPrecondition("workflow " + id + " is " + StatusName(in->summary.status()) +
                                 "; only a failed workflow can be retried");
  }
  if (in->summary.compensated()) {
    co_return FailedPrecondition("workflow " + id +
                                 " compensated (its effects were undone); start a new one");
  }
  if (auto step = InterruptedStep(in->history); step && !options.confirm_at_most_once) {
    co_return FailedPrecondition("retrying workflow " + id + " would run " + *step +
                                 " again: it is at-most-once and was interrupted, so it may "
                                 "have acted already (confirm to run it twice)");
  }
  // `in` is not live until the retry is durable: meanwhile readers see the failure, and a second
  // Retry is refused.
  retrying_.insert(id);
  proto::Event e;
  e.mutable_workflow_retried();
  AddEvent(*in, e);
  in->history.Apply(e);
  in->summary.clear_error();
  Enqueue(*in);
  Status s = co_await Flush(*in);
  retrying_.erase(id);
  if (!s.ok()) co_return s;
  spdlog::info("workflow {} ({}) retried", id, in->summary.type());
  // Durably queued: a stopped engine takes it up at its next Recover (maybe done already).
  if (stopping_ || live_.contains(id)) co_return Status::Ok();
  live_[id] = in;
  if (options_.admission) {
    options_.admission->Queued(in->summary.queue(), id);
  } else {
    Launch(id);
  }
  co_return Status::Ok();
}

void Engine::Notify(const std::string& key) {
  auto [begin, end] = notify_waiters_.equal_range(key);
  for (auto it = begin; it != end; ++it) {
    if (auto in = it->second.lock(); in && in->notify_key == key) {
      in->notify_key.clear();
      WakeUp(*in);
    }
  }
  notify_waiters_.erase(key);
}

journal::TxnFn Engine::EndTxn(Instance& in) {
  if (in.end_txns.empty()) return nullptr;
  return [txns = std::move(in.end_txns), id = in.id](journal::Txn& t) -> Status {
    for (const auto& fn : txns) RunAlone(t, fn, id, "an end transaction");
    return Status::Ok();
  };
}

Task<Result<proto::WorkflowSummary>> Engine::AwaitTerminal(std::string id) {
  auto it = live_.find(id);
  if (it != live_.end()) {
    asio::steady_timer done(io_, kForever);
    it->second->on_terminal.push_back([&done] { done.cancel(); });
    co_await done.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  co_return Summary(id);
}

Result<proto::WorkflowSummary> Engine::Summary(const std::string& id) const {
  if (auto it = live_.find(id); it != live_.end()) {
    const Instance& in = *it->second;
    return in.before_end ? *in.before_end : in.summary;
  }
  auto summary = journal_.ReadSummary(id);
  if (!summary.ok()) return summary.status();
  if (!summary->has_value()) return NotFound("workflow " + id + " does not exist");
  return std::move(**summary);
}

Task<void> Engine::Suspend(Millis deadline) {
  co_await Drain(deadline);
  live_.clear();
  notify_waiters_.clear();
  if (options_.admission) options_.admission->Reset();
}

Task<Status> Engine::Resume() {
  // A step still in an outside call when the suspension came ends first: two runs of one workflow
  // must never overlap.
  co_await WaitIdle(kForever);
  live_.clear();
  stopping_ = false;
  co_return co_await Recover();
}

Task<void> Engine::Drain(Millis deadline) {
  stopping_ = true;
  for (auto& [id, in] : live_) WakeUp(*in);
  co_await WaitIdle(deadline);
  if (active_ > 0) spdlog::warn("drain: {} workflows still busy at the deadline", active_);
}

Task<void> Engine::WaitIdle(std::chrono::steady_clock::duration deadline) {
  auto until = std::chrono::steady_clock::now() + deadline;
  asio::steady_timer poll(io_);
  while (active_ > 0 && std::chrono::steady_clock::now() < until) {
    poll.expires_after(std::chrono::milliseconds(5));
    co_await poll.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

}  // namespace zlh::workflows

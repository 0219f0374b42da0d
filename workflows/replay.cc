#include "workflows/replay.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "workflows/engine.h"
#include "workflows/instance.h"

namespace zlh::workflows {

Result<ReplayReport> Replay(const Registry& registry, const journal::Journal& journal,
                            const std::string& id) {
  auto summary = journal.ReadSummary(id);
  if (!summary.ok()) return summary.status();
  if (!summary->has_value()) return NotFound("no workflow " + id);
  const Definition* def = registry.Find((*summary)->type());
  if (!def) {
    return FailedPrecondition("workflow " + id + " has type '" + (*summary)->type() +
                              "', which this build does not register");
  }
  auto events = journal.ReadEvents(id);
  if (!events.ok()) return events.status();
  auto history = History::Fold(*events);
  if (!history.ok()) return history.status();

  auto in = std::make_shared<Instance>();
  in->id = id;
  in->def = def;
  in->summary = **summary;
  in->history = *history;
  in->next_seq = history->last_seq + 1;

  // The engine only serves the context; in replay mode it neither runs nor writes anything, so
  // the journal is never written through it.
  boost::asio::io_context io;
  EngineOptions options;
  options.replay_only = true;
  Engine engine(io, const_cast<journal::Journal&>(journal), registry, options);
  Context ctx(engine, in);
  Result<std::string> result = Internal("the workflow did not return");
  bool returned = false;
  boost::asio::co_spawn(
      io,
      [&]() -> Task<void> {
        try {
          result = co_await def->fn(ctx);
        } catch (const std::exception& e) {
          result = Internal(std::string("workflow threw: ") + e.what());
        }
        ctx.Returned();
        returned = true;
      },
      boost::asio::detached);
  io.run();

  ReplayReport report;
  report.steps_replayed = ctx.steps_asked() - (ctx.reached_end_of_history() ? 1 : 0);
  auto diverged = [&](std::string what) {
    report.divergence = std::move(what);
    return report;
  };
  if (!returned) return diverged("the workflow's code did not finish over its recorded history");
  if (ctx.fatal().code() == Code::kNonDeterminism) return diverged(ctx.fatal().message());
  if (ctx.reached_end_of_history()) {
    report.matches = true;  // the code agrees with everything recorded so far
    return report;
  }
  // The code returned having asked for every recorded step (else Returned() said so above): it
  // must also have ended as the history did.
  const proto::Event* end = nullptr;  // the last end, unless a retry followed it
  for (const proto::Event& e : *events) {
    if (e.has_workflow_completed() || e.has_workflow_failed()) end = &e;
    if (e.has_workflow_retried()) end = nullptr;
  }
  if (end && end->has_workflow_completed() &&
      (!result.ok() || *result != end->workflow_completed().result())) {
    return diverged("the history completed with '" + end->workflow_completed().result() +
                    "', the code returned " +
                    (result.ok() ? "'" + *result + "'" : result.status().ToString()));
  }
  if (end && end->has_workflow_failed() && result.ok()) {
    return diverged("the history failed (" + end->workflow_failed().error().code() +
                    "), the code returned '" + *result + "'");
  }
  report.matches = true;
  return report;
}

}  // namespace zlh::workflows

// Instance: the engine's in-memory state of one non-terminal workflow (internal to workflows/).
// Used only on the engine's thread.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "journal/journal.h"
#include "proto/records.pb.h"
#include "workflows/history.h"
#include "workflows/registry.h"

namespace zlh::workflows {

struct Instance {
  std::string id;
  const Definition* def = nullptr;
  History history;
  proto::WorkflowSummary summary;
  int indexed_status = 0;  // the status whose index key the journal holds (0: none yet)
  uint64_t next_seq = 1;
  journal::Batch pending;       // events (and index changes) not yet sent to the journal
  bool pending_events = false;  // `pending` holds events (not only index changes)
  bool dirty = false;           // the summary changed since the last append
  // While the write of the workflow's end is in flight: the summary as it was before it, which
  // Engine::Summary shows, so that nobody is told of an end that is not durable yet.
  std::optional<proto::WorkflowSummary> before_end;

  bool running = false;                         // a coroutine runs it
  boost::asio::steady_timer* wake = nullptr;    // the wait in progress; cancelled to wake it
  std::vector<std::function<void()>> on_terminal;

  // Context::OnEnd / FinalTxnStep: run in the same write as the workflow's end; `after_end` once
  // that write is durable.
  std::vector<journal::TxnFn> end_txns;
  std::vector<std::function<void()>> after_end;
  std::string notify_key;  // the Engine::Notify key a TxnStepWhen waits on ("" when none)
};

}  // namespace zlh::workflows

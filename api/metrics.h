// GET /metrics: the Prometheus text exposition format (version 0.0.4) of what the engine, the
// queues, the journal and the HTTP router count.
//
// Thread-safety: call on the engine's thread (the engine's and the router's counts live there).
#pragma once

#include <map>
#include <string>

#include "api/router.h"
#include "journal/journal.h"
#include "scheduler/queues.h"
#include "workflows/engine.h"

namespace zlh::api {

struct MetricsSources {
  const workflows::Engine* engine = nullptr;
  const scheduler::Queues* queues = nullptr;
  const journal::Journal* journal = nullptr;
  const Router* router = nullptr;
};

std::string RenderMetrics(const MetricsSources& sources);

}  // namespace zlh::api

// observe (SPEC §5.4): the fleet as the tables hold it and as the outside services answer for it,
// gathered with bounded concurrency; a service that does not answer is recorded as an error of
// the observation (its servers' facts unknown), never a failure of the tick.
//
// Thread-safety: runs on the engine's thread.
#pragma once

#include "controller/observation.h"
#include "flows/flows.h"
#include "workflows/context.h"

namespace zlh::controller {

workflows::Task<Observation> Observe(const flows::Deps& deps, int64_t tick);

}  // namespace zlh::controller

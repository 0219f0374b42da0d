// The crash tests' workflow: runs the steps its input describes (tests/crash_shape.h), recording
// every step execution in an effects file. Test-only; set up before the engine starts.
#pragma once

#include <string>

#include "workflows/context.h"

namespace zlh::crash {

// Every step execution appends "<workflow id> <step> <attempt> <incarnation>" to `path` (none
// when never set).
void SetEffectsFile(std::string path, std::string incarnation);
// A deliberately different version of the workflow: every step has another name.
void UseRenamedSteps();

workflows::Task<Result<std::string>> RunShape(workflows::Context& ctx);

}  // namespace zlh::crash

// Test-only helpers that change a journal's database behind the journal's back, as another build
// or damage would. Not thread-safe; the journal must not be open in this process.
#pragma once

#include <string>

#include "base/status.h"

namespace zlh::journal::testing {

// Overwrites the format marker of the (closed) journal in `dir` with `marker`.
Status RewriteFormatMarker(const std::string& dir, const std::string& marker);

}  // namespace zlh::journal::testing

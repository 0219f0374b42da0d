// Durations as configuration and the API write them: "500ms", "2s", "1m", "1h" (one number, one
// unit; "0s" allowed). Pure functions, thread-safe.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "base/status.h"

namespace zlh {

using Millis = std::chrono::milliseconds;

// Parses "<digits><unit>" with unit ms, s, m or h. InvalidArgument naming the text otherwise.
Result<Millis> ParseDuration(std::string_view text);
// The shortest exact spelling: 90000ms → "90s", 1500ms → "1500ms".
std::string FormatDuration(Millis d);

}  // namespace zlh

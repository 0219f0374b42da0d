// Wall-clock time as milliseconds since the Unix epoch, the unit of every time stored in the
// journal. Thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace zlh {

using TimeMs = int64_t;  // milliseconds since 1970-01-01T00:00:00Z

// The current wall-clock time.
TimeMs NowMs();

// "2026-11-27T18:11:12.345Z".
std::string FormatRfc3339(TimeMs t);
// The inverse of FormatRfc3339 (that exact form, UTC with milliseconds); nullopt otherwise.
std::optional<TimeMs> ParseRfc3339(std::string_view text);
// `t` in UTC, to the second, by the strftime(3) `format` (at most 63 characters of output):
// "%Y%m%dT%H%M%SZ" gives "20261127T181112Z".
std::string FormatUtc(TimeMs t, const char* format);

}  // namespace zlh

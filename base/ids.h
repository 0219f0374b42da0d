// Workflow ids: 26-character, time-ordered identifiers (ULID layout: 48 bits of milliseconds, 80
// random bits, Crockford base32). Ids made by one process are strictly increasing, so byte order is
// creation order. Thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "base/clock.h"

namespace zlh {

inline constexpr size_t kIdLength = 26;

// A new id, greater than every id this process made before.
std::string NewId();
// A new id for time `t` (tests); still greater than every earlier id of this process.
std::string NewIdAt(TimeMs t);

// The smallest id of time `t`: every id made before `t` sorts below it (retention cut-offs).
std::string FirstIdAt(TimeMs t);

// True when `id` has the shape NewId makes.
bool IsValidId(std::string_view id);

}  // namespace zlh

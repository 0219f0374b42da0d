// Local time in an IANA time zone, for the business hours of SPEC §6.5 (a level-2 repair pings
// outside them) and the daily digest of §5.5 (at a configured local time). Over Howard Hinnant's
// date/tz, which reads the system's tzdata, so daylight-saving changes are the zone's own.
//
// Thread-safety: plain values; the zones they point at are immutable and live for the process.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace date {
class time_zone;
}

namespace zlh::calendar {

// A zone by its IANA name ("Europe/Berlin", "UTC"); kInvalidArgument naming it when unknown.
Result<const date::time_zone*> FindZone(std::string_view name);

// "HH:MM" (00:00-23:59, or 24:00 when `allow_24` for the end of a day) -> minutes after midnight.
Result<int> ParseClock(std::string_view text, bool allow_24 = false);

struct BusinessHours {
  const date::time_zone* zone = nullptr;
  std::array<bool, 7> days{};  // [0] Sunday ... [6] Saturday
  int begin_minute = 0;        // local, [begin, end)
  int end_minute = 0;

  // Whether the instant `unix_ms` falls inside them.
  bool Contains(int64_t unix_ms) const;
};

// Business hours from configuration: `zone` (default UTC), `days` ("mon".."sun"; default Monday to
// Friday), `hours` ("HH:MM-HH:MM", default "09:00-18:00"). Errors name the field under `field`
// ("businessHours.days[2]: ...").
Result<BusinessHours> ParseBusinessHours(std::string_view field, std::string_view zone,
                                         const std::vector<std::string>& days,
                                         std::string_view hours);

// Once a day at `minute` local time in `zone`. Periods are numbered by the local date of their
// occurrence (days since 1970-01-01), so a day's occurrence has one number whatever the daylight
// saving; on a day where that local time does not exist (spring forward) it is the moment the
// clocks jump.
struct Daily {
  const date::time_zone* zone = nullptr;
  int minute = 0;

  // The period whose occurrence is the latest at or before `unix_ms`.
  int64_t PeriodAt(int64_t unix_ms) const;
  // When period `period` occurs (unix ms).
  int64_t StartOf(int64_t period) const;
};

}  // namespace zlh::calendar

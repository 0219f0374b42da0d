#include "calendar/calendar.h"

#include <date/tz.h>

#include <algorithm>
#include <chrono>

namespace zlh::calendar {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;

date::local_time<milliseconds> Local(const date::time_zone* zone, int64_t unix_ms) {
  return zone->to_local(date::sys_time<milliseconds>(milliseconds(unix_ms)));
}

}  // namespace

Result<const date::time_zone*> FindZone(std::string_view name) {
  try {
    return date::locate_zone(name);
  } catch (const std::exception&) {
    return InvalidArgument("'" + std::string(name) +
                           "' is not a time zone of the tz database (e.g. Europe/Berlin, UTC)");
  }
}

Result<int> ParseClock(std::string_view text, bool allow_24) {
  auto bad = [&] {
    return InvalidArgument("'" + std::string(text) + "' is not a time of day HH:MM");
  };
  if (text.size() != 5 || text[2] != ':') return bad();
  for (size_t i : {size_t{0}, size_t{1}, size_t{3}, size_t{4}}) {
    if (text[i] < '0' || text[i] > '9') return bad();
  }
  int h = (text[0] - '0') * 10 + (text[1] - '0');
  int m = (text[3] - '0') * 10 + (text[4] - '0');
  if (m > 59 || h > 24 || (h == 24 && (m != 0 || !allow_24))) return bad();
  return h * 60 + m;
}

bool BusinessHours::Contains(int64_t unix_ms) const {
  if (!zone) return false;
  auto local = Local(zone, unix_ms);
  auto day = date::floor<date::days>(local);
  int minute = static_cast<int>(std::chrono::duration_cast<minutes>(local - day).count());
  return days[date::weekday(day).c_encoding()] && minute >= begin_minute && minute < end_minute;
}

Result<BusinessHours> ParseBusinessHours(std::string_view field, std::string_view zone,
                                         const std::vector<std::string>& days,
                                         std::string_view hours) {
  std::string f(field);
  BusinessHours out;
  auto z = FindZone(zone.empty() ? "UTC" : zone);
  if (!z.ok()) return InvalidArgument(f + ".timeZone: " + z.status().message());
  out.zone = *z;
  static constexpr std::array<const char*, 7> kNames{"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
  if (days.empty()) {
    for (size_t d = 1; d <= 5; ++d) out.days[d] = true;
  }
  for (size_t i = 0; i < days.size(); ++i) {
    std::string name = days[i];
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    auto it = std::find(kNames.begin(), kNames.end(), name);
    std::string at = f + ".days[" + std::to_string(i) + "]";
    if (it == kNames.end()) return InvalidArgument(at + ": '" + days[i] + "' is not one of mon..sun");
    size_t d = static_cast<size_t>(it - kNames.begin());
    if (out.days[d]) return InvalidArgument(at + ": '" + days[i] + "' repeated");
    out.days[d] = true;
  }
  std::string_view h = hours.empty() ? std::string_view("09:00-18:00") : hours;
  size_t dash = h.find('-');
  if (dash == std::string_view::npos) {
    return InvalidArgument(f + ".hours: '" + std::string(h) + "' is not HH:MM-HH:MM");
  }
  auto begin = ParseClock(h.substr(0, dash));
  if (!begin.ok()) return InvalidArgument(f + ".hours: " + begin.status().message());
  auto end = ParseClock(h.substr(dash + 1), true);
  if (!end.ok()) return InvalidArgument(f + ".hours: " + end.status().message());
  if (*end <= *begin) {
    return InvalidArgument(f + ".hours: '" + std::string(h) + "' ends before it begins");
  }
  out.begin_minute = *begin;
  out.end_minute = *end;
  return out;
}

int64_t Daily::StartOf(int64_t period) const {
  date::local_time<minutes> at{date::local_days(date::days(period)) + minutes(minute)};
  auto sys = zone->to_sys(at, date::choose::earliest);
  return std::chrono::duration_cast<milliseconds>(sys.time_since_epoch()).count();
}

int64_t Daily::PeriodAt(int64_t unix_ms) const {
  int64_t day = date::floor<date::days>(Local(zone, unix_ms)).time_since_epoch().count();
  return StartOf(day) <= unix_ms ? day : day - 1;
}

}  // namespace zlh::calendar

// Business hours and the daily schedule in real time zones, daylight-saving changes included.
#include "calendar/calendar.h"

#include <gtest/gtest.h>

namespace zlh::calendar {
namespace {

// Unix ms of a UTC civil time.
int64_t Utc(int y, int mo, int d, int h, int mi) {
  // days_from_civil (Howard Hinnant's algorithm).
  y -= mo <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  int64_t days = era * 146097 + doe - 719468;
  return ((days * 24 + h) * 60 + mi) * 60'000;
}

TEST(CalendarTest, BusinessHoursFollowTheZoneAndItsDaylightSaving) {
  auto hours = ParseBusinessHours("businessHours", "Europe/Berlin", {}, "09:00-18:00");
  ASSERT_TRUE(hours.ok()) << hours.status().ToString();
  // Friday 2026-11-27: Berlin is UTC+1. 08:30 UTC is 09:30 there: inside.
  EXPECT_TRUE(hours->Contains(Utc(2026, 11, 27, 8, 30)));
  EXPECT_FALSE(hours->Contains(Utc(2026, 11, 27, 7, 59)));   // 08:59 local
  EXPECT_FALSE(hours->Contains(Utc(2026, 11, 27, 17, 0)));   // 18:00 local: the end is outside
  EXPECT_FALSE(hours->Contains(Utc(2026, 11, 28, 10, 0)));   // Saturday
  // In July Berlin is UTC+2: 07:30 UTC is 09:30 local.
  EXPECT_TRUE(hours->Contains(Utc(2026, 7, 15, 7, 30)));
  EXPECT_FALSE(hours->Contains(Utc(2026, 7, 15, 16, 30)));   // 18:30 local
}

TEST(CalendarTest, ConfiguredDaysAndWholeDays) {
  auto weekend = ParseBusinessHours("b", "UTC", {"Sat", "sun"}, "00:00-24:00");
  ASSERT_TRUE(weekend.ok()) << weekend.status().ToString();
  EXPECT_TRUE(weekend->Contains(Utc(2026, 11, 28, 23, 59)));
  EXPECT_FALSE(weekend->Contains(Utc(2026, 11, 27, 12, 0)));
}

TEST(CalendarTest, BadConfigurationNamesTheField) {
  auto zone = ParseBusinessHours("businessHours", "Mars/Olympus", {}, "");
  EXPECT_NE(zone.status().message().find("businessHours.timeZone"), std::string::npos);
  auto day = ParseBusinessHours("businessHours", "UTC", {"mon", "funday"}, "");
  EXPECT_NE(day.status().message().find("businessHours.days[1]"), std::string::npos);
  auto twice = ParseBusinessHours("businessHours", "UTC", {"mon", "MON"}, "");
  EXPECT_NE(twice.status().message().find("repeated"), std::string::npos);
  for (const char* bad : {"9-18", "18:00-09:00", "09:00-24:30", "25:00-26:00", "09:00"}) {
    auto h = ParseBusinessHours("businessHours", "UTC", {}, bad);
    EXPECT_EQ(h.status().code(), Code::kInvalidArgument) << bad;
    EXPECT_NE(h.status().message().find("businessHours.hours"), std::string::npos) << bad;
  }
  EXPECT_FALSE(ParseClock("24:00").ok());
  EXPECT_EQ(*ParseClock("24:00", true), 24 * 60);
  EXPECT_EQ(*ParseClock("07:05"), 425);
}

TEST(CalendarTest, DailyOccursOnceALocalDayAcrossDaylightSavingChanges) {
  auto zone = FindZone("Europe/Berlin");
  ASSERT_TRUE(zone.ok());
  Daily at8{*zone, 8 * 60};
  // 2026-11-27 08:00 in Berlin is 07:00 UTC.
  int64_t period = at8.PeriodAt(Utc(2026, 11, 27, 7, 0));
  EXPECT_EQ(at8.StartOf(period), Utc(2026, 11, 27, 7, 0));
  EXPECT_EQ(at8.PeriodAt(Utc(2026, 11, 27, 6, 59)), period - 1);
  EXPECT_EQ(at8.PeriodAt(Utc(2026, 11, 28, 6, 59)), period);
  // Across the spring-forward night (2026-03-29) the occurrences are 23 hours apart.
  int64_t before = at8.PeriodAt(Utc(2026, 3, 28, 12, 0));
  EXPECT_EQ(at8.StartOf(before + 1) - at8.StartOf(before), 23 * 3'600'000LL);
  // 02:30 does not exist that night: the occurrence is the jump itself (01:00 UTC).
  Daily at0230{*zone, 2 * 60 + 30};
  EXPECT_EQ(at0230.StartOf(at0230.PeriodAt(Utc(2026, 3, 29, 12, 0))), Utc(2026, 3, 29, 1, 0));
}

}  // namespace
}  // namespace zlh::calendar

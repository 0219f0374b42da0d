#include <gtest/gtest.h>

#include <set>

#include "base/clock.h"
#include "base/duration.h"
#include "base/ids.h"
#include "base/ipv4.h"
#include "base/status.h"
#include "base/url.h"

namespace zlh {
namespace {

TEST(StatusTest, CodeNamesRoundTrip) {
  for (Code c :
       {Code::kOk, Code::kNotFound, Code::kNonDeterminism, Code::kInterrupted, Code::kNoCapacity}) {
    EXPECT_EQ(CodeFromName(CodeName(c)), c);
  }
  EXPECT_EQ(Status(Code::kNotFound, "workflow x").ToString(), "not_found: workflow x");
}

TEST(StatusTest, ResultHoldsValueOrError) {
  Result<int> good = 7;
  Result<int> bad = NotFound("nope");
  EXPECT_TRUE(good.ok());
  EXPECT_EQ(*good, 7);
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kNotFound);
}

TEST(DurationTest, ParsesEveryUnit) {
  EXPECT_EQ(ParseDuration("500ms")->count(), 500);
  EXPECT_EQ(ParseDuration("2s")->count(), 2000);
  EXPECT_EQ(ParseDuration("1m")->count(), 60000);
  EXPECT_EQ(ParseDuration("1h")->count(), 3600000);
  EXPECT_EQ(ParseDuration("0s")->count(), 0);
}

TEST(DurationTest, RejectsMalformedTextNamingIt) {
  for (const char* bad : {"", "s", "5", "5 s", "-1s", "1.5s", "10d", "99999999999999s"}) {
    auto r = ParseDuration(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_NE(r.status().message().find(std::string("'") + bad + "'"), std::string::npos);
  }
}

TEST(DurationTest, FormatsShortestExactSpelling) {
  EXPECT_EQ(FormatDuration(Millis(90000)), "90s");
  EXPECT_EQ(FormatDuration(Millis(1500)), "1500ms");
  EXPECT_EQ(FormatDuration(Millis(7200000)), "2h");
}

TEST(IdsTest, IdsAreValidUniqueAndIncreasing) {
  std::string prev;
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    std::string id = NewId();
    ASSERT_TRUE(IsValidId(id)) << id;
    ASSERT_GT(id, prev);
    seen.insert(id);
    prev = id;
  }
  EXPECT_EQ(seen.size(), 10000u);
}

TEST(IdsTest, FirstIdAtCutsByCreationTime) {
  std::string before = NewId();
  TimeMs cut = NowMs() + 5;
  while (NowMs() <= cut) {
  }
  std::string after = NewId();
  std::string first = FirstIdAt(cut);
  EXPECT_TRUE(IsValidId(first));
  EXPECT_LT(before, first);
  EXPECT_GT(after, first);
}

TEST(IdsTest, RejectsMalformedIds) {
  EXPECT_FALSE(IsValidId("not-an-id"));
  EXPECT_FALSE(IsValidId(std::string(kIdLength, 'I')));  // not in Crockford's alphabet
}

TEST(UrlTest, DecodesPercentAndPlus) {
  EXPECT_EQ(UrlDecode("a%20b+c", true), "a b c");
  EXPECT_EQ(UrlDecode("a%20b+c", false), "a b+c");
  EXPECT_EQ(UrlDecode("100%", true), "100%");  // a lone % stays
  EXPECT_EQ(UrlDecode("%zz", true), "%zz");
}

TEST(Ipv4Test, ParsesAndFormatsDottedQuads) {
  EXPECT_EQ(ParseIpv4("10.20.1.10"), 0x0A14010Au);
  EXPECT_EQ(FormatIpv4(0x0A14010Au), "10.20.1.10");
  EXPECT_EQ(ParseIpv4("255.255.255.255"), 0xFFFFFFFFu);
  for (const char* bad : {"", "10.20.1", "10.20.1.256", "10.20.01.1", "10.20.1.1.", "a.b.c.d",
                          "10.20.1.1/24", " 10.20.1.1"}) {
    EXPECT_FALSE(ParseIpv4(bad).has_value()) << bad;
  }
}

TEST(Ipv4Test, CidrContainsItsBlockOnly) {
  auto block = ParseCidr("10.20.0.0/22");
  ASSERT_TRUE(block.has_value());
  EXPECT_TRUE(block->Contains(*ParseIpv4("10.20.3.250")));
  EXPECT_FALSE(block->Contains(*ParseIpv4("10.20.4.1")));
  EXPECT_TRUE(ParseCidr("0.0.0.0/0")->Contains(*ParseIpv4("8.8.8.8")));
  for (const char* bad :
       {"10.20.0.1/22", "10.20.0.0", "10.20.0.0/33", "10.20.0.0/", "10.20.0.0/x"}) {
    EXPECT_FALSE(ParseCidr(bad).has_value()) << bad;
  }
}

TEST(UrlTest, ParsesForms) {
  auto form = ParseForm("newid=101&hostname=survival%2D1&full=1&empty=&=x");
  EXPECT_EQ(form.size(), 4u);
  EXPECT_EQ(form["newid"], "101");
  EXPECT_EQ(form["hostname"], "survival-1");
  EXPECT_EQ(form["empty"], "");
}

TEST(ClockTest, FormatsRfc3339) {
  EXPECT_EQ(FormatRfc3339(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339(1'795'000'000'123), "2026-11-18T11:06:40.123Z");
}

TEST(ClockTest, ParsesWhatItFormats) {
  for (TimeMs t : {TimeMs(0), TimeMs(1'795'000'000'123), NowMs()}) {
    EXPECT_EQ(ParseRfc3339(FormatRfc3339(t)), t);
  }
  for (const char* bad : {"", "2026-11-18T11:06:40Z", "2026-13-18T11:06:40.123Z", "2026-02-31T00:00:00.000Z",
                          "2026-11-18 11:06:40.123Z", "2026-11-18T11:06:4x.123Z"}) {
    EXPECT_FALSE(ParseRfc3339(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace zlh

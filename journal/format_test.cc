#include "journal/format.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace zlh::journal {
namespace {

TEST(FormatTest, EventKeysOrderBySeqWithinAStream) {
  std::vector<uint64_t> seqs = {1, 2, 255, 256, 65535, 65536, 1ull << 40};
  for (size_t i = 1; i < seqs.size(); ++i) {
    EXPECT_LT(EventKey("wf", seqs[i - 1]), EventKey("wf", seqs[i]));
  }
}

TEST(FormatTest, StreamsDoNotInterleave) {
  // "a" is a prefix of "ab": the separator keeps every event of "a" before any of "ab".
  EXPECT_LT(EventKey("a", ~0ull), EventKey("ab", 0));
  EXPECT_TRUE(EventKey("a", 5).starts_with(EventPrefix("a")));
  EXPECT_FALSE(EventKey("ab", 5).starts_with(EventPrefix("a")));
}

TEST(FormatTest, EventKeyDecodes) {
  std::string_view stream;
  std::string key = EventKey("01JABC", 42);
  EXPECT_EQ(EventKeySeq(key, &stream), 42u);
  EXPECT_EQ(stream, "01JABC");
}

TEST(FormatTest, TimerKeysOrderByFireTime) {
  EXPECT_LT(TimerIndexKey(1000, "zzz", 9), TimerIndexKey(1001, "aaa", 1));
  EXPECT_LT(TimerIndexKey(1000, "aaa", 1), TimerIndexKey(1000, "aaa", 2));
}

TEST(FormatTest, IntegersRoundTrip) {
  std::string s;
  PutU32(&s, 0xdeadbeef);
  PutU64(&s, 0x0123456789abcdefull);
  EXPECT_EQ(GetU32(s), 0xdeadbeefu);
  EXPECT_EQ(GetU64(std::string_view(s).substr(4)), 0x0123456789abcdefull);
}

TEST(FormatTest, FormatMarkerRoundTripsAndGarbageIsNoVersion) {
  EXPECT_EQ(ParseFormatMarker(FormatMarker(1)), 1u);
  EXPECT_EQ(ParseFormatMarker(FormatMarker(99)), 99u);
  // Garbage must not read as version 0 (which strtoul made of it).
  for (const char* bad : {"zlh-flow journal garbage", "zlh-flow journal ", "zlh-flow journal 0",
                          "zlh-flow journal 1x", "zlh-flow journal -1", "zlh-flow journal 01",
                          "zlh-flow journal 99999999999", "something else 1", ""}) {
    EXPECT_EQ(ParseFormatMarker(bad), std::nullopt) << bad;
  }
}

}  // namespace
}  // namespace zlh::journal

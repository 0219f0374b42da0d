// SignatureWatch on an injected clock: three bad signatures within ten minutes open a burst told
// once, ten quiet minutes close it, and fewer, or the same spread wider, never alert.
#include "api/signature_watch.h"

#include <gtest/gtest.h>

#include <chrono>
#include <vector>

namespace zlh::api {
namespace {

using namespace std::chrono_literals;

class SignatureWatchTest : public ::testing::Test {
 protected:
  struct Burst {
    int64_t first_ms;
    int count;
  };
  void Wait(Millis quiet) { now_ += quiet.count(); }
  // One bad signature, `after` the previous one.
  void BadAfter(Millis after) {
    Wait(after);
    watch_.Refused();
  }

  int64_t now_ = 1'800'000'000'000;
  std::vector<Burst> told_;
  SignatureWatch watch_{[this](int64_t first_ms, int count) {
                          told_.push_back({first_ms, count});
                        },
                        [this] { return now_; }};
};

TEST_F(SignatureWatchTest, ThreeInTenMinutesAlertOncePerBurst) {
  int64_t first = now_;
  watch_.Refused();
  BadAfter(4min);
  EXPECT_TRUE(told_.empty()) << "two bad signatures are no burst";
  BadAfter(5min);  // the third within ten minutes of the first
  ASSERT_EQ(told_.size(), 1u);
  EXPECT_EQ(told_[0].first_ms, first);
  EXPECT_EQ(told_[0].count, 3);
  BadAfter(1s);
  BadAfter(9min);  // five in all, each within ten minutes of the one before: the same burst
  EXPECT_EQ(told_.size(), 1u);
  EXPECT_TRUE(watch_.InBurst());

  Wait(10min);  // ten quiet minutes close it
  EXPECT_FALSE(watch_.InBurst());
  int64_t second = now_ + 1000;
  BadAfter(1s);
  BadAfter(1s);
  EXPECT_EQ(told_.size(), 1u) << "two after the burst closed are no new burst";
  BadAfter(1s);
  ASSERT_EQ(told_.size(), 2u);
  EXPECT_EQ(told_[1].first_ms, second);
  EXPECT_EQ(told_[1].count, 3);
}

TEST_F(SignatureWatchTest, BadSignaturesSpreadWiderThanTheWindowNeverAlert) {
  // Pairs eleven minutes apart, and one every five minutes: never three within ten minutes.
  for (int i = 0; i < 20; ++i) {
    BadAfter(11min);
    BadAfter(1s);
  }
  Wait(10min);
  for (int i = 0; i < 20; ++i) BadAfter(5min + 1ms);
  EXPECT_TRUE(told_.empty());
  EXPECT_FALSE(watch_.InBurst());
}

TEST_F(SignatureWatchTest, ANullSinkIsAllowed) {
  SignatureWatch silent(nullptr, [this] { return now_; });
  for (int i = 0; i < 5; ++i) silent.Refused();
  EXPECT_TRUE(silent.InBurst());
}

}  // namespace
}  // namespace zlh::api

// The daily digest's account of the day's notifications (SPEC §10), read from a real journal's
// outbox: the late, the refused and the waiting are counted and named; on-time ones and those
// older than a day are not listed.
#include "controller/digest.h"

#include <gtest/gtest.h>

#include "base/clock.h"
#include "base/temp_dir.h"
#include "fleet/outbox.h"
#include "fleet/tables.h"

namespace zlh::controller {
namespace {

constexpr int64_t kNow = 1'800'000'000'000;
constexpr int64_t kMinute = 60'000;

class DigestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto j = journal::Journal::Open(dir_.path());
    ASSERT_TRUE(j.ok()) << j.status().ToString();
    journal_ = std::move(*j);
  }

  // Records `content` on `channel` at `at_ms`; its Discord delivery in `state` `after_ms` later
  // with `error`, and an email delivered when `emailed`.
  void Record(const std::string& channel, const std::string& content, int64_t at_ms,
              proto::DeliveryState state, int64_t after_ms = 0, const std::string& error = "",
              bool emailed = false) {
    fleet::Intent intent;
    intent.key = "wf:" + std::to_string(++count_);
    intent.channel = channel;
    intent.content = content;
    Status s = journal_->AppendSync({}, [&](journal::Txn& t) -> Status {
      auto id = fleet::EnqueueNotification(t, intent, at_ms);
      if (!id.ok()) return id.status();
      auto n = fleet::GetNotification(t, *id);
      if (!n.ok()) return n.status();
      proto::Notification entry = **n;
      proto::Delivery& discord = *entry.mutable_deliveries(0);
      discord.set_state(state);
      discord.set_last_error(error);
      if (state != proto::DELIVERY_PENDING) discord.set_done_ms(at_ms + after_ms);
      if (emailed) {
        proto::Delivery& email = *entry.add_deliveries();
        email.set_route(fleet::kEmailRoute);
        email.set_state(proto::DELIVERY_DELIVERED);
        email.set_done_ms(at_ms + 3 * kMinute);
      }
      return fleet::PutNotification(t, entry);
    });
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  TempDir dir_;
  std::unique_ptr<journal::Journal> journal_;
  int count_ = 0;
};

TEST_F(DigestTest, SaysWhatWasLateAndWhatFailed) {
  Record("alerts-critical", "Two days ago: refused", kNow - 48 * 60 * kMinute,
         proto::DELIVERY_FAILED, 1'000, "HTTP 404 Unknown Webhook (10015)");
  Record("alerts-critical", "Drift on alpha (VMID 100): agent offline.\nIncident since tick 4.",
         kNow - 120 * kMinute, proto::DELIVERY_DELIVERED, 12 * kMinute, "", true);
  Record("alerts-billing", "Billing says customer c-1 is suspended", kNow - 90 * kMinute,
         proto::DELIVERY_FAILED, 500, "HTTP 404 Unknown Webhook (10015)", true);
  Record("audit-log", "Reconcile tick 5:\n- alpha: dns_missing → repair", kNow - 60 * kMinute,
         proto::DELIVERY_DELIVERED, 2'000);
  Record("system-health", "Backup missed on beta (VMID 101)", kNow - 10 * kMinute,
         proto::DELIVERY_PENDING, 0, "HTTP 503 Service Unavailable");

  std::string text = DigestText(*journal_, kNow);
  EXPECT_NE(text.find("Notifications in the last 24 h: 4 recorded, 2 shown on Discord (1 over a "
                      "minute late), 1 refused, 1 waiting; 2 emailed"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("\n- #alerts-critical \"Drift on alpha (VMID 100): agent offline.\": shown "
                      "12m after it was recorded, emailed"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("\n- #alerts-billing \"Billing says customer c-1 is suspended\": refused "
                      "(HTTP 404 Unknown Webhook (10015)), emailed"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("\n- #system-health \"Backup missed on beta (VMID 101)\": waiting for 10m "
                      "(HTTP 503 Service Unavailable)"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("Reconcile tick 5"), std::string::npos) << "on time: not listed\n" << text;
  EXPECT_EQ(text.find("Two days ago"), std::string::npos) << "older than a day\n" << text;
}

TEST_F(DigestTest, AQuietDaySaysSo) {
  std::string text = DigestText(*journal_, kNow);
  EXPECT_NE(text.find("Notifications in the last 24 h: 0 recorded, 0 shown on Discord (0 over a "
                      "minute late), 0 refused, 0 waiting; 0 emailed"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("Journal backup: none taken and verified yet"), std::string::npos) << text;
}

// The journal's own newest good backup (SPEC §11), as the backup workflow recorded it.
TEST_F(DigestTest, NamesTheNewestJournalBackup) {
  ASSERT_TRUE(journal_
                  ->AppendSync({},
                               [](journal::Txn& t) {
                                 proto::JournalBackup b;
                                 b.set_taken_ms(kNow - 5 * 60 * kMinute);
                                 b.set_path("/srv/zlh-backups/20270115T030000Z");
                                 fleet::PutLastJournalBackup(t, b);
                                 return Status::Ok();
                               })
                  .ok());
  std::string text = DigestText(*journal_, kNow);
  EXPECT_NE(
      text.find("Journal backup: last taken and verified " +
                FormatRfc3339(kNow - 5 * 60 * kMinute) + ", in /srv/zlh-backups/20270115T030000Z"),
      std::string::npos)
      << text;
}

}  // namespace
}  // namespace zlh::controller

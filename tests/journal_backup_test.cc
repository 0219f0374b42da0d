// The journal's daily backup (SPEC §11) on the engine, with zlhd's dispatcher delivering the
// outbox to a real zlh-sim: the `backup` workflow takes a verified backup with the tokens file
// (0600), records it, prunes the oldest scheduled backups beyond `keep` and nothing else, and is
// taken once per day however often it is started; a backup that cannot be written alerts
// #alerts-critical with a ping; and the reconcile alerts a missing backup once per miss.
#include "controller/journal_backup.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>

#include "backup/keeper.h"
#include "backup/prune.h"
#include "base/clock.h"
#include "controller/controller.h"
#include "fleet/outbox.h"
#include "fleet/tables.h"
#include "flows/flows.h"
#include "flows/outside.h"
#include "tests/outbox_delivery.h"
#include "tests/sim_process.h"
#include "workflows/engine_fixture.h"

namespace zlh::controller {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

constexpr int64_t kHour = 3'600'000;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class JournalBackupTest : public workflows::EngineFixture {
 protected:
  // The engine with the controller's workflows, backups under tmp/backups (kept: 2).
  void SetUp() override {
    ASSERT_FALSE(sim_.url().empty());
    auto s = config::Parse(R"({"proxmox": {"taskPollInterval": "10ms"}, "backup": {"keep": 2}})");
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    settings_ = *s;
    config::PointAtFleet(settings_, sim_.url());
    outside_ = std::make_unique<flows::Outside>(settings_);
    deps_ = outside_->MakeDeps();
    std::ofstream(tmp_.Sub("tokens"))
        << "admin aaaaaaaaaaaaaaaaaaaaaaaa\nportal bbbbbbbbbbbbbbbbbbbbbbbb\n";
    fs::permissions(tmp_.Sub("tokens"), fs::perms(0644));
    EngineFixture::SetUp();
    keeper_ = std::make_unique<backup::Keeper>(
        *journal_, backup::Place{tmp_.Sub("backups"), tmp_.Sub("tokens"), settings_.backup_keep});
    ASSERT_TRUE(flows::Register(registry_, deps_).ok());
    ASSERT_TRUE(
        Register(registry_, deps_, nullptr, fleet::FencingSource::kJournal, keeper_.get()).ok());
    deps_.journal = journal_.get();
    deps_.engine = engine_.get();
    delivery_.Start(io_->get_executor(), *journal_, *outside_, settings_, deps_);
  }
  void BeforeClose() override { Await(delivery_.Stop()); }

  proto::WorkflowSummary RunToEnd(const workflows::StartRequest& req, std::string* id = nullptr) {
    auto r = Await(engine_->Start(req));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (id) *id = r->id;
    return AwaitEnd(r->id);
  }
  std::vector<proto::Notification> Critical() {
    auto page = fleet::ListNotifications(*journal_, {"", "alerts-critical", 0, 100});
    EXPECT_TRUE(page.ok());
    return page.ok() ? page->items : std::vector<proto::Notification>();
  }
  // Whether every #alerts-critical notification was shown on Discord (zlh-sim's).
  bool AllShown() {
    for (const auto& n : Critical()) {
      if (n.deliveries(0).state() != proto::DELIVERY_DELIVERED) return false;
    }
    return true;
  }
  // Records `at` as the newest good backup, as the backup workflow would.
  void LastBackupAt(int64_t at) {
    ASSERT_TRUE(journal_
                    ->AppendSync({},
                                 [at](journal::Txn& t) {
                                   proto::JournalBackup b;
                                   b.set_taken_ms(at);
                                   b.set_path("/backups/old");
                                   fleet::PutLastJournalBackup(t, b);
                                   return Status::Ok();
                                 })
                    .ok());
  }
  // A scheduled backup taken at `at`, as an earlier day's workflow left it.
  std::string EarlierBackup(int64_t at) {
    std::string path = tmp_.Sub("backups/" + backup::ScheduledName(at));
    auto taken =
        backup::Take(*journal_, {path, tmp_.Sub("tokens"), backup::Origin::kScheduled, true, at});
    EXPECT_TRUE(taken.ok()) << taken.status().ToString();
    return path;
  }

  TempDir tmp_;
  Sim sim_{tmp_.Sub("sim.json")};
  config::Settings settings_;
  std::unique_ptr<flows::Outside> outside_;
  flows::Deps deps_;
  std::unique_ptr<backup::Keeper> keeper_;
  OutboxDelivery delivery_;
};

TEST_F(JournalBackupTest, TheDailyBackupIsVerifiedWithTheTokensAndPrunesTheOldest) {
  int64_t now = NowMs();
  fs::create_directories(tmp_.Sub("backups"));
  std::string two_days_ago = EarlierBackup(now - 48 * kHour);
  std::string yesterday = EarlierBackup(now - 24 * kHour);
  std::ofstream(tmp_.Sub("backups/README")) << "the operator's";
  ASSERT_TRUE(backup::Take(*journal_, {tmp_.Sub("backups/before-upgrade"), tmp_.Sub("tokens"),
                                       backup::Origin::kApi, false})
                  .ok());

  std::string id;
  proto::WorkflowSummary done = RunToEnd(BackupStart(20'000), &id);
  ASSERT_EQ(done.status(), proto::COMPLETED) << done.error().message();
  json::value result = json::parse(done.result());
  std::string path(result.at("path").as_string());
  EXPECT_EQ(fs::path(path).parent_path(), fs::path(tmp_.Sub("backups")));
  // Verified, with the tokens file readable by its owner only, and recorded as the newest.
  EXPECT_TRUE(backup::Verify(path).ok());
  EXPECT_TRUE(backup::ReadMarker(path)->verified);
  EXPECT_EQ((fs::status(path + "/tokens").permissions() & fs::perms::all),
            fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(ReadFile(path + "/tokens"), ReadFile(tmp_.Sub("tokens")));
  EXPECT_EQ((*fleet::ReadLastJournalBackup(*journal_))->path(), path);
  // keep 2: the newest two scheduled backups stay; the oldest goes, and nothing else does.
  EXPECT_EQ(json::serialize(result.at("pruned")),
            json::serialize(json::array{json::string(two_days_ago)}));
  EXPECT_FALSE(fs::exists(two_days_ago));
  EXPECT_TRUE(fs::exists(yesterday));
  EXPECT_TRUE(fs::exists(tmp_.Sub("backups/README")));
  EXPECT_TRUE(fs::exists(tmp_.Sub("backups/before-upgrade/journal")));
  // The same day again (a restart, the cron firing twice): the same workflow, no second backup.
  auto again = Await(engine_->Start(BackupStart(20'000)));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->id, id);
  EXPECT_EQ(backup::ListScheduled(tmp_.Sub("backups"))->size(), 2u);
  EXPECT_TRUE(Critical().empty());
}

TEST_F(JournalBackupTest, ABackupThatCannotBeWrittenAlertsCritical) {
  std::ofstream(tmp_.Sub("backups")) << "a file where the backups should go";
  proto::WorkflowSummary done = RunToEnd(BackupStart(20'000));
  EXPECT_EQ(done.status(), proto::FAILED);
  ASSERT_EQ(Critical().size(), 1u);
  EXPECT_TRUE(Critical()[0].ping());
  EXPECT_NE(Critical()[0].content().find("The daily journal backup failed: cannot create"),
            std::string::npos)
      << Critical()[0].content();
  EXPECT_FALSE(fleet::ReadLastJournalBackup(*journal_)->has_value());
  EXPECT_TRUE(RunUntil([&] { return AllShown(); }));
}

TEST_F(JournalBackupTest, AMissingBackupAlertsOncePerMiss) {
  auto tick = [&](int64_t n) { EXPECT_EQ(RunToEnd(ReconcileStart(n)).status(), proto::COMPLETED); };
  tick(1);  // no backup was ever taken: nothing is missing yet
  EXPECT_TRUE(Critical().empty());
  LastBackupAt(NowMs() - 27 * kHour);  // the node was down at the time, say
  tick(2);
  tick(3);
  ASSERT_EQ(Critical().size(), 1u) << "alerted more than once for one miss";
  EXPECT_TRUE(Critical()[0].ping());
  EXPECT_NE(Critical()[0].content().find(
                "the journal's backups: no journal backup taken and verified since"),
            std::string::npos)
      << Critical()[0].content();
  // A good backup ends the miss; the next one alerts again.
  ASSERT_EQ(RunToEnd(BackupStart(20'000)).status(), proto::COMPLETED);
  tick(4);
  EXPECT_EQ(Critical().size(), 1u);
  LastBackupAt(NowMs() - 30 * kHour);
  tick(5);
  EXPECT_EQ(Critical().size(), 2u);
  EXPECT_TRUE(RunUntil([&] { return AllShown(); }));
}

}  // namespace
}  // namespace zlh::controller

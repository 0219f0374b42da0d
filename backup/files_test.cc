// Journal backups on disk (SPEC §11), over a real journal and file system: a backup holds the
// journal's checkpoint and the tokens file (0600) and verifies; one cut short is taken again, a
// finished one is kept; pruning keeps the newest scheduled ones and touches nothing else; a
// restore makes a data directory only where there is none, and only from a backup that verifies.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "backup/prune.h"
#include "backup/restore.h"
#include "backup/take.h"
#include "base/temp_dir.h"
#include "fleet/outbox.h"
#include "fleet/tables.h"

namespace zlh::backup {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kDay = 24 * 3'600'000LL;
constexpr int64_t kMorning = 1'800'000'000'000;  // 2027-01-15T08:00:00Z

std::string Read(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

fs::perms Mode(const std::string& path) { return fs::status(path).permissions() & fs::perms::all; }

class BackupFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto j = journal::Journal::Open(tmp_.Sub("data/journal"));
    ASSERT_TRUE(j.ok()) << j.status().ToString();
    journal_ = std::move(*j);
    for (const char* text : {"one", "two"}) {
      ASSERT_TRUE(
          journal_
              ->AppendSync({},
                           [text](journal::Txn& t) {
                             fleet::Intent intent;
                             intent.key = std::string("k-") + text;
                             intent.channel = "audit-log";
                             intent.content = text;
                             return fleet::EnqueueNotification(t, intent, kMorning).status();
                           })
              .ok());
    }
    std::ofstream(tmp_.Sub("data/tokens")) << "admin aaaaaaaaaaaaaaaaaaaaaaaa\n";
    fs::permissions(tmp_.Sub("data/tokens"), fs::perms(0644));
    fs::create_directories(root_);
  }

  Result<Taken> TakeAt(const std::string& target, int64_t at, Origin origin = Origin::kScheduled) {
    return Take(*journal_, {target, tmp_.Sub("data/tokens"), origin, true, at});
  }
  std::string Scheduled(int64_t at) {
    std::string path = root_ + "/" + ScheduledName(at);
    auto taken = TakeAt(path, at);
    EXPECT_TRUE(taken.ok()) << taken.status().ToString();
    return path;
  }

  TempDir tmp_;
  std::string root_ = tmp_.Sub("backups");
  std::unique_ptr<journal::Journal> journal_;
};

TEST_F(BackupFilesTest, ABackupHoldsTheJournalAndTheTokensAndVerifies) {
  std::string path = root_ + "/" + ScheduledName(kMorning);
  EXPECT_EQ(ScheduledName(kMorning), "20270115T080000Z");
  auto taken = TakeAt(path, kMorning);
  ASSERT_TRUE(taken.ok()) << taken.status().ToString();
  EXPECT_TRUE(taken->marker.complete && taken->marker.verified && taken->marker.tokens);
  EXPECT_EQ(Read(path + "/tokens"), Read(tmp_.Sub("data/tokens")));
  EXPECT_EQ(Mode(path + "/tokens"), fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_TRUE(Verify(path).ok());
  auto marker = ReadMarker(path);
  ASSERT_TRUE(marker.has_value());
  EXPECT_EQ(marker->origin, Origin::kScheduled);
  EXPECT_EQ(marker->taken_ms, kMorning);
  EXPECT_TRUE(marker->verified);
  journal::Options ro;
  ro.read_only = true;
  auto copy = journal::Journal::Open(path + "/journal", ro);
  ASSERT_TRUE(copy.ok()) << copy.status().ToString();
  EXPECT_EQ(*fleet::NextNotificationId(**copy), 3u);  // both notifications are in it
}

TEST_F(BackupFilesTest, ABackupThatCannotBeWrittenFailsAndLeavesNothing) {
  std::ofstream(tmp_.Sub("a-file")) << "x";
  auto under_a_file = TakeAt(tmp_.Sub("a-file/backup"), kMorning);
  EXPECT_EQ(under_a_file.status().code(), Code::kIOError) << under_a_file.status().ToString();
  // A directory that is not a backup is never written into.
  fs::create_directories(root_ + "/mine");
  std::ofstream(root_ + "/mine/notes") << "keep";
  auto taken = TakeAt(root_ + "/mine", kMorning);
  EXPECT_EQ(taken.status().code(), Code::kAlreadyExists) << taken.status().ToString();
  EXPECT_EQ(Read(root_ + "/mine/notes"), "keep");
  EXPECT_FALSE(fs::exists(root_ + "/mine/journal"));
}

TEST_F(BackupFilesTest, ACopyThatFailsVerificationIsNotAGoodBackup) {
  // A server row no workflow made: the tables disagree with the fold of the events.
  ASSERT_TRUE(journal_
                  ->AppendSync({},
                               [](journal::Txn& t) {
                                 proto::Server server;
                                 server.set_server_id("srv-ghost");
                                 server.set_name("ghost");
                                 server.set_status(proto::SERVER_RUNNING);
                                 return fleet::PutServer(t, server);
                               })
                  .ok());
  std::string path = root_ + "/" + ScheduledName(kMorning);
  auto taken = TakeAt(path, kMorning);
  EXPECT_EQ(taken.status().code(), Code::kCorruption) << taken.status().ToString();
  EXPECT_NE(taken.status().message().find("failed verification"), std::string::npos);
  EXPECT_NE(taken.status().message().find("srv-ghost"), std::string::npos)
      << taken.status().message();
  // Left for a person to look at, marked as not complete: never counted as a good backup.
  auto marker = ReadMarker(path);
  ASSERT_TRUE(marker.has_value());
  EXPECT_FALSE(marker->complete);
  EXPECT_FALSE(marker->verified);
  EXPECT_TRUE(Prune(root_, 1)->empty());
  EXPECT_TRUE(fs::exists(path));
}

TEST_F(BackupFilesTest, ABackupCutShortIsTakenAgainAndAFinishedOneIsKept) {
  std::string path = root_ + "/" + ScheduledName(kMorning);
  fs::create_directories(path + "/journal");
  std::ofstream(path + "/journal/half-copied") << "x";
  ASSERT_TRUE(WriteMarker(path, {Origin::kScheduled, kMorning - 5'000}).ok());  // not complete
  auto taken = TakeAt(path, kMorning);
  ASSERT_TRUE(taken.ok()) << taken.status().ToString();
  EXPECT_FALSE(fs::exists(path + "/journal/half-copied"));
  EXPECT_TRUE(Verify(path).ok());
  // Taken again (a crash after the backup, before its step was recorded): the finished one.
  auto again = TakeAt(path, kMorning + 60'000);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->marker.taken_ms, kMorning);
  // Not a backup of the same origin: refused.
  EXPECT_EQ(TakeAt(path, kMorning, Origin::kApi).status().code(), Code::kAlreadyExists);
}

TEST_F(BackupFilesTest, PruneKeepsTheNewestScheduledBackupsAndTouchesNothingElse) {
  std::vector<std::string> days;
  for (int d = 0; d < 5; ++d) days.push_back(Scheduled(kMorning + d * kDay));
  // An old scheduled backup that failed, and a newer one cut short.
  std::string failed = root_ + "/" + ScheduledName(kMorning - kDay);
  fs::create_directories(failed);
  ASSERT_TRUE(WriteMarker(failed, {Origin::kScheduled, kMorning - kDay}).ok());
  std::string cut_short = root_ + "/" + ScheduledName(kMorning + 10 * kDay);
  fs::create_directories(cut_short);
  ASSERT_TRUE(WriteMarker(cut_short, {Origin::kScheduled, kMorning + 10 * kDay}).ok());
  // What else may be there: the operator's files, a directory named like a backup without a
  // marker, a backup taken through the API, a symlink named like a backup.
  std::ofstream(root_ + "/notes.txt") << "mine";
  fs::create_directories(root_ + "/20200101T000000Z/photos");
  ASSERT_TRUE(TakeAt(root_ + "/20200102T000000Z", kMorning - 3 * kDay, Origin::kApi).ok());
  std::string elsewhere = tmp_.Sub("elsewhere/" + ScheduledName(kMorning - 4 * kDay));
  fs::create_directories(tmp_.Sub("elsewhere"));
  ASSERT_TRUE(TakeAt(elsewhere, kMorning - 4 * kDay).ok());
  fs::create_directory_symlink(elsewhere, root_ + "/20200103T000000Z");

  auto removed = Prune(root_, 3);
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(*removed, (std::vector<std::string>{failed, days[0], days[1]}));
  for (const auto& kept : {days[2], days[3], days[4], cut_short, root_ + "/notes.txt",
                           root_ + "/20200101T000000Z/photos", root_ + "/20200102T000000Z/journal",
                           root_ + "/20200103T000000Z", elsewhere + "/journal"}) {
    EXPECT_TRUE(fs::exists(kept)) << kept;
  }
  for (const auto& gone : *removed) EXPECT_FALSE(fs::exists(gone)) << gone;
  EXPECT_TRUE(Prune(root_, 3)->empty());
  // Fewer verified backups than asked to keep: nothing goes.
  EXPECT_TRUE(Prune(root_, 4)->empty());
  EXPECT_TRUE(fs::exists(days[2]));
}

TEST_F(BackupFilesTest, RestoreMakesADataDirectoryFromAVerifiedBackup) {
  std::string backup = Scheduled(kMorning);
  for (const std::string& data : {tmp_.Sub("absent/data"), tmp_.Sub("empty")}) {
    SCOPED_TRACE(data);
    fs::create_directories(tmp_.Sub("empty"));
    auto restored = Restore(backup, data);
    ASSERT_TRUE(restored.ok()) << restored.status().ToString();
    EXPECT_TRUE(restored->tokens);
    EXPECT_GT(restored->journal_files, 0u);
    EXPECT_EQ(Read(data + "/tokens"), Read(tmp_.Sub("data/tokens")));
    EXPECT_EQ(Mode(data + "/tokens"), fs::perms::owner_read | fs::perms::owner_write);
    EXPECT_FALSE(fs::exists(data + "/journal.restoring"));
    auto j = journal::Journal::Open(data + "/journal");  // as zlhd opens it
    ASSERT_TRUE(j.ok()) << j.status().ToString();
    EXPECT_EQ(*fleet::NextNotificationId(**j), 3u);
  }
}

TEST_F(BackupFilesTest, RestoreRefusesAndChangesNothing) {
  std::string backup = Scheduled(kMorning);
  // A data directory that is not empty.
  fs::create_directories(tmp_.Sub("used"));
  std::ofstream(tmp_.Sub("used/sim-state.json")) << "{}";
  auto into_used = Restore(backup, tmp_.Sub("used"));
  EXPECT_EQ(into_used.status().code(), Code::kFailedPrecondition) << into_used.status().ToString();
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp_.Sub("used")), fs::directory_iterator()), 1);
  // A backup with its MANIFEST gone.
  for (const auto& f : fs::directory_iterator(backup + "/journal")) {
    if (f.path().filename().string().rfind("MANIFEST-", 0) == 0) fs::remove(f.path());
  }
  auto corrupt = Restore(backup, tmp_.Sub("fresh"));
  EXPECT_EQ(corrupt.status().code(), Code::kCorruption) << corrupt.status().ToString();
  EXPECT_FALSE(fs::exists(tmp_.Sub("fresh")));
  // Not a backup at all.
  auto nothing = Restore(tmp_.Sub("used"), tmp_.Sub("fresh"));
  EXPECT_EQ(nothing.status().code(), Code::kNotFound) << nothing.status().ToString();
  EXPECT_FALSE(fs::exists(tmp_.Sub("fresh")));
}

}  // namespace
}  // namespace zlh::backup

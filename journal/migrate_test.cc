// Journal format migrations (journal/migrate.h) over real RocksDB journals: a journal of an older
// format is refused unchanged unless migration is asked for; each step is applied in order with its
// marker; a failed step leaves the journal whole at the last format reached; the test-only next
// format migrates a journal of this build's format without losing a byte.
#include "journal/migrate.h"

#include <gtest/gtest.h>

#include "base/temp_dir.h"
#include "journal/format.h"

namespace zlh::journal {
namespace {

constexpr uint32_t kNow = kFormatVersion;

// A journal of this build's format holding a workflow's summary and two events, and a domain key.
void WriteJournal(const std::string& dir) {
  auto j = Journal::Open(dir);
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  Batch b;
  proto::WorkflowSummary summary;
  summary.set_id("wf-1");
  summary.set_type("provision");
  summary.set_status(proto::WAITING);
  b.PutSummary(summary);
  proto::Event e;
  e.set_seq(1);
  e.mutable_workflow_started()->set_type("provision");
  b.PutEvent("wf-1", e);
  e.set_seq(2);
  e.mutable_step_completed()->set_name("allocate");
  b.PutEvent("wf-1", e);
  b.Put(Cf::kDomain, DomainKey('x', "old"), "value");
  ASSERT_TRUE((*j)->AppendSync(std::move(b)).ok());
}

std::optional<std::string> Domain(Journal& j, std::string_view key) {
  auto v = j.Get(Cf::kDomain, DomainKey('x', key));
  EXPECT_TRUE(v.ok());
  return v.ok() ? *v : std::nullopt;
}

// Step `from` → from+1 of a test format: moves the domain key "old" to "step<from+1>".
Migration RenameStep(uint32_t from) {
  return Migration{from, "format " + std::to_string(from + 1) + ": the key renamed",
                   [from](Txn& t) -> Status {
                     std::string before = from == kNow ? "old" : "step" + std::to_string(from);
                     auto v = t.Get(Cf::kDomain, DomainKey('x', before));
                     if (!v.ok()) return v.status();
                     if (!v->has_value()) return NotFound("no key " + before);
                     t.Delete(Cf::kDomain, DomainKey('x', before));
                     t.Put(Cf::kDomain, DomainKey('x', "step" + std::to_string(from + 1)), **v);
                     return Status::Ok();
                   }};
}

FormatPlan Plan(uint32_t version, std::vector<Migration> steps) {
  return FormatPlan{version, kNow, std::move(steps)};
}

Journal::Opened OpenWith(const std::string& dir, const FormatPlan& plan, bool migrate,
                         bool read_only = false) {
  Options o;
  o.format = &plan;
  o.migrate = migrate;
  o.read_only = read_only;
  return Journal::TryOpen(dir, o);
}

TEST(MigrateTest, AnOlderJournalIsRefusedUnchangedUnlessMigrationIsAskedFor) {
  TempDir tmp;
  WriteJournal(tmp.path());
  FormatPlan next = Plan(kNow + 1, {RenameStep(kNow)});
  for (bool read_only : {false, true}) {
    Journal::Opened refused = OpenWith(tmp.path(), next, /*migrate=*/false, read_only);
    EXPECT_EQ(refused.journal, nullptr);
    EXPECT_EQ(refused.error, OpenError::kOlderFormat);
    EXPECT_EQ(refused.status.code(), Code::kFailedPrecondition);
    EXPECT_NE(refused.status.message().find("has format " + std::to_string(kNow) +
                                            ", older than this build's (" +
                                            std::to_string(kNow + 1) + ")"),
              std::string::npos)
        << refused.status.ToString();
    EXPECT_NE(refused.status.message().find("zlhd --migrate"), std::string::npos);
  }
  // A read-only open never migrates, even when asked.
  EXPECT_EQ(OpenWith(tmp.path(), next, /*migrate=*/true, /*read_only=*/true).error,
            OpenError::kOlderFormat);
  auto j = Journal::Open(tmp.path());  // this build's format: untouched
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  EXPECT_EQ(Domain(**j, "old"), "value");
}

TEST(MigrateTest, EachStepIsAppliedInOrderAndMovesTheMarker) {
  TempDir tmp;
  WriteJournal(tmp.path());
  FormatPlan plan = Plan(kNow + 2, {RenameStep(kNow + 1), RenameStep(kNow)});  // any order
  Journal::Opened opened = OpenWith(tmp.path(), plan, /*migrate=*/true);
  ASSERT_NE(opened.journal, nullptr) << opened.status.ToString();
  EXPECT_EQ(opened.migrated, (std::vector<std::string>{
                                 "format " + std::to_string(kNow + 1) + ": the key renamed",
                                 "format " + std::to_string(kNow + 2) + ": the key renamed"}));
  EXPECT_EQ(Domain(*opened.journal, "old"), std::nullopt);
  EXPECT_EQ(Domain(*opened.journal, "step" + std::to_string(kNow + 2)), "value");
  auto events = opened.journal->ReadEvents("wf-1");
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->size(), 2u);
  opened.journal.reset();

  // Migrated once: the next open needs nothing; this build now finds it newer than itself.
  Journal::Opened again = OpenWith(tmp.path(), plan, /*migrate=*/false);
  ASSERT_NE(again.journal, nullptr) << again.status.ToString();
  EXPECT_TRUE(again.migrated.empty());
  again.journal.reset();
  Journal::Opened old_build = Journal::TryOpen(tmp.path());
  EXPECT_EQ(old_build.error, OpenError::kNewerFormat);
  EXPECT_NE(old_build.status.message().find("format " + std::to_string(kNow + 2) + ", newer"),
            std::string::npos)
      << old_build.status.ToString();
}

TEST(MigrateTest, AFailedStepLeavesTheJournalWholeAtTheLastFormatReached) {
  TempDir tmp;
  WriteJournal(tmp.path());
  Migration failing{kNow + 1, "format " + std::to_string(kNow + 2) + ": fails halfway",
                    [](Txn& t) -> Status {
                      t.Put(Cf::kDomain, DomainKey('x', "half"), "written");
                      return IOError("the disk said no");
                    }};
  FormatPlan plan = Plan(kNow + 2, {RenameStep(kNow), failing});
  Journal::Opened failed = OpenWith(tmp.path(), plan, /*migrate=*/true);
  EXPECT_EQ(failed.journal, nullptr);
  EXPECT_EQ(failed.error, OpenError::kOlderFormat);
  EXPECT_NE(failed.status.message().find(
                "from format " + std::to_string(kNow + 1) + " to " + std::to_string(kNow + 2) +
                " failed: the disk said no; it stays at format " +
                std::to_string(kNow + 1)),
            std::string::npos)
      << failed.status.ToString();

  // The first step is there whole and the failed one not at all: the format between them opens.
  FormatPlan between = Plan(kNow + 1, {RenameStep(kNow)});
  Journal::Opened mid = OpenWith(tmp.path(), between, /*migrate=*/false);
  ASSERT_NE(mid.journal, nullptr) << mid.status.ToString();
  EXPECT_EQ(Domain(*mid.journal, "step" + std::to_string(kNow + 1)), "value");
  EXPECT_EQ(Domain(*mid.journal, "half"), std::nullopt);
  mid.journal.reset();

  // Migrating again with a working step goes on from there.
  FormatPlan fixed = Plan(kNow + 2, {RenameStep(kNow), RenameStep(kNow + 1)});
  Journal::Opened done = OpenWith(tmp.path(), fixed, /*migrate=*/true);
  ASSERT_NE(done.journal, nullptr) << done.status.ToString();
  EXPECT_EQ(done.migrated.size(), 1u);
  EXPECT_EQ(Domain(*done.journal, "step" + std::to_string(kNow + 2)), "value");
}

TEST(MigrateTest, AJournalWithNoStepToTheBuildsFormatIsRefused) {
  TempDir tmp;
  WriteJournal(tmp.path());
  FormatPlan gap = Plan(kNow + 2, {RenameStep(kNow)});  // nothing from kNow + 1
  Journal::Opened opened = OpenWith(tmp.path(), gap, /*migrate=*/true);
  EXPECT_EQ(opened.error, OpenError::kOlderFormat);
  EXPECT_NE(opened.status.message().find("this build has no step for it"), std::string::npos)
      << opened.status.ToString();
  FormatPlan too_new{kNow + 2, kNow + 1, {RenameStep(kNow + 1)}};  // cannot migrate from kNow
  Journal::Opened old = OpenWith(tmp.path(), too_new, /*migrate=*/true);
  EXPECT_EQ(old.error, OpenError::kOlderFormat);
  EXPECT_NE(old.status.message().find("older than this build can migrate"), std::string::npos)
      << old.status.ToString();
}

TEST(MigrateTest, TheTestNextFormatKeepsEveryEventAndSummary) {
  TempDir tmp;
  WriteJournal(tmp.path());
  std::vector<proto::Event> events_before;
  proto::WorkflowSummary summary_before;
  {
    auto j = Journal::Open(tmp.path());
    ASSERT_TRUE(j.ok());
    events_before = *(*j)->ReadEvents("wf-1");
    summary_before = **(*j)->ReadSummary("wf-1");
  }
  FormatPlan next = TestNextFormat();
  EXPECT_EQ(next.version, kNow + 1);
  Journal::Opened opened = OpenWith(tmp.path(), next, /*migrate=*/true);
  ASSERT_NE(opened.journal, nullptr) << opened.status.ToString();
  ASSERT_EQ(opened.migrated.size(), 1u);
  auto events = opened.journal->ReadEvents("wf-1");
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), events_before.size());
  for (size_t i = 0; i < events->size(); ++i) {
    EXPECT_EQ((*events)[i].SerializeAsString(), events_before[i].SerializeAsString());
  }
  EXPECT_EQ((*opened.journal->ReadSummary("wf-1"))->SerializeAsString(),
            summary_before.SerializeAsString());
}

}  // namespace
}  // namespace zlh::journal

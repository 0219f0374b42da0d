#include "journal/journal.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <atomic>
#include <filesystem>
#include <cstdlib>
#include <set>
#include <stdexcept>
#include <thread>

#include "base/temp_dir.h"
#include "journal/format.h"
#include "journal/testing.h"

namespace zlh::journal {
namespace {

proto::Event MakeEvent(uint64_t seq, const std::string& result) {
  proto::Event e;
  e.set_seq(seq);
  e.set_time_ms(1000 + static_cast<int64_t>(seq));
  auto* c = e.mutable_step_completed();
  c->set_step(static_cast<uint32_t>(seq));
  c->set_name("step");
  c->set_result(result);
  return e;
}

std::unique_ptr<Journal> OpenOrDie(const std::string& dir, Options options = {}) {
  auto j = Journal::Open(dir, std::move(options));
  EXPECT_TRUE(j.ok()) << j.status().ToString();
  return j.ok() ? std::move(j).value() : nullptr;
}

TEST(JournalTest, EventsRoundTripInSeqOrderAcrossReopen) {
  TempDir tmp;
  {
    auto j = OpenOrDie(tmp.path());
    Batch b;
    for (uint64_t seq : {3u, 1u, 2u}) b.PutEvent("wf-a", MakeEvent(seq, "r" + std::to_string(seq)));
    b.PutEvent("wf-ab", MakeEvent(1, "other stream"));
    ASSERT_TRUE(j->AppendSync(std::move(b)).ok());
  }
  auto j = OpenOrDie(tmp.path());
  auto events = j->ReadEvents("wf-a");
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 3u);
  for (uint64_t i = 0; i < 3; ++i) {
    EXPECT_EQ((*events)[i].seq(), i + 1);
    EXPECT_EQ((*events)[i].step_completed().result(), "r" + std::to_string(i + 1));
  }
  EXPECT_EQ(j->ReadEvents("wf-ab")->size(), 1u);
  EXPECT_TRUE(j->ReadEvents("wf-none")->empty());
}

TEST(JournalTest, OpenCountIncrementsDurably) {
  TempDir tmp;
  EXPECT_EQ(OpenOrDie(tmp.path())->open_count(), 1u);
  EXPECT_EQ(OpenOrDie(tmp.path())->open_count(), 2u);
  EXPECT_EQ(OpenOrDie(tmp.path())->open_count(), 3u);
}

TEST(JournalTest, SummaryRoundTrips) {
  TempDir tmp;
  auto j = OpenOrDie(tmp.path());
  proto::WorkflowSummary s;
  s.set_id("wf-1");
  s.set_type("provision");
  s.set_status(proto::WAITING);
  Batch b;
  b.PutSummary(s);
  ASSERT_TRUE(j->AppendSync(std::move(b)).ok());
  auto read = j->ReadSummary("wf-1");
  ASSERT_TRUE(read.ok() && read->has_value());
  EXPECT_EQ((*read)->type(), "provision");
  EXPECT_EQ((*read)->status(), proto::WAITING);
  EXPECT_FALSE(j->ReadSummary("wf-2")->has_value());
}

TEST(JournalTest, GroupCommitKeepsEveryConcurrentAppend) {
  TempDir tmp;
  auto j = OpenOrDie(tmp.path());
  constexpr int kThreads = 16, kPerThread = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 1; i <= kPerThread; ++i) {
        Batch b;
        b.PutEvent("wf-" + std::to_string(t), MakeEvent(static_cast<uint64_t>(i), "x"));
        ASSERT_TRUE(j->AppendSync(std::move(b)).ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int t = 0; t < kThreads; ++t) {
    auto events = j->ReadEvents("wf-" + std::to_string(t));
    ASSERT_EQ(events->size(), static_cast<size_t>(kPerThread));
    for (int i = 0; i < kPerThread; ++i) EXPECT_EQ((*events)[static_cast<size_t>(i)].seq(), static_cast<uint64_t>(i) + 1);
  }
  WriterStats stats = j->writer_stats();
  EXPECT_EQ(stats.appends, static_cast<uint64_t>(kThreads * kPerThread));
  // Concurrent appenders share synced writes: far fewer groups than appends.
  EXPECT_LT(stats.groups, stats.appends);
}

TEST(JournalTest, CallbackRunsOnlyAfterTheWriteIsVisible) {
  TempDir tmp;
  auto j = OpenOrDie(tmp.path());
  std::atomic<int> seen_missing{0};
  std::atomic<int> done{0};
  for (int i = 0; i < 500; ++i) {
    Batch b;
    std::string key = "k" + std::to_string(i);
    b.Put(Cf::kDomain, key, "v");
    j->Append(std::move(b), nullptr, [&, key](Status s) {
      if (!s.ok() || !j->Get(Cf::kDomain, key)->has_value()) ++seen_missing;
      ++done;
    });
  }
  while (done.load() < 500) std::this_thread::yield();
  EXPECT_EQ(seen_missing.load(), 0);
}

TEST(JournalTest, InjectedWriteFailureLeavesNothingAndFailStops) {
  TempDir tmp;
  std::atomic<bool> fail{false};
  Options options;
  options.fault_before_write = [&](size_t) {
    return fail ? IOError("injected sync failure") : Status::Ok();
  };
  auto j = OpenOrDie(tmp.path(), options);
  Batch ok_batch;
  ok_batch.PutEvent("wf", MakeEvent(1, "kept"));
  ASSERT_TRUE(j->AppendSync(std::move(ok_batch)).ok());

  fail = true;
  Batch b;
  b.PutEvent("wf", MakeEvent(2, "lost"));
  b.Put(Cf::kDomain, "vmid-101", "server-1");
  b.Put(Cf::kIndex, "dedup", "wf");
  Status s = j->AppendSync(std::move(b));
  EXPECT_EQ(s.code(), Code::kUnavailable);
  EXPECT_NE(s.message().find("injected sync failure"), std::string::npos);

  // Nothing of the failed append is visible, and the journal refuses later writes...
  EXPECT_EQ(j->ReadEvents("wf")->size(), 1u);
  EXPECT_FALSE(j->Get(Cf::kDomain, "vmid-101")->has_value());
  EXPECT_FALSE(j->Get(Cf::kIndex, "dedup")->has_value());
  fail = false;
  Batch later;
  later.PutEvent("wf", MakeEvent(2, "after"));
  EXPECT_EQ(j->AppendSync(std::move(later)).code(), Code::kUnavailable);
  EXPECT_EQ(j->health().code(), Code::kUnavailable);
  j.reset();

  // ...until it is reopened, when what was acknowledged is still there.
  auto reopened = OpenOrDie(tmp.path());
  EXPECT_TRUE(reopened->health().ok());
  EXPECT_EQ(reopened->ReadEvents("wf")->size(), 1u);
}

TEST(JournalTest, FailedTxnDiscardsOnlyItsOwnAppend) {
  TempDir tmp;
  auto j = OpenOrDie(tmp.path());
  std::atomic<int> done{0};
  Status failed_result, ok_result;
  Batch doomed;
  doomed.PutEvent("wf-doomed", MakeEvent(1, "x"));
  j->Append(std::move(doomed),
            [](Txn& txn) {
              txn.Put(Cf::kDomain, "half", "written");
              return FailedPrecondition("no free VMID");
            },
            [&](Status s) { failed_result = s; ++done; });
  Batch fine;
  fine.PutEvent("wf-fine", MakeEvent(1, "y"));
  j->Append(std::move(fine), [](Txn& txn) { txn.Put(Cf::kDomain, "row", "1"); return Status::Ok(); },
            [&](Status s) { ok_result = s; ++done; });
  while (done.load() < 2) std::this_thread::yield();
  EXPECT_EQ(failed_result.code(), Code::kFailedPrecondition);
  EXPECT_TRUE(ok_result.ok());
  EXPECT_TRUE(j->ReadEvents("wf-doomed")->empty());
  EXPECT_FALSE(j->Get(Cf::kDomain, "half")->has_value());
  EXPECT_EQ(j->ReadEvents("wf-fine")->size(), 1u);
  EXPECT_TRUE(j->Get(Cf::kDomain, "row")->has_value());
}

TEST(JournalTest, ConcurrentTxnsAreSerialized) {
  // Each transaction takes the lowest free number of 1..N; run concurrently they must never
  // take the same one, even when they share a group.
  TempDir tmp;
  auto j = OpenOrDie(tmp.path());
  constexpr int kThreads = 8, kPerThread = 25;
  std::mutex mu;
  std::vector<int> taken;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        int got = 0;
        Status s = j->AppendSync({}, [&](Txn& txn) {
          std::set<int> used;
          Status scan = txn.Scan(Cf::kDomain, "n", [&](std::string_view k, std::string_view) {
            used.insert(std::stoi(std::string(k.substr(1))));
            return true;
          });
          if (!scan.ok()) return scan;
          got = 1;
          while (used.count(got)) ++got;
          txn.Put(Cf::kDomain, "n" + std::to_string(got), "");
          return Status::Ok();
        });
        ASSERT_TRUE(s.ok());
        std::lock_guard lock(mu);
        taken.push_back(got);
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<int> unique(taken.begin(), taken.end());
  EXPECT_EQ(unique.size(), taken.size());
  EXPECT_EQ(*unique.rbegin(), kThreads * kPerThread);
}

TEST(JournalTest, NoJournalWithoutCreateIsNotFound) {
  TempDir tmp;
  Options options;
  options.create_if_missing = false;
  auto j = Journal::Open(tmp.Sub("absent"), options);
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), Code::kNotFound);
  EXPECT_EQ(Journal::TryOpen(tmp.Sub("absent"), options).error, OpenError::kNoJournal);
}

TEST(JournalTest, SecondOpenWhileHeldIsRefused) {
  TempDir tmp;
  auto first = OpenOrDie(tmp.path());
  auto second = Journal::Open(tmp.path());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("in use by another process"), std::string::npos);
  EXPECT_EQ(Journal::TryOpen(tmp.path()).error, OpenError::kHeld);
}

void RewriteMarker(const std::string& dir, const std::string& marker) {
  Status s = testing::RewriteFormatMarker(dir, marker);
  ASSERT_TRUE(s.ok()) << s.ToString();
}

TEST(JournalTest, NewerFormatIsRefused) {
  TempDir tmp;
  OpenOrDie(tmp.path()).reset();
  RewriteMarker(tmp.path(), "zlh-flow journal 99");
  auto j = Journal::Open(tmp.path());
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(j.status().message().find("format 99, newer than this build supports (1)"),
            std::string::npos)
      << j.status().ToString();
  EXPECT_EQ(Journal::TryOpen(tmp.path()).error, OpenError::kNewerFormat);
}

TEST(JournalTest, GarbageFormatMarkerIsCorruptNotVersionZero) {
  TempDir tmp;
  OpenOrDie(tmp.path()).reset();
  RewriteMarker(tmp.path(), "zlh-flow journal garbage");
  Journal::Opened opened = Journal::TryOpen(tmp.path());
  EXPECT_EQ(opened.journal, nullptr);
  EXPECT_EQ(opened.error, OpenError::kCorrupt);
  EXPECT_EQ(opened.status.code(), Code::kCorruption);
  EXPECT_NE(opened.status.message().find("format marker 'zlh-flow journal garbage'"),
            std::string::npos)
      << opened.status.ToString();
}

TEST(JournalTest, MissingManifestIsCorrupt) {
  TempDir tmp;
  OpenOrDie(tmp.path()).reset();
  for (const auto& entry : std::filesystem::directory_iterator(tmp.path())) {
    if (entry.path().filename().string().starts_with("MANIFEST-")) {
      std::filesystem::remove(entry.path());
    }
  }
  for (bool read_only : {false, true}) {
    Options options;
    options.read_only = read_only;
    Journal::Opened opened = Journal::TryOpen(tmp.path(), options);
    EXPECT_EQ(opened.error, OpenError::kCorrupt) << opened.status.ToString();
  }
}

// Mounts a small tmpfs for the test's life: a disk that really fills up. Needs root (and
// CAP_SYS_ADMIN); `mounted()` is false where mounting is not allowed.
class SmallDisk {
 public:
  explicit SmallDisk(const std::string& dir) : dir_(dir) {
    std::filesystem::create_directories(dir_);
    std::string cmd = "mount -t tmpfs -o size=2m tmpfs " + dir_ + " 2>/dev/null";
    mounted_ = std::system(cmd.c_str()) == 0;
  }
  ~SmallDisk() {
    if (mounted_) (void)std::system(("umount " + dir_).c_str());
  }
  bool mounted() const { return mounted_; }
  // Writes a file until the disk is full.
  void Fill() {
    FILE* f = fopen((dir_ + "/filler").c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::string block(4096, 'f');
    while (fwrite(block.data(), 1, block.size(), f) == block.size() && fflush(f) == 0) {
    }
    fclose(f);
  }

 private:
  std::string dir_;
  bool mounted_ = false;
};

TEST(JournalTest, FullDiskIsNoSpace) {
  TempDir tmp;
  SmallDisk disk(tmp.Sub("small"));
  if (!disk.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here (not root?)";
  std::string dir = tmp.Sub("small/journal");
  OpenOrDie(dir).reset();
  disk.Fill();
  Journal::Opened opened = Journal::TryOpen(dir);
  EXPECT_EQ(opened.error, OpenError::kNoSpace) << opened.status.ToString();
  EXPECT_NE(opened.status.message().find("the disk is full"), std::string::npos);
}

TEST(JournalTest, ThrowingTxnOrCallbackFailsOnlyItsAppend) {
  TempDir tmp;
  auto j = OpenOrDie(tmp.path());
  std::atomic<int> done{0};
  Status thrown;
  Batch b1;
  b1.PutEvent("wf-throws", MakeEvent(1, "x"));
  j->Append(std::move(b1),
            [](Txn& txn) -> Status {
              txn.Put(Cf::kDomain, "half", "written");
              txn.SetSavePoint();  // left open by the throw
              txn.Put(Cf::kDomain, "nested", "written");
              throw std::runtime_error("boom");
            },
            [&](Status s) { thrown = s; ++done; });
  Batch b2;
  b2.PutEvent("wf-callback-throws", MakeEvent(1, "y"));
  j->Append(std::move(b2), nullptr, [&](Status) {
    ++done;
    throw std::runtime_error("callback boom");
  });
  while (done.load() < 2) std::this_thread::yield();
  EXPECT_EQ(thrown.code(), Code::kInternal);
  EXPECT_NE(thrown.message().find("boom"), std::string::npos) << thrown.ToString();
  // The writer is still there: a normal append commits.
  Batch b3;
  b3.PutEvent("wf-after", MakeEvent(1, "z"));
  EXPECT_TRUE(j->AppendSync(std::move(b3), [](Txn& txn) {
                 txn.Put(Cf::kDomain, "row", "1");
                 return Status::Ok();
               }).ok());
  EXPECT_TRUE(j->health().ok());
  EXPECT_TRUE(j->ReadEvents("wf-throws")->empty());
  EXPECT_FALSE(j->Get(Cf::kDomain, "half")->has_value());
  EXPECT_FALSE(j->Get(Cf::kDomain, "nested")->has_value());
  EXPECT_EQ(j->ReadEvents("wf-callback-throws")->size(), 1u);
  EXPECT_EQ(j->ReadEvents("wf-after")->size(), 1u);
  EXPECT_TRUE(j->Get(Cf::kDomain, "row")->has_value());
}

TEST(JournalTest, ForeignDatabaseIsRefused) {
  TempDir tmp;
  {
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, tmp.path(), &db).ok());
    ASSERT_TRUE(db->Put({}, "someone", "else").ok());
    delete db;
  }
  auto j = Journal::Open(tmp.path());
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), Code::kCorruption);
  EXPECT_NE(j.status().message().find("not a zlh-flow journal"), std::string::npos);
  EXPECT_EQ(Journal::TryOpen(tmp.path()).error, OpenError::kCorrupt);
}

TEST(JournalTest, NonEmptyForeignDirectoryIsNotTurnedIntoAJournal) {
  TempDir tmp;
  FILE* f = fopen(tmp.Sub("notes.txt").c_str(), "w");
  ASSERT_NE(f, nullptr);
  fclose(f);
  auto j = Journal::Open(tmp.path());
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), Code::kCorruption);
}

}  // namespace
}  // namespace zlh::journal

namespace zlh::journal {
namespace {

TEST(JournalReaderTest, ReadsBesideAWriterAndCatchesUp) {
  TempDir tmp;
  auto writer = OpenOrDie(tmp.path());
  Batch first;
  first.PutEvent("wf", MakeEvent(1, "one"));
  ASSERT_TRUE(writer->AppendSync(std::move(first)).ok());

  Options ro;
  ro.read_only = true;
  auto reader = Journal::Open(tmp.path(), ro);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ((*reader)->ReadEvents("wf")->size(), 1u);

  Batch second;
  second.PutEvent("wf", MakeEvent(2, "two"));
  ASSERT_TRUE(writer->AppendSync(std::move(second)).ok());
  ASSERT_TRUE((*reader)->CatchUp().ok());
  EXPECT_EQ((*reader)->ReadEvents("wf")->size(), 2u);

  Batch refused;
  refused.PutEvent("wf", MakeEvent(3, "no"));
  EXPECT_EQ((*reader)->AppendSync(std::move(refused)).code(), Code::kFailedPrecondition);
  EXPECT_EQ(writer->ReadEvents("wf")->size(), 2u);
}

TEST(JournalReaderTest, NoJournalIsNotFoundAndNothingIsCreated) {
  TempDir tmp;
  Options ro;
  ro.read_only = true;
  auto reader = Journal::Open(tmp.Sub("none"), ro);
  ASSERT_FALSE(reader.ok());
  EXPECT_EQ(reader.status().code(), Code::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(tmp.Sub("none")));
}

TEST(JournalReaderTest, ScansBackwardWithinAPrefix) {
  TempDir tmp;
  auto j = OpenOrDie(tmp.path());
  Batch b;
  for (const char* k : {"a1", "b1", "b2", "b3", "c1"}) b.Put(Cf::kDomain, k, "");
  b.Put(Cf::kDomain, std::string("b\xff", 2), "");
  ASSERT_TRUE(j->AppendSync(std::move(b)).ok());
  std::vector<std::string> seen;
  ASSERT_TRUE(j->Scan(Cf::kDomain, "b",
                      [&](std::string_view k, std::string_view) {
                        seen.emplace_back(k);
                        return true;
                      },
                      Journal::Direction::kBackward)
                  .ok());
  EXPECT_EQ(seen, (std::vector<std::string>{std::string("b\xff", 2), "b3", "b2", "b1"}));

  // Paging: keys before a cursor, within the prefix (the cursor itself need not exist).
  auto before = [&](std::string cursor) {
    std::vector<std::string> page;
    EXPECT_TRUE(j->ScanBefore(Cf::kDomain, "b", cursor, [&](std::string_view k, std::string_view) {
                   page.emplace_back(k);
                   return page.size() < 2;
                 }).ok());
    return page;
  };
  EXPECT_EQ(before(""), (std::vector<std::string>{std::string("b\xff", 2), "b3"}));
  EXPECT_EQ(before("b3"), (std::vector<std::string>{"b2", "b1"}));
  EXPECT_EQ(before("b25"), (std::vector<std::string>{"b2", "b1"}));
  EXPECT_EQ(before("b1"), std::vector<std::string>{});
}

}  // namespace
}  // namespace zlh::journal

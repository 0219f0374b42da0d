// zlh-journal as a real process, against journals written by the engine (tests/crash_worker):
// its verbs' output, its exit codes, verify on healthy and deliberately damaged journals, and
// reading beside a process that is writing.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <google/protobuf/util/json_util.h>

#include <boost/json.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "base/temp_dir.h"
#include "journal/format.h"
#include "journal/journal.h"
#include "journal/testing.h"
#include "proto/domain.pb.h"

namespace zlh {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

struct Output {
  int code;
  std::string out;
  std::string err;
};

// Runs zlh-journal (or `binary`, a build of it with other workflows) with `args`; captures stdout
// and stderr. `env`, when given, is put in the child's environment ("NAME=value").
Output ZlhJournal(const std::vector<std::string>& args, const TempDir& tmp,
                  const char* binary = ZLH_JOURNAL, const char* env = nullptr) {
  std::string out = tmp.Sub("out"), err = tmp.Sub("err");
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the parent
    if (!freopen(out.c_str(), "w", stdout) || !freopen(err.c_str(), "w", stderr)) _exit(126);
    if (env) putenv(const_cast<char*>(env));
    std::vector<char*> argv{const_cast<char*>(binary)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(binary, argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  auto slurp = [](const std::string& path) {
    std::ifstream in(path);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(out), slurp(err)};
}

// Starts the engine's worker on the journal of `data`, running the workflows of `spec_file`.
pid_t SpawnWorker(const std::string& data, const std::string& spec_file,
                  const std::string& effects_file) {
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the parent
    std::string journal = data + "/journal";
    execl(ZLH_CRASH_WORKER, ZLH_CRASH_WORKER, journal.c_str(), spec_file.c_str(),
          effects_file.c_str(), "1", static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

// Writes a journal in `data` by running the worker on `spec` (name shape lines) to the end.
void MakeJournal(const TempDir& tmp, const std::string& data, const std::string& spec) {
  std::ofstream(tmp.Sub("spec")) << spec;
  pid_t pid = SpawnWorker(data, tmp.Sub("spec"), tmp.Sub("effects"));
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

std::string IdOf(const TempDir& tmp, const std::string& data, const std::string& dedup) {
  journal::Options ro;
  ro.read_only = true;
  auto j = journal::Journal::Open(data + "/journal", ro);
  EXPECT_TRUE(j.ok());
  auto id = (*j)->Get(journal::Cf::kIndex, journal::DedupIndexKey(dedup));
  EXPECT_TRUE(id.ok() && id->has_value());
  (void)tmp;
  return id->value_or("");
}

// Opens the journal for writing and applies `damage`.
void Damage(const std::string& data, const std::function<void(journal::Batch&)>& damage) {
  auto j = journal::Journal::Open(data + "/journal");
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  journal::Batch b;
  damage(b);
  ASSERT_TRUE((*j)->AppendSync(std::move(b)).ok());
}

// The journal most tests read, in tmp/data: ok completes after a retry; bad fails for good; slow
// completes after a sleep. Returns the data directory.
std::string StandardJournal(const TempDir& tmp) {
  std::string data = tmp.Sub("data");
  MakeJournal(tmp, data, "ok n1.t\nbad n5\nslow z30.n0\n");
  return data;
}

class ZlhJournalTest : public ::testing::Test {
 protected:
  void SetUp() override { data_ = StandardJournal(tmp_); }
  TempDir tmp_;
  std::string data_;
};

TEST_F(ZlhJournalTest, ListShowsEveryWorkflowNewestFirst) {
  Output r = ZlhJournal({"--data", data_, "list"}, tmp_);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("ID"), std::string::npos);
  size_t ok = r.out.find(IdOf(tmp_, data_, "ok")), slow = r.out.find(IdOf(tmp_, data_, "slow"));
  ASSERT_NE(ok, std::string::npos);
  ASSERT_NE(slow, std::string::npos);
  EXPECT_LT(slow, ok);  // started later, listed first
  EXPECT_NE(r.out.find("failed"), std::string::npos);
}

TEST_F(ZlhJournalTest, ListFiltersByStatusAndPrintsJsonLines) {
  Output r = ZlhJournal({"--data", data_, "--json", "list", "--status", "failed"}, tmp_);
  ASSERT_EQ(r.code, 0) << r.err;
  json::value row = json::parse(r.out.substr(0, r.out.find('\n')));
  EXPECT_EQ(row.at("workflowId").as_string(), IdOf(tmp_, data_, "bad"));
  EXPECT_EQ(row.at("status").as_string(), "failed");
  EXPECT_EQ(row.at("error").at("code").as_string(), "unavailable");
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1);
}

TEST_F(ZlhJournalTest, ShowIsATimelineOfSteps) {
  std::string id = IdOf(tmp_, data_, "ok");
  Output r = ZlhJournal({"--data", data_, "show", id}, tmp_);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("workflow " + id), std::string::npos);
  EXPECT_NE(r.out.find("status   completed"), std::string::npos);  // piped: no colour codes
  EXPECT_NE(r.out.find("#1   n1"), std::string::npos);
  EXPECT_NE(r.out.find("2 attempts"), std::string::npos);
  EXPECT_NE(r.out.find("last error: unavailable: injected failure"), std::string::npos);
  EXPECT_NE(r.out.find("#2   t2"), std::string::npos);
  EXPECT_NE(r.out.find("result   n1;t2;"), std::string::npos);

  Output j = ZlhJournal({"--data", data_, "show", "--json", id}, tmp_);
  ASSERT_EQ(j.code, 0) << j.err;
  json::value v = json::parse(j.out);
  EXPECT_EQ(v.at("status").as_string(), "completed");
  ASSERT_EQ(v.at("steps").as_array().size(), 2u);
  EXPECT_EQ(v.at("steps").at(0).at("attempts").as_int64(), 2);
  EXPECT_EQ(v.at("steps").at(1).at("name").as_string(), "t2");
}

TEST_F(ZlhJournalTest, HistoryListsEveryEventWithItsSeq) {
  std::string id = IdOf(tmp_, data_, "slow");
  Output r = ZlhJournal({"--data", data_, "--json", "history", id}, tmp_);
  ASSERT_EQ(r.code, 0) << r.err;
  std::vector<std::string> kinds;
  size_t start = 0;
  for (size_t nl; (nl = r.out.find('\n', start)) != std::string::npos; start = nl + 1) {
    json::value e = json::parse(r.out.substr(start, nl - start));
    EXPECT_EQ(e.at("seq").as_int64(), static_cast<int64_t>(kinds.size() + 1));
    kinds.emplace_back(e.at("kind").as_string());
  }
  EXPECT_EQ(kinds, (std::vector<std::string>{"WorkflowStarted", "TimerScheduled", "TimerFired",
                                             "StepCompleted", "WorkflowCompleted"}));
}

TEST_F(ZlhJournalTest, ExportIsLossFreeJsonLines) {
  Output r = ZlhJournal({"--data", data_, "export"}, tmp_);
  ASSERT_EQ(r.code, 0) << r.err;
  journal::Options ro;
  ro.read_only = true;
  auto j = journal::Journal::Open(data_ + "/journal", ro);
  ASSERT_TRUE(j.ok());
  size_t lines = 0, start = 0;
  for (size_t nl; (nl = r.out.find('\n', start)) != std::string::npos; start = nl + 1, ++lines) {
    json::value line = json::parse(r.out.substr(start, nl - start));
    proto::Event parsed;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                    json::serialize(line.at("event")), &parsed)
                    .ok());
    auto events = (*j)->ReadEvents(std::string(line.at("stream").as_string()));
    ASSERT_TRUE(events.ok());
    ASSERT_LE(parsed.seq(), events->size());
    // Decoded back, the line is the stored event to the byte.
    EXPECT_EQ(parsed.SerializeAsString(), (*events)[parsed.seq() - 1].SerializeAsString());
  }
  EXPECT_EQ(lines, 5u + 5u + 5u);  // three workflows of five events each
}

TEST_F(ZlhJournalTest, UnknownIdBadUsageAndMissingJournalExitTwo) {
  Output unknown = ZlhJournal({"--data", data_, "show", "01NOSUCHWORKFLOW0000000000"}, tmp_);
  EXPECT_EQ(unknown.code, 2);
  EXPECT_NE(unknown.err.find("no workflow 01NOSUCHWORKFLOW0000000000"), std::string::npos);
  Output verb = ZlhJournal({"--data", data_, "frobnicate"}, tmp_);
  EXPECT_EQ(verb.code, 2);
  EXPECT_NE(verb.err.find("unknown verb 'frobnicate'"), std::string::npos);
  Output status = ZlhJournal({"--data", data_, "list", "--status", "sleepy"}, tmp_);
  EXPECT_EQ(status.code, 2);
  EXPECT_NE(status.err.find("unknown status 'sleepy'"), std::string::npos);
  Output missing = ZlhJournal({"--data", tmp_.Sub("nothing-here"), "list"}, tmp_);
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.err.find("no journal at"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(tmp_.Sub("nothing-here")));
  Output help = ZlhJournal({"show", "--help"}, tmp_);
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("usage: zlh-journal"), std::string::npos);
}

TEST_F(ZlhJournalTest, UnreadableJournalExitsThree) {
  // Where the journal should be, something that is not one. (A newer format is refused the same
  // way: journal_test covers the refusal itself.)
  std::filesystem::create_directories(tmp_.Sub("foreign/journal"));
  std::ofstream(tmp_.Sub("foreign/journal/CURRENT")) << "MANIFEST-000001\n";
  Output r = ZlhJournal({"--data", tmp_.Sub("foreign"), "list"}, tmp_);
  EXPECT_EQ(r.code, 3) << r.err;
}

void RewriteMarker(const std::string& data, const std::string& marker) {
  Status s = journal::testing::RewriteFormatMarker(data + "/journal", marker);
  ASSERT_TRUE(s.ok()) << s.ToString();
}

TEST_F(ZlhJournalTest, GarbageOrNewerFormatMarkerExitsThreeSayingWhich) {
  RewriteMarker(data_, "zlh-flow journal garbage");
  Output garbage = ZlhJournal({"--data", data_, "list"}, tmp_);
  EXPECT_EQ(garbage.code, 3) << garbage.err;
  EXPECT_NE(garbage.err.find("journal unreadable (corrupt)"), std::string::npos) << garbage.err;
  RewriteMarker(data_, "zlh-flow journal 7");
  Output newer = ZlhJournal({"--data", data_, "verify"}, tmp_);
  EXPECT_EQ(newer.code, 3) << newer.err;
  EXPECT_NE(newer.err.find("journal unreadable (newer format)"), std::string::npos) << newer.err;
  EXPECT_NE(newer.err.find("has format 7"), std::string::npos) << newer.err;
}

TEST_F(ZlhJournalTest, JournalThisUserMayNotReadExitsThreeSayingPermissionDenied) {
  // As root, permissions do not stop this process: the child drops to nobody first.
  std::filesystem::permissions(tmp_.path(), std::filesystem::perms::owner_all);
  bool root = geteuid() == 0;
  if (!root) std::filesystem::permissions(data_ + "/journal", std::filesystem::perms::none);
  std::string out = tmp_.Sub("perm.out"), err = "/tmp/zlh-perm-" + std::to_string(getpid());
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (!freopen("/dev/null", "w", stdout) || !freopen(err.c_str(), "w", stderr)) _exit(126);
    if (root && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(125);
    setenv("TMPDIR", "/tmp", 1);  // the reader's scratch directory must be writable as nobody
    execl(ZLH_JOURNAL, ZLH_JOURNAL, "--data", data_.c_str(), "list", static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  std::ifstream in(err);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::filesystem::remove(err);
  if (!root) std::filesystem::permissions(data_ + "/journal", std::filesystem::perms::owner_all);
  ASSERT_TRUE(WIFEXITED(status));
  if (root && WEXITSTATUS(status) == 127) {
    GTEST_SKIP() << "nobody may not run " << ZLH_JOURNAL
                 << ": a directory above it is closed to other users (a checkout under a 0700 "
                    "directory), so this check cannot be made here";
  }
  EXPECT_EQ(WEXITSTATUS(status), 3) << text;
  EXPECT_NE(text.find("journal unreadable (permission denied)"), std::string::npos) << text;
}

TEST_F(ZlhJournalTest, BackupOfAJournalAnotherProcessHoldsExitsThree) {
  // A worker that holds the journal for a while (a 20 s sleep), until it is killed below.
  std::ofstream(tmp_.Sub("spec-held")) << "held z20000.n0\n";
  pid_t worker = SpawnWorker(data_, tmp_.Sub("spec-held"), tmp_.Sub("effects-held"));
  // Once its workflow is in the journal, the worker holds it.
  auto until = std::chrono::steady_clock::now() + 30s;
  bool started = false;
  while (!started && std::chrono::steady_clock::now() < until) {
    journal::Options ro;
    ro.read_only = true;
    auto j = journal::Journal::Open(data_ + "/journal", ro);
    started = j.ok() && (*j)->Get(journal::Cf::kIndex, journal::DedupIndexKey("held"))->has_value();
    if (!started) std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(started);
  Output r = ZlhJournal({"--data", data_, "backup", tmp_.Sub("copy")}, tmp_);
  kill(worker, SIGKILL);
  int status = 0;
  waitpid(worker, &status, 0);
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_NE(r.err.find("in use by another process"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("POST /api/admin/backup"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(tmp_.Sub("copy")));
}

// The files of the journal in `data` whose names end with `suffix` (or start with it, for names
// such as MANIFEST-000005), largest first.
std::vector<std::filesystem::path> JournalFiles(const std::string& data, const std::string& part) {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(data + "/journal")) {
    std::string name = e.path().filename().string();
    if (name.starts_with(part) || name.ends_with(part)) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) {
    return std::filesystem::file_size(a) > std::filesystem::file_size(b);
  });
  return files;
}

struct FileDamageCase {
  const char* name;
  std::function<void(const std::string& data)> damage;
  const char* expected;  // in stderr, after "journal unreadable"
};

TEST_F(ZlhJournalTest, VerifyRefusesAJournalWithDamagedFiles) {
  std::vector<FileDamageCase> cases = {
      {"missing table file",
       [](const std::string& data) {
         auto tables = JournalFiles(data, ".sst");
         ASSERT_FALSE(tables.empty());
         std::filesystem::remove(tables.front());
       },
       "No such file or directory"},
      {"flipped bytes in a table file",
       [](const std::string& data) {
         auto tables = JournalFiles(data, ".sst");
         ASSERT_FALSE(tables.empty());
         std::fstream f(tables.front(), std::ios::in | std::ios::out | std::ios::binary);
         f.seekg(64);  // inside the first data block, past the block's first key
         char bytes[16];
         f.read(bytes, sizeof bytes);
         for (char& b : bytes) b = static_cast<char>(~b);
         f.seekp(64);
         f.write(bytes, sizeof bytes);
       },
       "checksum mismatch"},
      {"missing MANIFEST",
       [](const std::string& data) {
         for (const auto& m : JournalFiles(data, "MANIFEST-")) std::filesystem::remove(m);
       },
       "(corrupt)"},
  };
  for (const FileDamageCase& c : cases) {
    SCOPED_TRACE(c.name);
    TempDir tmp;
    std::string data = StandardJournal(tmp);
    ASSERT_EQ(ZlhJournal({"--data", data, "verify"}, tmp).code, 0);
    c.damage(data);
    Output r = ZlhJournal({"--data", data, "verify"}, tmp);
    EXPECT_EQ(r.code, 3) << r.out << r.err;
    EXPECT_NE(r.err.find("journal unreadable"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(c.expected), std::string::npos) << r.err;
  }
}

// Writes a journal whose history sits only in its write-ahead log: a worker runs two short
// workflows and starts a long one, and is killed (-9) while that one waits, before any flush.
void MakeJournalInTheWal(const TempDir& tmp, const std::string& data) {
  std::ofstream(tmp.Sub("spec-wal")) << "a n1.t\nb n0.n0.n0\nheld z20000.n0\n";
  pid_t worker = SpawnWorker(data, tmp.Sub("spec-wal"), tmp.Sub("effects-wal"));
  auto settled = [&] {
    journal::Options ro;
    ro.read_only = true;
    auto j = journal::Journal::Open(data + "/journal", ro);
    if (!j.ok()) return false;
    for (const char* name : {"a", "b", "held"}) {
      auto id = (*j)->Get(journal::Cf::kIndex, journal::DedupIndexKey(name));
      if (!id.ok() || !id->has_value()) return false;
      auto summary = (*j)->ReadSummary(**id);
      if (!summary.ok() || !summary->has_value()) return false;
      proto::WorkflowStatus want = std::string(name) == "held" ? proto::WAITING : proto::COMPLETED;
      if ((*summary)->status() != want) return false;
    }
    return true;
  };
  auto until = std::chrono::steady_clock::now() + 30s;
  while (!settled() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(20ms);
  kill(worker, SIGKILL);
  int status = 0;
  waitpid(worker, &status, 0);
  ASSERT_TRUE(settled());
}

TEST_F(ZlhJournalTest, VerifyRefusesAWriteAheadLogWithFlippedBytes) {
  std::string data = tmp_.Sub("wal");
  MakeJournalInTheWal(tmp_, data);
  ASSERT_EQ(ZlhJournal({"--data", data, "verify"}, tmp_).code, 0);
  auto logs = JournalFiles(data, ".log");
  ASSERT_FALSE(logs.empty());
  ASSERT_GT(std::filesystem::file_size(logs.front()), 1000u);
  {
    std::fstream f(logs.front(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(200);  // inside the first records, with valid ones after
    f.write("\xde\xad\xbe\xef\xde\xad\xbe\xef", 8);
  }
  Output r = ZlhJournal({"--data", data, "verify"}, tmp_);
  EXPECT_EQ(r.code, 3) << r.out << r.err;
  EXPECT_NE(r.err.find("journal unreadable (corrupt)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("checksum mismatch"), std::string::npos) << r.err;
  // zlhd's open refuses it too, rather than replay up to the damage and drop the acknowledged
  // appends after it; and it changed nothing trying.
  auto before = std::filesystem::file_size(logs.front());
  journal::Journal::Opened opened = journal::Journal::TryOpen(data + "/journal");
  EXPECT_FALSE(opened.journal) << "a journal with a damaged log record was opened";
  EXPECT_EQ(opened.error, journal::OpenError::kCorrupt) << opened.status.ToString();
  EXPECT_EQ(std::filesystem::file_size(logs.front()), before);
}

TEST_F(ZlhJournalTest, ATruncatedWriteAheadLogReadsAsAnEarlierConsistentJournal) {
  // A write-ahead log cut short is what a crash leaves: RocksDB replays it to its last whole
  // record, and that earlier state must be a consistent journal (appends are atomic), which verify
  // passes. Nothing on disk tells a truncated copy from a crash at that moment.
  std::string data = tmp_.Sub("wal");
  MakeJournalInTheWal(tmp_, data);
  Output before = ZlhJournal({"--data", data, "export"}, tmp_);
  ASSERT_EQ(before.code, 0) << before.err;
  auto logs = JournalFiles(data, ".log");
  ASSERT_FALSE(logs.empty());
  std::filesystem::resize_file(logs.front(), std::filesystem::file_size(logs.front()) / 2);
  Output r = ZlhJournal({"--data", data, "verify"}, tmp_);
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("ok: no violation found"), std::string::npos) << r.out;
  Output after = ZlhJournal({"--data", data, "export"}, tmp_);
  ASSERT_EQ(after.code, 0) << after.err;
  EXPECT_LT(std::count(after.out.begin(), after.out.end(), '\n'),
            std::count(before.out.begin(), before.out.end(), '\n'));
}

TEST_F(ZlhJournalTest, ReplayAgreesWithAnUntouchedHistory) {
  for (const char* name : {"ok", "bad", "slow"}) {
    SCOPED_TRACE(name);
    Output r = ZlhJournal({"--data", data_, "replay", IdOf(tmp_, data_, name)}, tmp_, ZLH_SHAPE_JOURNAL);
    EXPECT_EQ(r.code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("ok: the code agrees with the history"), std::string::npos) << r.out;
  }
}

TEST_F(ZlhJournalTest, ReplayNamesTheFirstDivergenceOfChangedCode) {
  Output r = ZlhJournal({"--data", data_, "replay", IdOf(tmp_, data_, "ok")}, tmp_,
                        ZLH_SHAPE_JOURNAL, "ZLH_SHAPE_RENAMED=1");
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("diverged: step 1: the history holds 'n1', the code asked for 'renamed-n1'"),
            std::string::npos)
      << r.out;
  // The history is untouched: the original code still agrees with it.
  EXPECT_EQ(ZlhJournal({"--data", data_, "replay", IdOf(tmp_, data_, "ok")}, tmp_,
                       ZLH_SHAPE_JOURNAL).code,
            0);
}

TEST_F(ZlhJournalTest, ReplayOfATypeThisBuildDoesNotRunExitsTwo) {
  // zlh-journal itself registers no "shape" workflow.
  Output r = ZlhJournal({"--data", data_, "replay", IdOf(tmp_, data_, "ok")}, tmp_);
  EXPECT_EQ(r.code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("which this build does not register"), std::string::npos) << r.err;
}

TEST_F(ZlhJournalTest, BackupIsAJournalOfItsOwn) {
  std::string copy = tmp_.Sub("copy");
  Output r = ZlhJournal({"--data", data_, "backup", copy}, tmp_);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("backup written to"), std::string::npos);
  EXPECT_NE(r.out.find("verified"), std::string::npos);
  Output list = ZlhJournal({"--data", copy, "--json", "list"}, tmp_);
  EXPECT_EQ(list.code, 0) << list.err;
  EXPECT_EQ(std::count(list.out.begin(), list.out.end(), '\n'), 3);
  EXPECT_EQ(ZlhJournal({"--data", copy, "verify"}, tmp_).code, 0);
  // An existing target is refused, and left alone.
  Output again = ZlhJournal({"--data", data_, "backup", copy}, tmp_);
  EXPECT_EQ(again.code, 2);
  EXPECT_NE(again.err.find("exists already"), std::string::npos);
}

TEST_F(ZlhJournalTest, VerifyPassesAHealthyJournal) {
  Output r = ZlhJournal({"--data", data_, "verify"}, tmp_);
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("ok: no violation found"), std::string::npos);
}

struct DamageCase {
  const char* name;
  std::function<void(journal::Batch&, const std::string& ok_id)> damage;
  const char* expected;
};

TEST_F(ZlhJournalTest, VerifyNamesEachKindOfDamage) {
  std::vector<DamageCase> cases = {
      {"gap", [](journal::Batch& b, const std::string& id) { b.Delete(journal::Cf::kEvents, journal::EventKey(id, 2)); },
       "event sequence has a gap: seq 3 follows 1"},
      {"stray status",
       [](journal::Batch& b, const std::string& id) {
         b.Put(journal::Cf::kIndex, journal::StatusIndexKey(proto::RUNNING, id), "");
       },
       "status index lists running, completed, summary says completed"},
      {"lost dedup",
       [](journal::Batch& b, const std::string&) { b.Delete(journal::Cf::kIndex, journal::DedupIndexKey("ok")); },
       "dedup key 'ok' is missing from the dedup index"},
      {"summary disagrees",
       [](journal::Batch& b, const std::string& id) {
         proto::WorkflowSummary s;
         s.set_id(id);
         s.set_type("shape");
         s.set_status(proto::RUNNING);
         b.PutSummary(s);
       },
       "status index lists completed, summary says running"},
      {"stray timer",
       [](journal::Batch& b, const std::string& id) {
         b.Put(journal::Cf::kIndex, journal::TimerIndexKey(123, id, 9), "");
       },
       "timer index holds step 9, which the history does not wait on"},
      {"orphan index",
       [](journal::Batch& b, const std::string&) {
         b.Put(journal::Cf::kIndex, journal::StatusIndexKey(proto::QUEUED, "01GHOST0000000000000000000"), "");
       },
       "status index names a workflow with no summary"},
      // The domain tables (fleet/tables.h keys): a VMID nobody holds, a lease nobody could hold,
      // a server no provisioning made.
      {"leaked vmid",
       [](journal::Batch& b, const std::string&) {
         std::string vmid;
         journal::PutU64(&vmid, 150);
         b.Put(journal::Cf::kDomain, journal::DomainKey('v', vmid), "srv-ghost");
       },
       "vmid 150: allocated to srv-ghost, which does not exist"},
      {"lease of an unknown workflow",
       [](journal::Batch& b, const std::string&) {
         proto::Lease lease;
         lease.set_server_id("srv-1");
         lease.set_holder("01GHOST0000000000000000000");
         lease.set_epoch(1);
         b.Put(journal::Cf::kDomain, journal::DomainKey('l', "srv-1"), lease.SerializeAsString());
       },
       "lease of srv-1: held by 01GHOST0000000000000000000, which does not exist"},
      {"server without a provisioning",
       [](journal::Batch& b, const std::string&) {
         proto::Server server;
         server.set_server_id("srv-2");
         server.set_status(proto::SERVER_FAILED);
         b.Put(journal::Cf::kDomain, journal::DomainKey('s', "srv-2"), server.SerializeAsString());
       },
       "server srv-2: in the table, but no provisioning made it"},
  };
  for (const DamageCase& c : cases) {
    SCOPED_TRACE(c.name);
    TempDir tmp;
    std::string data = StandardJournal(tmp);
    std::string id = IdOf(tmp, data, "ok");
    Damage(data, [&](journal::Batch& b) { c.damage(b, id); });
    Output r = ZlhJournal({"--data", data, "verify"}, tmp);
    EXPECT_EQ(r.code, 1) << r.out << r.err;
    EXPECT_NE(r.out.find(c.expected), std::string::npos) << r.out;
  }
}

TEST_F(ZlhJournalTest, TailFollowsEventsAsTheyAreCommitted) {
  std::string out = tmp_.Sub("tail.out");
  pid_t tail = fork();
  if (tail == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the parent
    if (!freopen(out.c_str(), "w", stdout)) _exit(126);
    execl(ZLH_JOURNAL, ZLH_JOURNAL, "--data", data_.c_str(), "--json", "tail", "--follow",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  auto read_lines = [&] {
    std::ifstream in(out);
    std::vector<json::value> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
    return lines;
  };
  auto wait_for = [&](const std::function<bool(const std::vector<json::value>&)>& done) {
    auto until = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < until) {
      if (done(read_lines())) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  };
  // The journal's recent events come first: once they are out, the tail is following.
  ASSERT_TRUE(wait_for([](const auto& lines) { return lines.size() >= 15; }));
  std::ofstream(tmp_.Sub("spec3")) << "later1 n0.z10.n1\nlater2 t.n0\n";
  pid_t writer = SpawnWorker(data_, tmp_.Sub("spec3"), tmp_.Sub("effects3"));
  int status = 0;
  waitpid(writer, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  std::string later1 = IdOf(tmp_, data_, "later1"), later2 = IdOf(tmp_, data_, "later2");
  auto streams = [&](const std::vector<json::value>& lines) {
    std::map<std::string, std::vector<int64_t>> seqs;
    for (const auto& l : lines) seqs[std::string(l.at("stream").as_string())].push_back(l.at("seq").as_int64());
    return seqs;
  };
  EXPECT_TRUE(wait_for([&](const auto& lines) {
    auto seqs = streams(lines);
    return seqs[later1].size() >= 7 && seqs[later2].size() >= 4;
  }));
  kill(tail, SIGTERM);
  waitpid(tail, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  // Each new workflow's events arrived once each, in order.
  auto seqs = streams(read_lines());
  EXPECT_EQ(seqs[later1], (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(seqs[later2], (std::vector<int64_t>{1, 2, 3, 4}));
}

TEST_F(ZlhJournalTest, ReadsWhileAnotherProcessWrites) {
  // A worker that keeps writing for a while: 20 workflows of sleeps and steps, 2 at a time.
  std::string spec;
  for (int i = 0; i < 20; ++i) spec += "w" + std::to_string(i) + " z20.n0.z20.n1.z20\n";
  std::string data = tmp_.Sub("busy");
  MakeJournal(tmp_, data, "first n0\n");  // the journal exists before the reader starts
  std::ofstream(tmp_.Sub("spec2")) << spec;
  pid_t writer = SpawnWorker(data, tmp_.Sub("spec2"), tmp_.Sub("effects2"));
  int reads = 0, status = 0;
  while (waitpid(writer, &status, WNOHANG) == 0) {
    Output list = ZlhJournal({"--data", data, "list", "--limit", "0"}, tmp_);
    EXPECT_EQ(list.code, 0) << list.err;
    Output verify = ZlhJournal({"--data", data, "verify"}, tmp_);
    EXPECT_EQ(verify.code, 0) << verify.out << verify.err;
    ++reads;
  }
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_GT(reads, 0);
  Output all = ZlhJournal({"--data", data, "--json", "list", "--limit", "0"}, tmp_);
  EXPECT_EQ(std::count(all.out.begin(), all.out.end(), '\n'), 21);
}

}  // namespace
}  // namespace zlh
